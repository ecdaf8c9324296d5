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

import inspect
from typing import Any, Optional, Tuple

import numpy as np

from dlc import _C, _checks
from dlc import config as _config
from dlc._registry import Registry
from dlc.metrics.base import same_rank


def _rows(a: np.ndarray) -> np.ndarray:
    """(n, ..., k) -> (m, k) view."""
    return a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a


_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None, "none")


# Keras's rule for two arrays whose ranks differ by one: the one with a trailing axis of 1
# loses it, or (when the other is 1-D) the other gains one. One implementation serves the
# losses and the metrics (dlc.metrics.base.same_rank).
squeeze_or_expand_to_same_rank = same_rank


def reduce_weighted_values(values: np.ndarray, sample_weight: Any = None,
                           reduction: Optional[str] = "sum_over_batch_size") -> Any:
    """Keras 3's reduction of per-sample losses: weighted by `sample_weight` (broadcast after
    Keras's rank rule), then summed ('sum'), divided by the number of values
    ('sum_over_batch_size', 'mean') or by the sum of the weights ('mean_with_sample_weight';
    a zero divisor gives 0), or returned as they are (None, 'none'). Sums are in float64."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Unknown reduction {reduction!r}")
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float32)
        values, sw = squeeze_or_expand_to_same_rank(values, sw)
        try:
            values = values * sw
        except ValueError:
            raise ValueError(f"sample_weight of shape {sw.shape} does not broadcast to the per-sample "
                             f"losses of shape {values.shape}") from None
    if values.shape == ():
        return values if reduction in (None, "none") else float(values)
    if reduction in (None, "none") or values.shape == (0,):
        return values
    total = float(values.astype(np.float64).sum())
    if reduction == "sum":
        return total
    divisor = float(values.size)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = float(np.asarray(sw, np.float64).sum())
    return total / divisor if divisor != 0.0 else 0.0


class Loss:
    """Base class of dlc's losses.

    Calling a loss on NumPy arrays returns the mean loss over the batch (Keras's default
    reduction, 'sum_over_batch_size').
    """

    name = "loss"
    supports_fused_softmax = False
    target_dtype = np.float32

    def __init__(self, name: Optional[str] = None, reduction: str = "sum_over_batch_size") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Unknown reduction {reduction!r}; expected 'sum_over_batch_size', 'sum', 'mean', "
                             "'mean_with_sample_weight', 'none' or None")
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
    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The loss of a batch, reduced as `reduction` says.

        Args:
            y_true: targets, shaped like `y_pred` (see each loss).
            y_pred: predictions `(batch, ..., k)`; each row of the last axis is one sample's.
            sample_weight: optional weights broadcast over the per-sample losses `(batch, ...)`
                (Keras's rules: a trailing axis of 1 is squeezed or added).

        Returns:
            A float, or the per-sample losses for `reduction=None` / `'none'`.
        """
        y_pred = np.ascontiguousarray(y_pred, dtype=np.float32)
        y_true = np.ascontiguousarray(y_true, dtype=self.target_dtype)
        values_shape = y_pred.shape[:-1]
        if y_pred.ndim == 1:
            y_pred = y_pred.reshape(1, -1)
        self.check_targets(y_true.reshape((1,) + y_true.shape) if y_true.ndim < self._min_target_ndim(y_pred) else y_true,
                           (None,) + y_pred.shape[1:])
        y_true = y_true.reshape(self.target_shape(y_pred.shape))
        rows = _rows(y_pred)
        out = np.empty(rows.shape[0], np.float32)
        self.per_sample(y_pred, y_true, out)
        return reduce_weighted_values(out.reshape(values_shape), sample_weight, self.reduction)

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


