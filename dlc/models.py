"""Models: the functional `Model(inputs, outputs)` and `Sequential`, one executor for both.

The executor runs the graph's nodes in topological order forward and in reverse order backward;
every gradient kernel accumulates (+=), so a tensor consumed by several layers (fan-out) simply
receives the sum of their gradients. All weights live in one flat arena per model (DESIGN.md
section 5); one optimizer step is one C call over it.

Example:

>>> model = dlc.models.Sequential([
...     dlc.layers.Input(shape=(28, 28, 1)),
...     dlc.layers.Conv2D(32, 3, activation="relu"),
...     dlc.layers.Flatten(),
...     dlc.layers.Dense(10, activation="softmax"),
... ])
>>> model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
>>> history = model.fit(x_train, y_train, batch_size=128, epochs=2, validation_split=0.1)
"""
from __future__ import annotations

import copy
import io
import json
import math
import zipfile
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from dlc import _random
from dlc import losses as _losses
from dlc import metrics as _metrics
from dlc import optimizers as _optimizers
from dlc._arena import Arena, Variable
from dlc.layers.base import Ctx, KerasTensor, Layer, Node, shape_str, unique_name
from dlc.layers.core import InputLayer


# ============================================================================ batching
class _Batcher:
    """Gathers batches of rows from the user's arrays into preallocated buffers of the model's
    dtype: no allocation per batch and no copy of the whole data set."""

    def __init__(self, arrays: Sequence[np.ndarray], dtypes: Sequence[Any], batch_size: int) -> None:
        self.arrays = list(arrays)
        self.bufs = [np.empty((batch_size,) + a.shape[1:], dt) for a, dt in zip(arrays, dtypes)]
        self.staging = [None if a.dtype == b.dtype else np.empty((batch_size,) + a.shape[1:], a.dtype)
                        for a, b in zip(arrays, self.bufs)]

    def gather(self, idx: np.ndarray) -> List[np.ndarray]:
        out = []
        n = len(idx)
        for a, buf, st in zip(self.arrays, self.bufs, self.staging):
            dst = buf[:n]
            if st is None:
                np.take(a, idx, axis=0, out=dst, mode="clip")
            else:
                np.take(a, idx, axis=0, out=st[:n], mode="clip")
                np.copyto(dst, st[:n], casting="unsafe")
            out.append(dst)
        return out

    def slice(self, start: int, stop: int) -> List[np.ndarray]:
        """Rows start:stop (no shuffling): a view when dtype and layout already fit."""
        out = []
        for a, buf, st in zip(self.arrays, self.bufs, self.staging):
            if st is None and a.flags.c_contiguous:
                out.append(a[start:stop])
            else:
                dst = buf[:stop - start]
                np.copyto(dst, a[start:stop], casting="unsafe")
                out.append(dst)
        return out


