"""Per-sample metric functions with Keras 3's names and definitions, in NumPy (float64).

Each takes `(y_true, y_pred, ...)` and returns one value per sample: the last axis (the
features or classes) is reduced. They are what the mean metrics average
(`MeanSquaredError` is the mean of `mean_squared_error`), and they can be given to
`compile(metrics=[...])` or wrapped with `MeanMetricWrapper`.

Example:

>>> dlc.metrics.mean_squared_error([[0.0, 1.0]], [[1.0, 1.0]])
array([0.5])
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from dlc.metrics.base import EPSILON, ONE_MINUS_EPSILON, as_array, check_same_shape, pair, same_rank

_LOG2 = float(np.log(2.0))


def _check_axis(owner: str, axis: Any) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{owner}: argument `axis` must be an int, received axis={axis!r}")
    return int(axis)


# ---- regression ------------------------------------------------------------------------

def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Mean of `(y_true - y_pred) ** 2` over the last axis, per sample."""
    t, p = pair("mean_squared_error", y_true, y_pred)
    return np.mean(np.square(t - p), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Mean of `|y_true - y_pred|` over the last axis, per sample."""
    t, p = pair("mean_absolute_error", y_true, y_pred)
    return np.mean(np.abs(t - p), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """`100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))` over the last axis."""
    t, p = pair("mean_absolute_percentage_error", y_true, y_pred)
    return 100.0 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), EPSILON)), axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Mean of `(log(1 + y_pred) - log(1 + y_true)) ** 2` (values below epsilon are raised
    to epsilon) over the last axis."""
    t, p = pair("mean_squared_logarithmic_error", y_true, y_pred)
    d = np.log(np.maximum(p, EPSILON) + 1.0) - np.log(np.maximum(t, EPSILON) + 1.0)
    return np.mean(np.square(d), axis=-1)


def log_cosh(y_true: Any, y_pred: Any) -> np.ndarray:
    """Mean of `log(cosh(y_pred - y_true))` over the last axis (computed stably)."""
    t, p = pair("log_cosh", y_true, y_pred)
    x = p - t
    return np.mean(x + np.logaddexp(0.0, -2.0 * x) - _LOG2, axis=-1)


logcosh = log_cosh


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> np.ndarray:
    """Mean Huber loss over the last axis: `0.5 * e**2` where `|e| <= delta`, else
    `delta * |e| - 0.5 * delta**2`, with `e = y_pred - y_true`."""
    t, p = pair("huber", y_true, y_pred)
    e = p - t
    a = np.abs(e)
    delta = float(delta)
    return np.mean(np.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta), axis=-1)