# ---------------------------------------------------------------- regression, probabilistic, hinge
class _Elementwise(Loss):
    """A loss of Keras 3's LossFunctionWrapper family computed by one pair of C kernels over the
    rows of the last axis: `_kernel` names `_C.<kernel>_forward` / `_C.<kernel>_backward`, and
    `_hyper()` gives their keyword arguments. Targets have the predictions' shape (a trailing axis
    of 1 may be missing, as Keras squeezes it)."""

    _kernel = ""
    _eps = False  # the kernels take Keras's fuzz factor, dlc.config.epsilon()

    def __init__(self, reduction: Optional[str] = "sum_over_batch_size", name: Optional[str] = None,
                 dtype: Any = None) -> None:
        if dtype not in (None, "float32", np.float32) and getattr(dtype, "name", None) != "float32":
            raise ValueError(f"{type(self).__name__}: dlc computes losses in float32, received dtype={dtype!r}")
        super().__init__(name, reduction)

    def _hyper(self) -> dict:
        return {"epsilon": _config.epsilon()} if self._eps else {}

    def per_sample(self, y_pred, y_true, out):
        getattr(_C, self._kernel + "_forward")(_rows(y_pred), _rows(y_true.reshape(y_pred.shape)), out,
                                               **self._hyper())

    def backward(self, y_pred, y_true, scale, dy):
        getattr(_C, self._kernel + "_backward")(_rows(y_pred), _rows(y_true.reshape(y_pred.shape)), _rows(dy),
                                                scale=scale, **self._hyper())

    def check_targets(self, y, output_shape):
        if len(y.shape) == len(output_shape) - 1 and output_shape[-1] == 1:
            return
        super().check_targets(y, output_shape)

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, dtype=np.float32)
        y_true, y_pred = squeeze_or_expand_to_same_rank(np.asarray(y_true, dtype=np.float32), y_pred)
        return super().__call__(y_true, y_pred, sample_weight)


class MeanAbsoluteError(_Elementwise):
    """Mean of absolute errors over the last axis: `mean(abs(y_true - y_pred))`.

    Args:
        reduction: 'sum_over_batch_size' (default), 'sum', 'mean', 'mean_with_sample_weight'
            or None / 'none'.
        name: the loss's name, default 'mean_absolute_error'.
        dtype: float32 only.

    Example:

    >>> model.compile(loss="mae", optimizer="adam")
    >>> dlc.losses.MeanAbsoluteError()([[0.0, 1.0]], [[0.5, 0.5]])
    0.5
    """

    name = "mean_absolute_error"
    _kernel = "mae"


