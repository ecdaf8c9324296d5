"""Metrics counted from the confusion matrix at one or more thresholds: true/false
positives/negatives, precision, recall, the precision/recall/sensitivity/specificity
trade-offs and AUC, with Keras 3's definitions.

A prediction is positive at threshold t when `y_pred > t`; a label is positive when it is
non-zero. Predictions are compared in float32, as Keras compares them, so a prediction that
equals a threshold's float32 value falls on the same side as in Keras. Counts are weighted
sums in float64 over every value seen since the last reset.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from dlc.metrics.base import (EPSILON, Metric, as_array, broadcast_weights, check_same_shape, divide_no_nan,
                              same_rank)

NEG_INF = -1e10  # the threshold used with top_k: every kept prediction is above it


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, float, np.integer, np.floating))


def parse_thresholds(owner: str, thresholds: Any, default: float) -> List[float]:
    """`thresholds` (None, a number or a list) as a list of floats in [0, 1]."""
    if thresholds is None:
        return [float(default)]
    values = list(np.asarray(thresholds, dtype=object).reshape(-1)) \
        if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    bad = [t for t in values if not _is_number(t) or not 0.0 <= float(t) <= 1.0]
    if bad or not values:
        raise ValueError(f"{owner}: argument `thresholds` must be a number or a list of numbers in "
                         f"[0, 1], received thresholds={thresholds!r}")
    return [float(t) for t in values]


def evenly_distributed(thresholds: Sequence[float]) -> bool:
    """Whether the thresholds are i / (n - 1) for i = 0..n-1 (n >= 3), the case Keras counts
    by bucketing predictions instead of comparing them with each threshold."""
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON))


def _filter_top_k(owner: str, p: np.ndarray, k: int) -> np.ndarray:
    """p with everything but the k largest values of each row (last axis) set to NEG_INF."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= p.shape[-1]:
        raise ValueError(f"{owner}: argument `top_k` must be an int in [1, {p.shape[-1]}] (the number "
                         f"of classes of y_pred), received top_k={k!r}")
    top = np.argsort(-p, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(p.shape, bool)
    np.put_along_axis(keep, top, True, axis=-1)
    return np.where(keep, p, np.float32(NEG_INF))


def confusion_counts(owner: str, y_true: Any, y_pred: Any, thresholds: Sequence[float],
                     sample_weight: Any = None, evenly: bool = False, top_k: Optional[int] = None,
                     class_id: Optional[int] = None, multi_label: bool = False,
                     label_weights: Any = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted (tp, fp, tn, fn) of one batch at each threshold: arrays of shape (T,), or
    (T, num_labels) with `multi_label` (one column per label instead of flattening).

    `evenly` selects Keras's bucketed count for evenly spaced thresholds: predictions are
    clipped to [0, 1] and bucketed by `ceil(p * (T - 1)) - 1`, and when the outer
    thresholds lie outside [0, 1] (AUC's -epsilon and 1 + epsilon) the lowest bucket also
    takes predictions of exactly 0.
    """
    thr = np.asarray(thresholds, np.float32)
    n_thr = thr.shape[0]
    p = as_array(y_pred, "y_pred", owner, np.float32)
    t = as_array(y_true, "y_true", owner, np.float32)
    p, t = same_rank(p, t)
    check_same_shape(owner, t, p)
    w = None
    if sample_weight is not None:
        w = as_array(sample_weight, "sample_weight", owner)[..., None]
        _, w = same_rank(t, w, expand_rank_1=False)
    if top_k is not None:
        p = _filter_top_k(owner, p, top_k)
    if class_id is not None:
        if p.ndim < 2:
            raise ValueError(f"{owner}: with class_id, y_pred must have shape (num_samples, "
                             f"num_classes), received y_pred.shape={p.shape}")
        if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) \
                or not 0 <= class_id < p.shape[-1]:
            raise ValueError(f"{owner}: argument `class_id` must be an int in [0, {p.shape[-1]}), "
                             f"received class_id={class_id!r}")
        t, p = t[..., class_id, None], p[..., class_id, None]
    if w is not None:
        w = broadcast_weights(owner, w, p.shape)
    if label_weights is not None and not multi_label:
        lw = broadcast_weights(owner, np.asarray(label_weights, np.float64), p.shape)
        w = lw if w is None else w * lw
    truth = t != 0
    if multi_label:
        if p.ndim != 2:
            raise ValueError(f"{owner}: with multi_label=True, y_pred must have rank 2 "
                             f"(num_samples, num_labels), received y_pred.shape={p.shape}")
    else:
        p, truth = p.reshape(-1, 1), truth.reshape(-1, 1)
        w = None if w is None else w.reshape(-1, 1)

    if evenly:
        b = np.ceil(np.clip(p, np.float32(0), np.float32(1)) * np.float32(n_thr - 1)) - np.float32(1)
        if thr[0] < 0 or thr[-1] > 1:
            b = np.maximum(b, 0)
        bucket = b.astype(np.int64)
        order = None
    else:  # bucket i: above the i lowest thresholds (i = 0: above none)
        order = np.argsort(thr, kind="stable")
        bucket = np.searchsorted(thr[order], p, side="left") - 1
    n_labels = p.shape[1]
    index = (bucket + 1) + (n_thr + 1) * np.arange(n_labels)[None, :]
    weight = np.ones(p.shape) if w is None else np.asarray(w, np.float64)
    size = (n_thr + 1) * n_labels

    def histogram(mask: np.ndarray) -> np.ndarray:
        return np.bincount(index[mask], weights=weight[mask], minlength=size).reshape(n_labels, n_thr + 1)

    pos, neg = histogram(truth), histogram(~truth)
    tp = np.cumsum(pos[:, :0:-1], axis=1)[:, ::-1]  # above threshold j: buckets j..T-1
    fp = np.cumsum(neg[:, :0:-1], axis=1)[:, ::-1]
    if order is not None:  # back to the order the thresholds were given in
        tp_given, fp_given = np.empty_like(tp), np.empty_like(fp)
        tp_given[:, order], fp_given[:, order] = tp, fp
        tp, fp = tp_given, fp_given
    fn = pos.sum(axis=1, keepdims=True) - tp
    tn = neg.sum(axis=1, keepdims=True) - fp
    tp, fp, tn, fn = (a.T for a in (tp, fp, tn, fn))
    if not multi_label:
        tp, fp, tn, fn = (a[:, 0] for a in (tp, fp, tn, fn))
    return tp, fp, tn, fn


class _ConfusionCount(Metric):
    """Base of the four counters: one weighted count per threshold."""

    _which = 0  # index into (tp, fp, tn, fn)

    def __init__(self, thresholds: Any = None, name: Optional[str] = None, dtype: Any = None) -> None:
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(type(self).__name__, thresholds, 0.5)
        self._evenly = evenly_distributed(self.thresholds)
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        self.accumulator = np.zeros(len(self.thresholds))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        counts = confusion_counts(type(self).__name__, y_true, y_pred, self.thresholds,
                                  sample_weight, evenly=self._evenly)
        self.accumulator = self.accumulator + counts[self._which]

    def result(self) -> Any:
        return float(self.accumulator[0]) if len(self.thresholds) == 1 else self.accumulator.copy()

    def get_config(self):
        config = super().get_config()
        config["thresholds"] = self.init_thresholds
        return config


_COUNT_DOC = """The (weighted) number of {what}, at each threshold.

    A prediction is positive when `y_pred > threshold`; a label is positive when non-zero.

    Args:
        thresholds: a number or list of numbers in [0, 1]. Defaults to 0.5. With one
            threshold the result is a float, with several an array of one count each.
        name: name of the metric instance. Defaults to '{name}'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.{cls}()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> m.result()
    {example}
    """


class TruePositives(_ConfusionCount):
    name, _which = "true_positives", 0
    __doc__ = _COUNT_DOC.format(what="positive labels predicted positive", name=name,
                                cls="TruePositives", example="2.0")


class FalsePositives(_ConfusionCount):
    name, _which = "false_positives", 1
    __doc__ = _COUNT_DOC.format(what="negative labels predicted positive", name=name,
                                cls="FalsePositives", example="1.0")


class TrueNegatives(_ConfusionCount):
    name, _which = "true_negatives", 2
    __doc__ = _COUNT_DOC.format(what="negative labels predicted negative", name=name,
                                cls="TrueNegatives", example="0.0")


class FalseNegatives(_ConfusionCount):
    name, _which = "false_negatives", 3
    __doc__ = _COUNT_DOC.format(what="positive labels predicted negative", name=name,
                                cls="FalseNegatives", example="1.0")


class _PrecisionRecall(Metric):
    _direction = "up"

    def __init__(self, thresholds: Any = None, top_k: Optional[int] = None, class_id: Optional[int] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = parse_thresholds(type(self).__name__, thresholds,
                                           0.5 if top_k is None else NEG_INF)
        self._evenly = evenly_distributed(self.thresholds)
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        n = len(self.thresholds)
        self.true_positives, self._other = np.zeros(n), np.zeros(n)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        tp, fp, _, fn = confusion_counts(type(self).__name__, y_true, y_pred, self.thresholds,
                                         sample_weight, evenly=self._evenly, top_k=self.top_k,
                                         class_id=self.class_id)
        self.true_positives = self.true_positives + tp
        self._other = self._other + (fp if isinstance(self, Precision) else fn)

    def result(self) -> Any:
        r = divide_no_nan(self.true_positives, self.true_positives + self._other)
        return float(r[0]) if len(self.thresholds) == 1 else r

    def get_config(self):
        config = super().get_config()
        config.update(thresholds=self.init_thresholds, top_k=self.top_k, class_id=self.class_id)
        return config


class Precision(_PrecisionRecall):
    """Precision: true positives / (true positives + false positives), at each threshold.

    Args:
        thresholds: a number or list of numbers in [0, 1]; a prediction is positive when
            `y_pred > threshold`. Defaults to 0.5 (or, with `top_k`, every kept prediction).
        top_k: count only the k highest predictions of each sample as positive.
        class_id: score only this class (column) of multi-class or multi-label data.
        name: name of the metric instance. Defaults to 'precision'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(m.result(), 4)
    0.6667
    """

    name = "precision"

    @property
    def false_positives(self) -> np.ndarray:
        return self._other


class Recall(_PrecisionRecall):
    """Recall: true positives / (true positives + false negatives), at each threshold.

    Args:
        thresholds: a number or list of numbers in [0, 1]; a prediction is positive when
            `y_pred > threshold`. Defaults to 0.5 (or, with `top_k`, every kept prediction).
        top_k: count only the k highest predictions of each sample as positive.
        class_id: score only this class (column) of multi-class or multi-label data.
        name: name of the metric instance. Defaults to 'recall'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.Recall()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(m.result(), 4)
    0.6667
    """

    name = "recall"

    @property
    def false_negatives(self) -> np.ndarray:
        return self._other


def _check_num_thresholds(owner: str, n: Any, minimum: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{owner}: argument `num_thresholds` must be an int >= {minimum}, "
                         f"received num_thresholds={n!r}")
    return int(n)


class _AtConstraint(Metric):
    """Base of the four "best X where Y >= value" metrics: the four counts at
    `num_thresholds` evenly spaced thresholds in [0, 1]."""

    _direction = "up"
    _value_arg = "value"

    def __init__(self, value: float, num_thresholds: int = 200, class_id: Optional[int] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        owner = type(self).__name__
        if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{owner}: argument `{self._value_arg}` must be in [0, 1], received "
                             f"{self._value_arg}={value!r}")
        setattr(self, self._value_arg, value)
        self.value = float(value)
        self.num_thresholds = _check_num_thresholds(owner, num_thresholds, 1)
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds, self._evenly = [0.5], False
        else:
            self.thresholds = [0.0] + [(i + 1) * 1.0 / (num_thresholds - 1)
                                       for i in range(num_thresholds - 2)] + [1.0]
            self._evenly = True
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        tp, fp, tn, fn = confusion_counts(type(self).__name__, y_true, y_pred, self.thresholds,
                                          sample_weight, evenly=self._evenly, class_id=self.class_id)
        self.true_positives = self.true_positives + tp
        self.false_positives = self.false_positives + fp
        self.true_negatives = self.true_negatives + tn
        self.false_negatives = self.false_negatives + fn

    def _rates(self):
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        return {"sensitivity": divide_no_nan(tp, tp + fn), "specificity": divide_no_nan(tn, tn + fp),
                "precision": divide_no_nan(tp, tp + fp), "recall": divide_no_nan(tp, tp + fn)}

    def _best(self, constrained: str, dependent: str) -> float:
        r = self._rates()
        feasible = r[constrained] >= self.value
        return float(np.max(np.where(feasible, r[dependent], 0.0), initial=0.0))

    def get_config(self):
        config = super().get_config()
        config.update({"class_id": self.class_id, "num_thresholds": self.num_thresholds,
                       self._value_arg: getattr(self, self._value_arg)})
        return config


_AT_DOC = """The best {dependent} among the thresholds where {constrained} >= `{arg}`.

    The four counts are kept at `num_thresholds` evenly spaced thresholds in [0, 1]; the
    result is the largest {dependent} over the thresholds that meet the constraint (0.0 if
    none does).

    Args:
        {arg}: the {constrained} to reach, in [0, 1].
        num_thresholds: how many thresholds to evaluate. Defaults to 200.
        class_id: score only this class (column) of multi-class or multi-label data.
        name: name of the metric instance. Defaults to '{name}'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.{cls}({arg}=0.5)
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    >>> m.result()
    {example}
    """


class SensitivityAtSpecificity(_AtConstraint):
    name, _value_arg = "sensitivity_at_specificity", "specificity"
    __doc__ = _AT_DOC.format(dependent="sensitivity (recall)", constrained="specificity",
                             arg="specificity", name=name, cls="SensitivityAtSpecificity", example="0.5")

    def __init__(self, specificity: float, num_thresholds: int = 200, class_id: Optional[int] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def result(self) -> float:
        return self._best("specificity", "sensitivity")


class SpecificityAtSensitivity(_AtConstraint):
    name, _value_arg = "specificity_at_sensitivity", "sensitivity"
    __doc__ = _AT_DOC.format(dependent="specificity", constrained="sensitivity (recall)",
                             arg="sensitivity", name=name, cls="SpecificityAtSensitivity",
                             example="0.6666666666666666")

    def __init__(self, sensitivity: float, num_thresholds: int = 200, class_id: Optional[int] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def result(self) -> float:
        return self._best("sensitivity", "specificity")


class PrecisionAtRecall(_AtConstraint):
    name, _value_arg = "precision_at_recall", "recall"
    __doc__ = _AT_DOC.format(dependent="precision", constrained="recall", arg="recall", name=name,
                             cls="PrecisionAtRecall", example="0.5")

    def __init__(self, recall: float, num_thresholds: int = 200, class_id: Optional[int] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def result(self) -> float:
        return self._best("recall", "precision")


class RecallAtPrecision(_AtConstraint):
    name, _value_arg = "recall_at_precision", "precision"
    __doc__ = _AT_DOC.format(dependent="recall", constrained="precision", arg="precision", name=name,
                             cls="RecallAtPrecision", example="1.0")

    def __init__(self, precision: float, num_thresholds: int = 200, class_id: Optional[int] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def result(self) -> float:
        return self._best("precision", "recall")


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """Area under the ROC or precision-recall curve, by a Riemann sum over thresholds.

    The four counts are kept at `num_thresholds` thresholds (evenly spaced in [0, 1] by
    default, the outer two moved to -epsilon and 1 + epsilon so that predictions of exactly
    0 and 1 are counted); the curve through the points of every threshold is integrated.

    Args:
        num_thresholds: how many thresholds; more gives a finer curve. Defaults to 200.
        curve: 'ROC' (true-positive rate against false-positive rate, the default), 'PR'
            (precision against recall) or 'PRGAIN' (precision gain against recall gain).
        summation_method: 'interpolation' (the default: the trapezoidal rule for ROC, and
            for PR the interpolation of Davis & Goadrich, 2006), 'minoring' (lower sums) or
            'majoring' (upper sums).
        name: name of the metric instance. Defaults to 'auc'.
        dtype: kept in the config only.
        thresholds: explicit thresholds in [0, 1] used instead of `num_thresholds`
            (-epsilon and 1 + epsilon are added at the ends).
        multi_label: with 2D data, compute one AUC per label column and average them
            (instead of flattening every value into one curve).
        num_labels: the number of label columns when `multi_label` (else taken from the
            first batch).
        label_weights: non-negative weights per label: a weighted average of the per-label
            AUCs with `multi_label`, else weights of each column's values.
        from_logits: whether y_pred are logits (a sigmoid is applied first).

    Example:

    >>> m = dlc.metrics.AUC(num_thresholds=3)
    >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    >>> m.result()
    0.75
    """

    name = "auc"
    _direction = "up"

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: Optional[str] = None, dtype: Any = None, thresholds: Any = None,
                 multi_label: bool = False, num_labels: Optional[int] = None, label_weights: Any = None,
                 from_logits: bool = False) -> None:
        owner = type(self).__name__
        key = str(getattr(curve, "value", curve))
        if key.lower() not in _CURVES or key not in (key.lower(), key.upper()):
            raise ValueError(f"{owner}: argument `curve` must be 'ROC', 'PR' or 'PRGAIN', received "
                             f"curve={curve!r}")
        self.curve = _CURVES[key.lower()]
        method = str(getattr(summation_method, "value", summation_method))
        if method.lower() not in _SUMMATIONS or method not in (method.lower(), method.capitalize()):
            raise ValueError(f"{owner}: argument `summation_method` must be one of {_SUMMATIONS}, "
                             f"received summation_method={summation_method!r}")
        self.summation_method = method.lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(owner, thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
            self._evenly = evenly_distributed([0.0] + inner + [1.0])
        else:
            self.num_thresholds = _check_num_thresholds(owner, num_thresholds, 2)
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError(f"{owner}: argument `num_labels` is needed only when multi_label=True, "
                             f"received num_labels={num_labels!r}")
        self.num_labels = num_labels
        if label_weights is not None:
            label_weights = np.asarray(label_weights, np.float64).reshape(-1)
            if np.any(label_weights < 0):
                raise ValueError(f"{owner}: argument `label_weights` must be non-negative, received "
                                 f"{label_weights.tolist()}")
        self.label_weights = label_weights
        self.from_logits = bool(from_logits)
        super().__init__(name, dtype)

    @property
    def thresholds(self) -> List[float]:
        """Every threshold, the -epsilon and 1 + epsilon ends included."""
        return list(self._thresholds)

    def reset_state(self) -> None:
        if self.multi_label and not self.num_labels and not getattr(self, "_num_labels", None):
            self.true_positives = self.false_positives = self.true_negatives = self.false_negatives = None
            return
        shape = (self.num_thresholds, self.num_labels or self._num_labels) if self.multi_label \
            else (self.num_thresholds,)
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.true_negatives, self.false_negatives = np.zeros(shape), np.zeros(shape)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        owner = type(self).__name__
        p = as_array(y_pred, "y_pred", owner)
        if self.multi_label:
            if p.ndim != 2:
                raise ValueError(f"{owner}: with multi_label=True, y_pred must have rank 2 "
                                 f"(num_samples, num_labels), received y_pred.shape={p.shape}")
            if self.true_positives is None:
                self._num_labels = p.shape[1]
                self.reset_state()
            if self.true_positives.shape[1] != p.shape[1]:
                raise ValueError(f"{owner}: expects {self.true_positives.shape[1]} labels per sample, "
                                 f"received y_pred.shape={p.shape}")
        if self.from_logits:
            p = np.exp(-np.logaddexp(0.0, -p))
        tp, fp, tn, fn = confusion_counts(owner, y_true, p, self._thresholds, sample_weight,
                                          evenly=self._evenly, multi_label=self.multi_label,
                                          label_weights=None if self.multi_label else self.label_weights)
        self.true_positives = self.true_positives + tp
        self.false_positives = self.false_positives + fp
        self.true_negatives = self.true_negatives + tn
        self.false_negatives = self.false_negatives + fn

    def _combine(self, per_threshold_terms: np.ndarray) -> float:
        if not self.multi_label:
            return float(np.sum(per_threshold_terms))
        by_label = np.sum(per_threshold_terms, axis=0)
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def _interpolated_pr_auc(self) -> float:
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
        terms = divide_no_nan(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        return self._combine(terms)

    def result(self) -> float:
        if self.true_positives is None:
            return 0.0
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr_auc()
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * divide_no_nan(fn, tp))
            precision_gain = np.where(tp == 0, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
            x, y = np.maximum(recall_gain, 0.0), precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._combine((x[:-1] - x[1:]) * heights)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_thresholds": self.num_thresholds, "curve": self.curve,
            "summation_method": self.summation_method, "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        })
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config
