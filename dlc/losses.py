"""Losses, with Keras 3's names, arguments and semantics, computed by C kernels.

The trainer asks a loss for per-sample values and for the gradient of their mean. When the
model ends in a softmax and the loss is (sparse) categorical cross-entropy, the trainer uses the
fused softmax + cross-entropy kernel on the logits: exact log-sum-exp and gradient
`(softmax - labels) / batch`.

Example:

>>> loss = dlc.losses.CategoricalCrossentropy()
>>> loss([[0, 1]], [[0.1, 0.9]])   # -log(0.9)
0.10536...
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from dlc import _C
from dlc import config as _config
from dlc._registry import Registry



def _rows(a: np.ndarray) -> np.ndarray:
    """(n, ..., k) -> (m, k) view."""
    return a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a


class Loss:
    """Base class of dlc's losses.

    Calling a loss on NumPy arrays returns the mean loss over the batch (Keras's default
    reduction, 'sum_over_batch_size').
    """

    name = "loss"
    supports_fused_softmax = False
    target_dtype = np.float32

    def __init__(self, name: Optional[str] = None, reduction: str = "sum_over_batch_size") -> None:
        if reduction not in ("sum_over_batch_size", "sum", "mean", None, "none"):
            raise ValueError(f"Unknown reduction {reduction!r}; expected 'sum_over_batch_size', 'sum' or 'none'")
        if name is not None:
            self.name = name
        self.reduction = reduction

    # ---- trainer API -------------------------------------------------------------
    def target_shape(self, output_shape: Tuple[int, ...]) -> Tuple[int, ...]:
        """The shape a batch of targets must have for outputs of `output_shape`."""
        return tuple(output_shape)

    def check_targets(self, y: np.ndarray, output_shape: Tuple[Optional[int], ...]) -> None:
        """Raises ValueError when targets y (the whole array) do not fit the model's output."""
        want = self.target_shape(output_shape)
        got = tuple(y.shape)
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want[1:], got[1:])):
            raise ValueError(self._shape_message(got, output_shape))

    def _shape_message(self, got, output_shape) -> str:
        return (f"{type(self).__name__}: targets must have shape {('n',) + tuple(output_shape[1:])} to match "
                f"the model's output {output_shape}, received targets of shape {got}")

    def per_sample(self, y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> None:
        """Writes each row's loss into out (m,)."""
        raise NotImplementedError

    def backward(self, y_pred: np.ndarray, y_true: np.ndarray, scale: float, dy: np.ndarray) -> None:
        """dy += d(scale * sum of row losses) / d y_pred."""
        raise NotImplementedError

    # ---- user API ----------------------------------------------------------------
    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
        if sample_weight is not None:
            raise NotImplementedError(f"{type(self).__name__}: sample_weight is not supported yet")
        y_pred = np.ascontiguousarray(y_pred, dtype=np.float32)
        y_true = np.ascontiguousarray(y_true, dtype=self.target_dtype)
        if y_pred.ndim == 1:
            y_pred = y_pred.reshape(1, -1)
        self.check_targets(y_true.reshape((1,) + y_true.shape) if y_true.ndim < self._min_target_ndim(y_pred) else y_true,
                           (None,) + y_pred.shape[1:])
        y_true = y_true.reshape(self.target_shape(y_pred.shape))
        rows = _rows(y_pred)
        out = np.empty(rows.shape[0], np.float32)
        self.per_sample(y_pred, y_true, out)
        if self.reduction in (None, "none"):
            return out.reshape(y_pred.shape[:-1])
        total = float(out.astype(np.float64).sum())
        return total if self.reduction == "sum" else total / max(1, out.size)

    def _min_target_ndim(self, y_pred: np.ndarray) -> int:
        return y_pred.ndim

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}


