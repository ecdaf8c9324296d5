"""Accuracy metrics: the fraction of (weighted) samples predicted right, by exact match,
threshold, argmax or top-k, as Keras 3 defines them."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from dlc.metrics import functions as F
from dlc.metrics.base import _Wrapper


class Accuracy(_Wrapper):
    """Fraction of predictions exactly equal to the labels (for already-decided predictions;
    `compile(metrics=['accuracy'])` picks binary / categorical / sparse accuracy instead).

    Args:
        name: name of the metric instance. Defaults to 'accuracy'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.Accuracy()
    >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    >>> m.result()
    0.75
    """

    name = "accuracy"
    _direction = "up"
    _function = staticmethod(F.accuracy)


class BinaryAccuracy(_Wrapper):
    """Fraction of predictions on the label's side of `threshold`: `y_pred > threshold`
    must equal the label (0 or 1).

    Args:
        name: name of the metric instance. Defaults to 'binary_accuracy'.
        dtype: kept in the config only.
        threshold: the decision threshold, 0.5 by default (0.0 suits logits).

    Example:

    >>> m = dlc.metrics.BinaryAccuracy()
    >>> m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    >>> m.result()
    0.75
    """

    name = "binary_accuracy"
    _direction = "up"
    _config = ("threshold",)
    _function = staticmethod(F.binary_accuracy)

    def __init__(self, name: Optional[str] = None, dtype: Any = None, threshold: float = 0.5) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
                or math.isnan(threshold):
            raise ValueError(f"BinaryAccuracy: argument `threshold` must be a number, received "
                             f"threshold={threshold!r}")
        self.threshold = float(threshold)
        super().__init__(name, dtype, threshold=self.threshold)


class CategoricalAccuracy(_Wrapper):
    """Fraction of samples whose highest-scoring class is the one-hot label's class.

    Args:
        name: name of the metric instance. Defaults to 'categorical_accuracy'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.CategoricalAccuracy()
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    >>> m.result()
    0.5
    """

    name = "categorical_accuracy"
    _direction = "up"
    _function = staticmethod(F.categorical_accuracy)


class SparseCategoricalAccuracy(_Wrapper):
    """Fraction of samples whose highest-scoring class equals the integer label.

    Args:
        name: name of the metric instance. Defaults to 'sparse_categorical_accuracy'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.SparseCategoricalAccuracy()
    >>> m.update_state([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    >>> m.result()
    0.5
    """

    name = "sparse_categorical_accuracy"
    _direction = "up"
    _function = staticmethod(F.sparse_categorical_accuracy)


class _TopK(_Wrapper):
    """Shared by the two top-k accuracies: `k` is passed to the function."""

    _direction = "up"
    _config = ("k",)

    def __init__(self, k: int = 5, name: Optional[str] = None, dtype: Any = None, **kwargs: Any) -> None:
        self.k = F._check_k(type(self).__name__, k)
        super().__init__(name, dtype, k=self.k, **kwargs)


class TopKCategoricalAccuracy(_TopK):
    """Fraction of samples whose one-hot label's class is among the k highest scores (a
    tie with the k-th score counts as in).

    Args:
        k: how many of the highest scores count. Defaults to 5.
        name: name of the metric instance. Defaults to 'top_k_categorical_accuracy'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.TopKCategoricalAccuracy(k=1)
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    >>> m.result()
    0.5
    """

    name = "top_k_categorical_accuracy"
    _function = staticmethod(F.top_k_categorical_accuracy)


class SparseTopKCategoricalAccuracy(_TopK):
    """Fraction of samples whose integer label is among the k highest scores (a tie with
    the k-th score counts as in).

    Args:
        k: how many of the highest scores count. Defaults to 5.
        name: name of the metric instance. Defaults to 'sparse_top_k_categorical_accuracy'.
        dtype: kept in the config only.
        from_sorted_ids: y_pred holds class ids sorted by decreasing score instead of
            scores; a hit is the label among the first k ids.

    Example:

    >>> m = dlc.metrics.SparseTopKCategoricalAccuracy(k=1)
    >>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    >>> m.result()
    0.5
    """

    name = "sparse_top_k_categorical_accuracy"
    _function = staticmethod(F.sparse_top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: Optional[str] = None, dtype: Any = None,
                 from_sorted_ids: bool = False) -> None:
        self.from_sorted_ids = bool(from_sorted_ids)
        super().__init__(k, name, dtype, from_sorted_ids=self.from_sorted_ids)

    def get_config(self):
        config = super().get_config()
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