def _l2_normalize(x: np.ndarray, axis: int) -> np.ndarray:
    square_sum = np.sum(x * x, axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        inv_norm = np.minimum(1.0 / np.sqrt(square_sum), 1.0 / EPSILON)
    return x * inv_norm


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> np.ndarray:
    """Cosine of the angle between y_true and y_pred along `axis` (norms below epsilon are
    treated as epsilon, so a zero vector gives 0)."""
    axis = _check_axis("cosine_similarity", axis)
    t, p = pair("cosine_similarity", y_true, y_pred)
    return np.sum(_l2_normalize(t, axis) * _l2_normalize(p, axis), axis=axis)


def pearson_correlation(y_true: Any, y_pred: Any, axis: int = -1) -> np.ndarray:
    """Pearson correlation between y_true and y_pred along `axis`, per sample."""
    axis = _check_axis("pearson_correlation", axis)
    t, p = pair("pearson_correlation", y_true, y_pred)
    tn = t - t.mean(axis=axis, keepdims=True)
    pn = p - p.mean(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        tn = tn / tn.std(axis=axis, keepdims=True)
        pn = pn / pn.std(axis=axis, keepdims=True)
    return np.mean(tn * pn, axis=axis)


def concordance_correlation(y_true: Any, y_pred: Any, axis: int = -1) -> np.ndarray:
    """Concordance correlation between y_true and y_pred along `axis`, as Keras 3 defines it:
    `mean(2 * (y_true - mean(y_pred)) * (y_pred - mean(y_pred)) / (var(y_true) + var(y_pred)
    + (mean(y_true) - mean(y_pred)) ** 2 + epsilon))`."""
    axis = _check_axis("concordance_correlation", axis)
    t, p = pair("concordance_correlation", y_true, y_pred)
    tm, pm = t.mean(axis=axis, keepdims=True), p.mean(axis=axis, keepdims=True)
    tv, pv = (t - tm).var(axis=axis, keepdims=True), (p - pm).var(axis=axis, keepdims=True)
    covar = (t - pm) * (p - pm)
    norm = tv + pv + np.square(tm - pm)
    return np.mean(2.0 * covar / (norm + EPSILON), axis=axis)


# ---- probabilistic ---------------------------------------------------------------------

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _binary_crossentropy_elements(t: np.ndarray, p: np.ndarray, from_logits: bool) -> np.ndarray:
    if from_logits:  # max(x, 0) - x * t + log(1 + exp(-|x|))
        return np.maximum(p, 0.0) - p * t + np.logaddexp(0.0, -np.abs(p))
    p = np.clip(p, EPSILON, ONE_MINUS_EPSILON)
    return -(t * np.maximum(np.log(p), -100.0) + (1.0 - t) * np.maximum(np.log1p(-p), -100.0))


def _check_smoothing(owner: str, label_smoothing: Any) -> float:
    s = float(label_smoothing)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"{owner}: argument `label_smoothing` must be in [0, 1], received "
                         f"label_smoothing={label_smoothing!r}")
    return s


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> np.ndarray:
    """Binary cross-entropy averaged over `axis`, per sample.

    Args:
        from_logits: whether y_pred are logits rather than probabilities.
        label_smoothing: in [0, 1]; labels become `y * (1 - s) + 0.5 * s`.
        axis: the axis averaged over.
    """
    s = _check_smoothing("binary_crossentropy", label_smoothing)
    axis = _check_axis("binary_crossentropy", axis)
    t, p = pair("binary_crossentropy", y_true, y_pred)
    if s:
        t = t * (1.0 - s) + 0.5 * s
    return np.mean(_binary_crossentropy_elements(t, p, from_logits), axis=axis)


def binary_focal_crossentropy(y_true: Any, y_pred: Any, apply_class_balancing: bool = False,
                              alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
                              label_smoothing: float = 0.0, axis: int = -1) -> np.ndarray:
    """Binary focal cross-entropy averaged over `axis`: the cross-entropy of each element
    times `(1 - p_t) ** gamma`, and times `alpha` (positives) / `1 - alpha` (negatives)
    when `apply_class_balancing`."""
    s = _check_smoothing("binary_focal_crossentropy", label_smoothing)
    t, p = pair("binary_focal_crossentropy", y_true, y_pred)
    if s:
        t = t * (1.0 - s) + 0.5 * s
    if from_logits:
        p = _sigmoid(p)
    bce = _binary_crossentropy_elements(t, p, False)
    p_t = t * p + (1.0 - t) * (1.0 - p)
    focal = np.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (t * alpha + (1.0 - t) * (1.0 - alpha)) * focal
    return np.mean(focal, axis=axis)


def _class_probabilities(p: np.ndarray, axis: int) -> np.ndarray:
    p = p / np.sum(p, axis=axis, keepdims=True)
    return np.clip(p, EPSILON, ONE_MINUS_EPSILON)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> np.ndarray:
    """`-sum(y_true * log(y_pred))` over the class axis, per sample.

    Probabilities are first renormalised to sum to 1 and clipped to [epsilon, 1 - epsilon].

    Args:
        from_logits: whether y_pred are logits (a log-softmax is applied).
        label_smoothing: in [0, 1]; labels become `y * (1 - s) + s / num_classes`.
        axis: the class axis.
    """
    owner = "categorical_crossentropy"
    s = _check_smoothing(owner, label_smoothing)
    axis = _check_axis(owner, axis)
    p = as_array(y_pred, "y_pred", owner)
    t = as_array(y_true, "y_true", owner)
    check_same_shape(owner, t, p)
    if s:  # the number of classes is the last axis's length, as in Keras
        t = t * (1.0 - s) + s / t.shape[-1]
    log_p = _log_softmax(p, axis) if from_logits else np.log(_class_probabilities(p, axis))
    return -np.sum(t * log_p, axis=axis)


def categorical_focal_crossentropy(y_true: Any, y_pred: Any, alpha: float = 0.25, gamma: float = 2.0,
                                   from_logits: bool = False, label_smoothing: float = 0.0,
                                   axis: int = -1) -> np.ndarray:
    """Categorical focal cross-entropy: `-sum(alpha * (1 - p) ** gamma * y_true * log(p))`
    over the class axis, per sample."""
    owner = "categorical_focal_crossentropy"
    s = _check_smoothing(owner, label_smoothing)
    p = as_array(y_pred, "y_pred", owner)
    t = as_array(y_true, "y_true", owner)
    check_same_shape(owner, t, p)
    if s:
        t = t * (1.0 - s) + s / t.shape[-1]
    if from_logits:
        p = np.exp(_log_softmax(p, axis))
    out = _class_probabilities(p, axis)
    return np.sum(alpha * np.power(1.0 - out, gamma) * (-t * np.log(out)), axis=axis)


def _sparse_labels(owner: str, y_true: Any, p: np.ndarray, axis: int) -> np.ndarray:
    t = as_array(y_true, "y_true", owner)
    if t.ndim == p.ndim and t.shape[axis] == 1:
        t = np.squeeze(t, axis=axis)
    want = p.shape[:axis % p.ndim] + p.shape[axis % p.ndim + 1:]
    if t.ndim == 0 and want == (1,):  # one sample given without its batch axis
        t = t.reshape(1)
    if t.shape != want:
        raise ValueError(f"{owner}: y_true must hold one integer label per sample, shape {want} "
                         f"for y_pred of shape {p.shape}, received y_true.shape={t.shape}")
    return t


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: Optional[int] = None, axis: int = -1) -> np.ndarray:
    """`-log(y_pred[label])` per sample, from integer labels.

    Args:
        from_logits: whether y_pred are logits (a log-softmax is applied).
        ignore_class: a label value whose samples get loss 0 (and are left out of the
            metric's mean).
        axis: the class axis.
    """
    return _sparse_crossentropy("sparse_categorical_crossentropy", y_true, y_pred, from_logits,
                                ignore_class, axis)[0]