class CategoricalCrossentropy(Loss):
    """Cross-entropy between one-hot (or soft) labels and predicted class probabilities:
    `-sum(y_true * log(y_pred))` per sample.

    Args:
        from_logits: whether y_pred are logits (no softmax applied yet).
        label_smoothing: in [0, 1]; labels become `y * (1 - s) + s / num_classes`.
        axis: the class axis (only -1).

    Example:

    >>> model.compile(loss=dlc.losses.CategoricalCrossentropy(), optimizer="adam")
    """

    name = "categorical_crossentropy"
    supports_fused_softmax = True

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str = "sum_over_batch_size", name: Optional[str] = None) -> None:
        super().__init__(name, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"Argument `label_smoothing` must be in [0, 1], received {label_smoothing!r}")
        if axis != -1:
            raise NotImplementedError(f"{type(self).__name__}: only axis=-1 is supported, received {axis!r}")
        self.from_logits, self.label_smoothing, self.axis = bool(from_logits), float(label_smoothing), axis
        self._probs: dict = {}

    def _shape_message(self, got, output_shape):
        hint = ""
        if len(got) == len(output_shape) - 1 or (len(got) == len(output_shape) and got[-1] == 1):
            hint = (" Your targets look like integer class indices: one-hot encode them with "
                    "dlc.utils.to_categorical(y, num_classes) or use loss='sparse_categorical_crossentropy'.")
        return super()._shape_message(got, output_shape) + hint

    def transform_targets(self, y: np.ndarray) -> None:
        """Applies label smoothing in place to a batch of targets (the trainer's own buffer)."""
        if self.label_smoothing:
            k = y.shape[-1]
            y *= np.float32(1.0 - self.label_smoothing)
            y += np.float32(self.label_smoothing / k)

    def _scratch(self, shape) -> np.ndarray:
        a = self._probs.get(shape)
        if a is None:
            a = self._probs[shape] = np.empty(shape, np.float32)
        return a

    def per_sample(self, y_pred, y_true, out):
        p, t = _rows(y_pred), _rows(y_true)
        if self.from_logits:
            _C.softmax_xent_forward(p, t, self._scratch(p.shape), out)
        else:
            _C.xent_forward(p, t, out, epsilon=_config.epsilon())

    def backward(self, y_pred, y_true, scale, dy):
        p, t = _rows(y_pred), _rows(y_true)
        if self.from_logits:
            probs = self._scratch(p.shape)
            _C.softmax_xent_forward(p, t, probs, self._scratch((p.shape[0],)))
            _C.softmax_xent_backward(probs, t, _rows(dy), scale=scale)
        else:
            _C.xent_backward(p, t, _rows(dy), scale=scale, epsilon=_config.epsilon())

    # Fused path: logits of a softmax output layer.
    def fused_per_sample(self, logits, y_true, probs, out):
        _C.softmax_xent_forward(_rows(logits), _rows(y_true), _rows(probs), out)

    def fused_backward(self, probs, y_true, scale, dlogits):
        _C.softmax_xent_backward(_rows(probs), _rows(y_true), _rows(dlogits), scale=scale)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.label_smoothing:
            y_true = np.array(y_true, dtype=np.float32)
            self.transform_targets(y_true)
        return super().__call__(y_true, y_pred, sample_weight)

    def get_config(self):
        c = super().get_config()
        c.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing, axis=self.axis)
        return c


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy between integer class labels and predicted class probabilities.

    Args:
        from_logits: whether y_pred are logits.

    Targets are class indices of shape (batch,) or (batch, 1).

    Example:

    >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    """

    name = "sparse_categorical_crossentropy"
    supports_fused_softmax = True
    target_dtype = np.int32

    def __init__(self, from_logits: bool = False, ignore_class: Optional[int] = None,
                 reduction: str = "sum_over_batch_size", name: Optional[str] = None) -> None:
        super().__init__(name, reduction)
        if ignore_class is not None:
            raise NotImplementedError("SparseCategoricalCrossentropy: ignore_class is not supported yet")
        self.from_logits = bool(from_logits)
        self._scratch_bufs: dict = {}

    def target_shape(self, output_shape):
        return tuple(output_shape[:-1])

    def _min_target_ndim(self, y_pred):
        return y_pred.ndim - 1

    def check_targets(self, y, output_shape):
        got = tuple(y.shape)
        if len(got) == len(output_shape) and got[-1] == 1:
            got = got[:-1]
        want = self.target_shape(output_shape)
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want[1:], got[1:])):
            hint = ""
            if len(y.shape) == len(output_shape) and y.shape[-1] == output_shape[-1]:
                hint = " Your targets look one-hot encoded: use loss='categorical_crossentropy'."
            raise ValueError(
                f"SparseCategoricalCrossentropy: targets must be class indices of shape (n,) for the "
                f"model's output {output_shape}, received targets of shape {tuple(y.shape)}.{hint}"
            )
        if y.size:
            if not np.issubdtype(y.dtype, np.integer):
                if not np.all(np.equal(np.mod(y, 1), 0)):
                    raise ValueError("SparseCategoricalCrossentropy: targets must be integer class indices, received non-integer values")
            lo, hi = y.min(), y.max()
            k = output_shape[-1]
            if lo < 0 or (k is not None and hi >= k):
                raise ValueError(
                    f"SparseCategoricalCrossentropy: class indices must be in [0, {k}), received values in [{lo}, {hi}]"
                )

    def _scratch(self, key, shape, dtype=np.float32):
        a = self._scratch_bufs.get((key, shape))
        if a is None:
            a = self._scratch_bufs[(key, shape)] = np.empty(shape, dtype)
        return a

    def _labels(self, y_true):
        return y_true.reshape(-1)

    def _onehot(self, labels, k):
        oh = self._scratch("onehot", (labels.shape[0], k))
        oh.fill(0)
        oh[np.arange(labels.shape[0]), labels] = 1.0
        return oh

    def per_sample(self, y_pred, y_true, out):
        p, lab = _rows(y_pred), self._labels(y_true)
        if self.from_logits:
            _C.softmax_xent_sparse_forward(p, lab, self._scratch("probs", p.shape), out)
        else:
            _C.xent_forward(p, self._onehot(lab, p.shape[1]), out, epsilon=_config.epsilon())

    def backward(self, y_pred, y_true, scale, dy):
        p, lab = _rows(y_pred), self._labels(y_true)
        if self.from_logits:
            probs = self._scratch("probs", p.shape)
            _C.softmax_xent_sparse_forward(p, lab, probs, self._scratch("loss", (p.shape[0],)))
            _C.softmax_xent_sparse_backward(probs, lab, _rows(dy), scale=scale)
        else:
            _C.xent_backward(p, self._onehot(lab, p.shape[1]), _rows(dy), scale=scale, epsilon=_config.epsilon())

    def fused_per_sample(self, logits, y_true, probs, out):
        _C.softmax_xent_sparse_forward(_rows(logits), self._labels(y_true), _rows(probs), out)

    def fused_backward(self, probs, y_true, scale, dlogits):
        _C.softmax_xent_sparse_backward(_rows(probs), self._labels(y_true), _rows(dlogits), scale=scale)

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true)
        y_pred = np.asarray(y_pred, dtype=np.float32)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        return super().__call__(y_true, y_pred, sample_weight)

    def get_config(self):
        c = super().get_config()
        c.update(from_logits=self.from_logits)
        return c


class BinaryCrossentropy(Loss):
    """Binary cross-entropy `-(y log p + (1 - y) log(1 - p))`, averaged over the last axis.

    Args:
        from_logits: whether y_pred are logits (no sigmoid applied yet).
        label_smoothing: in [0, 1]; labels become `y * (1 - s) + s / 2`.
    """

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str = "sum_over_batch_size", name: Optional[str] = None) -> None:
        super().__init__(name, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"Argument `label_smoothing` must be in [0, 1], received {label_smoothing!r}")
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)

    def check_targets(self, y, output_shape):
        if len(y.shape) == len(output_shape) - 1 and output_shape[-1] == 1:
            return
        super().check_targets(y, output_shape)

    def transform_targets(self, y):
        if self.label_smoothing:
            y *= np.float32(1.0 - self.label_smoothing)
            y += np.float32(0.5 * self.label_smoothing)

    def per_sample(self, y_pred, y_true, out):
        _C.bce_forward(_rows(y_pred), _rows(y_true.reshape(y_pred.shape)), out,
                       from_logits=self.from_logits, epsilon=_config.epsilon())

    def backward(self, y_pred, y_true, scale, dy):
        _C.bce_backward(_rows(y_pred), _rows(y_true.reshape(y_pred.shape)), _rows(dy), scale=scale,
                        from_logits=self.from_logits, epsilon=_config.epsilon())

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_true = np.array(y_true, dtype=np.float32)
        y_pred = np.asarray(y_pred, dtype=np.float32)
        if y_pred.ndim == 1:
            y_pred, y_true = y_pred.reshape(1, -1), y_true.reshape(1, -1)
        self.transform_targets(y_true)
        return super().__call__(y_true.reshape(y_pred.shape), y_pred, sample_weight)

    def get_config(self):
        c = super().get_config()
        c.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing)
        return c


class MeanSquaredError(Loss):
    """Mean of squared errors over the last axis: `mean((y_true - y_pred) ** 2)`."""

    name = "mean_squared_error"

    def per_sample(self, y_pred, y_true, out):
        _C.mse_forward(_rows(y_pred), _rows(y_true.reshape(y_pred.shape)), out)

    def backward(self, y_pred, y_true, scale, dy):
        _C.mse_backward(_rows(y_pred), _rows(y_true.reshape(y_pred.shape)), _rows(dy), scale=scale)

    def check_targets(self, y, output_shape):
        if len(y.shape) == len(output_shape) - 1 and output_shape[-1] == 1:
            return
        super().check_targets(y, output_shape)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> np.ndarray:
    """Per-sample categorical cross-entropy (see CategoricalCrossentropy)."""
    return CategoricalCrossentropy(from_logits, label_smoothing, axis, reduction="none")(y_true, y_pred)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: Optional[int] = None, axis: int = -1) -> np.ndarray:
    """Per-sample sparse categorical cross-entropy (see SparseCategoricalCrossentropy)."""
    return SparseCategoricalCrossentropy(from_logits, ignore_class, reduction="none")(y_true, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> np.ndarray:
    """Per-sample binary cross-entropy (see BinaryCrossentropy)."""
    return BinaryCrossentropy(from_logits, label_smoothing, axis, reduction="none")(y_true, y_pred)


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per-sample mean squared error (see MeanSquaredError)."""
    return MeanSquaredError(reduction="none")(y_true, y_pred)


mse = MSE = mean_squared_error

_REGISTRY = Registry("loss", Loss, {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
})
_FUNCS = {categorical_crossentropy: CategoricalCrossentropy,
          sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
          binary_crossentropy: BinaryCrossentropy, mean_squared_error: MeanSquaredError}


def get(identifier: Any) -> Loss:
    """A loss from a name ('categorical_crossentropy', 'mse', ...), one of this module's
    functions, a Loss class, a config dict or an instance. Keras's own loss functions and
    classes port by name.

    Raises:
        ValueError: for an unknown name.
    """
    if callable(identifier) and not isinstance(identifier, (type, Loss)):
        if identifier in _FUNCS:
            return _FUNCS[identifier]()
        identifier = getattr(identifier, "__name__", None) or type(identifier).__name__
    elif not isinstance(identifier, (str, dict, Loss, type)):
        identifier = type(identifier).__name__  # an instance of Keras's own loss class
    return _REGISTRY.get(identifier)


def __getattr__(name):  # a name this module lacks: say so, and name the nearest ones
    from dlc._registry import missing_attribute

    return missing_attribute(__name__, globals())(name)
