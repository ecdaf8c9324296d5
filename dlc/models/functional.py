"""The graph of a model: its structure, layer order and weights, and the executor that runs it.

A `Functional` is built from symbolic tensors (`inputs` from `dlc.layers.Input`, `outputs` from
calling layers on them). It keeps the nodes in topological order and the layers in Keras's
order, binds every weight to one flat arena, and runs:

- `run_forward(ws, xs, training)` -> a `Tape`: the workspace it ran in and every tensor's value;
- `run_backward(tape, output_grads, linear_grads, input_grads)`: every node in reverse order.

State flows through those arguments, never through attributes set by one call and read by the
next, so several threads can run one model at once, each with its own `Workspace`. A
`Functional` is itself a layer: called on symbolic tensors it becomes one node of a bigger graph
(a nested model), whose `forward`/`backward` run this graph.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from dlc import _C
from dlc._arena import Arena, Variable
from dlc.layers.base import Ctx, KerasTensor, Layer, Node, accumulate, shape_str


class Workspace:
    """The buffers of one stream of calls over a graph: one `Ctx` per node (outputs, scratch,
    what backward needs), the gradient buffers, and the trainer's own scratch (loss values,
    probabilities). Buffers are allocated once per shape and reused by later calls."""

    def __init__(self, n_nodes: int, version: int) -> None:
        self.ctxs = [Ctx() for _ in range(n_nodes)]
        self.grads = Ctx()
        self.scratch = Ctx()
        self.version = version
        self.plans: Dict[Any, Any] = {}  # run_inference's recorded forwards, by input shapes


class Tape:
    """What one forward pass leaves for its backward pass."""

    __slots__ = ("ws", "values", "outputs")

    def __init__(self, ws: Workspace, values: Dict[int, np.ndarray], outputs: List[np.ndarray]) -> None:
        self.ws = ws
        self.values = values
        self.outputs = outputs


def as_list(x: Any) -> List[Any]:
    """None -> [], a list or tuple -> a list, anything else -> [x]."""
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


# _fusion_plan's codes, per node
FUSED_RELU = 1     # a ReLU layer run inside the node that produces its input
RELU_OUT = 2       # that producer: its forward applies the ReLU, its backward the mask
FUSED_DROPOUT = 3  # a Dropout run inside the max pooling that produces its input
DROPOUT_OUT = 4    # that max pooling (one pass each way, kernels maxpool2d_dropout_*)


class Functional(Layer):
    """A graph of layers from `inputs` to `outputs`; the structure under `dlc.models.Model`."""

    # ---------------------------------------------------------------- building
    def _init_graph_state(self) -> None:
        self._arena: Optional[Arena] = None
        self._graph_ready = False
        self._graph_version = 0
        self._fusion: Any = None
        self._fusion_partner: Dict[int, int] = {}  # producer index -> fused consumer index
        self._ws_pool: List[Workspace] = []
        self._ws_lock = threading.Lock()

    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        self._inputs_is_list = isinstance(inputs, (list, tuple))
        self._outputs_is_list = isinstance(outputs, (list, tuple))
        ins, outs = as_list(inputs), as_list(outputs)
        for t in ins:
            if not isinstance(t, KerasTensor) or getattr(t, "input_layer", None) is None:
                raise ValueError(f"Model inputs must be tensors returned by dlc.layers.Input(), received {t!r}")
        for t in outs:
            if not isinstance(t, KerasTensor):
                raise ValueError(f"Model outputs must be symbolic tensors (results of calling layers), received {t!r}")
        order, first_seen = _topological_order(ins, outs)
        self._inputs, self._outputs, self._nodes = ins, outs, order
        self._node_index = {id(node): i for i, node in enumerate(order)}
        self._all_layers = _keras_layer_order(ins, order, first_seen)
        self._build_shape = [t.shape for t in ins] if self._inputs_is_list else ins[0].shape
        self.built = True
        self._graph_ready = True
        self._graph_version += 1
        self._fusion = None  # decided on first run, for this graph
        with self._ws_lock:
            self._ws_pool.clear()
        self._build_arena()

    def _ensure_graph(self) -> None:
        if not self._graph_ready:
            raise ValueError(
                f"Model '{self.name}' has not yet been built. Build it by giving the first layer an "
                f"`input_shape` (or starting with dlc.layers.Input), by calling `build(input_shape)`, "
                f"or by calling fit/predict on data."
            )

    def _sublayers(self) -> List[Layer]:
        return list(self._all_layers) if self._graph_ready else []

    # ---------------------------------------------------------------- weights and the arena
    def _variables_all(self) -> List[Variable]:
        out: List[Variable] = []
        seen = set()
        for layer in self._all_layers:
            for v in layer.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    def _build_arena(self) -> None:
        arena = Arena()
        arena.finalize(self._variables_all())
        self._arena = arena

    def _ensure_arena(self) -> Arena:
        """Every variable's storage in this model's arena (a layer shared with another model
        that was built or trained since may have moved it: take it back, values kept)."""
        self._ensure_graph()
        arena = self._arena
        if arena is None or any(v.arena is not arena for v in self._variables_all()):
            self._build_arena()
        return self._arena

    @property
    def weights(self) -> List[Variable]:
        self._ensure_graph()
        return [v for layer in self._all_layers for v in layer.weights]

    @property
    def trainable_weights(self) -> List[Variable]:
        self._ensure_graph()
        if not self.trainable:
            return []
        return [v for layer in self._all_layers for v in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> List[Variable]:
        self._ensure_graph()
        if not self.trainable:
            return self.weights
        return [v for layer in self._all_layers for v in layer.non_trainable_weights]

    def get_weights(self) -> List[np.ndarray]:
        """Copies of all weights, layer by layer in Keras's order."""
        self._ensure_arena()
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets all weights from a list in `get_weights()`'s order (e.g. from a Keras model).

        Raises:
            ValueError: on a wrong count or shape, naming the weight; nothing is changed then.
        """
        self._ensure_arena()
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(f"Model '{self.name}' expects {len(params)} weight arrays, received {len(weights)}")
        arrays = []
        for v, w in zip(params, weights):
            a = np.asarray(w, dtype=np.float32)
            if a.shape != v.shape:
                raise ValueError(f"Weight '{v.path}' has shape {v.shape}, received {a.shape}")
            arrays.append(a)
        for v, a in zip(params, arrays):
            np.copyto(v.value, a)

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        self._ensure_graph()
        return int(sum(v.size for v in self._variables_all()))

    # ---------------------------------------------------------------- running
    @contextlib.contextmanager
    def _workspace(self) -> Iterator[Workspace]:
        """A workspace for one call, taken from the pool (or new) and given back after, so
        concurrent calls never share buffers and sequential calls reuse them."""
        with self._ws_lock:
            ws = self._ws_pool.pop() if self._ws_pool else None
        if ws is None or ws.version != self._graph_version:
            ws = Workspace(len(self._nodes), self._graph_version)
        try:
            yield ws
        finally:
            with self._ws_lock:
                if ws.version == self._graph_version:
                    self._ws_pool.append(ws)

    def _fusion_plan(self) -> List[int]:
        """Per node: FUSED_RELU for a ReLU layer fused into the node that produces its input
        (that node's only consumer, not a model output, a layer whose `_can_fuse_relu()`), which
        is marked RELU_OUT; FUSED_DROPOUT / DROPOUT_OUT likewise for a Dropout behind a layer
        whose `_can_fuse_dropout()`; 0 otherwise. Decided once per graph."""
        if self._fusion is not None and self._fusion[0] == self._graph_version:
            return self._fusion[1]
        self._fusion_partner = {}  # producer index -> fused consumer index
        from dlc.layers.core import Activation, Dropout

        consumers: Dict[int, int] = {}
        for node in self._nodes:
            for t in node.inputs:
                consumers[id(t)] = consumers.get(id(t), 0) + 1
        outputs = {id(t) for t in self._outputs}
        plan = [0] * len(self._nodes)
        for i, node in enumerate(self._nodes):
            layer = node.layer
            if node.multi:
                continue
            if isinstance(layer, Activation) and layer.activation.is_plain_relu:
                codes, can = (FUSED_RELU, RELU_OUT), "_can_fuse_relu"
            elif type(layer) is Dropout:  # not its subclasses (spatial dropout)
                codes, can = (FUSED_DROPOUT, DROPOUT_OUT), "_can_fuse_dropout"
            else:
                continue
            t = node.inputs[0]
            j = self._node_index.get(id(t.node)) if t.node is not None else None
            if (j is None or consumers[id(t)] != 1 or id(t) in outputs or plan[j] != 0
                    or self._nodes[j].multi or not getattr(self._nodes[j].layer, can)()):
                continue
            plan[i], plan[j] = codes
            self._fusion_partner[j] = i
        self._fusion = (self._graph_version, plan)
        return plan

    def run_forward(self, ws: Workspace, xs: Sequence[np.ndarray], training: bool,
                    inference: bool = False) -> Tape:
        """Runs every node in topological order on the input arrays `xs` (float32,
        C-contiguous, one per model input). A ReLU or Dropout fused into its producer
        (`_fusion_plan`) is not run: its output is the producer's. `inference`: no backward
        will follow (predict, evaluate), so layers need not keep what only backward reads
        (`Ctx.inference`)."""
        vals: Dict[int, np.ndarray] = {id(t): x for t, x in zip(self._inputs, xs)}
        plan = self._fusion_plan()
        for i, (node, ctx, fused) in enumerate(zip(self._nodes, ws.ctxs, plan)):
            if fused in (FUSED_RELU, FUSED_DROPOUT):
                vals[id(node.output)] = vals[id(node.inputs[0])]
                continue
            ctx.inference = inference
            ctx.relu_out = fused == RELU_OUT
            ctx.dropout_after = (self._nodes[self._fusion_partner[i]].layer if fused == DROPOUT_OUT
                                 else None)
            if node.multi:
                arg = [vals[id(t)] for t in node.inputs]
            else:
                arg = vals[id(node.inputs[0])]
            vals[id(node.output)] = node.layer.forward(ctx, arg, training)
        return Tape(ws, vals, [vals[id(t)] for t in self._outputs])

    def _inference_plan_ok(self) -> bool:
        """Whether every node's inference forward may be replayed from a recorded plan."""
        return all(node.layer._inference_plan_ok() for node in self._nodes)

    def run_inference(self, ws: Workspace, xs: Sequence[np.ndarray]) -> List[np.ndarray]:
        """The outputs of an inference forward (views of `ws`'s buffers). The first call for
        given input shapes runs `run_forward` while `_C` records its kernel calls; later calls
        copy the inputs into the recorded input buffers and replay the plan in one C call (no
        Python per layer, the GIL released once). A graph with a layer whose forward is not
        kernels only, or a thread that cannot record now, runs `run_forward`."""
        arena = self._arena
        key = tuple(x.shape for x in xs)
        entry = ws.plans.get(key)
        if entry and entry[3] is arena:
            plan, ins, outs, _ = entry
            for buf, x in zip(ins, xs):
                np.copyto(buf, x)
            _C.plan_run(plan)
            return outs
        if entry is False or not self._inference_plan_ok():
            return self.run_forward(ws, xs, training=False, inference=True).outputs
        ins = [ws.scratch.buf(f"plan_input{i}", x.shape) for i, x in enumerate(xs)]
        for buf, x in zip(ins, xs):
            np.copyto(buf, x)
        try:
            _C.plan_begin()
        except RuntimeError:  # another thread is recording: run this call plainly
            return self.run_forward(ws, xs, training=False, inference=True).outputs
        try:
            outs = self.run_forward(ws, ins, training=False, inference=True).outputs
        except BaseException:
            _C.plan_end()
            raise
        try:
            plan = _C.plan_end()
        except ValueError:  # a kernel whose result Python reads: never plan this graph here
            ws.plans[key] = False
            return outs
        ws.plans[key] = (plan, ins, outs, arena)
        return outs

    def run_backward(self, tape: Tape, output_grads: Sequence[Optional[np.ndarray]],
                     linear_grads: Optional[Dict[int, np.ndarray]] = None,
                     input_grads: Optional[Sequence[Optional[np.ndarray]]] = None,
                     params: Optional[Arena] = None) -> None:
        """Runs every node's backward in reverse order.

        Args:
            tape: the forward pass's tape.
            output_grads: per model output, the gradient of the loss with respect to it (or
                None: no gradient flows from that output).
            linear_grads: {output index: dz} for outputs whose producing node gets the gradient
                of its pre-activation directly (the loss was fused with its softmax).
            input_grads: per model input, an array to accumulate that input's gradient into
                (or None); used when the model runs as a layer.
            params: the arena whose gradients `begin_gradients` marked fresh (a training
                step): a layer with `_overwrites_param_grads` overwrites a fresh gradient,
                before any other layer with weights the fresh ones are zeroed.
        """
        ws, vals = tape.ws, tape.values
        # Every node output gets a gradient buffer, allocated once and never zero-filled: the
        # buffer's first writer (in reverse order) overwrites it, later writers (fan-out) add.
        # A fused ReLU's output shares its producer's buffer (the producer applies the mask).
        grads: Dict[int, np.ndarray] = {}
        plan = self._fusion_plan()
        for node, fused in zip(self._nodes, plan):
            t = node.output
            if fused in (FUSED_RELU, FUSED_DROPOUT):
                grads[id(t)] = grads[id(node.inputs[0])]
            else:
                grads[id(t)] = ws.grads.buf(str(id(t)), vals[id(t)].shape)
        written = set()  # ids of the gradient buffers (arrays) that hold a value
        for t, g in zip(self._inputs, input_grads or ()):
            if g is not None:  # the caller's accumulator
                grads[id(t)] = g
                written.add(id(g))
        for t, dy in zip(self._outputs, output_grads):
            if dy is not None:
                g = grads[id(t)]
                accumulate(g, dy, overwrite=id(g) not in written)
                written.add(id(g))
        linear = {id(self._outputs[i].node): dz for i, dz in (linear_grads or {}).items()}
        for node, ctx, fused in zip(reversed(self._nodes), reversed(ws.ctxs), reversed(plan)):
            if fused in (FUSED_RELU, FUSED_DROPOUT):  # its producer runs its backward
                continue
            dxs = [grads.get(id(t)) for t in node.inputs]
            fresh = []
            repeated = len({id(t) for t in node.inputs}) < len(node.inputs)
            for g in dxs:
                new = g is not None and id(g) not in written
                if new and (repeated or not node.layer._overwrites_dx):
                    g.fill(0)  # a layer that only adds, or a tensor passed twice to one layer
                    new = False
                fresh.append(new)
                if g is not None:
                    written.add(id(g))
            ctx.fresh = tuple(fresh)
            if params is not None and not node.layer._overwrites_param_grads and node.layer.weights:
                params.settle_gradients()  # it adds into its weights' gradients: zero them first
            arg = dxs if node.multi else dxs[0]
            dz = linear.get(id(node))
            if dz is not None:
                node.layer.backward_linear(ctx, dz, arg)
                continue
            dy = grads[id(node.output)]
            if id(dy) not in written:  # no gradient reached this output: it is zero
                dy.fill(0)
                written.add(id(dy))
            node.layer.backward(ctx, dy, arg)

    def saved_of(self, tape: Tape, node: Node) -> Dict[str, Any]:
        """What `node`'s forward saved during the pass recorded by `tape`."""
        return tape.ws.ctxs[self._node_index[id(node)]].saved

    # ---------------------------------------------------------------- the model as a layer
    def compute_output_shape(self, input_shape: Any) -> Any:
        self._ensure_graph()
        shapes = [t.shape for t in self._outputs]
        return shapes if self._outputs_is_list else shapes[0]

    def forward(self, ctx: Ctx, x: Any, training: bool) -> np.ndarray:
        if self._outputs_is_list and len(self._outputs) > 1:
            raise NotImplementedError(
                f"Model '{self.name}' has {len(self._outputs)} outputs: dlc nests models of one output only")
        ws = ctx.cache("workspace", lambda: Workspace(len(self._nodes), self._graph_version))
        tape = self.run_forward(ws, x if isinstance(x, list) else [x], training)
        ctx.saved["tape"] = tape
        return tape.outputs[0]

    def backward(self, ctx: Ctx, dy: np.ndarray, dx: Any) -> None:
        self.run_backward(ctx.saved["tape"], [dy], input_grads=dx if isinstance(dx, list) else [dx])

    def macs(self, input_shape: Any, output_shape: Any) -> int:
        return sum(node.layer.macs(_node_input_shape(node), node.output.shape) for node in self._nodes)

    # ---------------------------------------------------------------- structure
    @property
    def layers(self) -> List[Layer]:
        """The model's layers (for Sequential, without its input layer; as Keras)."""
        self._ensure_graph()
        return list(self._all_layers)

    @property
    def inputs(self) -> List[KerasTensor]:
        self._ensure_graph()
        return list(self._inputs)

    @property
    def outputs(self) -> List[KerasTensor]:
        self._ensure_graph()
        return list(self._outputs)

    @property
    def input(self) -> Any:
        self._ensure_graph()
        return self._inputs if self._inputs_is_list else self._inputs[0]

    @property
    def output(self) -> Any:
        self._ensure_graph()
        return self._outputs if self._outputs_is_list else self._outputs[0]

    @property
    def output_names(self) -> List[str]:
        """The names of the layers producing the outputs (the keys of dict targets and losses)."""
        self._ensure_graph()
        return [t.node.layer.name if t.node is not None else t.name for t in self._outputs]

    @property
    def input_names(self) -> List[str]:
        """The names of the input layers (the keys of dict inputs)."""
        self._ensure_graph()
        return [t.name for t in self._inputs]

    @property
    def input_shape(self) -> Any:
        shapes = [t.shape for t in self.inputs]
        return shapes if self._inputs_is_list else shapes[0]

    @property
    def output_shape(self) -> Any:
        shapes = [t.shape for t in self.outputs]
        return shapes if self._outputs_is_list else shapes[0]

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        """The layer called `name`, or at position `index` in `layers`."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range for a model of {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Existing layers are: {[l.name for l in layers]}")

    def layer_nodes(self, layer: Layer) -> List[Node]:
        """The nodes of this graph that call `layer`, in topological order."""
        return [nd for nd in self._nodes if nd.layer is layer]

    def get_config(self) -> Dict[str, Any]:
        self._ensure_graph()
        layers = []
        for layer in self._all_layers:
            nodes = [[_tensor_ref(t) for t in nd.inputs] + ([True] if nd.multi else [])
                     for nd in self.layer_nodes(layer)]
            layers.append({"class_name": type(layer).__name__, "config": layer.get_config(),
                           "inbound_nodes": nodes})
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": [_tensor_ref(t) for t in self._inputs],
                "output_layers": [_tensor_ref(t) for t in self._outputs],
                "inputs_is_list": self._inputs_is_list, "outputs_is_list": self._outputs_is_list}


def _node_input_shape(node: Node) -> Any:
    return [t.shape for t in node.inputs] if node.multi else node.inputs[0].shape


def _tensor_ref(t: KerasTensor) -> List[Any]:
    if t.node is None:
        return [t.input_layer.name, 0]
    return [t.node.layer.name, t.node.layer._inbound_nodes.index(t.node)]


def _topological_order(ins: List[KerasTensor], outs: List[KerasTensor]) -> Tuple[List[Node], Dict[int, int]]:
    """The nodes from `ins` to `outs` in topological order, and each layer's first visit in a
    depth-first walk from the outputs (Keras's tie-break for the layer order)."""
    order: List[Node] = []
    seen: Dict[int, bool] = {}
    input_ids = {id(t) for t in ins}
    first_seen: Dict[int, int] = {}

    def visit(t: KerasTensor, path: Tuple[str, ...]) -> None:
        if id(t) in input_ids:
            first_seen.setdefault(id(t.input_layer), len(first_seen))
            return
        if t.node is None:
            raise ValueError(
                f"Graph disconnected: the output depends on input '{t.name}' {shape_str(t.shape)}, "
                f"which is not among the model's inputs {[x.name for x in ins]} (path: {' <- '.join(path)})"
            )
        if seen.get(id(t.node)):
            return
        seen[id(t.node)] = True
        first_seen.setdefault(id(t.node.layer), len(first_seen))
        for src in t.node.inputs:
            visit(src, path + (t.node.layer.name,))
        order.append(t.node)

    for t in outs:
        visit(t, ())
    return order, first_seen


def _keras_layer_order(ins: List[KerasTensor], order: List[Node], first_seen: Dict[int, int]) -> List[Layer]:
    """Layers in Keras's order, so that get_weights() lists match Keras's: by depth (distance
    from the outputs, deepest first), ties by first visit in a depth-first walk from the outputs."""
    depth: Dict[int, int] = {}
    layer_depth: Dict[int, int] = {}
    producers = {id(nd.output): nd for nd in order}
    for nd in reversed(order):
        d = max(depth.setdefault(id(nd), 0), layer_depth.get(id(nd.layer), 0))
        depth[id(nd)] = layer_depth[id(nd.layer)] = d
        for t in nd.inputs:
            parent = producers.get(id(t))
            key = id(parent) if parent is not None else id(t)
            depth[key] = max(depth.get(key, 0), d + 1)
    layers: Dict[int, Layer] = {}
    for t in ins:
        layers[id(t.input_layer)] = t.input_layer
        layer_depth[id(t.input_layer)] = depth.get(id(t), 0)
    for nd in order:
        layers[id(nd.layer)] = nd.layer
    return sorted(layers.values(), key=lambda l: (-layer_depth[id(l)], first_seen[id(l)]))
