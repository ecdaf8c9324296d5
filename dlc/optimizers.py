"""Optimizers with Keras 3's names, defaults and formulas. Each step is one C call over the
model's whole parameter arena (one per contiguous run of trainable weights).

Example:

>>> model.compile(optimizer=dlc.optimizers.Adadelta(learning_rate=1.0), loss="categorical_crossentropy")
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from dlc import _C
from dlc._registry import Registry


class LearningRateSchedule:
    """Base class: a callable `schedule(step) -> learning rate` (step counts from 0)."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        return {}


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (floored exponent when
    staircase)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0, received {decay_steps!r}")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase, self.name = float(decay_rate), bool(staircase), name

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase, self.name = float(decay_rate), bool(staircase), name

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate / (1 + self.decay_rate * (math.floor(p) if self.staircase else p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[i]` while `boundaries[i-1] < step <= boundaries[i]`."""

    def __init__(self, boundaries: Sequence[int], values: Sequence[float], name: str = "PiecewiseConstant") -> None:
        if len(values) != len(boundaries) + 1:
            raise ValueError("PiecewiseConstantDecay: `values` must have one more entry than `boundaries`")
        self.boundaries, self.values, self.name = list(boundaries), [float(v) for v in values], name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]


class CosineDecay(LearningRateSchedule):
    """Cosine decay from `initial_learning_rate` to `alpha * initial_learning_rate` over
    `decay_steps`."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay") -> None:
        self.initial_learning_rate, self.decay_steps, self.alpha, self.name = float(initial_learning_rate), decay_steps, float(alpha), name

    def __call__(self, step):
        p = min(step, self.decay_steps) / self.decay_steps
        return self.initial_learning_rate * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * p)) + self.alpha)


class schedules:  # noqa: N801 - Keras's namespace: dlc.optimizers.schedules.ExponentialDecay
    LearningRateSchedule = LearningRateSchedule
    ExponentialDecay = ExponentialDecay
    InverseTimeDecay = InverseTimeDecay
    PiecewiseConstantDecay = PiecewiseConstantDecay
    CosineDecay = CosineDecay


def _nonneg(value: Any, name: str, opt: str, upper: Optional[float] = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{opt}: argument `{name}` must be a number, received {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (upper is not None and value > upper):
        rng = f"[0, {upper}]" if upper is not None else ">= 0"
        raise ValueError(f"{opt}: argument `{name}` must be {rng}, received {value!r}")
    return value


class Optimizer:
    """Base class of dlc's optimizers.

    Args:
        learning_rate: a float or a LearningRateSchedule.
        weight_decay: decoupled weight decay (Keras 3: `w -= lr * weight_decay * w`).
        clipnorm: clip each weight's gradient to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
    """

    _state_names: Tuple[str, ...] = ()

    def __init__(self, learning_rate: Union[float, LearningRateSchedule] = 0.001,
                 weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None,
                 loss_scale_factor: Any = None, gradient_accumulation_steps: Any = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        opt = type(self).__name__
        if kwargs:
            raise TypeError(f"{opt}: unrecognized keyword argument(s) {sorted(kwargs)}")
        if use_ema or loss_scale_factor is not None or gradient_accumulation_steps is not None:
            raise NotImplementedError(f"{opt}: use_ema, loss_scale_factor and gradient_accumulation_steps are not supported")
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError(f"{opt}: give at most one of `clipnorm` and `global_clipnorm`")
        self.name = name or _snake(opt)
        self.learning_rate = learning_rate
        self.weight_decay = _nonneg(weight_decay or 0.0, "weight_decay", opt)
        self.clipnorm = None if clipnorm is None else _nonneg(clipnorm, "clipnorm", opt)
        self.clipvalue = None if clipvalue is None else _nonneg(clipvalue, "clipvalue", opt)
        self.global_clipnorm = None if global_clipnorm is None else _nonneg(global_clipnorm, "global_clipnorm", opt)
        self.iterations = 0
        self._state: Dict[str, np.ndarray] = {}
        self._arena_id: Optional[int] = None

    # learning_rate: a float attribute callbacks may set, or a schedule.
    @property
    def learning_rate(self) -> float:
        lr = self._learning_rate
        return float(lr(self.iterations)) if isinstance(lr, LearningRateSchedule) else lr

    @learning_rate.setter
    def learning_rate(self, value: Union[float, LearningRateSchedule]) -> None:
        if isinstance(value, LearningRateSchedule) or callable(value) and not isinstance(value, (int, float)):
            self._learning_rate = value if isinstance(value, LearningRateSchedule) else _Callable(value)
            return
        self._learning_rate = _nonneg(value, "learning_rate", type(self).__name__)

    def _build(self, size: int, key: int) -> None:
        """(Re)creates the state buffers for an arena of `size` floats."""
        self._state = {n: np.zeros(size, np.float32) for n in self._state_names}
        self._init_state()
        self._arena_id = key

    def _init_state(self) -> None:
        pass

    def apply(self, params: np.ndarray, grads: np.ndarray, runs: Sequence[Tuple[int, int]],
              variables: Sequence[Any] = ()) -> None:
        """One update of params from grads over the (start, stop) runs of the arena."""
        if self._arena_id != id(params) or any(s.size != params.size for s in self._state.values()):
            self._build(params.size, id(params))
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

    def get_config(self) -> Dict[str, Any]:
        lr = self._learning_rate
        return {"name": self.name,
                "learning_rate": lr if isinstance(lr, float) else type(lr).__name__,
                "weight_decay": self.weight_decay or None, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}

    def variables(self) -> List[np.ndarray]:
        """The optimizer's state buffers (flat, one entry per arena float)."""
        return list(self._state.values())


class _Callable(LearningRateSchedule):
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, step):
        return float(self.fn(step))


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum (Keras 3).

    `momentum == 0`: `w -= lr * g`. Otherwise `v = momentum * v - lr * g` and `w += v`, or with
    `nesterov=True`, `w += momentum * v - lr * g`.

    Args:
        learning_rate: default 0.01.
        momentum: float >= 0, default 0.
        nesterov: whether to apply Nesterov momentum.
    """

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.momentum = _nonneg(momentum, "momentum", "SGD", 1.0)
        self.nesterov = bool(nesterov)
        self._state_names = ("momentum",) if self.momentum else ()

    def _step(self, w, g, s, lr):
        _C.sgd_step(w, g, s.get("momentum"), learning_rate=lr, momentum=self.momentum,
                    nesterov=self.nesterov, weight_decay=self.weight_decay)

    def get_config(self):
        c = super().get_config()
        c.update(momentum=self.momentum, nesterov=self.nesterov)
        return c


class RMSprop(Optimizer):
    """RMSprop (Keras 3): `v = rho * v + (1 - rho) * g^2; w -= lr * g / sqrt(v + epsilon)`, with
    optional momentum and centering.

    Args:
        learning_rate: default 0.001. rho: default 0.9. momentum: default 0.
        epsilon: default 1e-7 (inside the square root, as Keras). centered: default False.
    """

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho = _nonneg(rho, "rho", "RMSprop", 1.0)
        self.momentum = _nonneg(momentum, "momentum", "RMSprop", 1.0)
        self.epsilon = _nonneg(epsilon, "epsilon", "RMSprop")
        self.centered = bool(centered)
        self._state_names = ("velocity",) + (("momentum",) if self.momentum else ()) + (("average_gradient",) if self.centered else ())

    def _step(self, w, g, s, lr):
        _C.rmsprop_step(w, g, s["velocity"], s.get("momentum"), s.get("average_gradient"),
                        learning_rate=lr, rho=self.rho, momentum=self.momentum, epsilon=self.epsilon,
                        centered=self.centered, weight_decay=self.weight_decay)

    def get_config(self):
        c = super().get_config()
        c.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon, centered=self.centered)
        return c


class Adagrad(Optimizer):
    """Adagrad (Keras 3): `acc += g^2; w -= lr * g / sqrt(acc + epsilon)`.

    Args:
        learning_rate: default 0.001. initial_accumulator_value: default 0.1. epsilon: default 1e-7.
    """

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _nonneg(initial_accumulator_value, "initial_accumulator_value", "Adagrad")
        self.epsilon = _nonneg(epsilon, "epsilon", "Adagrad")
        self._state_names = ("accumulator",)

    def _init_state(self):
        self._state["accumulator"].fill(self.initial_accumulator_value)

    def _step(self, w, g, s, lr):
        _C.adagrad_step(w, g, s["accumulator"], learning_rate=lr, epsilon=self.epsilon,
                        weight_decay=self.weight_decay)

    def get_config(self):
        c = super().get_config()
        c.update(initial_accumulator_value=self.initial_accumulator_value, epsilon=self.epsilon)
        return c


class Adam(Optimizer):
    """Adam (Keras 3), bias-corrected: `w -= lr_t * m / (sqrt(v) + epsilon)` with
    `lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`.

    Args:
        learning_rate: default 0.001. beta_1: 0.9. beta_2: 0.999. epsilon: 1e-7. amsgrad: False.
    """

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _nonneg(beta_1, "beta_1", "Adam", 1.0)
        self.beta_2 = _nonneg(beta_2, "beta_2", "Adam", 1.0)
        self.epsilon = _nonneg(epsilon, "epsilon", "Adam")
        self.amsgrad = bool(amsgrad)
        self._state_names = ("m", "v") + (("vhat",) if self.amsgrad else ())

    def _step(self, w, g, s, lr):
        _C.adam_step(w, g, s["m"], s["v"], s.get("vhat"), learning_rate=lr, beta_1=self.beta_1,
                     beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad,
                     step=self.iterations, weight_decay=self.weight_decay)

    def get_config(self):
        c = super().get_config()
        c.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad)
        return c


class Adadelta(Optimizer):
    """Adadelta (Keras 3). The original Keras CNN-MNIST example used `Adadelta(learning_rate=1.0)`
    (Keras 2's default); Keras 3's default learning rate is 0.001.

    Args:
        learning_rate: default 0.001. rho: default 0.95. epsilon: default 1e-7.
    """

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho = _nonneg(rho, "rho", "Adadelta", 1.0)
        self.epsilon = _nonneg(epsilon, "epsilon", "Adadelta")
        self._state_names = ("accumulated_grad", "accumulated_delta")

    def _step(self, w, g, s, lr):
        _C.adadelta_step(w, g, s["accumulated_grad"], s["accumulated_delta"], learning_rate=lr,
                         rho=self.rho, epsilon=self.epsilon, weight_decay=self.weight_decay)

    def get_config(self):
        c = super().get_config()
        c.update(rho=self.rho, epsilon=self.epsilon)
        return c


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras 3 default weight_decay=0.004)."""

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004, **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


_REGISTRY = Registry("optimizer", Optimizer, {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad,
                                              "adam": Adam, "adadelta": Adadelta, "adamw": AdamW})


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name ('adam', 'sgd', ...; Keras defaults), a class, a config dict or
    an instance.

    Raises:
        ValueError: for an unknown name.
    """
    try:
        return _REGISTRY.get(identifier)
    except TypeError:
        raise ValueError(f"Could not interpret optimizer {identifier!r}: pass a name such as 'adam' "
                         f"or a dlc.optimizers instance") from None


def __getattr__(name):  # a name this module lacks: say so, and name the nearest ones
    from dlc._registry import missing_attribute

    return missing_attribute(__name__, globals())(name)
