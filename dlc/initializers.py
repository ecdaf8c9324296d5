"""Weight initializers, with Keras 3's names, arguments and formulas.

Every initializer is a callable `initializer(shape, dtype="float32") -> numpy.ndarray`. Random
ones draw from dlc's generator (seeded by `dlc.utils.set_random_seed`) unless given a `seed`.

Example:

>>> init = dlc.initializers.HeNormal(seed=0)
>>> init((3, 3, 1, 32)).std()  # about sqrt(2 / 9)
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from dlc import _random
from dlc._registry import Configurable, Registry
from dlc._registry import serialize as _serialize


def compute_fans(shape: Sequence[int]) -> Tuple[float, float]:
    """(fan_in, fan_out) as Keras computes them: a conv kernel (kh, kw, in, out) has
    fan_in = kh * kw * in and fan_out = kh * kw * out."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer(Configurable):
    """Base class: subclasses implement `__call__(shape, dtype)` and `get_config()`."""

    def __call__(self, shape: Sequence[int], dtype: str = "float32") -> np.ndarray:
        raise NotImplementedError


class _Random(Initializer):
    _config = ("seed",)

    def __init__(self, seed: Optional[int] = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"Argument `seed` must be an int or None, received {seed!r}")
        self.seed = seed

    def _gen(self) -> np.random.Generator:
        return np.random.default_rng(self.seed) if self.seed is not None else _random.generator()


class Zeros(Initializer):
    """Initializes to 0."""

    def __call__(self, shape, dtype="float32"):
        return np.zeros(tuple(shape), np.float32)


class Ones(Initializer):
    """Initializes to 1."""

    def __call__(self, shape, dtype="float32"):
        return np.ones(tuple(shape), np.float32)


class Constant(Initializer):
    """Initializes to a constant `value`."""

    _config = ("value",)

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape, dtype="float32"):
        return np.full(tuple(shape), self.value, np.float32)


class _Normal(_Random):
    """The arguments of the normal initializers: `mean`, `stddev` (Keras default 0.05), `seed`."""

    _config = ("mean", "stddev", "seed")

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Optional[int] = None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)


class RandomNormal(_Normal):
    """Normal distribution with `mean` and `stddev` (Keras default 0.05)."""

    def __call__(self, shape, dtype="float32"):
        return self._gen().normal(self.mean, self.stddev, tuple(shape)).astype(np.float32)


class RandomUniform(_Random):
    """Uniform distribution on [minval, maxval) (Keras default [-0.05, 0.05))."""

    _config = ("minval", "maxval", "seed")

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: Optional[int] = None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype="float32"):
        return self._gen().uniform(self.minval, self.maxval, tuple(shape)).astype(np.float32)


def _truncated_normal(gen: np.random.Generator, stddev: float, shape) -> np.ndarray:
    """Normal(0, stddev) with values beyond two standard deviations redrawn."""
    out = gen.normal(0.0, 1.0, shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = gen.normal(0.0, 1.0, int(bad.sum()))
        bad = np.abs(out) > 2.0
    return (out * stddev).astype(np.float32)


class TruncatedNormal(_Normal):
    """Normal distribution truncated at two standard deviations."""

    def __call__(self, shape, dtype="float32"):
        return _truncated_normal(self._gen(), self.stddev, tuple(shape)) + np.float32(self.mean)


class VarianceScaling(_Random):
    """Keras's variance scaling: variance `scale / n` with n = fan_in, fan_out or their mean;
    `distribution` 'truncated_normal', 'untruncated_normal' or 'uniform'."""

    _config = ("scale", "mode", "distribution", "seed")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: Optional[int] = None) -> None:
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"Argument `scale` must be positive, received {scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Argument `mode` must be 'fan_in', 'fan_out' or 'fan_avg', received {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "Argument `distribution` must be 'truncated_normal', 'untruncated_normal' or "
                f"'uniform', received {distribution!r}"
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        gen, shape = self._gen(), tuple(shape)
        if self.distribution == "truncated_normal":
            # 0.8796... is the stddev of a standard normal truncated to (-2, 2).
            return _truncated_normal(gen, math.sqrt(var) / 0.87962566103423978, shape)
        if self.distribution == "untruncated_normal":
            return gen.normal(0.0, math.sqrt(var), shape).astype(np.float32)
        limit = math.sqrt(3.0 * var)
        return gen.uniform(-limit, limit, shape).astype(np.float32)


def _preset(name: str, scale: float, mode: str, distribution: str, doc: str):
    def __init__(self, seed: Optional[int] = None) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    return type(name, (VarianceScaling,), {"__init__": __init__, "_config": ("seed",), "__doc__": doc})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Glorot (Xavier) uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Glorot (Xavier) normal: truncated, stddev sqrt(2 / (fan_in + fan_out)).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "He normal: truncated, stddev sqrt(2 / fan_in) (for ReLU).")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform",
                    "He uniform: U(-l, l), l = sqrt(6 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "LeCun normal: truncated, stddev sqrt(1 / fan_in).")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "LeCun uniform: U(-l, l), l = sqrt(3 / fan_in).")


_REGISTRY = Registry("initializer", Initializer, {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
})


def get(identifier: Any) -> Initializer:
    """Returns an initializer from a name (`'he_normal'`), a class name, a config dict
    `{'class_name': ..., 'config': ...}`, an instance or any callable `(shape, dtype)`."""
    if identifier is None:
        raise ValueError("An initializer is required, received None")
    if callable(identifier) and not isinstance(identifier, (type, Initializer)):
        return identifier
    return _REGISTRY.get(identifier)


def serialize(init: Any) -> Any:
    """A JSON-able description of an initializer (the inverse of `get`)."""
    if isinstance(init, Initializer):
        return _serialize(init)
    return getattr(init, "__name__", repr(init))


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