def _as_list(x: Any) -> List[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _as_array(x: Any, what: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    try:
        arr = np.asarray(x)
    except Exception as e:  # pragma: no cover - numpy's own message is specific
        raise TypeError(f"{what} must be a NumPy array (or convertible to one), received {type(x).__name__}: {e}") from None
    if arr.dtype == object:
        raise TypeError(f"{what} must be a numeric NumPy array, received {type(x).__name__} of ragged or non-numeric values")
    return arr


# ============================================================================ Model
class Model(Layer):
    """A model: a graph of layers from `inputs` to `outputs`, with training and inference.

    Args:
        inputs: a symbolic tensor from `dlc.layers.Input` (or a list of them).
        outputs: a symbolic tensor computed from the inputs by calling layers (or a list).
        name: the model's name.

    Example (functional API, an Inception-style module):

    >>> inputs = dlc.layers.Input(shape=(28, 28, 1))
    >>> a = dlc.layers.Conv2D(16, 1, padding="same", activation="relu")(inputs)
    >>> b = dlc.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    >>> x = dlc.layers.Concatenate()([a, b])
    >>> outputs = dlc.layers.Dense(10, activation="softmax")(dlc.layers.Flatten()(x))
    >>> model = dlc.models.Model(inputs, outputs)
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: Optional[str] = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        Layer.__init__(self, name=name or unique_name("functional" if type(self) is Model else _model_base(self)),
                       trainable=trainable, **kwargs)
        self._init_training_state()
        if type(self) is Model or inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("Model(inputs, outputs): both `inputs` and `outputs` are required "
                                 "(subclassing Model is not supported by dlc)")
            self._init_graph(inputs, outputs)

    def _init_training_state(self) -> None:
        self.optimizer: Optional[_optimizers.Optimizer] = None
        self.loss: Optional[_losses.Loss] = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_specs: List[Any] = []
        self._metrics: Optional[List[_metrics.Metric]] = None
        self._loss_tracker = _metrics.Mean(name="loss")
        self._arena: Optional[Arena] = None
        self._grad_ctx = Ctx()
        self._graph_ready = False

    # ---------------------------------------------------------------- graph
    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        self._inputs_is_list = isinstance(inputs, (list, tuple))
        self._outputs_is_list = isinstance(outputs, (list, tuple))
        ins, outs = _as_list(inputs), _as_list(outputs)
        for t in ins:
            if not isinstance(t, KerasTensor) or getattr(t, "input_layer", None) is None:
                raise ValueError(f"Model inputs must be tensors returned by dlc.layers.Input(), received {t!r}")
        for t in outs:
            if not isinstance(t, KerasTensor):
                raise ValueError(f"Model outputs must be symbolic tensors (results of calling layers), received {t!r}")
        order: List[Node] = []
        seen: Dict[int, bool] = {}
        input_ids = {id(t) for t in ins}
        first_seen: Dict[int, int] = {}  # layer id -> DFS pre-order index (Keras's tie-break)

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
        self._inputs, self._outputs, self._nodes = ins, outs, order
        self._all_layers = self._keras_layer_order(ins, order, first_seen)
        self._grad_tensors = [node.output for node in order]
        self.built = True
        self._graph_ready = True
        self._build_arena()

    @staticmethod
    def _keras_layer_order(ins: List[KerasTensor], order: List[Node],
                           first_seen: Dict[int, int]) -> List[Layer]:
        """Layers in Keras's order, so that get_weights() lists match Keras's: by depth
        (distance from the outputs, deepest first), ties by first visit in a depth-first walk
        from the outputs."""
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

    def _ensure_graph(self) -> None:
        if not self._graph_ready:
            raise ValueError(
                f"Model '{self.name}' has not yet been built. Build it by giving the first layer an "
                f"`input_shape` (or starting with dlc.layers.Input), by calling `build(input_shape)`, "
                f"or by calling fit/predict on data."
            )

    # ---------------------------------------------------------------- properties
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
    def input_shape(self) -> Any:
        shapes = [t.shape for t in self.inputs]
        return shapes if self._inputs_is_list else shapes[0]

    @property
    def output_shape(self) -> Any:
        shapes = [t.shape for t in self.outputs]
        return shapes if self._outputs_is_list else shapes[0]

    @property
    def weights(self) -> List[Variable]:
        self._ensure_graph()
        out = []
        for layer in self._all_layers:
            out.extend(layer.weights)
        return out

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

    @property
    def metrics_names(self) -> List[str]:
        return ["loss"] + [m.name for m in (self._metrics or [])]

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

    # ---------------------------------------------------------------- weights
    def get_weights(self) -> List[np.ndarray]:
        """Copies of all weights, layer by layer in Keras's order."""
        self._ensure_arena()
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets all weights from a list in `get_weights()`'s order (e.g. from a Keras model).

        Raises:
            ValueError: on a wrong count or shape, naming the layer; nothing is changed then.
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

    # ---------------------------------------------------------------- execution
    def _forward(self, xs: Sequence[np.ndarray], training: bool) -> List[np.ndarray]:
        vals: Dict[int, np.ndarray] = {id(t): x for t, x in zip(self._inputs, xs)}
        for node in self._nodes:
            if node.multi:
                arg = [vals[id(t)] for t in node.inputs]
            else:
                arg = vals[id(node.inputs[0])]
            vals[id(node.output)] = node.layer.forward(node.ctx, arg, training)
        self._vals = vals
        return [vals[id(t)] for t in self._outputs]

    def _backward(self, dys: Sequence[np.ndarray]) -> None:
        vals = self._vals
        grads: Dict[int, np.ndarray] = {}
        for t in self._grad_tensors:
            g = self._grad_ctx.zeros(str(id(t)), vals[id(t)].shape)
            grads[id(t)] = g
        for t, dy in zip(self._outputs, dys):
            np.add(grads[id(t)], dy, out=grads[id(t)])
        for node in reversed(self._nodes):
            dy = grads[id(node.output)]
            dxs = [grads.get(id(t)) for t in node.inputs]
            node.layer.backward(node.ctx, dy, dxs if node.multi else dxs[0])

    def __call__(self, inputs: Any, training: bool = False) -> Any:
        """Called on arrays, runs the model (inference unless training=True) and returns new
        arrays; called on symbolic tensors, is not supported yet (nest models by their layers)."""
        items = _as_list(inputs)
        if any(isinstance(t, KerasTensor) for t in items):
            raise NotImplementedError("Calling a dlc model on symbolic tensors (nesting models) is not supported yet; "
                                      "call its layers instead")
        xs = self._prepare_x(inputs, "x")
        self._ensure_arena()
        outs = self._forward([np.ascontiguousarray(x, dtype=np.float32) for x in xs], bool(training))
        res = [o.copy() for o in outs]
        return res if self._outputs_is_list else res[0]

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Configures the model for training.

        Args:
            optimizer: name ('adam', 'sgd', 'rmsprop', 'adagrad', 'adadelta') or instance.
            loss: name ('categorical_crossentropy', 'sparse_categorical_crossentropy',
                'binary_crossentropy', 'mse'), function from `dlc.losses`, or instance.
            metrics: list of metric names or instances, e.g. `['accuracy']`.

        Raises:
            ValueError: for an unknown optimizer, loss or metric name.
        """
        if loss_weights is not None or weighted_metrics is not None:
            raise NotImplementedError("compile: loss_weights and weighted_metrics are not supported yet")
        self.optimizer = _optimizers.get(optimizer)
        self.loss = _losses.get(loss) if loss is not None else None
        if isinstance(metrics, dict):
            raise NotImplementedError("compile: per-output metric dicts are not supported yet; pass a list")
        self._metric_specs = _as_list(metrics)
        for m in self._metric_specs:  # fail now on unknown names
            _metrics.get(m, self.loss)
        self._metrics = None
        self.compiled = True

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before using the model ({what}).")
        if self.loss is None:
            raise ValueError(f"{what}: the model was compiled without a loss; pass `loss=` to compile()")

    def _make_metrics(self, y: np.ndarray) -> List[_metrics.Metric]:
        """Fresh metric objects for targets like y ('accuracy' resolved as Keras does)."""
        out_shape = self._outputs[0].shape
        made = []
        for spec in self._metric_specs:
            m = _metrics.get(copy.deepcopy(spec) if isinstance(spec, _metrics.Metric) else spec,
                             self.loss, out_shape, (None,) + tuple(y.shape[1:]))
            m.reset_state()
            made.append(m)
        return made

    def _resolve_metrics(self, y: np.ndarray) -> None:
        if self._metrics is None:
            self._metrics = self._make_metrics(y)

    def reset_metrics(self) -> None:
        """Resets the loss and metric accumulators."""
        self._loss_tracker.reset_state()
        for m in self._metrics or []:
            m.reset_state()

    def _logs(self) -> Dict[str, float]:
        logs = {m.name: float(m.result()) for m in self._metrics or []}
        logs["loss"] = float(self._loss_tracker.result())
        return dict(sorted(logs.items()))

    # ---------------------------------------------------------------- data checks
    def _prepare_x(self, x: Any, what: str) -> List[np.ndarray]:
        self._maybe_build_from_data(x)
        xs = [_as_array(a, what) for a in _as_list(x)]
        if len(xs) != len(self._inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self._inputs)} input array(s), received {len(xs)}")
        n = None
        for i, (a, t) in enumerate(zip(xs, self._inputs)):
            want = t.shape
            if a.ndim != len(want) or any(w is not None and w != g for w, g in zip(want[1:], a.shape[1:])):
                raise ValueError(
                    f"Input {i} of model '{self.name}' is incompatible with layer '{t.name}': expected "
                    f"shape={shape_str(want)}, found shape={a.shape}"
                )
            if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
                raise TypeError(f"Input {i} of model '{self.name}' must be numeric, received dtype {a.dtype}")
            if n is not None and a.shape[0] != n:
                raise ValueError(f"All inputs must have the same number of samples, received {[b.shape[0] for b in xs]}")
            n = a.shape[0]
        return xs

    def _maybe_build_from_data(self, x: Any) -> None:
        pass

    def _prepare_y(self, y: Any, n: int) -> np.ndarray:
        if y is None:
            raise ValueError("fit/evaluate: targets `y` are required")
        if len(self._outputs) != 1:
            raise NotImplementedError("Training models with several outputs is not supported yet")
        y = _as_array(y, "y")
        if y.ndim == 0 or y.shape[0] != n:
            raise ValueError(f"x and y must have the same number of samples, received x: {n}, y: {y.shape[0] if y.ndim else 'a scalar'}")
        self.loss.check_targets(y, self._outputs[0].shape)
        return y

    def _target_batch_shape(self, y: np.ndarray) -> Tuple[int, ...]:
        return tuple(y.shape[1:])

    # ---------------------------------------------------------------- steps
    def _fused_node(self) -> Optional[Node]:
        """The output node whose softmax the loss fuses with, if any."""
        if not getattr(self.loss, "supports_fused_softmax", False) or getattr(self.loss, "from_logits", True):
            return None
        t = self._outputs[0]
        act = getattr(t.node.layer, "activation", None) if t.node is not None else None
        return t.node if act is not None and act.is_softmax else None

    def _train_step(self, xb: List[np.ndarray], yb: np.ndarray, arena: Arena, runs, reg_vars) -> float:
        m = yb.shape[0]
        fused = self._fused_node()
        if fused is not None:
            fused.ctx.fused_softmax = True
        try:
            (y_pred,) = self._forward(xb, training=True)
            if hasattr(self.loss, "transform_targets"):
                self.loss.transform_targets(yb)
            per_sample = self._grad_ctx.buf("loss", (_rows(y_pred.shape),))
            dy = self._grad_ctx.zeros("dy_out", y_pred.shape)
            if fused is not None:
                logits = fused.ctx.saved["z"]
                probs = self._grad_ctx.buf("probs", logits.shape)
                self.loss.fused_per_sample(logits, yb, probs, per_sample)
                self.loss.fused_backward(probs, yb, 1.0 / per_sample.size, dy)
            else:
                self.loss.per_sample(y_pred, yb, per_sample)
                self.loss.backward(y_pred, yb, 1.0 / per_sample.size, dy)
            batch_loss = float(np.mean(per_sample, dtype=np.float64))
            arena.zero_grads()
            self._backward([dy])
        finally:
            if fused is not None:
                fused.ctx.fused_softmax = False
        for v in reg_vars:
            batch_loss += v.regularizer(v.value)
            v.regularizer.gradient(v.value, v.grad)
        self.optimizer.apply(arena.params, arena.grads, runs, [v for v in arena.variables if v.trainable])
        self._loss_tracker.update_state(batch_loss, sample_weight=m)
        for metric in self._metrics:
            metric.update_state(yb, y_pred)
        return batch_loss

    def _test_step(self, xb: List[np.ndarray], yb: np.ndarray, reg_vars) -> None:
        (y_pred,) = self._forward(xb, training=False)
        if hasattr(self.loss, "transform_targets"):
            self.loss.transform_targets(yb)
        per_sample = self._grad_ctx.buf("loss_eval", (_rows(y_pred.shape),))
        self.loss.per_sample(y_pred, yb, per_sample)
        batch_loss = float(np.mean(per_sample, dtype=np.float64))
        for v in reg_vars:
            batch_loss += v.regularizer(v.value)
        self._loss_tracker.update_state(batch_loss, sample_weight=yb.shape[0])
        for metric in self._metrics:
            metric.update_state(yb, y_pred)

    def _trainable_runs(self, arena: Arena) -> List[Tuple[int, int]]:
        """Contiguous (start, stop) ranges of the arena holding weights of trainable layers."""
        frozen = set()
        if not self.trainable:
            return []
        for layer in self._all_layers:
            if not layer.trainable:
                frozen.update(id(v) for v in layer._variables)
        runs: List[Tuple[int, int]] = []
        for v in arena.variables:
            if not v.trainable or id(v) in frozen:
                continue
            start, stop = v.offset, v.offset + v.size
            if runs and runs[-1][1] >= start - 16:
                runs[-1] = (runs[-1][0], stop)
            else:
                runs.append((start, stop))
        return runs

    def _reg_vars(self, arena: Arena, training: bool) -> List[Variable]:
        frozen = {id(v) for layer in self._all_layers if not layer.trainable for v in layer._variables}
        return [v for v in arena.variables if v.regularizer is not None and v.trainable
                and not (training and id(v) in frozen)]

    # ---------------------------------------------------------------- fit
    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Union[int, str] = "auto", callbacks: Any = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: Any = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: Optional[int] = None,
            validation_steps: Optional[int] = None, validation_batch_size: Optional[int] = None,
            validation_freq: int = 1):
        """Trains the model for a fixed number of epochs.

        Args:
            x: input array (or list of arrays for several inputs).
            y: targets (one-hot for categorical cross-entropy, class indices for the sparse one).
            batch_size: samples per gradient update (default 32).
            epochs: index of the last epoch to train (training starts at `initial_epoch`).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch ('auto' is 1).
            callbacks: list of `dlc.callbacks.Callback`.
            validation_split: fraction of the training data (taken from the end, before
                shuffling) held out for validation.
            validation_data: `(x_val, y_val)` evaluated at the end of each epoch.
            shuffle: shuffle the training samples before each epoch.
            initial_epoch: epoch at which to start (to resume training).

        Returns:
            A `History` whose `.history` maps 'loss', metric names and their 'val_' versions to
            per-epoch lists.

        Example:

        >>> history = model.fit(x_train, y_train, batch_size=128, epochs=12,
        ...                     validation_data=(x_test, y_test))
        """
        from dlc import callbacks as _callbacks

        self._require_compiled("fit")
        if class_weight is not None or sample_weight is not None:
            raise NotImplementedError("fit: class_weight and sample_weight are not supported yet")
        if steps_per_epoch is not None:
            raise NotImplementedError("fit: steps_per_epoch is not supported with array inputs; the epoch covers the data")
        batch_size = _check_batch_size(batch_size)
        epochs, initial_epoch = int(epochs), int(initial_epoch)
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"fit: argument `validation_split` must be in [0, 1), received {validation_split!r}")
        verbose = _verbosity(verbose)
        xs = self._prepare_x(x, "x")
        n = xs[0].shape[0]
        yy = self._prepare_y(y, n)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: `validation_data` must be a tuple (x_val, y_val)")
            val = (validation_data[0], validation_data[1])
        elif validation_split:
            split = int(n * (1.0 - validation_split))
            if split == 0 or split == n:
                raise ValueError(f"fit: validation_split={validation_split} leaves an empty training or validation set of {n} samples")
            val = ([a[split:] for a in xs], yy[split:])
            xs, yy, n = [a[:split] for a in xs], yy[:split], split
        if n == 0:
            raise ValueError("fit: the training data is empty")
        arena = self._ensure_arena()
        self._resolve_metrics(yy)
        steps = math.ceil(n / batch_size)
        batcher = _Batcher(xs + [yy], [np.float32] * len(xs) + [self.loss.target_dtype], batch_size)
        cbs = _callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                      verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        runs = self._trainable_runs(arena)
        reg_vars = self._reg_vars(arena, True)
        gen = _random.generator()
        cbs.on_train_begin()
        logs: Dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            order = gen.permutation(n) if shuffle else None
            for step in range(steps):
                cbs.on_train_batch_begin(step)
                start, stop = step * batch_size, min(n, (step + 1) * batch_size)
                if order is not None:
                    batch = batcher.gather(order[start:stop])
                else:
                    batch = batcher.gather(np.arange(start, stop))
                self._train_step(batch[:-1], batch[-1], arena, runs, reg_vars)
                cbs.on_train_batch_end(step, self._logs())
                if self.stop_training:
                    break
            logs = self._logs()
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self.evaluate(val[0], val[1], batch_size=validation_batch_size or batch_size,
                                         verbose=0, return_dict=True, _reset=False)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history  # the History that CallbackList attached to the model

    # ---------------------------------------------------------------- evaluate / predict
    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
                 verbose: Union[int, str] = "auto", sample_weight: Any = None, steps: Optional[int] = None,
                 callbacks: Any = None, return_dict: bool = False, _reset: bool = True):
        """Returns the loss and metrics of the model on `x`, `y` (inference mode).

        Args:
            x, y: inputs and targets, as for fit.
            batch_size: default 32.
            verbose: 0 silent, 1 progress bar.
            return_dict: return `{'loss': ..., 'accuracy': ...}` instead of a list.

        Returns:
            `[loss, metric1, ...]` (the scalar loss when there are no metrics), or a dict.

        Example:

        >>> loss, acc = model.evaluate(x_test, y_test, verbose=0)
        """
        from dlc import callbacks as _callbacks

        self._require_compiled("evaluate")
        if sample_weight is not None:
            raise NotImplementedError("evaluate: sample_weight is not supported yet")
        batch_size = _check_batch_size(batch_size)
        verbose = _verbosity(verbose)
        xs = self._prepare_x(x, "x")
        n = xs[0].shape[0]
        yy = self._prepare_y(y, n)
        arena = self._ensure_arena()
        self._resolve_metrics(yy)
        # Evaluation has its own accumulators: a validation pass must not disturb fit's.
        saved = (self._loss_tracker, self._metrics)
        self._loss_tracker = _metrics.Mean(name="loss")
        self._metrics = self._make_metrics(yy)
        try:
            steps_n = math.ceil(n / batch_size)
            batcher = _Batcher(xs + [yy], [np.float32] * len(xs) + [self.loss.target_dtype], batch_size)
            cbs = _callbacks.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                          epochs=1, steps=steps_n)
            cbs.on_test_begin()
            reg_vars = self._reg_vars(arena, False)
            for step in range(steps_n):
                cbs.on_test_batch_begin(step)
                batch = batcher.gather(np.arange(step * batch_size, min(n, (step + 1) * batch_size)))
                self._test_step(batch[:-1], batch[-1], reg_vars)
                cbs.on_test_batch_end(step, self._logs())
            logs = self._logs()
            cbs.on_test_end(logs)
        finally:
            self._loss_tracker, self._metrics = saved
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in saved[1]]
        return values if len(values) > 1 else values[0]

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Union[int, str] = "auto",
                steps: Optional[int] = None, callbacks: Any = None):
        """Returns the model's outputs for `x` (inference mode), batch by batch.

        Args:
            x: input array (or list of arrays).
            batch_size: default 32.
            verbose: 0 silent, 1 progress bar.

        Returns:
            A float32 array (n, ...) (a list of arrays for several outputs).

        Example:

        >>> probs = model.predict(x_test, verbose=0)
        >>> labels = probs.argmax(axis=1)
        """
        from dlc import callbacks as _callbacks

        batch_size = _check_batch_size(batch_size)
        verbose = _verbosity(verbose)
        xs = self._prepare_x(x, "x")
        n = xs[0].shape[0]
        self._ensure_arena()
        steps_n = math.ceil(n / batch_size)
        batcher = _Batcher(xs, [np.float32] * len(xs), batch_size)
        results: Optional[List[np.ndarray]] = None
        cbs = _callbacks.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                      epochs=1, steps=steps_n)
        cbs.on_predict_begin()
        for step in range(steps_n):
            start, stop = step * batch_size, min(n, (step + 1) * batch_size)
            cbs.on_predict_batch_begin(step)
            outs = self._forward(batcher.slice(start, stop), training=False)
            if results is None:
                results = [np.empty((n,) + o.shape[1:], np.float32) for o in outs]
            for r, o in zip(results, outs):
                r[start:stop] = o
            cbs.on_predict_batch_end(step, {})
        cbs.on_predict_end()
        if results is None:
            results = [np.empty((0,) + tuple(d or 0 for d in t.shape[1:]), np.float32) for t in self._outputs]
        return results if self._outputs_is_list else results[0]

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
                       return_dict: bool = False):
        """One gradient update on a single batch; returns the loss and metrics accumulated since
        the last `reset_metrics()` (as Keras 3)."""
        self._require_compiled("train_on_batch")
        if sample_weight is not None or class_weight is not None:
            raise NotImplementedError("train_on_batch: sample_weight and class_weight are not supported yet")
        xs = self._prepare_x(x, "x")
        yy = self._prepare_y(y, xs[0].shape[0])
        arena = self._ensure_arena()
        self._resolve_metrics(yy)
        batch = _Batcher(xs + [yy], [np.float32] * len(xs) + [self.loss.target_dtype], len(yy)).slice(0, len(yy))
        if batch[-1] is yy or np.shares_memory(batch[-1], yy):
            batch[-1] = batch[-1].copy()
        self._train_step(batch[:-1], batch[-1], arena, self._trainable_runs(arena), self._reg_vars(arena, True))
        return self._batch_result(return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False):
        """Loss and metrics on a single batch (inference mode), accumulated like train_on_batch."""
        self._require_compiled("test_on_batch")
        xs = self._prepare_x(x, "x")
        yy = self._prepare_y(y, xs[0].shape[0])
        arena = self._ensure_arena()
        self._resolve_metrics(yy)
        batch = _Batcher(xs + [yy], [np.float32] * len(xs) + [self.loss.target_dtype], len(yy)).slice(0, len(yy))
        if np.shares_memory(batch[-1], yy):
            batch[-1] = batch[-1].copy()
        self._test_step(batch[:-1], batch[-1], self._reg_vars(arena, False))
        return self._batch_result(return_dict)

    def predict_on_batch(self, x: Any):
        """The model's outputs for one batch (inference mode)."""
        return self.predict(x, batch_size=max(1, len(_as_list(x)[0])), verbose=0)

    def _batch_result(self, return_dict: bool):
        logs = self._logs()
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self._metrics]
        return values if len(values) > 1 else values[0]

    # ---------------------------------------------------------------- summary
    def summary(self, line_length: Optional[int] = None, positions: Any = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False, layer_range: Any = None) -> None:
        """Prints a table of the layers: name and type, output shape, parameter count and
        multiply-accumulates per sample, then the totals.

        Args:
            print_fn: function to print each line (default: print).
        """
        (print_fn or print)(self._summary_text(line_length))

    def _summary_rows(self) -> List[Tuple[str, str, int, int, str]]:
        rows = []
        sequential = isinstance(self, Sequential)
        for layer in self._all_layers:
            if sequential and isinstance(layer, InputLayer):
                continue
            nodes = [nd for nd in self._nodes if nd.layer is layer]
            if isinstance(layer, InputLayer):
                out_shape, macs, conn = layer.batch_shape, 0, "-"
            else:
                nd = nodes[0]
                out_shape = nd.output.shape
                macs = sum(layer.macs([t.shape for t in n.inputs] if n.multi else n.inputs[0].shape, n.output.shape)
                           for n in nodes)
                conn = ", ".join(f"{(t.node.layer.name if t.node else t.name)}" for t in nd.inputs)
            params = sum(v.size for v in layer.weights)
            rows.append((f"{layer.name} ({type(layer).__name__})", shape_str(out_shape), params, macs, conn))
        return rows

    def _summary_text(self, line_length: Optional[int] = None) -> str:
        self._ensure_graph()
        rows = self._summary_rows()
        functional = not isinstance(self, Sequential)
        headers = ["Layer (type)", "Output Shape", "Param #", "MACs"] + (["Connected to"] if functional else [])
        cells = [[r[0], r[1], f"{r[2]:,}", f"{r[3]:,}"] + ([r[4]] if functional else []) for r in rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) + 2 if cells else len(h) + 2 for i, h in enumerate(headers)]
        right = {2, 3}

        def fmt(vals):
            parts = []
            for i, (v, w) in enumerate(zip(vals, widths)):
                parts.append(" " + (v.rjust(w - 2) if i in right else v.ljust(w - 2)) + " ")
            return "│" + "│".join(parts) + "│"

        def bar(left, mid, rightc, ch="━"):
            return left + mid.join(ch * w for w in widths) + rightc

        lines = [f'Model: "{self.name}"', bar("┏", "┳", "┓"),
                 "┃" + "┃".join(" " + (h.rjust(w - 2) if i in right else h.ljust(w - 2)) + " "
                                for i, (h, w) in enumerate(zip(headers, widths))) + "┃",
                 bar("┡", "╇", "┩")]
        for i, c in enumerate(cells):
            lines.append(fmt(c))
            if i < len(cells) - 1:
                lines.append(bar("├", "┼", "┤", "─"))
        lines.append(bar("└", "┴", "┘", "─"))
        trainable = sum(v.size for v in self.trainable_weights)
        total = self.count_params()
        macs = sum(r[3] for r in rows)
        lines += [f" Total params: {total:,} ({_human_bytes(total * 4)})",
                  f" Trainable params: {trainable:,} ({_human_bytes(trainable * 4)})",
                  f" Non-trainable params: {total - trainable:,} ({_human_bytes((total - trainable) * 4)})",
                  f" Multiply-accumulates per sample: {macs:,}"]
        return "\n".join(lines)

    # ---------------------------------------------------------------- saving
    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Saves all weights to `filepath` (a NumPy .npz archive of plain arrays plus a JSON
        manifest of layer, weight name and shape; no pickle)."""
        import os

        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"save_weights: {filepath} exists and overwrite=False")
        self._ensure_arena()
        with open(filepath, "wb") as f:
            f.write(self._weights_bytes())

    def _weights_bytes(self) -> bytes:
        weights = self.weights
        manifest = [{"layer": v.path.split("/")[0], "name": v.name, "shape": list(v.shape)} for v in weights]
        arrays = {f"w{i}": v.value for i, v in enumerate(weights)}
        arrays["manifest"] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def load_weights(self, filepath: str) -> None:
        """Loads weights saved by `save_weights` (matched by position; shapes checked)."""
        with np.load(filepath, allow_pickle=False) as data:
            self._load_weights_npz(data, filepath)

    def _load_weights_npz(self, data: Any, source: str) -> None:
        manifest = json.loads(bytes(data["manifest"]).decode())
        weights = self.weights
        if len(manifest) != len(weights):
            raise ValueError(f"load_weights: {source} holds {len(manifest)} weights, model '{self.name}' has {len(weights)}")
        self.set_weights([data[f"w{i}"] for i in range(len(manifest))])

    def save(self, filepath: str, overwrite: bool = True) -> None:
        """Saves the architecture (JSON) and weights in one zip file (`.keras`-like layout:
        config.json + model.weights.npz). Reload with `dlc.models.load_model`."""
        import os

        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"save: {filepath} exists and overwrite=False")
        config = {"class_name": type(self).__name__, "config": self.get_config(), "dlc_version": _version()}
        with zipfile.ZipFile(filepath, "w") as zf:
            zf.writestr("config.json", json.dumps(config, indent=1))
            zf.writestr("model.weights.npz", self._weights_bytes())

    def get_config(self) -> Dict[str, Any]:
        self._ensure_graph()
        layers = []
        for layer in self._all_layers:
            nodes = []
            for nd in self._nodes:
                if nd.layer is layer:
                    nodes.append([_tensor_ref(t) for t in nd.inputs] + ([True] if nd.multi else []))
            layers.append({"class_name": type(layer).__name__, "config": layer.get_config(), "inbound_nodes": nodes})
        return {"name": self.name, "layers": layers,
                "input_layers": [_tensor_ref(t) for t in self._inputs],
                "output_layers": [_tensor_ref(t) for t in self._outputs],
                "inputs_is_list": self._inputs_is_list, "outputs_is_list": self._outputs_is_list}


def _tensor_ref(t: KerasTensor) -> List[Any]:
    if t.node is None:
        return [t.input_layer.name, 0]
    return [t.node.layer.name, t.node.layer._inbound_nodes.index(t.node)]


def _rows(shape: Tuple[int, ...]) -> int:
    return int(np.prod(shape[:-1])) if len(shape) > 1 else 1


def _version() -> str:
    from dlc import __version__

    return __version__


def _model_base(obj: Any) -> str:
    return "sequential" if isinstance(obj, Sequential) else "functional"


def _check_batch_size(batch_size: Any) -> int:
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"Argument `batch_size` must be a positive int, received {batch_size!r}")
    return int(batch_size)


def _verbosity(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"Argument `verbose` must be 0, 1, 2 or 'auto', received {verbose!r}")
    return int(verbose)


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n:.2f} B"
        n /= 1024.0
    return f"{n:.2f} GB"


# ============================================================================ Sequential
class Sequential(Model):
    """A linear stack of layers; builds the same graph as the functional API.

    Args:
        layers: optional list of layers (the first may be `dlc.layers.Input(...)` or have
            `input_shape=`).
        name: the model's name.

    Example:

    >>> model = dlc.models.Sequential()
    >>> model.add(dlc.layers.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)))
    >>> model.add(dlc.layers.Flatten())
    >>> model.add(dlc.layers.Dense(10, activation="softmax"))
    """

    def __init__(self, layers: Optional[Sequence[Any]] = None, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        Layer.__init__(self, name=name or unique_name("sequential"), trainable=trainable)
        self._init_training_state()
        self._seq_layers: List[Layer] = []
        self._input_batch_shape: Optional[Tuple[Optional[int], ...]] = None
        self._input_layer: Optional[InputLayer] = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        """Appends a layer (or sets the input with `dlc.layers.Input(...)` first)."""
        if isinstance(layer, KerasTensor) and getattr(layer, "input_layer", None) is not None:
            if self._seq_layers:
                raise ValueError("Sequential.add: an Input can only be the first entry")
            self._input_layer = layer.input_layer
            self._input_batch_shape = layer.shape
            return
        if isinstance(layer, InputLayer):
            if self._seq_layers:
                raise ValueError("Sequential.add: an InputLayer can only be the first entry")
            self._input_layer, self._input_batch_shape = layer, layer.batch_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a dlc layer, received {layer!r} of type {type(layer).__name__}")
        if isinstance(layer, Model):
            raise NotImplementedError("Sequential.add: nesting models is not supported yet; add their layers")
        if not self._seq_layers and self._input_batch_shape is None and layer._batch_input_shape is not None:
            self._input_batch_shape = layer._batch_input_shape
        self._seq_layers.append(layer)
        self._graph_ready = False
        if self._input_batch_shape is not None:
            self._build_graph(self._input_batch_shape)

    def pop(self) -> Layer:
        """Removes and returns the last layer."""
        if not self._seq_layers:
            raise ValueError("Sequential.pop: there are no layers to remove")
        layer = self._seq_layers.pop()
        self._graph_ready = False
        if self._seq_layers and self._input_batch_shape is not None:
            self._build_graph(self._input_batch_shape)
        return layer

    def build(self, input_shape: Any = None) -> None:
        """Builds the model for inputs of `input_shape` (with the batch axis, e.g. (None, 28, 28, 1))."""
        if input_shape is None:
            if self._input_batch_shape is None:
                raise ValueError("Sequential.build: give input_shape")
            input_shape = self._input_batch_shape
        self._input_batch_shape = tuple(input_shape)
        self._build_graph(self._input_batch_shape)

    def _build_graph(self, batch_shape: Tuple[Optional[int], ...]) -> None:
        if not self._seq_layers:
            return
        if self._input_layer is None or tuple(self._input_layer.batch_shape) != tuple(batch_shape):
            self._input_layer = InputLayer(batch_shape=batch_shape)
        x = self._input_layer.output
        for layer in self._seq_layers:
            try:
                x = layer(x)
            except (ValueError, TypeError) as e:
                raise type(e)(f"Sequential '{self.name}': cannot add layer '{layer.name}': {e}") from None
        self._init_graph(self._input_layer.output, x)

    def _maybe_build_from_data(self, x: Any) -> None:
        if self._graph_ready:
            return
        if not self._seq_layers:
            raise ValueError(f"Sequential '{self.name}' has no layers")
        arrays = _as_list(x)
        if len(arrays) != 1:
            raise ValueError("Sequential models take a single input array")
        a = _as_array(arrays[0], "x")
        self.build((None,) + tuple(a.shape[1:]))

    @property
    def layers(self) -> List[Layer]:
        return list(self._seq_layers)

    def get_config(self) -> Dict[str, Any]:
        config: Dict[str, Any] = {"name": self.name, "layers": []}
        if self._input_batch_shape is not None:
            config["layers"].append({"class_name": "InputLayer", "config": {"batch_shape": list(self._input_batch_shape)}})
        for layer in self._seq_layers:
            config["layers"].append({"class_name": type(layer).__name__, "config": layer.get_config()})
        return config


def _layer_classes() -> Dict[str, Any]:
    from dlc import layers as L

    return {name: getattr(L, name) for name in L.__all__ if isinstance(getattr(L, name), type)}


def model_from_config(config: Dict[str, Any]) -> Model:
    """Rebuilds a model (without weights) from `{'class_name': ..., 'config': model.get_config()}`."""
    classes = _layer_classes()
    cls_name, cfg = config["class_name"], config["config"]

    def make(entry):
        cls = classes.get(entry["class_name"])
        if cls is None:
            raise ValueError(f"Unknown layer class {entry['class_name']!r} in the saved model")
        c = dict(entry["config"])
        return cls.from_config(c)

    if cls_name == "Sequential":
        model = Sequential(name=cfg["name"])
        for entry in cfg["layers"]:
            if entry["class_name"] == "InputLayer":
                from dlc.layers.core import Input

                model.add(Input(batch_shape=tuple(entry["config"]["batch_shape"])))
            else:
                model.add(make(entry))
        return model
    tensors: Dict[Tuple[str, int], KerasTensor] = {}
    pending = list(cfg["layers"])
    built: Dict[str, Layer] = {}
    while pending:
        progress = False
        for entry in list(pending):
            name = entry["config"]["name"]
            if entry["class_name"] == "InputLayer":
                layer = InputLayer(**entry["config"])
                tensors[(name, 0)] = layer.output
                built[name] = layer
                pending.remove(entry)
                progress = True
                continue
            refs = entry["inbound_nodes"]
            if all(all(tuple(r) in tensors for r in (nd[:-1] if nd and nd[-1] is True else nd)) for nd in refs):
                layer = built.get(name) or make(entry)
                built[name] = layer
                for nd in refs:
                    multi = bool(nd) and nd[-1] is True
                    srcs = [tensors[tuple(r)] for r in (nd[:-1] if multi else nd)]
                    out = layer(srcs if multi else srcs[0])
                    tensors[(name, len(layer._inbound_nodes) - 1)] = out
                pending.remove(entry)
                progress = True
        if not progress:
            raise ValueError("The saved model's graph could not be rebuilt (a layer's inputs are missing)")
    ins = [tensors[tuple(r)] for r in cfg["input_layers"]]
    outs = [tensors[tuple(r)] for r in cfg["output_layers"]]
    return Model(ins if cfg.get("inputs_is_list") else ins[0], outs if cfg.get("outputs_is_list") else outs[0],
                 name=cfg["name"])


def load_model(filepath: str, compile: bool = False) -> Model:
    """Loads a model saved with `model.save(filepath)`: architecture and weights. The model is
    not compiled (call `compile()` before training)."""
    with zipfile.ZipFile(filepath) as zf:
        config = json.loads(zf.read("config.json").decode())
        model = model_from_config(config)
        with np.load(io.BytesIO(zf.read("model.weights.npz")), allow_pickle=False) as data:
            model._load_weights_npz(data, filepath)
    return model


__all__ = ["Model", "Sequential", "load_model", "model_from_config"]
