"""Weight regularizers: penalties added to the loss, and their gradients added to the weights'
gradients before each optimizer step.

Example:

>>> layer = dlc.layers.Dense(64, kernel_regularizer=dlc.regularizers.L2(1e-4))
"""
from __future__ import annotations

from typing import Any

import numpy as np

from dlc._registry import Configurable, Registry
from dlc._registry import serialize as _serialize


class Regularizer(Configurable):
    """Base class: `__call__(w)` is the penalty, `gradient(w, out)` adds its gradient to out."""

    def __call__(self, w: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, w: np.ndarray, out: np.ndarray) -> None:
        raise NotImplementedError


def _check(value: float, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"Argument `{name}` must be a non-negative finite number, received {value!r}")
    return value


class L1L2(Regularizer):
    """`l1 * sum(|w|) + l2 * sum(w**2)`."""

    _config = ("l1", "l2")

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = _check(l1, "l1"), _check(l2, "l2")

    def __call__(self, w):
        w = np.asarray(w, np.float64)
        return float(self.l1 * np.abs(w).sum() + self.l2 * np.square(w).sum())

    def gradient(self, w, out):
        if self.l1:
            out += np.float32(self.l1) * np.sign(w)
        if self.l2:
            out += np.float32(2.0 * self.l2) * w


class L1(L1L2):
    """`l1 * sum(|w|)` (Keras default l1=0.01)."""

    _config = ("l1",)

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)


class L2(L1L2):
    """`l2 * sum(w**2)` (Keras default l2=0.01)."""

    _config = ("l2",)

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """L1L2 with Keras's function defaults."""
    return L1L2(l1, l2)


_REGISTRY = Registry("regularizer", Regularizer, {"l1": L1, "l2": L2, "l1_l2": l1_l2, "L1L2": L1L2})


def get(identifier: Any) -> Any:
    """A regularizer from None, a name ('l1', 'l2', 'l1_l2'), a config dict or an instance."""
    return None if identifier is None else _REGISTRY.get(identifier)


def serialize(reg: Any) -> Any:
    """`{'class_name': ..., 'config': ...}` of a regularizer (None stays None)."""
    return _serialize(reg)


# Keras's lowercase spellings: `dlc.regularizers.l2(1e-4)`.
l1 = L1
l2 = L2


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