def _sparse_crossentropy(owner: str, y_true: Any, y_pred: Any, from_logits: bool,
                         ignore_class: Optional[int], axis: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Per-sample sparse cross-entropy and the mask of samples not of `ignore_class`."""
    axis = _check_axis(owner, axis)
    p = as_array(y_pred, "y_pred", owner)
    if p.ndim == 1:
        p = p[None]
    t = _sparse_labels(owner, y_true, p, axis)
    valid = None
    if ignore_class is not None:
        valid = t != ignore_class
        t = np.where(valid, t, 0)
    p = np.moveaxis(p, axis, -1)
    k = p.shape[-1]
    labels = t.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= k or np.any(labels != t)):
        raise ValueError(f"{owner}: y_true must hold integer labels in [0, {k}), received values "
                         f"from {t.min()!r} to {t.max()!r}")
    log_p = _log_softmax(p, -1) if from_logits else np.log(_class_probabilities(p, -1))
    out = -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    if valid is not None:
        out = np.where(valid, out, 0.0)
    return out, valid


def kl_divergence(y_true: Any, y_pred: Any) -> np.ndarray:
    """`sum(y_true * log(y_true / y_pred))` over the last axis, both clipped to [epsilon, 1]."""
    t, p = pair("kl_divergence", y_true, y_pred)
    t, p = np.clip(t, EPSILON, 1.0), np.clip(p, EPSILON, 1.0)
    return np.sum(t * np.log(t / p), axis=-1)


kld = KLD = kullback_leibler_divergence = kl_divergence


def poisson(y_true: Any, y_pred: Any) -> np.ndarray:
    """Mean of `y_pred - y_true * log(y_pred + epsilon)` over the last axis."""
    t, p = pair("poisson", y_true, y_pred)
    return np.mean(p - t * np.log(p + EPSILON), axis=-1)


def _hinge_labels(t: np.ndarray) -> np.ndarray:
    """Labels in {0, 1} become {-1, 1}; other labels are used as given (decided per call)."""
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


def hinge(y_true: Any, y_pred: Any) -> np.ndarray:
    """Mean of `max(1 - y_true * y_pred, 0)` over the last axis; labels in {0, 1} are
    mapped to {-1, 1} first."""
    t, p = pair("hinge", y_true, y_pred)
    return np.mean(np.maximum(1.0 - _hinge_labels(t) * p, 0.0), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> np.ndarray:
    """Mean of `max(1 - y_true * y_pred, 0) ** 2` over the last axis; labels in {0, 1} are
    mapped to {-1, 1} first."""
    t, p = pair("squared_hinge", y_true, y_pred)
    return np.mean(np.square(np.maximum(1.0 - _hinge_labels(t) * p, 0.0)), axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> np.ndarray:
    """`max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` over the class axis."""
    t, p = pair("categorical_hinge", y_true, y_pred)
    pos = np.sum(t * p, axis=-1)
    neg = np.max((1.0 - t) * p, axis=-1)
    return np.maximum(neg - pos + 1.0, 0.0)


# ---- accuracy --------------------------------------------------------------------------

def accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where y_true equals y_pred exactly, else 0.0 (element-wise)."""
    t, p = pair("accuracy", y_true, y_pred)
    return (t == p).astype(np.float64)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """1.0 where `y_pred > threshold` agrees with the label (0 or 1), element-wise."""
    owner = "binary_accuracy"
    p = np.asarray(as_array(y_pred, "y_pred", owner, None))
    if p.dtype.kind not in "fiub":
        p = p.astype(np.float64)
    t = as_array(y_true, "y_true", owner)
    t, p = same_rank(t, p)
    check_same_shape(owner, t, p)
    # The threshold is compared as the float32 value Keras uses.
    return (t == (p > float(np.float32(threshold)))).astype(np.float64)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where the argmax of y_pred is the argmax of the one-hot y_true, per sample."""
    owner = "categorical_accuracy"
    p = as_array(y_pred, "y_pred", owner)
    t = as_array(y_true, "y_true", owner)
    if t.shape != p.shape:
        raise ValueError(f"{owner}: y_true must be one-hot with the shape of y_pred, received "
                         f"y_true.shape={t.shape} and y_pred.shape={p.shape}")
    return (np.argmax(t, axis=-1) == np.argmax(p, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where the argmax of y_pred equals the integer label, per sample."""
    owner = "sparse_categorical_accuracy"
    p = as_array(y_pred, "y_pred", owner)
    if p.ndim == 1:
        p = p[None]
    t = _sparse_labels(owner, y_true, p, -1)
    return (t == np.argmax(p, axis=-1)).astype(np.float64)


def _in_top_k(scores: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """True where the target class is among the top k scores (ties at the boundary count as
    in, as TensorFlow's in_top_k)."""
    target_score = scores[np.arange(scores.shape[0]), target]
    return (scores > target_score[:, None]).sum(axis=1) < k


def _check_k(owner: str, k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{owner}: argument `k` must be an int >= 1, received k={k!r}")
    return int(k)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the one-hot label's class is among the k highest scores, per sample."""
    owner = "top_k_categorical_accuracy"
    k = _check_k(owner, k)
    p = as_array(y_pred, "y_pred", owner)
    t = as_array(y_true, "y_true", owner)
    if t.shape != p.shape:
        raise ValueError(f"{owner}: y_true must be one-hot with the shape of y_pred, received "
                         f"y_true.shape={t.shape} and y_pred.shape={p.shape}")
    labels = np.argmax(t, axis=-1)
    hits = _in_top_k(p.reshape(-1, p.shape[-1]), labels.reshape(-1), k)
    return hits.reshape(labels.shape).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5,
                                      from_sorted_ids: bool = False) -> np.ndarray:
    """1.0 where the integer label is among the k highest scores, per sample.

    Args:
        k: how many of the highest scores count.
        from_sorted_ids: y_pred holds class ids sorted by decreasing score (the output of a
            top-k search) instead of scores; a hit is the label among its first k ids.
    """
    owner = "sparse_top_k_categorical_accuracy"
    k = _check_k(owner, k)
    p = as_array(y_pred, "y_pred", owner)
    if p.ndim == 1:
        p = p[None]
    t = as_array(y_true, "y_true", owner)
    shape = t.shape
    rows = p.reshape(-1, p.shape[-1])
    labels = t.reshape(-1)
    if labels.shape[0] != rows.shape[0]:
        raise ValueError(f"{owner}: y_true must hold one integer label per row of y_pred, received "
                         f"y_true.shape={shape} and y_pred.shape={p.shape}")
    if from_sorted_ids:
        hits = np.any(labels[:, None] == rows[:, :k], axis=1)
    else:
        ids = labels.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= rows.shape[1]):
            raise ValueError(f"{owner}: y_true must hold integer labels in [0, {rows.shape[1]}), "
                             f"received values from {ids.min()} to {ids.max()}")
        hits = _in_top_k(rows, ids, k)
    return hits.reshape(shape).astype(np.float64)


#: Every function above by its Keras name (and Keras's legacy aliases).
FUNCTIONS: Dict[str, Callable[..., np.ndarray]] = {
    f.__name__: f for f in (
        mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
        mean_squared_logarithmic_error, log_cosh, huber, cosine_similarity, pearson_correlation,
        concordance_correlation, binary_crossentropy, binary_focal_crossentropy,
        categorical_crossentropy, categorical_focal_crossentropy, sparse_categorical_crossentropy,
        kl_divergence, poisson, hinge, squared_hinge, categorical_hinge, accuracy, binary_accuracy,
        categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
        sparse_top_k_categorical_accuracy)
}
FUNCTIONS.update({
    "mse": mean_squared_error, "MSE": mean_squared_error, "mae": mean_absolute_error,
    "MAE": mean_absolute_error, "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error, "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error, "logcosh": log_cosh, "kld": kl_divergence,
    "KLD": kl_divergence, "kullback_leibler_divergence": kl_divergence,
})


def function_named(name: str) -> Callable[..., np.ndarray]:
    """The metric function called `name`, or ValueError naming the nearest ones."""
    fn = FUNCTIONS.get(name)
    if fn is None:
        from dlc._registry import closest

        raise ValueError(f"Unknown metric function {name!r}; expected one of {sorted(FUNCTIONS)}."
                         + closest(name, list(FUNCTIONS)))
    return fn
