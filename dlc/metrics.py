"""Metrics, computed exactly over every sample seen since the last reset (integer counts, float64
sums), with Keras 3's names.

`'accuracy'` in `compile(metrics=[...])` becomes binary, categorical or sparse categorical
accuracy from the loss and the shapes, as Keras chooses.

Example:

>>> m = dlc.metrics.CategoricalAccuracy()
>>> m.update_state([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]])
>>> m.result()
0.5
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from dlc._registry import Registry


class Metric:
    """Base class: `update_state(y_true, y_pred)`, `result()`, `reset_state()`."""

    name = "metric"

    def __init__(self, name: Optional[str] = None) -> None:
        if name is not None:
            self.name = name
        self.reset_state()

    def reset_state(self) -> None:
        raise NotImplementedError

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        self.update_state(y_true, y_pred)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name}


class Mean(Metric):
    """Weighted mean of the values given to `update_state(values, sample_weight)`."""

    name = "mean"

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, np.float64)
        if sample_weight is None:
            self.total += float(values.sum())
            self.count += values.size
        else:
            self.total += float(values.sum()) * float(sample_weight)
            self.count += float(sample_weight)

    def result(self):
        return self.total / self.count if self.count else 0.0


class _Counting(Metric):
    def reset_state(self):
        self.correct, self.count = 0, 0

    def result(self):
        return self.correct / self.count if self.count else 0.0

    def _add(self, hits: np.ndarray) -> None:
        self.correct += int(np.count_nonzero(hits))
        self.count += int(hits.size)


def _rows(a: Any) -> np.ndarray:
    a = np.asarray(a)
    return a.reshape(-1, a.shape[-1])


class CategoricalAccuracy(_Counting):
    """Fraction of samples whose predicted class (argmax) is the one-hot label's class."""

    name = "categorical_accuracy"

    def update_state(self, y_true, y_pred, sample_weight=None):
        p, t = _rows(y_pred), _rows(y_true)
        self._add(p.argmax(axis=1) == t.argmax(axis=1))


class SparseCategoricalAccuracy(_Counting):
    """Fraction of samples whose predicted class (argmax) equals the integer label."""

    name = "sparse_categorical_accuracy"

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _rows(y_pred)
        t = np.asarray(y_true).reshape(-1)
        self._add(p.argmax(axis=1) == t)


