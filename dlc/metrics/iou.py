"""Intersection-over-union metrics (semantic segmentation and classification), from a
confusion matrix accumulated over every value seen, as Keras 3's IoU family."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from dlc.metrics.base import EPSILON, Metric, as_array


def _check_classes(owner: str, num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"{owner}: argument `num_classes` must be an int >= 1, received "
                         f"num_classes={num_classes!r}")
    return int(num_classes)


class IoU(Metric):
    """Intersection over union `TP / (TP + FP + FN)` of the classes in `target_class_ids`,
    averaged over those of them that occur (in the labels or the predictions).

    Args:
        num_classes: the number of classes k; labels and predictions are in [0, k)
            (values outside are ignored).
        target_class_ids: the classes whose IoU is averaged.
        name: name of the metric instance. Defaults to 'io_u' (Keras's name).
        dtype: kept in the config only.
        ignore_class: a label value to leave out (e.g. a "void" class).
        sparse_y_true: whether labels are class ids (True) or one-hot / scores (argmax).
        sparse_y_pred: whether predictions are class ids (True) or scores (argmax).
        axis: the class axis for the argmax. Defaults to -1.

    Sample weights weigh each value (a weight per sample is repeated over its values);
    unlike Keras's default integer dtype, fractional weights are kept exactly.

    Example:

    >>> m = dlc.metrics.IoU(num_classes=2, target_class_ids=[0])
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> round(m.result(), 4)
    0.3333
    """

    name = "io_u"
    _direction = "up"
    _config = ("num_classes", "target_class_ids", "ignore_class", "sparse_y_true", "sparse_y_pred", "axis")

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: Optional[str] = None,
                 dtype: Any = None, ignore_class: Optional[int] = None, sparse_y_true: bool = True,
                 sparse_y_pred: bool = True, axis: int = -1) -> None:
        owner = type(self).__name__
        self.num_classes = _check_classes(owner, num_classes)
        ids = [int(i) for i in np.asarray(target_class_ids).reshape(-1)]
        if not ids or min(ids) < 0 or max(ids) >= self.num_classes:
            raise ValueError(f"{owner}: argument `target_class_ids` must be class ids in "
                             f"[0, {self.num_classes}), received target_class_ids={target_class_ids!r}")
        self.target_class_ids = ids
        self.ignore_class = ignore_class
        self.sparse_y_true, self.sparse_y_pred = bool(sparse_y_true), bool(sparse_y_pred)
        self.axis = axis
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        self.total_cm = np.zeros((self.num_classes, self.num_classes))

    def _prepare(self, y_true: Any, y_pred: Any):
        owner = type(self).__name__
        t = as_array(y_true, "y_true", owner)
        p = as_array(y_pred, "y_pred", owner)
        if not self.sparse_y_true:
            t = np.argmax(t, axis=self.axis)
        if not self.sparse_y_pred:
            p = np.argmax(p, axis=self.axis)
        return t, p

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        owner = type(self).__name__
        t, p = self._prepare(y_true, y_pred)
        shape = t.shape
        t, p = np.trunc(t).reshape(-1), np.trunc(p).reshape(-1)  # Keras casts to int
        if t.shape != p.shape:
            raise ValueError(f"{owner}: y_true and y_pred must hold one class per value, received "
                             f"{t.size} labels and {p.size} predictions")
        if sample_weight is None:
            w = np.ones(t.shape)
        else:
            w = as_array(sample_weight, "sample_weight", owner)
            if w.size != t.size and w.ndim and w.ndim <= len(shape) and w.shape == shape[:w.ndim]:
                w = np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)
            try:
                w = np.broadcast_to(w.reshape(-1) if w.ndim > 1 else w, t.shape)
            except ValueError:
                raise ValueError(f"{owner}: argument `sample_weight` of shape {np.shape(sample_weight)} "
                                 f"does not match the {t.size} values of y_true (shape {shape})") from None
        k = self.num_classes
        valid = (t >= 0) & (t < k) & (p >= 0) & (p < k)
        if self.ignore_class is not None:
            valid &= t != self.ignore_class
        index = t[valid].astype(np.int64) * k + p[valid].astype(np.int64)
        self.total_cm = self.total_cm + np.bincount(index, weights=w[valid], minlength=k * k).reshape(k, k)

    def result(self) -> float:
        cm = self.total_cm
        predicted, actual, tp = cm.sum(axis=0), cm.sum(axis=1), np.diag(cm)
        ids = self.target_class_ids
        denominator = (predicted + actual - tp)[ids]
        tp = tp[ids]
        valid = denominator > 1e-9
        iou = np.where(valid, tp / (denominator + EPSILON), 0.0)
        return float(np.sum(iou) / (np.count_nonzero(valid) + EPSILON))


class MeanIoU(IoU):
    """Mean intersection over union over all `num_classes` classes (those that occur).

    Args:
        num_classes: the number of classes k.
        name: name of the metric instance. Defaults to 'mean_io_u' (Keras's name).
        dtype: kept in the config only.
        ignore_class: a label value to leave out.
        sparse_y_true: whether labels are class ids (True) or one-hot / scores (argmax).
        sparse_y_pred: whether predictions are class ids (True) or scores (argmax).
        axis: the class axis for the argmax. Defaults to -1.

    Example:

    >>> m = dlc.metrics.MeanIoU(num_classes=2)
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> round(m.result(), 4)
    0.3333
    """

    name = "mean_io_u"
    _config = ("num_classes", "ignore_class", "sparse_y_true", "sparse_y_pred", "axis")

    def __init__(self, num_classes: int, name: Optional[str] = None, dtype: Any = None,
                 ignore_class: Optional[int] = None, sparse_y_true: bool = True, sparse_y_pred: bool = True,
                 axis: int = -1) -> None:
        n = _check_classes(type(self).__name__, num_classes)
        super().__init__(n, list(range(n)), name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis)


class BinaryIoU(IoU):
    """Intersection over union of binary labels and thresholded predictions
    (`y_pred >= threshold` is class 1), averaged over `target_class_ids`.

    Args:
        target_class_ids: which of the classes 0 and 1 to average. Defaults to (0, 1).
        threshold: predictions at or above it are class 1. Defaults to 0.5.
        name: name of the metric instance. Defaults to 'binary_io_u' (Keras's name).
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    >>> m.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7])
    >>> round(m.result(), 4)
    0.3333
    """

    name = "binary_io_u"
    _config = ("target_class_ids", "threshold")

    def __init__(self, target_class_ids: Sequence[int] = (0, 1), threshold: float = 0.5,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
            raise ValueError(f"BinaryIoU: argument `threshold` must be a number, received threshold={threshold!r}")
        self.threshold = float(threshold)
        super().__init__(2, target_class_ids, name, dtype)

    def _prepare(self, y_true, y_pred):
        owner = type(self).__name__
        t = as_array(y_true, "y_true", owner)
        p = as_array(y_pred, "y_pred", owner, np.float32)
        return t, (p >= np.float32(self.threshold)).astype(np.float64)


class OneHotIoU(IoU):
    """IoU (see `IoU`) from one-hot labels and class scores (argmax).

    Args:
        num_classes: the number of classes k.
        target_class_ids: the classes whose IoU is averaged.
        name: name of the metric instance. Defaults to 'one_hot_io_u' (Keras's name).
        dtype: kept in the config only.
        ignore_class: a label value to leave out.
        sparse_y_pred: whether predictions are class ids instead of scores. Defaults to False.
        axis: the class axis. Defaults to -1.

    Example:

    >>> m = dlc.metrics.OneHotIoU(num_classes=3, target_class_ids=[0, 2])
    >>> m.update_state([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]],
    ...                [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])
    >>> round(m.result(), 4)
    0.1667
    """

    name = "one_hot_io_u"
    _config = ("num_classes", "target_class_ids", "ignore_class", "sparse_y_pred", "axis")

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: Optional[str] = None,
                 dtype: Any = None, ignore_class: Optional[int] = None, sparse_y_pred: bool = False,
                 axis: int = -1) -> None:
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, False, sparse_y_pred, axis)


class OneHotMeanIoU(MeanIoU):
    """Mean IoU over all classes (see `MeanIoU`) from one-hot labels and class scores.

    Args:
        num_classes: the number of classes k.
        name: name of the metric instance. Defaults to 'one_hot_mean_io_u' (Keras's name).
        dtype: kept in the config only.
        ignore_class: a label value to leave out.
        sparse_y_pred: whether predictions are class ids instead of scores. Defaults to False.
        axis: the class axis. Defaults to -1.

    Example:

    >>> m = dlc.metrics.OneHotMeanIoU(num_classes=3)
    >>> m.update_state([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]],
    ...                [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])
    >>> round(m.result(), 4)
    0.1111
    """

    name = "one_hot_mean_io_u"
    _config = ("num_classes", "ignore_class", "sparse_y_pred", "axis")

    def __init__(self, num_classes: int, name: Optional[str] = None, dtype: Any = None,
                 ignore_class: Optional[int] = None, sparse_y_pred: bool = False, axis: int = -1) -> None:
        super().__init__(num_classes, name, dtype, ignore_class, False, sparse_y_pred, axis)
