"""Probabilistic and hinge metrics: the means of Keras 3's cross-entropies, KL divergence,
Poisson and hinge losses over every sample seen."""
from __future__ import annotations

from typing import Any, Optional

from dlc.metrics import functions as F
from dlc.metrics.base import _Wrapper, check_probability


class BinaryCrossentropy(_Wrapper):
    """Mean binary cross-entropy between labels in [0, 1] and predicted probabilities.

    Args:
        name: name of the metric instance. Defaults to 'binary_crossentropy'.
        dtype: kept in the config only.
        from_logits: whether y_pred are logits rather than probabilities.
        label_smoothing: in [0, 1]; labels become `y * (1 - s) + 0.5 * s`.

    Example:

    >>> m = dlc.metrics.BinaryCrossentropy()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 4)
    0.8149
    """

    name = "binary_crossentropy"
    _direction = "down"
    _config = ("from_logits", "label_smoothing")
    _function = staticmethod(F.binary_crossentropy)

    def __init__(self, name: Optional[str] = None, dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0.0) -> None:
        self.from_logits = bool(from_logits)
        self.label_smoothing = check_probability(type(self).__name__, "label_smoothing", label_smoothing)
        super().__init__(name, dtype, from_logits=self.from_logits, label_smoothing=self.label_smoothing)


class CategoricalCrossentropy(_Wrapper):
    """Mean categorical cross-entropy between one-hot (or soft) labels and class
    probabilities.

    Args:
        name: name of the metric instance. Defaults to 'categorical_crossentropy'.
        dtype: kept in the config only.
        from_logits: whether y_pred are logits rather than probabilities.
        label_smoothing: in [0, 1]; labels become `y * (1 - s) + s / num_classes`.
        axis: the class axis. Defaults to -1.

    Example:

    >>> m = dlc.metrics.CategoricalCrossentropy()
    >>> m.update_state([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    >>> round(m.result(), 4)
    1.1769
    """

    name = "categorical_crossentropy"
    _direction = "down"
    _config = ("from_logits", "label_smoothing", "axis")
    _function = staticmethod(F.categorical_crossentropy)

    def __init__(self, name: Optional[str] = None, dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis: int = -1) -> None:
        self.from_logits = bool(from_logits)
        self.label_smoothing = check_probability(type(self).__name__, "label_smoothing", label_smoothing)
        self.axis = axis
        super().__init__(name, dtype, from_logits=self.from_logits,
                         label_smoothing=self.label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_Wrapper):
    """Mean cross-entropy between integer labels and class probabilities.

    Args:
        name: name of the metric instance. Defaults to 'sparse_categorical_crossentropy'.
        dtype: kept in the config only.
        from_logits: whether y_pred are logits rather than probabilities.
        ignore_class: a label value whose samples are left out of the mean (e.g. padding),
            from its total and from its count. (Keras 3 on its torch backend leaves them out
            only when a sample_weight is given; without one they count as zeros.)
        axis: the class axis. Defaults to -1.

    Example:

    >>> m = dlc.metrics.SparseCategoricalCrossentropy()
    >>> m.update_state([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    >>> round(m.result(), 4)
    1.1769
    """

    name = "sparse_categorical_crossentropy"
    _direction = "down"
    _config = ("from_logits", "ignore_class", "axis")
    _function = staticmethod(F.sparse_categorical_crossentropy)

    def __init__(self, name: Optional[str] = None, dtype: Any = None, from_logits: bool = False,
                 ignore_class: Optional[int] = None, axis: int = -1) -> None:
        self.from_logits = bool(from_logits)
        self.ignore_class = ignore_class
        self.axis = axis
        super().__init__(name, dtype, from_logits=self.from_logits, ignore_class=ignore_class, axis=axis)

    def _values(self, y_true, y_pred):
        return F._sparse_crossentropy(type(self).__name__, y_true, y_pred, self.from_logits,
                                      self.ignore_class, self.axis)


class KLDivergence(_Wrapper):
    """Mean Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred))` per sample.

    Args:
        name: name of the metric instance. Defaults to 'kl_divergence'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.KLDivergence()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 4)
    0.4581
    """

    name = "kl_divergence"
    _direction = "down"
    _function = staticmethod(F.kl_divergence)


class Poisson(_Wrapper):
    """Mean Poisson loss `y_pred - y_true * log(y_pred)` over every value seen.

    Args:
        name: name of the metric instance. Defaults to 'poisson'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.Poisson()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> round(m.result(), 4)
    0.5
    """

    name = "poisson"
    _direction = "down"
    _function = staticmethod(F.poisson)


class Hinge(_Wrapper):
    """Mean hinge loss `max(1 - y_true * y_pred, 0)`; labels in {0, 1} become {-1, 1}.

    Args:
        name: name of the metric instance. Defaults to 'hinge'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.Hinge()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 4)
    1.3
    """

    name = "hinge"
    _direction = "down"
    _function = staticmethod(F.hinge)


class SquaredHinge(_Wrapper):
    """Mean squared hinge loss `max(1 - y_true * y_pred, 0) ** 2`; labels in {0, 1} become
    {-1, 1}.

    Args:
        name: name of the metric instance. Defaults to 'squared_hinge'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.SquaredHinge()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 4)
    1.86
    """

    name = "squared_hinge"
    _direction = "down"
    _function = staticmethod(F.squared_hinge)


class CategoricalHinge(_Wrapper):
    """Mean categorical hinge `max(max(wrong-class scores) - true-class score + 1, 0)`.

    Args:
        name: name of the metric instance. Defaults to 'categorical_hinge'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.CategoricalHinge()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 4)
    1.4
    """

    name = "categorical_hinge"
    _direction = "down"
    _function = staticmethod(F.categorical_hinge)