class BinaryAccuracy(_Counting):
    """Fraction of predictions on the right side of `threshold` (default 0.5)."""

    name = "binary_accuracy"

    def __init__(self, name: Optional[str] = None, threshold: float = 0.5) -> None:
        self.threshold = float(threshold)
        super().__init__(name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = np.asarray(y_pred)
        t = np.asarray(y_true).reshape(p.shape)
        self._add((p > self.threshold) == (t > 0.5))


def _in_top_k(scores: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """True where the target class is among the top k scores (ties at the boundary count as
    in, as TensorFlow's in_top_k)."""
    target_score = scores[np.arange(scores.shape[0]), target]
    return (scores > target_score[:, None]).sum(axis=1) < k


class _TopK(_Counting):
    def __init__(self, k: int = 5, name: Optional[str] = None) -> None:
        self.k = int(k)
        super().__init__(name)

    def _labels(self, y_true: Any) -> np.ndarray:
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._add(_in_top_k(_rows(y_pred), self._labels(y_true), self.k))


class TopKCategoricalAccuracy(_TopK):
    """Fraction of samples whose one-hot label's class is among the k highest predictions."""

    name = "top_k_categorical_accuracy"

    def _labels(self, y_true):
        return _rows(y_true).argmax(axis=1)


class SparseTopKCategoricalAccuracy(_TopK):
    """Fraction of samples whose integer label is among the k highest predictions."""

    name = "sparse_top_k_categorical_accuracy"

    def _labels(self, y_true):
        return np.asarray(y_true).reshape(-1).astype(np.int64)


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: Optional[int] = None) -> np.ndarray:
    """Counts of (true class, predicted class) pairs.

    Args:
        y_true: integer labels (n,) or one-hot (n, k).
        y_pred: integer predictions (n,) or scores (n, k) (argmax is taken).
        num_classes: k; inferred from the data when None.

    Returns:
        An int64 array (k, k): row i, column j counts samples of class i predicted as j.

    Example:

    >>> cm = dlc.metrics.confusion_matrix(y_test, model.predict(x_test))
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim == 2 and t.shape[1] > 1:
        t = t.argmax(axis=1)
    if p.ndim == 2 and p.shape[1] > 1:
        if num_classes is None:
            num_classes = p.shape[1]
        p = p.argmax(axis=1)
    t, p = t.reshape(-1).astype(np.int64), p.reshape(-1).astype(np.int64)
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: {t.size} labels but {p.size} predictions")
    if num_classes is None:
        num_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if t.size and (t.min() < 0 or p.min() < 0 or t.max() >= num_classes or p.max() >= num_classes):
        raise ValueError(f"confusion_matrix: classes must be in [0, {num_classes})")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


class F1Score(Metric):
    """F1 score per class from one-hot labels and class scores, as Keras's F1Score.

    Args:
        average: None (one score per class), 'micro', 'macro' or 'weighted'.
        threshold: None means the argmax class is the prediction; else scores above it.

    Example:

    >>> f1 = dlc.metrics.F1Score(average="macro")
    >>> f1.update_state(y_test_onehot, model.predict(x_test))
    >>> f1.result()
    """

    name = "f1_score"

    def __init__(self, average: Optional[str] = None, threshold: Optional[float] = None,
                 name: Optional[str] = None) -> None:
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"F1Score: argument `average` must be None, 'micro', 'macro' or 'weighted', received {average!r}")
        self.average, self.threshold = average, threshold
        super().__init__(name)

    def reset_state(self):
        self.tp = self.fp = self.fn = self.support = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _rows(y_true).astype(np.float64), _rows(y_pred)
        if self.threshold is None:
            pred = np.zeros_like(p, dtype=bool)
            pred[np.arange(p.shape[0]), p.argmax(axis=1)] = True
        else:
            pred = p > self.threshold
        truth = t > 0.5
        tp = (pred & truth).sum(0)
        fp = (pred & ~truth).sum(0)
        fn = (~pred & truth).sum(0)
        if self.tp is None:
            self.tp, self.fp, self.fn, self.support = tp, fp, fn, truth.sum(0)
        else:
            self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn
            self.support = self.support + truth.sum(0)

    def result(self):
        if self.tp is None:
            return 0.0
        if self.average == "micro":
            tp, fp, fn = self.tp.sum(), self.fp.sum(), self.fn.sum()
            return float(2 * tp / max(1, 2 * tp + fp + fn))
        f1 = 2 * self.tp / np.maximum(1, 2 * self.tp + self.fp + self.fn)
        if self.average == "macro":
            return float(f1.mean())
        if self.average == "weighted":
            return float((f1 * self.support).sum() / max(1, self.support.sum()))
        return f1.astype(np.float32)


_REGISTRY = Registry("metric", Metric, {
    "categorical_accuracy": CategoricalAccuracy, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy, "f1_score": F1Score,
    "mean": Mean,
})


def _accuracy(name: str, loss: Any, output_shape: Any, target_shape: Any) -> Metric:
    """'accuracy' / 'acc' as the variant Keras picks for this loss and these shapes."""
    lname = getattr(loss, "name", "")
    if lname == "binary_crossentropy" or (output_shape is not None and output_shape[-1] == 1):
        cls = BinaryAccuracy
    elif lname == "sparse_categorical_crossentropy" or (
            target_shape is not None and output_shape is not None
            and (len(target_shape) < len(output_shape) or target_shape[-1] == 1)):
        cls = SparseCategoricalAccuracy
    else:
        cls = CategoricalAccuracy
    return cls(name=name if name == "acc" else "accuracy")


def get(identifier: Any, loss: Any = None, output_shape: Any = None, target_shape: Any = None) -> Metric:
    """A metric from a name, class, config dict or instance. 'accuracy' / 'acc' pick the
    variant Keras would for this loss and these shapes; the metric is then named 'accuracy'."""
    if identifier in ("accuracy", "acc"):
        return _accuracy(identifier, loss, output_shape, target_shape)
    if callable(identifier) and not isinstance(identifier, (type, Metric)):
        identifier = getattr(identifier, "__name__", None) or type(identifier).__name__
    return _REGISTRY.get(identifier)



def __getattr__(name):  # a name this module lacks: say so, and name the nearest ones
    from dlc._registry import missing_attribute

    return missing_attribute(__name__, globals())(name)
