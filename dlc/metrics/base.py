"""The metric protocol and the reductions every metric is built from: `Metric`, `Sum`, `Mean`
and `MeanMetricWrapper`, plus the array helpers (shape alignment, sample weights) that give
every metric Keras 3's broadcasting rules.

State is kept in Python floats (float64) or float64 arrays and summed over every sample seen
since the last `reset_state()`: a result is never an average of batch averages.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

# Keras's backend.epsilon(), as the float32 value Keras computes with.
EPSILON = float(np.float32(1e-7))
ONE_MINUS_EPSILON = float(np.float32(1.0) - np.float32(1e-7))


# ---- array helpers ---------------------------------------------------------------------

def as_array(x: Any, arg: str, owner: str, dtype: Any = np.float64) -> np.ndarray:
    """`x` as a NumPy array of `dtype`, or TypeError naming the argument and what it got."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{owner}: argument `{arg}` must be an array of numbers, received "
                        f"{type(x).__name__} {x!r:.80}") from e


def same_rank(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Keras's rank alignment: when the ranks differ by one and the longer one ends in a
    dimension of 1, squeeze that dimension (or, if the shorter one has rank 1 and
    `expand_rank_1`, add a trailing 1 to the shorter one instead)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def check_same_shape(owner: str, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    """ValueError naming both shapes when y_true and y_pred differ."""
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{owner}: y_true and y_pred must have the same shape, received "
                         f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")


def pair(owner: str, y_true: Any, y_pred: Any) -> Tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred) as float64 arrays of one shape, after Keras's rank alignment."""
    p = as_array(y_pred, "y_pred", owner)
    t = as_array(y_true, "y_true", owner)
    t, p = same_rank(t, p)
    check_same_shape(owner, t, p)
    return t, p


def broadcast_weights(owner: str, sample_weight: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """sample_weight broadcast to `shape`, or ValueError naming both shapes."""
    try:
        return np.broadcast_to(sample_weight, shape)
    except ValueError:
        raise ValueError(f"{owner}: argument `sample_weight` of shape {sample_weight.shape} "
                         f"does not broadcast to the per-sample values of shape {tuple(shape)}; "
                         "pass one weight per sample, shape (batch_size,)") from None


def per_sample(owner: str, values: Any, sample_weight: Any, reduce: Callable[..., np.ndarray]
               ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Keras's reduction of `values` to one (weighted) value per sample.

    Weights are aligned to the values' rank, values with more dimensions than the weights
    are reduced (by `reduce`) down to the weights' rank, the weights are broadcast to the
    values and multiplied in (a zero weight drops its value, even a NaN one), then both are
    reduced to one entry per sample. Returns (values, weights or None).
    """
    v = as_array(values, "values", owner)
    w = None
    if sample_weight is not None:
        w = as_array(sample_weight, "sample_weight", owner)
        v, w = same_rank(v, w)
        if v.ndim > w.ndim:
            v = reduce(v, axis=tuple(range(w.ndim, v.ndim)))
        w = broadcast_weights(owner, w, v.shape)
        v = np.where(w != 0, v * w, 0.0)
        if w.ndim > 1:
            w = reduce(w, axis=tuple(range(1, w.ndim)))
    if v.ndim > 1:
        v = reduce(v, axis=tuple(range(1, v.ndim)))
    return v, w


def divide_no_nan(a: Any, b: Any) -> np.ndarray:
    """a / b, with 0 where b is 0 (Keras's ops.divide_no_nan)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def check_probability(owner: str, arg: str, value: Any, low_open: bool = False) -> float:
    """`value` as a float in [0, 1] ((0, 1] with low_open), else ValueError naming `arg`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{owner}: argument `{arg}` must be a number in "
                         f"{'(0, 1]' if low_open else '[0, 1]'}, received {value!r}")
    v = float(value)
    if not (0.0 < v <= 1.0 if low_open else 0.0 <= v <= 1.0):
        raise ValueError(f"{owner}: argument `{arg}` must be in {'(0, 1]' if low_open else '[0, 1]'}, "
                         f"received {arg}={value!r}")
    return v


def accumulate(metric: Any, names: Tuple[str, ...], values: Tuple[Any, ...]) -> None:
    """Add each of `values` to the state attribute of `metric` named at the same position in
    `names`; an attribute still None (nothing seen since `reset_state()`) takes the value."""
    for name, value in zip(names, values):
        total = getattr(metric, name)
        setattr(metric, name, value if total is None else total + value)


# ---- the metric protocol --------------------------------------------------------------

class Metric:
    """Base class of every metric: state accumulated by `update_state`, read by `result`.

    A metric sums what it needs over every batch given to `update_state(y_true, y_pred,
    sample_weight=None)` since the last `reset_state()`; `result()` turns those sums into
    the value (a float, or an array for metrics with several thresholds or classes).
    Calling the metric updates it and returns the result, as in Keras.

    Subclasses set the class attributes `name` (the default name), `_config` (constructor
    arguments reported by `get_config`, each read from the attribute of the same name) and
    `_direction` ('up' when larger is better, 'down' when smaller is).

    Args:
        name: name of the metric instance (its key in the training logs).
        dtype: accepted for Keras compatibility and kept in the config; dlc always
            accumulates in float64.

    Example:

    >>> class Count(dlc.metrics.Metric):
    ...     def reset_state(self):
    ...         self.n = 0
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         self.n += len(y_true)
    ...     def result(self):
    ...         return float(self.n)
    """

    name = "metric"
    _config: Tuple[str, ...] = ()
    _direction: Optional[str] = None

    def __init__(self, name: Optional[str] = None, dtype: Any = None) -> None:
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"{type(self).__name__}: argument `name` must be a string, received {name!r}")
            self.name = name
        self.dtype = dtype
        self.reset_state()

    def reset_state(self) -> None:
        raise NotImplementedError

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> Dict[str, Any]:
        config = {"name": self.name, "dtype": self.dtype if self.dtype is not None else "float32"}
        for key in self._config:
            value = getattr(self, key)
            config[key] = list(value) if isinstance(value, tuple) else value
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Metric":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Sum(Metric):
    """The (weighted) sum of the values given to `update_state(values, sample_weight=None)`.

    Args:
        name: name of the metric instance.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.Sum()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    4.0
    """

    name = "sum"

    def reset_state(self) -> None:
        self.total = 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        v, _ = per_sample(type(self).__name__, values, sample_weight, np.sum)
        self.total += float(v.sum())

    def result(self) -> float:
        return self.total


class Mean(Metric):
    """The (weighted) mean of the values given to `update_state(values, sample_weight=None)`.

    Values with more dimensions than one per sample are first averaged within each sample;
    the result is then sum(value * weight) / sum(weight) over every sample seen (0.0 before
    any). A scalar weight with an array of values counts the array's mean with that weight.

    Args:
        name: name of the metric instance.
        dtype: kept in the config only.

    Example:

    >>> m = dlc.metrics.Mean()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    2.0
    """

    name = "mean"

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        v, w = per_sample(type(self).__name__, values, sample_weight, np.mean)
        self.total += float(v.sum())
        if w is not None:
            self.count += float(w.sum())
        else:
            self.count += v.shape[0] if v.ndim else 1

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The mean of a per-sample function `fn(y_true, y_pred, **kwargs)` over every sample.

    Most of Keras's metrics are this: mean squared error is
    `MeanMetricWrapper(mean_squared_error)`. `fn` returns one value per sample (or per
    element; those are averaged within each sample), and the result is their weighted mean.

    Args:
        fn: the per-sample function, e.g. one of this module's functions or your own
            function of NumPy arrays.
        name: name of the metric instance. Defaults to 'mean_metric_wrapper'.
        dtype: kept in the config only.
        **kwargs: keyword arguments passed to `fn` on every call.

    Example:

    >>> def abs_error(y_true, y_pred):
    ...     return np.abs(np.asarray(y_true) - np.asarray(y_pred))
    >>> m = dlc.metrics.MeanMetricWrapper(abs_error, name="abs_error")
    >>> m.update_state([[0.0], [1.0]], [[0.5], [0.5]])
    >>> m.result()
    0.5
    """

    name = "mean_metric_wrapper"
    _fn_in_config = True  # False for the built-in subclasses, whose class fixes fn

    def __init__(self, fn: Callable[..., Any], name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        if isinstance(fn, str):
            from dlc.metrics.functions import function_named

            fn = function_named(fn)
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: argument `fn` must be a function "
                            f"fn(y_true, y_pred), received {fn!r}")
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name, dtype)

    def _values(self, y_true: Any, y_pred: Any) -> Tuple[Any, Optional[np.ndarray]]:
        """The per-sample values and a mask of the valid ones (None: all are valid)."""
        return self._fn(y_true, y_pred, **self._fn_kwargs), None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        values, mask = self._values(y_true, y_pred)
        if mask is not None:
            mask = mask.astype(np.float64)
            if sample_weight is None:
                sample_weight = mask
            else:
                w = as_array(sample_weight, "sample_weight", type(self).__name__)
                w = w.reshape(w.shape + (1,) * max(0, mask.ndim - w.ndim))
                sample_weight = broadcast_weights(type(self).__name__, w, mask.shape) * mask
        super().update_state(values, sample_weight)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        if type(self)._fn_in_config:
            from dlc.metrics.functions import FUNCTIONS

            name = getattr(self._fn, "__name__", None)
            config["fn"] = name if FUNCTIONS.get(name) is self._fn else self._fn
            config.update(self._fn_kwargs)
        return config


class _Wrapper(MeanMetricWrapper):
    """A built-in mean of one of this package's functions (the class fixes the function)."""

    _fn_in_config = False
    _function = None  # the per-sample function, set by each class

    def __init__(self, name: Optional[str] = None, dtype: Any = None, **kwargs: Any) -> None:
        MeanMetricWrapper.__init__(self, type(self)._function, name=name, dtype=dtype, **kwargs)
