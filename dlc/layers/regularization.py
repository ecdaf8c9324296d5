"""Random regularisation layers beside Dropout: SpatialDropout1D / 2D / 3D (whole channels),
GaussianNoise (additive) and GaussianDropout (multiplicative), Keras 3's layers.

Like Dropout, each is active in training only (`fit`, `train_on_batch`, `layer(x,
training=True)`) and the identity at inference. Its random numbers come from Philox-4x32-10
keyed by (seed, step, element) (csrc/noise.c): `seed` is the layer's (or drawn from dlc's
seeded generator), `step` counts the layer's training calls, so masks never depend on the
number of threads, `dlc.utils.set_random_seed` makes training repeatable, and an exact resume
restores the steps (every layer with `_seed` and `_step` is saved with the training state).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional

import numpy as np

from dlc import _C, _checks, _random
from dlc.layers.base import Layer, accumulate, shape_str


class _Random(Layer):
    """A layer that draws from the (seed, step) stream in training."""

    def _init_random(self, seed: Optional[int]) -> None:
        if seed is not None:
            seed = _checks.check_int(type(self).__name__, "seed", seed, 0, maximum=2**64 - 1)
        self.seed = seed
        self._seed = seed if seed is not None else _random.next_seed()
        self._step = 0

    def _next_step(self) -> int:
        step, self._step = self._step, self._step + 1
        return step


class _RandomFactor(_Random):
    """The identity unless training with `rate > 0`; then `_train_forward(ctx, x)` returns the
    output and the random factor (saved as `ctx.saved[_factor]`) that
    `_train_backward(factor, dy, dx)` needs."""

    _factor = "mask"

    def forward(self, ctx, x, training):
        if not training or self.rate == 0.0:
            ctx.saved[self._factor] = None
            return x
        y, ctx.saved[self._factor] = self._train_forward(ctx, x)
        return y

    def backward(self, ctx, dy, dx):
        if dx is None:
            return
        factor = ctx.saved[self._factor]
        if factor is None:
            accumulate(dx, dy)
        else:
            self._train_backward(factor, dy, dx)


class _SpatialDropout(_RandomFactor):
    """Drops whole channels: for each sample, channel c is zeroed with probability `rate` at
    every spatial position, the kept channels scaled by `1 / (1 - rate)`."""

    _ndim = 4
    _config = ("rate", "seed", "data_format")

    def __init__(self, rate: float, data_format: Optional[str] = None, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        self.rate = _checks.check_float(name, "rate", rate, 0.0, 1.0)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"{name}: argument `data_format` must be 'channels_last' or 'channels_first', "
                             f"received {data_format!r}")
        self.data_format = data_format or "channels_last"
        self._init_random(seed)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.pop("trainable")  # Keras's spatial dropouts take no `trainable` argument
        return config

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self._ndim:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects {self._ndim}-D input, received "
                             f"input shape {shape_str(input_shape)}")
        return input_shape

    def _train_forward(self, ctx, x):
        first = self.data_format == "channels_first"
        y = ctx.buf("y", x.shape)
        mask = ctx.buf("mask", (x.shape[0], x.shape[1 if first else -1]), np.uint8)
        _C.spatial_dropout_forward(x, y, mask, channels_first=first, rate=self.rate, seed=self._seed,
                                   step=self._next_step())
        return y, mask

    def _train_backward(self, mask, dy, dx):
        _C.spatial_dropout_backward(mask, dy, dx, channels_first=self.data_format == "channels_first",
                                    rate=self.rate)


class SpatialDropout1D(_SpatialDropout):
    """Spatial 1-D dropout: drops whole feature channels of `(batch, steps, channels)` inputs
    (each channel of a sample is zeroed at every step with probability `rate`).

    Args:
        rate: float in [0, 1), the fraction of channels to drop.
        seed: optional int; by default drawn from dlc's seeded generator.

    Example:

    >>> x = dlc.layers.SpatialDropout1D(0.2)(x)
    """

    _ndim = 3
    _config = ("rate", "seed")

    def __init__(self, rate: float, seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(rate, seed=seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Spatial 2-D dropout: drops whole feature maps of `(batch, rows, cols, channels)` inputs.
    When neighbouring pixels are strongly correlated (early convolution layers), plain dropout
    barely regularizes; dropping entire channels does (Tompson et al., 2014).

    Args:
        rate: float in [0, 1), the fraction of channels to drop.
        data_format: 'channels_last' (default, None) or 'channels_first' (`(batch, channels,
            rows, cols)`).
        seed: optional int; by default drawn from dlc's seeded generator.

    Each training step draws one keep/drop decision per (sample, channel), the same mask
    `Dropout` would draw for an array of shape (batch, channels); kept channels are scaled by
    `1 / (1 - rate)`. The identity at inference.

    Example:

    >>> x = dlc.layers.Conv2D(32, 3, activation="relu")(inputs)
    >>> x = dlc.layers.SpatialDropout2D(0.2)(x)
    """

    _ndim = 4

    def __init__(self, rate: float, data_format: Optional[str] = None, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(rate, data_format=data_format, seed=seed, **kwargs)


class SpatialDropout3D(_SpatialDropout):
    """Spatial 3-D dropout: drops whole feature volumes of `(batch, dim1, dim2, dim3,
    channels)` inputs (or channels first). Arguments as SpatialDropout2D."""

    _ndim = 5

    def __init__(self, rate: float, data_format: Optional[str] = None, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(rate, data_format=data_format, seed=seed, **kwargs)


class GaussianNoise(_Random):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` in training (a
    regularizer, and a form of data augmentation for real-valued inputs); the identity at
    inference.

    Args:
        stddev: float in [0, 1] (Keras 3's range), the noise's standard deviation.
        seed: optional int; by default drawn from dlc's seeded generator.

    The normals are Box-Muller on the Philox stream (|noise| <= 5.77 stddev).

    Example:

    >>> x = dlc.layers.GaussianNoise(0.1)(inputs)
    """

    _config = ("stddev", "seed")

    def __init__(self, stddev: float, seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stddev = _checks.check_float("GaussianNoise", "stddev", stddev, 0.0, 1.0, high_open=False)
        self._init_random(seed)

    def forward(self, ctx, x, training):
        if not training or self.stddev == 0.0:
            return x
        y = ctx.buf("y", x.shape)
        _C.gaussian_noise_forward(x, y, stddev=self.stddev, seed=self._seed, step=self._next_step())
        return y

    def backward(self, ctx, dy, dx):
        accumulate(dx, dy)


class GaussianDropout(_RandomFactor):
    """Multiplicative Gaussian noise of mean 1 in training: `x * normal(1, sqrt(rate / (1 -
    rate)))`, the variance of inverted dropout at the same rate without zeros; the identity at
    inference.

    Args:
        rate: float in [0, 1), the drop probability it imitates (Keras's rate 1 would be an
            infinite standard deviation).
        seed: optional int; by default drawn from dlc's seeded generator.

    Example:

    >>> x = dlc.layers.GaussianDropout(0.3)(x)
    """

    _config = ("rate", "seed")
    _factor = "noise"

    def __init__(self, rate: float, seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = _checks.check_float("GaussianDropout", "rate", rate, 0.0, 1.0)
        self._init_random(seed)

    def _train_forward(self, ctx, x):
        y, noise = ctx.buf("y", x.shape), ctx.buf("noise", x.shape)
        _C.gaussian_dropout_forward(x, y, noise, stddev=math.sqrt(self.rate / (1.0 - self.rate)),
                                    seed=self._seed, step=self._next_step())
        return y, noise

    def _train_backward(self, noise, dy, dx):
        _C.gaussian_dropout_backward(noise, dy, dx)


__all__ = ["SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout"]
