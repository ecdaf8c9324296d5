"""Regression metrics: errors, similarity, correlation and R^2, as Keras 3 defines them."""
from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

from dlc.metrics import functions as F
from dlc.metrics.base import (Mean, Metric, _Wrapper, accumulate, as_array, broadcast_weights,
                              check_same_shape, pair, same_rank)


class MeanSquaredError(_Wrapper):
    """Mean of `(y_true - y_pred) ** 2` over every value seen.

    Args:
        name: name of the metric instance. Defaults to 'mean_squared_error'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.MeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.25
    """

    name = "mean_squared_error"
    _direction = "down"
    _function = staticmethod(F.mean_squared_error)


class MeanAbsoluteError(_Wrapper):
    """Mean of `|y_true - y_pred|` over every value seen.

    Args:
        name: name of the metric instance. Defaults to 'mean_absolute_error'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.MeanAbsoluteError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.25
    """

    name = "mean_absolute_error"
    _direction = "down"
    _function = staticmethod(F.mean_absolute_error)


class MeanAbsolutePercentageError(_Wrapper):
    """Mean of `100 * |y_true - y_pred| / max(|y_true|, epsilon)` over every value seen.

    Args:
        name: name of the metric instance. Defaults to 'mean_absolute_percentage_error'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.MeanAbsolutePercentageError()
    >>> m.update_state([[2.0, 4.0]], [[1.0, 5.0]])
    >>> m.result()
    37.5
    """

    name = "mean_absolute_percentage_error"
    _direction = "down"
    _function = staticmethod(F.mean_absolute_percentage_error)


class MeanSquaredLogarithmicError(_Wrapper):
    """Mean of `(log(1 + y_pred) - log(1 + y_true)) ** 2` over every value seen.

    Args:
        name: name of the metric instance. Defaults to 'mean_squared_logarithmic_error'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.MeanSquaredLogarithmicError()
    >>> m.update_state([[0.0, 1.0]], [[1.0, 1.0]])
    >>> round(m.result(), 4)
    0.2402
    """

    name = "mean_squared_logarithmic_error"
    _direction = "down"
    _function = staticmethod(F.mean_squared_logarithmic_error)


class LogCoshError(_Wrapper):
    """Mean of `log(cosh(y_pred - y_true))` over every value seen.

    Args:
        name: name of the metric instance. Defaults to 'logcosh' (Keras's name).
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.LogCoshError()
    >>> m.update_state([[0.0, 1.0]], [[1.0, 1.0]])
    >>> round(m.result(), 4)
    0.2169
    """

    name = "logcosh"
    _direction = "down"
    _function = staticmethod(F.log_cosh)


class _AlongAxis(_Wrapper):
    """A built-in mean of a per-sample function of the values along `axis`."""

    _config = ("axis",)

    def __init__(self, name: Optional[str] = None, dtype: Any = None, axis: int = -1) -> None:
        self.axis = axis
        super().__init__(name, dtype, axis=axis)


class CosineSimilarity(_AlongAxis):
    """Mean cosine similarity between y_true and y_pred, one value per sample.

    Args:
        name: name of the metric instance. Defaults to 'cosine_similarity'.
        dtype: kept in the config only.
        axis: the axis along which the cosine is taken. Defaults to -1.

    Example:

    >>> m = dlc.metrics.CosineSimilarity()
    >>> m.update_state([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]])
    >>> round(m.result(), 4)
    0.5
    """

    name = "cosine_similarity"
    _direction = "up"
    _function = staticmethod(F.cosine_similarity)


class PearsonCorrelation(_AlongAxis):
    """Mean Pearson correlation between y_true and y_pred, computed along `axis` within each
    sample (as Keras 3 does: the correlation of each sample's values, then averaged).

    Args:
        name: name of the metric instance. Defaults to 'pearson_correlation'.
        dtype: kept in the config only.
        axis: the axis along which the correlation is taken. Defaults to -1.

    Example:

    >>> m = dlc.metrics.PearsonCorrelation()
    >>> m.update_state([[1.0, 2.0, 3.0]], [[2.0, 4.0, 7.0]])
    >>> round(m.result(), 4)
    0.9934
    """

    name = "pearson_correlation"
    _direction = "up"
    _function = staticmethod(F.pearson_correlation)


class ConcordanceCorrelation(_AlongAxis):
    """Mean concordance correlation between y_true and y_pred along `axis` within each
    sample, as Keras 3 defines it (see `concordance_correlation`).

    Args:
        name: name of the metric instance. Defaults to 'concordance_correlation'.
        dtype: kept in the config only.
        axis: the axis along which the correlation is taken. Defaults to -1.

    Example:

    >>> m = dlc.metrics.ConcordanceCorrelation()
    >>> m.update_state([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]])
    >>> m.result() > 0.9
    True
    """

    name = "concordance_correlation"
    _direction = "up"
    _function = staticmethod(F.concordance_correlation)


