"""Whole-data-set summaries of a classifier: the confusion matrix and scikit-learn's
classification report text."""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: Optional[int] = None) -> np.ndarray:
    """Counts of (true class, predicted class) pairs.

    Args:
        y_true: integer labels (n,) or one-hot (n, k).
        y_pred: integer predictions (n,) or scores (n, k) (argmax is taken).
        num_classes: k; inferred from the data when None.

    Returns:
        An int64 array (k, k): row i, column j counts samples of class i predicted as j.

    Example:

    >>> dlc.metrics.confusion_matrix([0, 1, 1], [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    array([[1, 0],
           [1, 1]])
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


def _decisions(arg: str, y: Any) -> Tuple[np.ndarray, Optional[int]]:
    """Labels from class labels (n,) / (n, 1), one-hot or scores (n, k) (argmax), or one
    probability column (n, 1) of floats (> 0.5 is class 1). Returns (labels, k or None)."""
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] > 1:
        return a.argmax(axis=1), a.shape[1]
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
        if a.dtype.kind == "f" and np.any(a != np.round(a)):
            return (a > 0.5).astype(np.int64), 2
    if a.ndim != 1:
        raise ValueError(f"classification_report: argument `{arg}` must be labels of shape (n,) or "
                         f"one-hot / scores of shape (n, num_classes), received shape {a.shape}")
    if a.dtype.kind == "f":
        if np.any(a != np.round(a)):
            raise ValueError(f"classification_report: argument `{arg}` holds non-integer values; pass "
                             "class labels, or scores of shape (n, num_classes)")
        a = a.astype(np.int64)
    return a, None


def classification_report(y_true: Any, y_pred: Any, target_names: Optional[Sequence[str]] = None,
                          digits: int = 2) -> str:
    """The text report of per-class precision, recall, F1 score and support that
    scikit-learn's `classification_report` prints, character for character.

    Each class gets a row; then come the accuracy, the macro average (the unweighted mean
    over classes) and the weighted average (weighted by support, the number of true
    samples of each class). A precision or recall whose denominator is 0 is reported as 0.

    Args:
        y_true: true labels of shape (n,) (integers, or any sortable labels such as
            strings), or one-hot labels of shape (n, num_classes).
        y_pred: predicted labels (n,), or class scores / probabilities of shape
            (n, num_classes) whose argmax is the prediction (e.g. `model.predict(x)`), or
            one probability column (n, 1) for a binary classifier (> 0.5 is class 1).
        target_names: a display name for each class, in the order of the sorted labels
            (class 0 first for integer labels).
        digits: number of decimals of the scores.

    Returns:
        The report as a string (print it).

    Raises:
        ValueError: when y_true and y_pred have different lengths, or `target_names` has
            not one name per class.

    Example:

    >>> print(dlc.metrics.classification_report([0, 1, 2, 2, 1], [0, 2, 2, 2, 1],
    ...                                         target_names=["cat", "dog", "bird"]))
                  precision    recall  f1-score   support
    <BLANKLINE>
             cat       1.00      1.00      1.00         1
             dog       1.00      0.50      0.67         2
            bird       0.67      1.00      0.80         2
    <BLANKLINE>
        accuracy                           0.80         5
       macro avg       0.89      0.83      0.82         5
    weighted avg       0.87      0.80      0.79         5
    <BLANKLINE>
    """
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise ValueError(f"classification_report: argument `digits` must be an int >= 0, received "
                         f"digits={digits!r}")
    t, kt = _decisions("y_true", y_true)
    p, kp = _decisions("y_pred", y_pred)
    if t.shape != p.shape:
        raise ValueError(f"classification_report: y_true and y_pred must have one entry per sample, "
                         f"received {t.shape[0]} labels and {p.shape[0]} predictions")
    if t.size == 0:
        raise ValueError("classification_report: y_true and y_pred are empty")
    present = np.union1d(t, p)
    k = max(kt or 0, kp or 0)
    if k and present.dtype.kind in "iu":
        if present.min() < 0:
            raise ValueError(f"classification_report: labels must be class ids in [0, {k}) to go with "
                             f"scores of {k} classes, received {present.min()}")
        labels = np.arange(max(k, int(present.max()) + 1))
    else:
        labels = present
    if target_names is None:
        names = [str(label) for label in labels]
    else:
        names = [str(n) for n in target_names]
        if len(names) != len(labels):
            raise ValueError(f"classification_report: argument `target_names` must have one name per "
                             f"class ({len(labels)}: {labels.tolist()}), received {len(names)} names")

    index_t = np.searchsorted(labels, t)
    index_p = np.searchsorted(labels, p)
    n = len(labels)
    true_sum = np.bincount(index_t, minlength=n).astype(np.float64)
    pred_sum = np.bincount(index_p, minlength=n).astype(np.float64)
    tp = np.bincount(index_t[index_t == index_p], minlength=n).astype(np.float64)

    def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.zeros_like(a)
        np.divide(a, b, out=out, where=b != 0)
        return out

    precision, recall = ratio(tp, pred_sum), ratio(tp, true_sum)
    f1 = ratio(2.0 * tp, true_sum + pred_sum)
    support = true_sum.astype(np.int64)
    total = int(support.sum())

    heading = "weighted avg"
    width = max(max(len(name) for name in names), len(heading), digits)
    row = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    header = ("{:>{width}s} " + " {:>9}" * 4).format("", "precision", "recall", "f1-score", "support",
                                                     width=width)
    lines = [header, "\n\n"]
    for i, name in enumerate(names):
        lines.append(row.format(name, precision[i], recall[i], f1[i], support[i], width=width, digits=digits))
    lines.append("\n")
    accuracy = float(tp.sum()) / total
    lines.append(("{:>{width}s} " + " {:>9}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
        "accuracy", "", "", accuracy, total, width=width, digits=digits))
    lines.append(row.format("macro avg", precision.mean(), recall.mean(), f1.mean(), total,
                            width=width, digits=digits))
    weights = true_sum / total
    lines.append(row.format(heading, float(precision @ weights), float(recall @ weights),
                            float(f1 @ weights), total, width=width, digits=digits))
    return "".join(lines)
