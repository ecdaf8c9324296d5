"""The optimizer base class: learning rate (a float or a schedule), decoupled weight decay,
gradient clipping, the state buffers (one float per arena float and state name), their
iteration count, config and state round trips."""
from __future__ import annotations

import math
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from dlc._registry import Configurable
from dlc.optimizers import schedules as _schedules


def nonneg(value: Any, name: str, opt: str, upper: Optional[float] = None) -> float:
    """`value` as a finite float >= 0 (and <= upper), or an error naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{opt}: argument `{name}` must be a number, received {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (upper is not None and value > upper):
        rng = f"in [0, {upper}]" if upper is not None else "a finite number >= 0"
        raise ValueError(f"{opt}: argument `{name}` must be {rng}, received {value!r}")
    return value


class _Callable(_schedules.LearningRateSchedule):
    """A plain function `step -> learning rate` used as a schedule."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, step):
        return float(self.fn(step))

    def get_config(self):
        raise ValueError("a learning rate given as a plain function cannot be saved in a config: "
                         "use a dlc.optimizers.schedules.LearningRateSchedule")


class Optimizer(Configurable):
    """Base class of dlc's optimizers.

    Args:
        learning_rate: a float or a `dlc.optimizers.schedules.LearningRateSchedule`.
        weight_decay: decoupled weight decay (Keras 3: `w -= lr * weight_decay * w`).
        clipnorm: clip each weight's gradient to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
        name: the optimizer's name.
        lr, decay: Keras 2's spellings of `learning_rate` and of an InverseTimeDecay schedule
            (`lr / (1 + decay * iterations)`); accepted with a DeprecationWarning.
    """

    _state_names: Tuple[str, ...] = ()
    _config = ("name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue")

    def __init__(self, learning_rate: Union[float, _schedules.LearningRateSchedule] = 0.001,
                 weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None,
                 loss_scale_factor: Any = None, gradient_accumulation_steps: Any = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        opt = type(self).__name__
        if "lr" in kwargs:
            warnings.warn(f"{opt}: `lr` is the Keras 2 spelling; Keras 3 calls it `learning_rate`",
                          DeprecationWarning, stacklevel=3)
            learning_rate = kwargs.pop("lr")
        decay = kwargs.pop("decay", None)
        if kwargs:
            raise TypeError(f"{opt}: unrecognized keyword argument(s) {sorted(kwargs)}")
        if use_ema or loss_scale_factor is not None or gradient_accumulation_steps is not None:
            raise NotImplementedError(f"{opt}: use_ema, loss_scale_factor and gradient_accumulation_steps are not supported")
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError(f"{opt}: give at most one of `clipnorm` and `global_clipnorm`")
        self.name = name or opt.lower()  # Keras: "adam", "rmsprop", "sgd", ...
        self.learning_rate = learning_rate
        if decay:
            warnings.warn(f"{opt}: `decay` is Keras 2's learning-rate decay; in Keras 3 pass "
                          f"learning_rate=dlc.optimizers.schedules.InverseTimeDecay(lr, 1, decay)",
                          DeprecationWarning, stacklevel=3)
            if isinstance(self._learning_rate, _schedules.LearningRateSchedule):
                raise ValueError(f"{opt}: argument `decay` cannot be combined with a learning-rate schedule")
            self._learning_rate = _schedules.InverseTimeDecay(self._learning_rate, 1, nonneg(decay, "decay", opt))
        self.weight_decay = nonneg(weight_decay or 0.0, "weight_decay", opt)
        self.clipnorm = None if clipnorm is None else nonneg(clipnorm, "clipnorm", opt)
        self.clipvalue = None if clipvalue is None else nonneg(clipvalue, "clipvalue", opt)
        self.global_clipnorm = None if global_clipnorm is None else nonneg(global_clipnorm, "global_clipnorm", opt)
        self.iterations = 0
        self._state: Dict[str, np.ndarray] = {}
        self._arena_id: Optional[int] = None

    # learning_rate: a float attribute callbacks may set, or a schedule of the iterations.
    @property
    def learning_rate(self) -> float:
        lr = self._learning_rate
        return float(lr(self.iterations)) if isinstance(lr, _schedules.LearningRateSchedule) else lr

    @learning_rate.setter
    def learning_rate(self, value: Union[float, _schedules.LearningRateSchedule]) -> None:
        if isinstance(value, _schedules.LearningRateSchedule):
            self._learning_rate = value
        elif callable(value) and not isinstance(value, (int, float)):
            self._learning_rate = _Callable(value)
        else:
            self._learning_rate = nonneg(value, "learning_rate", type(self).__name__)

    @property
    def lr(self) -> float:
        """Keras 2's name of `learning_rate`."""
        return self.learning_rate

    @lr.setter
    def lr(self, value: float) -> None:
        self.learning_rate = value

    # ---------------------------------------------------------------- the update
    def _build(self, size: int, key: int) -> None:
        """(Re)creates the state buffers for an arena of `size` floats."""
        self._state = {n: np.zeros(size, np.float32) for n in self._state_names}
        self._init_state()
        self._arena_id = key

    def _init_state(self) -> None:
        pass

    def build(self, params: np.ndarray) -> None:
        """Creates the state buffers for a parameter arena (done by the first `apply`)."""
        if self._arena_id != id(params) or any(s.size != params.size for s in self._state.values()) \
                or len(self._state) != len(self._state_names):
            self._build(params.size, id(params))

    def apply(self, params: np.ndarray, grads: np.ndarray, runs: Sequence[Tuple[int, int]],
              variables: Sequence[Any] = ()) -> None:
        """One update of params from grads over the (start, stop) runs of the arena."""
        self.build(params)
        self._clip(grads, runs, variables)
        lr = self.learning_rate
        self.iterations += 1
        for start, stop in runs:
            sl = slice(start, stop)
            self._step(params[sl], grads[sl], {k: v[sl] for k, v in self._state.items()}, lr)

    def _clip(self, grads, runs, variables) -> None:
        if self.clipvalue is not None:
            for start, stop in runs:
                np.clip(grads[start:stop], -self.clipvalue, self.clipvalue, out=grads[start:stop])
        if self.clipnorm is not None:
            for v in variables:
                if v.grad is None:
                    continue
                norm = float(np.sqrt(np.dot(v.grad.ravel().astype(np.float64), v.grad.ravel())))
                if norm > self.clipnorm:
                    v.grad *= np.float32(self.clipnorm / norm)
        if self.global_clipnorm is not None:
            sq = sum(float(np.dot(grads[a:b].astype(np.float64), grads[a:b])) for a, b in runs)
            norm = math.sqrt(sq)
            if norm > self.global_clipnorm:
                for a, b in runs:
                    grads[a:b] *= np.float32(self.global_clipnorm / norm)

    def _step(self, w, g, state, lr) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- config and state
    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        lr = self._learning_rate
        config["learning_rate"] = _schedules.serialize(lr) if isinstance(lr, _schedules.LearningRateSchedule) else lr
        config["weight_decay"] = self.weight_decay or None
        config.update(use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                      loss_scale_factor=None, gradient_accumulation_steps=None)
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Optimizer":
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def variables(self) -> List[np.ndarray]:
        """The optimizer's state buffers (flat, one entry per arena float)."""
        return list(self._state.values())

    def get_state(self) -> Dict[str, Any]:
        """`{'iterations': int, 'slots': {state name: flat float32 array}}`, copies."""
        return {"iterations": int(self.iterations), "slots": {k: v.copy() for k, v in self._state.items()}}

    def set_state(self, params: np.ndarray, state: Dict[str, Any]) -> None:
        """Restores `get_state()`'s output for the parameter arena `params`.

        Raises:
            ValueError: when a slot is missing or does not match the arena's size.
        """
        self.build(params)
        slots = state.get("slots", {})
        for name in self._state_names:
            if name not in slots:
                raise ValueError(f"{type(self).__name__}.set_state: the saved state has no slot '{name}' "
                                 f"(it holds {sorted(slots)})")
            a = np.asarray(slots[name], np.float32).reshape(-1)
            if a.size != params.size:
                raise ValueError(f"{type(self).__name__}.set_state: slot '{name}' has {a.size} floats, the "
                                 f"model's arena {params.size}")
            np.copyto(self._state[name], a)
        self.iterations = int(state.get("iterations", 0))
