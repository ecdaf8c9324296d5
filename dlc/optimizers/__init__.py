"""Optimizers with Keras 3's names, defaults and formulas. Each step is one C call per
contiguous run of trainable weights in the model's parameter arena.

Keras 2 spellings still common in course material work, with a DeprecationWarning naming the
Keras 3 one: `lr=` (learning_rate) and `decay=` (an InverseTimeDecay schedule).

Example:

>>> model.compile(optimizer=dlc.optimizers.Adadelta(learning_rate=1.0), loss="categorical_crossentropy")
"""
from __future__ import annotations

from typing import Any

from dlc import _C
from dlc._registry import Registry
from dlc.optimizers import schedules
from dlc.optimizers.base_optimizer import Optimizer, nonneg

class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum (Keras 3).

    `momentum == 0`: `w -= lr * g`. Otherwise `v = momentum * v - lr * g` and `w += v`, or with
    `nesterov=True`, `w += momentum * v - lr * g`.

    Args:
        learning_rate: default 0.01.
        momentum: float >= 0, default 0.
        nesterov: whether to apply Nesterov momentum.
    """

    _config = Optimizer._config + ("momentum", "nesterov")

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.momentum = nonneg(momentum, "momentum", "SGD", 1.0)
        self.nesterov = bool(nesterov)
        self._state_names = ("momentum",) if self.momentum else ()

    def _step(self, w, g, s, lr):
        _C.sgd_step(w, g, s.get("momentum"), learning_rate=lr, momentum=self.momentum,
                    nesterov=self.nesterov, weight_decay=self.weight_decay)


class RMSprop(Optimizer):
    """RMSprop (Keras 3): `v = rho * v + (1 - rho) * g^2; w -= lr * g / sqrt(v + epsilon)`, with
    optional momentum and centering.

    Args:
        learning_rate: default 0.001. rho: default 0.9. momentum: default 0.
        epsilon: default 1e-7 (inside the square root, as Keras). centered: default False.
    """

    _config = Optimizer._config + ("rho", "momentum", "epsilon", "centered")

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho = nonneg(rho, "rho", "RMSprop", 1.0)
        self.momentum = nonneg(momentum, "momentum", "RMSprop", 1.0)
        self.epsilon = nonneg(epsilon, "epsilon", "RMSprop")
        self.centered = bool(centered)
        self._state_names = ("velocity",) + (("momentum",) if self.momentum else ()) + (("average_gradient",) if self.centered else ())

    def _step(self, w, g, s, lr):
        _C.rmsprop_step(w, g, s["velocity"], s.get("momentum"), s.get("average_gradient"),
                        learning_rate=lr, rho=self.rho, momentum=self.momentum, epsilon=self.epsilon,
                        centered=self.centered, weight_decay=self.weight_decay)


class Adagrad(Optimizer):
    """Adagrad (Keras 3): `acc += g^2; w -= lr * g / sqrt(acc + epsilon)`.

    Args:
        learning_rate: default 0.001. initial_accumulator_value: default 0.1. epsilon: default 1e-7.
    """

    _config = Optimizer._config + ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = nonneg(initial_accumulator_value, "initial_accumulator_value", "Adagrad")
        self.epsilon = nonneg(epsilon, "epsilon", "Adagrad")
        self._state_names = ("accumulator",)

    def _init_state(self):
        self._state["accumulator"].fill(self.initial_accumulator_value)

    def _step(self, w, g, s, lr):
        _C.adagrad_step(w, g, s["accumulator"], learning_rate=lr, epsilon=self.epsilon,
                        weight_decay=self.weight_decay)


class Adam(Optimizer):
    """Adam (Keras 3), bias-corrected: `w -= lr_t * m / (sqrt(v) + epsilon)` with
    `lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`.

    Args:
        learning_rate: default 0.001. beta_1: 0.9. beta_2: 0.999. epsilon: 1e-7. amsgrad: False.
    """

    _config = Optimizer._config + ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = nonneg(beta_1, "beta_1", "Adam", 1.0)
        self.beta_2 = nonneg(beta_2, "beta_2", "Adam", 1.0)
        self.epsilon = nonneg(epsilon, "epsilon", "Adam")
        self.amsgrad = bool(amsgrad)
        self._state_names = ("m", "v") + (("vhat",) if self.amsgrad else ())

    def _step(self, w, g, s, lr):
        _C.adam_step(w, g, s["m"], s["v"], s.get("vhat"), learning_rate=lr, beta_1=self.beta_1,
                     beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad,
                     step=self.iterations, weight_decay=self.weight_decay)


class Adadelta(Optimizer):
    """Adadelta (Keras 3). The original Keras CNN-MNIST example used `Adadelta(learning_rate=1.0)`
    (Keras 2's default); Keras 3's default learning rate is 0.001.

    Args:
        learning_rate: default 0.001. rho: default 0.95. epsilon: default 1e-7.
    """

    _config = Optimizer._config + ("rho", "epsilon")

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho = nonneg(rho, "rho", "Adadelta", 1.0)
        self.epsilon = nonneg(epsilon, "epsilon", "Adadelta")
        self._state_names = ("accumulated_grad", "accumulated_delta")

    def _step(self, w, g, s, lr):
        _C.adadelta_step(w, g, s["accumulated_grad"], s["accumulated_delta"], learning_rate=lr,
                         rho=self.rho, epsilon=self.epsilon, weight_decay=self.weight_decay)


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


def serialize(optimizer: Optimizer) -> Any:
    """`{'class_name', 'config'}` of an optimizer."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: Any) -> Optimizer:
    """An optimizer from its `serialize()` form (a schedule inside it too)."""
    return _REGISTRY.lookup(config["class_name"]).from_config(config.get("config") or {})


__all__ = ["SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Adadelta", "Optimizer", "schedules", "get",
           "serialize", "deserialize"]


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