class MeanAbsolutePercentageError(_Elementwise):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)))` over the last axis,
    with epsilon = `dlc.config.epsilon()` (1e-7).

    Example:

    >>> dlc.losses.MeanAbsolutePercentageError()([[2.0, 4.0]], [[1.0, 5.0]])
    37.5
    """

    name = "mean_absolute_percentage_error"
    _kernel, _eps = "mape", True


class MeanSquaredLogarithmicError(_Elementwise):
    """`mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2)` over the last axis
    (eps = `dlc.config.epsilon()`: values below it count as eps).

    Example:

    >>> dlc.losses.MeanSquaredLogarithmicError()([[0.0, 1.0]], [[1.0, 1.0]])
    0.2402...
    """

    name = "mean_squared_logarithmic_error"
    _kernel, _eps = "msle", True


class Huber(_Elementwise):
    """Huber loss, quadratic for small errors and linear for large ones: with `e = y_pred -
    y_true`, `0.5 * e**2` where `abs(e) <= delta`, else `delta * abs(e) - 0.5 * delta**2`,
    averaged over the last axis.

    Args:
        delta: float >= 0, where the loss turns from quadratic to linear (default 1.0).
        reduction, name ('huber_loss'), dtype: as MeanAbsoluteError.

    Example:

    >>> model.compile(loss="huber", optimizer="sgd")
    >>> dlc.losses.Huber()([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]])
    0.155
    """

    name = "huber_loss"
    _kernel = "huber"

    def __init__(self, delta: float = 1.0, reduction: Optional[str] = "sum_over_batch_size",
                 name: Optional[str] = "huber_loss", dtype: Any = None) -> None:
        super().__init__(reduction, name, dtype)
        self.delta = _checks.check_float("Huber", "delta", delta, 0.0, float("inf"))

    def _hyper(self):
        return {"delta": self.delta}

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class LogCosh(_Elementwise):
    """`mean(log(cosh(y_pred - y_true)))` over the last axis: about `e**2 / 2` for small errors
    and `abs(e) - log(2)` for large ones (computed without overflow).

    Example:

    >>> dlc.losses.LogCosh()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]])
    0.108...
    """

    name = "log_cosh"
    _kernel = "log_cosh"


class KLDivergence(_Elementwise):
    """Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred))` over the last axis, both
    clipped to `[epsilon, 1]` (epsilon = `dlc.config.epsilon()`).

    Example:

    >>> model.compile(loss="kld", optimizer="adam")
    """

    name = "kl_divergence"
    _kernel, _eps = "kld", True


class Poisson(_Elementwise):
    """Poisson loss `mean(y_pred - y_true * log(y_pred + epsilon))` over the last axis, for
    count targets and positive predictions (e.g. an 'exponential' or 'softplus' output).

    Example:

    >>> dlc.losses.Poisson()([[0.0, 2.0]], [[1.0, 2.0]])
    0.8068...
    """

    name = "poisson"
    _kernel, _eps = "poisson", True


class Hinge(_Elementwise):
    """Hinge loss `mean(maximum(1 - y_true * y_pred, 0))` over the last axis, for labels -1 / 1;
    labels given as 0 / 1 (every label of the batch) are converted to -1 / 1, as Keras does.

    Example:

    >>> dlc.losses.Hinge()([[1.0, 0.0]], [[0.5, -2.0]])
    0.25
    """

    name = "hinge"
    _kernel = "hinge"
    _squared = False

    def _hyper(self):
        return {"squared": self._squared}


class SquaredHinge(Hinge):
    """`mean(square(maximum(1 - y_true * y_pred, 0)))` over the last axis (labels as Hinge).

    Example:

    >>> dlc.losses.SquaredHinge()([[1.0, 0.0]], [[0.5, -2.0]])
    0.125
    """

    name = "squared_hinge"
    _squared = True


class CategoricalHinge(_Elementwise):
    """`maximum(neg - pos + 1, 0)` per sample, with `pos = sum(y_true * y_pred)` and
    `neg = max((1 - y_true) * y_pred)` over the last axis, for one-hot labels.

    Example:

    >>> dlc.losses.CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.6]])
    0.7
    """

    name = "categorical_hinge"
    _kernel = "categorical_hinge"


class CosineSimilarity(_Elementwise):
    """Negative cosine similarity `-sum(l2_normalize(y_true) * l2_normalize(y_pred))` over the
    last axis, in [-1, 1]: -1 when the two point the same way, 0 when either is a zero vector
    (vectors are divided by `max(norm, epsilon)`).

    Args:
        axis: the feature axis; dlc computes over the last one (-1, or its positive index).
        reduction, name ('cosine_similarity'), dtype: as MeanAbsoluteError.

    Example:

    >>> dlc.losses.CosineSimilarity()([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]])
    -0.5
    """

    name = "cosine_similarity"
    _kernel, _eps = "cosine_similarity", True

    def __init__(self, axis: int = -1, reduction: Optional[str] = "sum_over_batch_size",
                 name: Optional[str] = "cosine_similarity", dtype: Any = None) -> None:
        super().__init__(reduction, name, dtype)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"CosineSimilarity: argument `axis` must be an int, received {axis!r}")
        self.axis = int(axis)

    def _check_axis(self, ndim: int) -> None:
        if self.axis not in (-1, ndim - 1):
            raise NotImplementedError(f"CosineSimilarity: dlc computes over the last axis only (axis=-1), "
                                      f"received axis={self.axis} for {ndim}-D predictions")

    def _hyper(self):
        return {"epsilon": max(_config.epsilon(), np.finfo(np.float32).tiny)}

    def per_sample(self, y_pred, y_true, out):
        self._check_axis(y_pred.ndim)
        super().per_sample(y_pred, y_true, out)

    def backward(self, y_pred, y_true, scale, dy):
        self._check_axis(y_pred.ndim)
        super().backward(y_pred, y_true, scale, dy)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


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


def _per_sample_function(cls: type, name: str, what: str):
    """The module-level function `name(y_true, y_pred)`: the per-sample values of the loss
    class `cls` (reduction 'none'), as Keras's functions of the same name return."""
    def function(y_true: Any, y_pred: Any) -> np.ndarray:
        return cls(reduction="none")(y_true, y_pred)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Per-sample {what} (see {cls.__name__})."
    return function


