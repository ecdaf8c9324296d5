"""Activation functions, each backed by a forward and a backward C kernel.

`get('relu')` returns an activation object: callable on a NumPy array like Keras's function
(`dlc.activations.relu(x)`), and used by layers through `forward(x, y)` (writes y) and
`backward(x, y, dy, dx)` (accumulates dx += dy * f'(x)).

Example:

>>> dlc.activations.get("relu")(np.array([-1.0, 2.0], np.float32))
array([0., 2.], dtype=float32)
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from dlc import _C, _checks
from dlc._registry import Registry


def _as_input(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


class Activation:
    """An activation: `forward(x, y)`, `backward(x, y, dy, dx)` and `__call__(x)`."""

    name = "activation"
    is_linear = False
    is_softmax = False
    # y = f(z) may overwrite z, and f'(z) is recoverable from y (backward may get y as x).
    in_place_ok = False
    # max(z, 0) exactly: kernels may fuse it (conv/GEMM stores, the y > 0 mask of backward).
    is_plain_relu = False
    # forward is one dlc._C kernel call on its arrays (or nothing): a recorded plan replays it.
    in_kernels = False

    def forward(self, x: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def backward(self, x: np.ndarray, y: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> None:
        raise NotImplementedError

    def __call__(self, x) -> np.ndarray:
        x = _as_input(x)
        y = np.empty_like(x)
        self.forward(x, y)
        return y

    def get_config(self) -> Dict[str, Any]:
        return {}

    def serialize(self) -> Any:
        return self.name

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


class Linear(Activation):
    name = "linear"
    is_linear = True
    in_kernels = True

    def forward(self, x, y):
        np.copyto(y, x)

    def backward(self, x, y, dy, dx):
        np.add(dx, dy, out=dx)


class ReLU(Activation):
    """Keras's general ReLU: max_value cap, threshold, negative_slope below it."""

    name = "relu"
    in_kernels = True

    def __init__(self, negative_slope: float = 0.0, max_value: Optional[float] = None,
                 threshold: float = 0.0) -> None:
        inf = float("inf")
        negative_slope = _checks.check_float(type(self).__name__, "negative_slope", negative_slope, 0.0, inf)
        max_value = _checks.check_float(type(self).__name__, "max_value", max_value, 0.0, inf, allow_none=True)
        threshold = _checks.check_float(type(self).__name__, "threshold", threshold, -inf, inf)
        self.kw = dict(negative_slope=float(negative_slope), threshold=float(threshold),
                       max_value=None if max_value is None else float(max_value))

    def forward(self, x, y):
        _C.relu_forward(x, y, **self.kw)

    def backward(self, x, y, dy, dx):
        _C.relu_backward(x, dy, dx, **self.kw)

    @property
    def in_place_ok(self) -> bool:
        # max(z, 0): z > 0 exactly where y > 0, so the mask can be read from y.
        return self.is_plain_relu

    @property
    def is_plain_relu(self) -> bool:
        return self.kw == dict(negative_slope=0.0, threshold=0.0, max_value=None)

    def get_config(self):
        return dict(self.kw)

    def serialize(self):
        default = self.kw == dict(negative_slope=0.0, threshold=0.0, max_value=None)
        return "relu" if default else {"class_name": "relu", "config": self.get_config()}


class LeakyReLU(ReLU):
    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.2) -> None:
        super().__init__(negative_slope=negative_slope)

    def serialize(self):
        return "leaky_relu"


class ELU(Activation):
    name = "elu"
    in_kernels = True

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = _checks.check_float("ELU", "alpha", alpha, -float("inf"), float("inf"))

    def forward(self, x, y):
        _C.elu_forward(x, y, alpha=self.alpha)

    def backward(self, x, y, dy, dx):
        _C.elu_backward(x, y, dy, dx, alpha=self.alpha)

    def get_config(self):
        return {"alpha": self.alpha}


class _Kernels(Activation):
    """An activation that is one `_C` forward kernel `(x, y)` and one backward kernel
    `(x or y, dy, dx)`: `_backward_reads` says whether its derivative is computed from the
    input ('x') or is a function of the output ('y')."""

    _forward: Any = None
    _backward: Any = None
    _backward_reads = "x"
    in_kernels = True

    def forward(self, x, y):
        type(self)._forward(x, y)

    def backward(self, x, y, dy, dx):
        type(self)._backward(y if self._backward_reads == "y" else x, dy, dx)


