"""The layer contract, symbolic tensors and graph nodes.

A layer, shaped like Keras's (ARCHITECTURE.md, "The layer contract"):
- `__init__` validates hyperparameters at once and quotes the bad value;
- `compute_output_shape(input_shape)` is pure (shapes carry `None` for the batch) and never
  changes the layer;
- `build(input_shape)` declares parameters with `add_weight`; the model's arena allocates them;
- `forward(ctx, x, training)` calls C kernels, writes its output into a buffer from `ctx.buf`,
  puts everything backward needs into `ctx.saved`, and returns the output;
- `backward(ctx, dy, dx)` reads only `ctx.saved` (never re-fetches a buffer), accumulates into
  `dx` (None when the input needs no gradient) and into the parameter gradients. Single-input
  layers get arrays; merge layers get lists.
- Layers whose output is `activation(z)` also implement `backward_linear(ctx, dz, dx)`: the
  backward from the gradient of `z` (the trainer uses it when the loss is fused with a softmax).

`ctx` is per call site (graph node) and per workspace, so a layer used twice in a graph keeps
both calls' state, and two threads running the same model use different buffers.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from dlc import _C
from dlc import activations as _activations
from dlc import initializers as _initializers
from dlc import regularizers as _regularizers
from dlc._arena import Arena, Variable

Shape = Tuple[Optional[int], ...]

_NAME_COUNTS: Dict[str, int] = {}


def unique_name(base: str) -> str:
    """`base`, then `base_1`, `base_2`, ... as Keras names layers."""
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def clear_session() -> None:
    """Resets the automatic layer names (as `keras.backend.clear_session()`)."""
    _NAME_COUNTS.clear()


def _snake(name: str) -> str:
    """Keras's snake case: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, ReLU -> re_lu."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def shape_str(shape: Any) -> str:
    """Keras's rendering of a shape: (None, 26, 26, 32)."""
    if isinstance(shape, list):
        return "[" + ", ".join(shape_str(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Ctx:
    """One node's runtime state in one workspace.

    `buf` and `zeros` hand out the node's output and scratch arrays (allocated once per shape,
    reused afterwards); `saved` is what `forward` leaves for `backward`, and the only thing
    `backward` reads; `cache` keeps any other per-node object (a nested model's workspace).
    `fresh[i]` is set by the executor before `backward` of a layer with `_overwrites_dx`: True
    when the gradient buffer of input i holds no value yet, so backward overwrites it.
    `relu_out` is set by the executor when it fused the ReLU layer that follows this node into
    it (`Layer._can_fuse_relu`): forward applies the ReLU to its output, backward its mask.
    `dropout_after` likewise holds a fused Dropout layer that follows (`_can_fuse_dropout`).
    `inference` is set by the executor when no backward follows this forward (predict,
    evaluate): forward may then skip what only backward reads (max pooling's argmax).
    """

    def __init__(self) -> None:
        self._bufs: Dict[Tuple[str, Tuple[int, ...], str], np.ndarray] = {}
        self._objects: Dict[str, Any] = {}
        self.saved: Dict[str, Any] = {}
        self.fresh: Tuple[bool, ...] = ()
        self.relu_out = False
        self.dropout_after: Any = None
        self.inference = False

    def overwrite(self, i: int = 0) -> bool:
        """Whether backward writes input i's gradient rather than adding to it."""
        return i < len(self.fresh) and self.fresh[i]

    def buf(self, key: str, shape: Sequence[int], dtype=np.float32) -> np.ndarray:
        """An uninitialised array for `key` of `shape`, allocated once per distinct shape
        (a full batch and the last, smaller one) and reused afterwards."""
        shape = tuple(int(s) for s in shape)
        k = (key, shape, np.dtype(dtype).str)
        a = self._bufs.get(k)
        if a is None:
            a = np.empty(shape, dtype)
            self._bufs[k] = a
        return a

    def zeros(self, key: str, shape: Sequence[int], dtype=np.float32) -> np.ndarray:
        """`buf(key, shape, dtype)` filled with zeros."""
        a = self.buf(key, shape, dtype)
        a.fill(0)
        return a

    def cache(self, key: str, factory: Any) -> Any:
        """The object stored under `key`, made by `factory()` on first use."""
        obj = self._objects.get(key)
        if obj is None:
            obj = self._objects[key] = factory()
        return obj


class KerasTensor:
    """A symbolic tensor: the shape of a value in a model being defined (batch is None).

    Created by `dlc.layers.Input(...)` and by calling a layer on other symbolic tensors.
    """

    def __init__(self, shape: Shape, node: Optional["Node"] = None, name: str = "") -> None:
        self.shape = tuple(shape)
        self.node = node
        self.name = name
        self.dtype = "float32"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={shape_str(self.shape)}, name={self.name}>"

    # Arithmetic on symbolic tensors adds a TensorOp node to the graph (x + shortcut, x * 0.5).
    def _op(self, op: str, other: Any, reverse: bool = False) -> "KerasTensor":
        from dlc.layers.merge import TensorOp

        if isinstance(other, KerasTensor):
            return TensorOp(op)([other, self] if reverse else [self, other])
        if isinstance(other, (int, float, np.number)) and not isinstance(other, bool):
            return TensorOp(op, scalar=other, reverse=reverse)(self)
        return NotImplemented

    def __add__(self, other: Any) -> "KerasTensor":
        return self._op("add", other)

    def __radd__(self, other: Any) -> "KerasTensor":
        return self._op("add", other, reverse=True)

    def __sub__(self, other: Any) -> "KerasTensor":
        return self._op("subtract", other)

    def __rsub__(self, other: Any) -> "KerasTensor":
        return self._op("subtract", other, reverse=True)

    def __mul__(self, other: Any) -> "KerasTensor":
        return self._op("multiply", other)

    def __rmul__(self, other: Any) -> "KerasTensor":
        return self._op("multiply", other, reverse=True)

    def __truediv__(self, other: Any) -> "KerasTensor":
        return self._op("divide", other)

    def __rtruediv__(self, other: Any) -> "KerasTensor":
        return self._op("divide", other, reverse=True)

    def __neg__(self) -> "KerasTensor":
        from dlc.layers.merge import TensorOp

        return TensorOp("negative")(self)


class Node:
    """One call of a layer in a graph: its inputs, its output and its runtime context."""

    def __init__(self, layer: "Layer", inputs: List[KerasTensor], multi: bool) -> None:
        self.layer = layer
        self.inputs = inputs
        self.multi = multi  # the layer was called with a list
        self.output: Optional[KerasTensor] = None
        self.ctx = Ctx()


class Layer:
    """Base class of every layer.

    Gradients accumulate: `backward` adds into `dx`, so fan-out needs no special case. A layer
    whose backward honours `ctx.overwrite(i)` (writes the whole of input i's gradient when it is
    the buffer's first writer) sets `_overwrites_dx = True`, and the executor then hands it the
    buffer unzeroed; for every other layer the executor zeroes a fresh buffer first.

    Args:
        name: the layer's name; unique default from the class name (`conv2d`, `conv2d_1`, ...).
        trainable: whether the optimizer updates its weights.
        dtype: only "float32" (or None) is supported.
        input_shape: shape of one sample, for the first layer of a Sequential model.
        batch_size: optional fixed batch size given with input_shape (ignored otherwise).
    """

    _overwrites_dx = False
    # Backward honours Variable.take_grad_fresh for every weight gradient it writes (in a
    # training step the executor then skips zero-filling them; see Functional.run_backward).
    _overwrites_param_grads = False
    # Inference forward is only dlc._C calls on the node's buffers, the weights and its input
    # (reshapes and pass-throughs aside): a recorded plan may replay it (Functional).
    _plan_safe = False

    def _inference_plan_ok(self) -> bool:
        """Whether a recorded plan may replay this layer's inference forward."""
        act = getattr(self, "activation", None)
        return self._plan_safe and (act is None or getattr(act, "in_kernels", False))

    def _can_fuse_relu(self) -> bool:
        """Whether forward/backward honour `ctx.relu_out` (a following ReLU layer fused in)."""
        return False

    def _can_fuse_dropout(self) -> bool:
        """Whether forward/backward honour `ctx.dropout_after` (a following Dropout fused in)."""
        return False

    def __init__(self, *, name: Optional[str] = None, trainable: bool = True,
                 dtype: Any = None, input_shape: Optional[Sequence[Optional[int]]] = None,
                 batch_input_shape: Optional[Sequence[Optional[int]]] = None,
                 input_dim: Optional[int] = None, batch_size: Optional[int] = None,
                 **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unrecognized keyword argument(s) {sorted(kwargs)}"
            )
        if dtype not in (None, "float32", np.float32) and getattr(dtype, "name", None) != "float32":
            raise ValueError(f"{type(self).__name__}: dlc computes in float32, received dtype={dtype!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"Argument `name` must be a non-empty string, received {name!r}")
        self.name = name or unique_name(_snake(type(self).__name__))
        self._trainable = bool(trainable)
        self.built = False
        self.supports_masking = False
        self._variables: List[Variable] = []
        self._inbound_nodes: List[Node] = []
        self._build_shape: Any = None
        self._own_arena: Optional[Arena] = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if input_shape is not None:
            batch_input_shape = (batch_size,) + tuple(input_shape)
        self._batch_input_shape = tuple(batch_input_shape) if batch_input_shape is not None else None

    # ---------------------------------------------------------------- trainable
    @property
    def trainable(self) -> bool:
        """Whether the optimizer updates this layer's weights. Setting it also sets it on every
        layer this one owns (a composite layer's parts, a model's layers), as Keras does."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    def _sublayers(self) -> List["Layer"]:
        """The layers this layer owns and runs (none for a plain layer)."""
        return []

    # ---------------------------------------------------------------- to override
    def build(self, input_shape: Any) -> None:
        """Declares the weights for inputs of `input_shape` (with None for the batch)."""

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for `input_shape`; pure."""
        return input_shape

    def forward(self, ctx: Ctx, x: Any, training: bool) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, ctx: Ctx, dy: np.ndarray, dx: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def backward_linear(self, ctx: Ctx, dz: np.ndarray, dx: Any) -> None:
        """The backward from `dz`, the gradient of the pre-activation `z` that forward saved in
        `ctx.saved["z"]`. Only layers with an `activation` implement it."""
        raise NotImplementedError(f"{type(self).__name__}.backward_linear")

    def macs(self, input_shape: Any, output_shape: Any) -> int:
        """Multiply-accumulates per sample (for summary())."""
        return 0

    # The constructor arguments get_config reports, each read from the attribute of the same
    # name (activations, initializers and regularizers are serialized, tuples become lists).
    _config: Tuple[str, ...] = ()

    def get_config(self) -> Dict[str, Any]:
        """The layer's constructor arguments, JSON-able (Keras's layout)."""
        config: Dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": "float32"}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        for key in self._config:
            config[key] = config_value(getattr(self, key))
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Layer":
        """Rebuilds a layer from `get_config()`'s output."""
        return cls(**config)

    # ---------------------------------------------------------------- weights
    def add_weight(self, name: str, shape: Sequence[int], initializer: Any = "glorot_uniform",
                   regularizer: Any = None, trainable: bool = True) -> Variable:
        """Declares a weight; the model's arena gives it storage when the model is built."""
        var = Variable(name, shape, _initializers.get(initializer), _regularizers.get(regularizer),
                       trainable, self.name)
        self._variables.append(var)
        return var

    @property
    def weights(self) -> List[Variable]:
        """Trainable then non-trainable variables, in creation order (Keras's order)."""
        return [v for v in self._variables if v.trainable] + [v for v in self._variables if not v.trainable]

    @property
    def trainable_weights(self) -> List[Variable]:
        return [v for v in self._variables if v.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self) -> List[Variable]:
        if self.trainable:
            return [v for v in self._variables if not v.trainable]
        return self.weights

    @property
    def variables(self) -> List[Variable]:
        return self.weights

    def _require_values(self) -> None:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has no weights yet: it is built when it is first called "
                f"or when its model is built"
            )
        if any(v.value is None for v in self._variables):
            arena = Arena()
            arena.finalize(self._variables)
            self._own_arena = arena

    def get_weights(self) -> List[np.ndarray]:
        """Copies of the weights as NumPy arrays, in Keras's order.

        Returns:
            A list of float32 arrays, e.g. `[kernel, bias]` for Dense and Conv2D and
            `[gamma, beta, moving_mean, moving_variance]` for BatchNormalization.
        """
        if not self._variables:
            return []
        self._require_values()
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Copies `weights` (Keras's order and layouts) into the layer's weights.

        Args:
            weights: a list of arrays with the shapes `get_weights()` returns.

        Raises:
            ValueError: on a wrong count or shape; nothing is changed then.
        """
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(
                f"Layer '{self.name}' expects {len(params)} weight arrays, received {len(weights)}"
            )
        arrays = []
        for v, w in zip(params, weights):
            a = np.asarray(w, dtype=np.float32)
            if a.shape != v.shape:
                raise ValueError(
                    f"Layer '{self.name}' weight '{v.name}' has shape {v.shape}, received {a.shape}"
                )
            arrays.append(a)
        if params:
            self._require_values()
        for v, a in zip(params, arrays):
            np.copyto(v.value, a)

    def count_params(self) -> int:
        """Number of scalars in the layer's weights."""
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                f"built. Call it on an input first or build its model."
            )
        return int(sum(v.size for v in self._variables))

    # ---------------------------------------------------------------- calling
    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self.build(input_shape)
            self.built = True
            self._build_shape = input_shape

    def __call__(self, inputs: Any, training: bool = False) -> Any:
        """Applied to symbolic tensors, adds this layer to the graph and returns its symbolic
        output; applied to NumPy arrays, runs it (inference mode unless `training=True`) and
        returns a new array."""
        multi = isinstance(inputs, (list, tuple))
        items = list(inputs) if multi else [inputs]
        if all(isinstance(t, KerasTensor) for t in items):
            return self._call_symbolic(items, multi)
        if any(isinstance(t, KerasTensor) for t in items):
            raise TypeError(f"Layer '{self.name}': mix of symbolic tensors and arrays as inputs")
        return self._call_eager(items, multi, training)

    def _call_symbolic(self, items: List[KerasTensor], multi: bool) -> KerasTensor:
        in_shape = [t.shape for t in items] if multi else items[0].shape
        self._check_input_shape(in_shape)
        self._maybe_build(in_shape)
        out_shape = self.compute_output_shape(in_shape)
        node = Node(self, items, multi)
        out = KerasTensor(out_shape, node, name=self.name)
        node.output = out
        self._inbound_nodes.append(node)
        return out

    def _call_eager(self, items: List[Any], multi: bool, training: bool) -> np.ndarray:
        arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in items]
        in_shape = [(None,) + a.shape[1:] for a in arrays] if multi else (None,) + arrays[0].shape[1:]
        self._check_input_shape(in_shape)
        self._maybe_build(in_shape)
        self._require_values()
        out = self.forward(Ctx(), arrays if multi else arrays[0], bool(training))
        return np.array(out, copy=True)

    def _check_input_shape(self, input_shape: Any) -> None:
        """Raises ValueError when a built layer is called on an incompatible shape."""
        if not self.built or self._build_shape is None:
            return
        if not _shapes_compatible(self._build_shape, input_shape):
            raise ValueError(
                f"Input to layer '{self.name}' ({type(self).__name__}) is incompatible: the layer "
                f"was built for shape {shape_str(self._build_shape) if not isinstance(self._build_shape, list) else self._build_shape}, "
                f"received {shape_str(input_shape) if not isinstance(input_shape, list) else input_shape}"
            )

    # ---------------------------------------------------------------- activation helpers
    def _act_forward(self, ctx: Ctx, z: np.ndarray, act: _activations.Activation,
                     owned: bool = False) -> np.ndarray:
        """y = act(z); remembers z and y for backward (and z as logits for a fused loss).
        When the layer owns z's buffer and the activation allows it (plain ReLU), y overwrites
        z: one buffer and one memory pass fewer."""
        ctx.saved["z"] = z
        if act.is_linear:
            return z
        if owned and act.in_place_ok:
            act.forward(z, z)
            ctx.saved["y"] = z
            return z
        y = ctx.buf("act_y", z.shape)
        act.forward(z, y)
        ctx.saved["y"] = y
        return y

    def _act_backward(self, ctx: Ctx, dy: np.ndarray, act: _activations.Activation) -> np.ndarray:
        """dL/dz from dL/dy through the activation that `_act_forward` applied."""
        if act.is_linear:
            return dy
        if act.is_plain_relu:
            return self._relu_backward(ctx, dy, ctx.saved["y"])
        dz = ctx.zeros("act_dz", dy.shape)
        act.backward(ctx.saved["z"], ctx.saved["y"], dy, dz)
        return dz

    def _relu_backward(self, ctx: Ctx, dy: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dz = 0 + dy * (y > 0) for a plain ReLU whose output is y (its own or a fused ReLU
        layer's), written into a node buffer without a zero fill."""
        dz = ctx.buf("act_dz", dy.shape)
        _C.relu_backward(y, dy, dz, accumulate=False)
        return dz

    def _activated_backward(self, ctx: Ctx, dy: np.ndarray, dx: Any) -> None:
        """`backward` of a layer whose output is `self.activation(z)`."""
        self.backward_linear(ctx, self._act_backward(ctx, dy, self.activation), dx)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _shapes_compatible(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return False
        return all(_shapes_compatible(x, y) for x, y in zip(a, b))
    if len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a[1:], b[1:]))


def config_value(value: Any) -> Any:
    """A constructor argument as JSON: activations, initializers and regularizers by their
    config, tuples as lists."""
    if isinstance(value, _activations.Activation):
        return _activations.serialize(value)
    if isinstance(value, _initializers.Initializer):
        return _initializers.serialize(value)
    if isinstance(value, _regularizers.Regularizer):
        return _regularizers.serialize(value)
    if isinstance(value, tuple):
        return [config_value(v) for v in value]
    return value


def accumulate(dx: Optional[np.ndarray], value: np.ndarray, overwrite: bool = False) -> None:
    """dx += value (reshaped to dx's shape), or dx = value when `overwrite`; nothing if dx is
    None."""
    if dx is None:
        return
    if overwrite:
        np.copyto(dx, value.reshape(dx.shape))
    else:
        np.add(dx, value.reshape(dx.shape), out=dx)