mean_squared_error = _per_sample_function(MeanSquaredError, "mean_squared_error", "mean squared error")
mean_absolute_error = _per_sample_function(MeanAbsoluteError, "mean_absolute_error", "mean absolute error")
mean_absolute_percentage_error = _per_sample_function(MeanAbsolutePercentageError, "mean_absolute_percentage_error",
                                                      "mean absolute percentage error")
mean_squared_logarithmic_error = _per_sample_function(MeanSquaredLogarithmicError, "mean_squared_logarithmic_error",
                                                      "mean squared logarithmic error")


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> np.ndarray:
    """Per-sample Huber loss (see Huber)."""
    return Huber(delta, reduction="none")(y_true, y_pred)


log_cosh = _per_sample_function(LogCosh, "log_cosh", "log-cosh error")
kl_divergence = _per_sample_function(KLDivergence, "kl_divergence", "Kullback-Leibler divergence")
poisson = _per_sample_function(Poisson, "poisson", "Poisson loss")
hinge = _per_sample_function(Hinge, "hinge", "hinge loss")
squared_hinge = _per_sample_function(SquaredHinge, "squared_hinge", "squared hinge loss")
categorical_hinge = _per_sample_function(CategoricalHinge, "categorical_hinge", "categorical hinge loss")


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> np.ndarray:
    """Per-sample negative cosine similarity (see CosineSimilarity)."""
    return CosineSimilarity(axis, reduction="none")(y_true, y_pred)


mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh
bce = BCE = binary_crossentropy


mse = MSE = mean_squared_error

_REGISTRY = Registry("loss", Loss, {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    # Keras 3's names (functions and aliases; the class names are added by Registry), and Keras
    # 2's legacy spellings 'logcosh' and 'kullback_leibler_divergence'
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "huber": Huber, "log_cosh": LogCosh, "logcosh": LogCosh,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson, "hinge": Hinge, "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge, "cosine_similarity": CosineSimilarity,
})
_FUNCS = {categorical_crossentropy: CategoricalCrossentropy,
          sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
          binary_crossentropy: BinaryCrossentropy, mean_squared_error: MeanSquaredError,
          mean_absolute_error: MeanAbsoluteError, mean_absolute_percentage_error: MeanAbsolutePercentageError,
          mean_squared_logarithmic_error: MeanSquaredLogarithmicError, huber: Huber, log_cosh: LogCosh,
          kl_divergence: KLDivergence, poisson: Poisson, hinge: Hinge, squared_hinge: SquaredHinge,
          categorical_hinge: CategoricalHinge, cosine_similarity: CosineSimilarity}


def get(identifier: Any) -> Loss:
    """A loss from a name ('categorical_crossentropy', 'mse', ...), one of this module's
    functions, a Loss class, a config dict or an instance. Keras's own loss functions and
    classes port by name.

    Raises:
        ValueError: for an unknown name.
    """
    if not isinstance(identifier, (str, dict, Loss, type)) and hasattr(identifier, "get_config") \
            and not inspect.isroutine(identifier):
        return _from_instance(identifier)  # an instance of Keras's own loss class
    if isinstance(identifier, type) and not issubclass(identifier, Loss):
        identifier = identifier.__name__  # one of Keras's loss classes
    if callable(identifier) and not isinstance(identifier, (type, Loss)):
        if identifier in _FUNCS:
            return _FUNCS[identifier]()
        identifier = getattr(identifier, "__name__", None) or type(identifier).__name__
    elif not isinstance(identifier, (str, dict, Loss, type)):
        identifier = type(identifier).__name__
    return _REGISTRY.get(identifier)


def _from_instance(obj: Any) -> Loss:
    """The dlc loss equal to an instance of a Keras loss class: its class by name, rebuilt from
    its config and the function arguments Keras keeps beside it (Huber's delta, CosineSimilarity's
    axis), keeping only the arguments dlc's class takes."""
    cls = _REGISTRY.lookup(type(obj).__name__)
    config = dict(obj.get_config())
    config.update(dict(getattr(obj, "_fn_kwargs", None) or {}))
    accepted = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in config.items() if k in accepted and k != "dtype"})


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