class _FromOutput(_Kernels):
    """An activation whose derivative is a function of its output (backward reads y only)."""

    _backward_reads = "y"


class Sigmoid(_FromOutput):
    name = "sigmoid"
    _forward, _backward = _C.sigmoid_forward, _C.sigmoid_backward


class Tanh(_FromOutput):
    name = "tanh"
    _forward, _backward = _C.tanh_forward, _C.tanh_backward


class _FromInput(_Kernels):
    """An activation whose derivative is computed from its input x (backward reads x)."""

    _backward_reads = "x"


class SiLU(_FromInput):
    """SiLU (swish): `x * sigmoid(x)`."""

    name = "silu"
    _forward, _backward = _C.silu_forward, _C.silu_backward


class GELU(_FromInput):
    """GELU, exact: `x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))` (Keras's approximate=False)."""

    name = "gelu"
    _forward, _backward = _C.gelu_forward, _C.gelu_backward

    def __init__(self, approximate: bool = False) -> None:
        if approximate:
            raise NotImplementedError("gelu: approximate=True (the tanh approximation) is not "
                                      "supported by dlc; use the exact form (approximate=False)")


class Softmax(Activation):
    """Softmax over the last axis."""

    name = "softmax"
    is_softmax = True
    in_kernels = True

    def forward(self, x, y):
        _C.softmax_forward(x, y)

    def backward(self, x, y, dy, dx):
        _C.softmax_backward(y, dy, dx)


def relu(x, negative_slope: float = 0.0, max_value: Optional[float] = None,
         threshold: float = 0.0) -> np.ndarray:
    """Rectified linear unit: `max(x, 0)`, with Keras's optional slope, cap and threshold."""
    return ReLU(negative_slope, max_value, threshold)(x)


def leaky_relu(x, negative_slope: float = 0.2) -> np.ndarray:
    """Leaky ReLU: `x` if x >= 0 else `negative_slope * x`."""
    return LeakyReLU(negative_slope)(x)


def elu(x, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit: `x` if x > 0 else `alpha * (exp(x) - 1)`."""
    return ELU(alpha)(x)


def sigmoid(x) -> np.ndarray:
    """Logistic sigmoid `1 / (1 + exp(-x))`."""
    return Sigmoid()(x)


def tanh(x) -> np.ndarray:
    """Hyperbolic tangent."""
    return Tanh()(x)


def softmax(x, axis: int = -1) -> np.ndarray:
    """Softmax over the last axis: `exp(x) / sum(exp(x))`."""
    if axis not in (-1, np.ndim(x) - 1):
        raise ValueError(f"softmax: only the last axis is supported, received axis={axis}")
    return Softmax()(x)


def silu(x) -> np.ndarray:
    """SiLU, also called swish: `x * sigmoid(x)`.

    Example:

    >>> dlc.activations.silu(np.array([-1.0, 0.0, 2.0], np.float32))
    """
    return SiLU()(x)


swish = silu


def gelu(x, approximate: bool = False) -> np.ndarray:
    """Gaussian error linear unit, `x * Phi(x)` with Phi the standard normal CDF.

    Args:
        approximate: Keras's tanh approximation; dlc computes the exact form only.
    """
    return GELU(approximate)(x)


def linear(x) -> np.ndarray:
    """The identity."""
    return _as_input(x).copy()


_REGISTRY = Registry("activation", Activation, {
    "linear": Linear, "relu": ReLU, "leaky_relu": LeakyReLU, "elu": ELU,
    "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax, "silu": SiLU, "swish": SiLU, "gelu": GELU,
})
_FUNCS = {relu: ReLU, leaky_relu: LeakyReLU, elu: ELU, sigmoid: Sigmoid, tanh: Tanh,
          softmax: Softmax, linear: Linear, silu: SiLU, gelu: GELU}


def get(identifier: Any) -> Activation:
    """An activation from None (linear), a name, one of this module's functions, a config
    dict, or an Activation instance.

    Raises:
        ValueError: for an unknown name.
    """
    if identifier is None:
        return Linear()
    if callable(identifier) and identifier in _FUNCS:
        return _FUNCS[identifier]()
    try:
        return _REGISTRY.get(identifier)
    except TypeError:
        raise TypeError(
            f"Could not interpret activation {identifier!r}: dlc runs activations in C, so pass a "
            f"name such as 'relu' or one of dlc.activations' functions"
        ) from None


def serialize(act: Activation) -> Any:
    return act.serialize()




from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