class RootMeanSquaredError(Mean):
    """Square root of the mean of `(y_true - y_pred) ** 2` over every value seen.

    Args:
        name: name of the metric instance. Defaults to 'root_mean_squared_error'.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.RootMeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.5
    """

    name = "root_mean_squared_error"
    _direction = "down"

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        t, p = pair(type(self).__name__, y_true, y_pred)
        super().update_state(np.square(p - t), sample_weight)

    def result(self) -> float:
        return float(np.sqrt(super().result()))


_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """The coefficient of determination R^2 of every sample seen, per output column.

    `1 - sum(w * (y_true - y_pred)**2) / sum(w * (y_true - mean(y_true))**2)` per column,
    where the mean is the weighted mean of all the y_true seen; columns are then combined as
    `class_aggregation` says.

    Args:
        class_aggregation: None (one score per column), 'uniform_average' (their mean, the
            default) or 'variance_weighted_average' (weighted by each column's variance).
        num_regressors: the number of independent variables p of a linear regression; when
            > 0 the adjusted R^2 `1 - (1 - R^2) (n - 1) / (n - p - 1)` is returned, with n
            the number of values seen (Keras counts every element of y_true).
        name: name of the metric instance. Defaults to 'r2_score'.
        dtype: kept in the config only.

    Inputs are 2D: (batch_size, output_dim); y_true of shape (batch_size,) is accepted with
    y_pred (batch_size, 1).

    Example:

    >>> m = dlc.metrics.R2Score()
    >>> m.update_state([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]])
    >>> round(m.result(), 4)
    0.5714
    """

    name = "r2_score"
    _direction = "up"
    _config = ("class_aggregation", "num_regressors")

    def __init__(self, class_aggregation: Optional[str] = "uniform_average", num_regressors: int = 0,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError(f"R2Score: argument `class_aggregation` must be one of {_AGGREGATIONS}, "
                             f"received class_aggregation={class_aggregation!r}")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, (int, np.integer)) \
                or num_regressors < 0:
            raise ValueError(f"R2Score: argument `num_regressors` must be an int >= 0, received "
                             f"num_regressors={num_regressors!r}")
        self.class_aggregation = class_aggregation
        self.num_regressors = int(num_regressors)
        super().__init__(name, dtype)

    def reset_state(self) -> None:
        self._sum = self._squared_sum = self._residual = self._count = None
        self.num_samples = 0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        owner = type(self).__name__
        p = as_array(y_pred, "y_pred", owner)
        t = as_array(y_true, "y_true", owner)
        t, p = same_rank(t, p)
        if t.ndim != 2 or p.ndim != 2:
            raise ValueError(f"{owner}: expects 2D inputs of shape (batch_size, output_dim), received "
                             f"y_true.shape={t.shape} and y_pred.shape={p.shape}")
        check_same_shape(owner, t, p)
        if self._sum is not None and self._sum.shape[0] != t.shape[1]:
            raise ValueError(f"{owner}: expects output_dim={self._sum.shape[0]} as in the earlier "
                             f"batches, received y_pred.shape={p.shape}")
        w = np.ones(()) if sample_weight is None else as_array(sample_weight, "sample_weight", owner)
        if w.ndim == 1:
            w = w[:, None]
        w = broadcast_weights(owner, w, t.shape)
        keep = w != 0
        wt = np.where(keep, t * w, 0.0)
        sums = (wt.sum(0), np.where(keep, t * wt, 0.0).sum(0),
                np.where(keep, np.square(t - p) * w, 0.0).sum(0), w.sum(0))
        accumulate(self, ("_sum", "_squared_sum", "_residual", "_count"), sums)
        self.num_samples += t.size

    def result(self) -> Any:
        if self._sum is None:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self._sum / self._count
            total = self._squared_sum - self._sum * mean
            raw = 1.0 - self._residual / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = np.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = np.sum(total * raw) / np.sum(total)
        else:
            r2 = raw
        if self.num_regressors:
            n, p = float(self.num_samples), float(self.num_regressors)
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. "
                              "Falling back to standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in adjusted R2 score. Falling back to standard R2 "
                              "score.", stacklevel=2)
            else:
                r2 = 1.0 - (1.0 - r2) * (n - 1.0) / (n - p - 1.0)
        r2 = np.asarray(r2, np.float64)
        return float(r2) if r2.ndim == 0 else r2
