"""Learning-rate schedules with Keras 3's names, arguments and formulas: a schedule maps the
optimizer's step count (from 0) to a learning rate.

Example:

>>> lr = dlc.optimizers.schedules.CosineDecay(0.01, decay_steps=10_000, warmup_target=0.05,
...                                           warmup_steps=500)
>>> optimizer = dlc.optimizers.Adam(learning_rate=lr)
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from dlc._registry import Configurable, Registry
from dlc._registry import serialize as _serialize


def _positive(value: Any, name: str, schedule: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{schedule}: argument `{name}` must be > 0, received {value!r}")
    return value


class LearningRateSchedule(Configurable):
    """Base class: a callable `schedule(step) -> learning rate`, rebuilt from `get_config()`."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError


class _DecayPerSteps(LearningRateSchedule):
    """The schedules that decay `initial_learning_rate` by `decay_rate` once per `decay_steps`
    steps (continuously, or in whole periods when `staircase`)."""

    _config = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name")

    def _set(self, owner: str, initial_learning_rate: float, decay_steps: int, decay_rate: float,
             staircase: bool, name: str) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive(decay_steps, "decay_steps", owner)
        self.decay_rate, self.staircase, self.name = float(decay_rate), bool(staircase), name

    def _periods(self, step) -> float:
        """`step / decay_steps`, floored when `staircase`."""
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p


class ExponentialDecay(_DecayPerSteps):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`, the exponent floored when
    `staircase`."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        self._set("ExponentialDecay", initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._periods(step)


class InverseTimeDecay(_DecayPerSteps):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`, floored when
    `staircase` (Keras 2's `decay=` argument is this schedule with decay_steps=1)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        self._set("InverseTimeDecay", initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate / (1 + self.decay_rate * self._periods(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, then `values[-1]`."""

    _config = ("boundaries", "values", "name")

    def __init__(self, boundaries: Sequence[int], values: Sequence[float], name: str = "PiecewiseConstant") -> None:
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay: argument `values` must have one more entry than "
                             f"`boundaries` ({len(boundaries)}), received {len(values)}")
        self.boundaries, self.values, self.name = list(boundaries), [float(v) for v in values], name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]


class PolynomialDecay(LearningRateSchedule):
    """From `initial_learning_rate` to `end_learning_rate` over `decay_steps` as
    `(1 - step / decay_steps) ** power`; with `cycle`, the horizon grows by decay_steps."""

    _config = ("initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle", "name")

    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay") -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive(decay_steps, "decay_steps", "PolynomialDecay")
        self.end_learning_rate, self.power = float(end_learning_rate), float(power)
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step):
        horizon = self.decay_steps
        if self.cycle:
            horizon = self.decay_steps * (1.0 if step == 0 else math.ceil(step / self.decay_steps))
        else:
            step = min(step, self.decay_steps)
        p = step / horizon
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power + self.end_learning_rate


class CosineDecay(LearningRateSchedule):
    """An optional linear warmup from `initial_learning_rate` to `warmup_target` over
    `warmup_steps`, then a cosine decay over `decay_steps` down to `alpha` times the peak."""

    _config = ("initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target", "warmup_steps")

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: Optional[float] = None, warmup_steps: int = 0) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive(decay_steps, "decay_steps", "CosineDecay")
        self.alpha, self.name = float(alpha), name
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = warmup_steps

    def _decayed(self, step: float, peak: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return peak * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        if self.warmup_target is None:
            return self._decayed(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * step / self.warmup_steps + self.initial_learning_rate
        return self._decayed(step - self.warmup_steps, self.warmup_target)


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods of `first_decay_steps`, each `t_mul`
    times longer than the last and starting `m_mul` times lower."""

    _config = ("initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha", "name")

    def __init__(self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0,
                 m_mul: float = 1.0, alpha: float = 0.0, name: str = "SGDRDecay") -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.first_decay_steps = _positive(first_decay_steps, "first_decay_steps", "CosineDecayRestarts")
        self.t_mul, self.m_mul, self.alpha, self.name = float(t_mul), float(m_mul), float(alpha), name

    def __call__(self, step):
        fraction = step / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(math.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul))
            done = (1.0 - self.t_mul ** restart) / (1.0 - self.t_mul)
            fraction = (fraction - done) / self.t_mul ** restart
        cosine = 0.5 * self.m_mul ** restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)


_REGISTRY = Registry("learning-rate schedule", LearningRateSchedule, {
    "exponential_decay": ExponentialDecay, "inverse_time_decay": InverseTimeDecay,
    "piecewise_constant_decay": PiecewiseConstantDecay, "polynomial_decay": PolynomialDecay,
    "cosine_decay": CosineDecay, "cosine_decay_restarts": CosineDecayRestarts,
})


def serialize(schedule: LearningRateSchedule) -> Any:
    """`{'class_name', 'config'}` of a schedule."""
    return _serialize(schedule)


def deserialize(config: Any) -> LearningRateSchedule:
    """A schedule from its `serialize()` form."""
    return _REGISTRY.get(config)


__all__ = ["CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
           "LearningRateSchedule", "PiecewiseConstantDecay", "PolynomialDecay", "deserialize", "serialize"]
