"""F-scores per class from one-hot (or multi-label) targets and class scores, as Keras 3's
FBetaScore and F1Score."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from dlc.metrics.base import EPSILON, Metric, accumulate, as_array, broadcast_weights, check_same_shape

_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """F-beta score `(1 + beta^2) * precision * recall / (beta^2 * precision + recall)` per
    class, from targets of shape (batch_size, num_classes) and class scores.

    A score counts as a positive prediction when it is the highest of its row (ties all
    count, and a score of 0 never does) if `threshold` is None, else when it is above
    `threshold`. Targets are used as given (1 for positive, 0 for negative; soft targets
    give fractional counts). The counts are weighted sums over every sample seen.

    Args:
        average: None (one score per class, an array), 'micro' (one score from the counts
            of every class pooled), 'macro' (the mean of the per-class scores) or
            'weighted' (their mean weighted by each class's support).
        beta: the weight of recall against precision, > 0. Defaults to 1.0.
        threshold: None (the row's argmax is positive) or a number in (0, 1].
        name: name of the metric instance. Defaults to 'fbeta_score'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.FBetaScore(beta=2.0, threshold=0.5)
    >>> m.update_state([[1, 1, 1], [1, 0, 0], [1, 1, 0]],
    ...                [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]])
    >>> np.round(m.result(), 4)
    array([0.3846, 0.9091, 0.8333])
    """

    name = "fbeta_score"
    _direction = "up"
    _config = ("average", "beta", "threshold")

    def __init__(self, average: Optional[str] = None, beta: float = 1.0, threshold: Optional[float] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        owner = type(self).__name__
        if average not in _AVERAGES:
            raise ValueError(f"{owner}: argument `average` must be None, 'micro', 'macro' or 'weighted', "
                             f"received average={average!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) or not beta > 0:
            raise ValueError(f"{owner}: argument `beta` must be a number > 0, received beta={beta!r}")
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
                    or not 0.0 < threshold <= 1.0:
                raise ValueError(f"{owner}: argument `threshold` must be None or a number in (0, 1], "
                                 f"received threshold={threshold!r}")
            threshold = float(threshold)
        self.average, self.beta, self.threshold = average, float(beta), threshold
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        self.true_positives = self.false_positives = self.false_negatives = None
        self.intermediate_weights = None  # the (weighted) support of each class

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        owner = type(self).__name__
        p = as_array(y_pred, "y_pred", owner, np.float32)
        t = as_array(y_true, "y_true", owner)
        if p.ndim != 2 or t.ndim != 2:
            raise ValueError(f"{owner}: expects 2D inputs of shape (batch_size, num_classes), received "
                             f"y_true.shape={t.shape} and y_pred.shape={p.shape}")
        check_same_shape(owner, t, p)
        if self.true_positives is not None and self.true_positives.shape[-1:] != p.shape[1:] \
                and self.average != "micro":
            raise ValueError(f"{owner}: expects {self.true_positives.shape[0]} classes as in the earlier "
                             f"batches, received y_pred.shape={p.shape}")
        if self.threshold is None:
            pred = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > np.float32(1e-9))
        else:
            pred = p > np.float32(self.threshold)
        pred = pred.astype(np.float64)
        if sample_weight is None:
            w = np.ones((t.shape[0], 1))
        else:
            w = as_array(sample_weight, "sample_weight", owner)
            if w.ndim == 2 and w.shape[1] == 1:
                w = w[:, 0]
            w = broadcast_weights(owner, w, (t.shape[0],))[:, None]  # one weight per sample
        keep = np.broadcast_to(w != 0, t.shape)
        axis = None if self.average == "micro" else 0

        def total(v: np.ndarray) -> np.ndarray:
            return np.where(keep, v * w, 0.0).sum(axis=axis)

        counts = (total(pred * t), total(pred * (1.0 - t)), total((1.0 - pred) * t), total(t))
        accumulate(self, ("true_positives", "false_positives", "false_negatives", "intermediate_weights"),
                   counts)

    def result(self) -> Any:
        if self.true_positives is None:
            return 0.0
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta ** 2
        score = (1.0 + b2) * (precision * recall) / (b2 * precision + recall + EPSILON)
        if self.average == "weighted":
            weights = self.intermediate_weights / (np.sum(self.intermediate_weights) + EPSILON)
            return float(np.sum(score * weights))
        if self.average is not None:
            return float(np.mean(score))
        return np.asarray(score, np.float64)


class F1Score(FBetaScore):
    """F1 score `2 * precision * recall / (precision + recall)` per class: the FBetaScore
    with beta = 1, as Keras's F1Score.

    Args:
        average: None (one score per class, an array), 'micro', 'macro' or 'weighted'.
        threshold: None (the row's argmax is positive) or a number in (0, 1]; a score above
            it is a positive prediction.
        name: name of the metric instance. Defaults to 'f1_score'.
        dtype: kept in the config only.

    Example:

    >>> f1 = dlc.metrics.F1Score(average="macro")
    >>> f1.update_state([[0, 1], [1, 0], [0, 1]], [[0.2, 0.8], [0.3, 0.7], [0.9, 0.1]])
    >>> round(f1.result(), 4)
    0.25
    """

    name = "f1_score"
    _config = ("average", "threshold")

    def __init__(self, average: Optional[str] = None, threshold: Optional[float] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)
