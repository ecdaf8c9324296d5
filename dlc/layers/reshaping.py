"""Spatial reshaping layers (channels-last): ZeroPadding2D and UpSampling2D."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from dlc.layers.base import Layer, shape_str
from dlc.layers.conv import _channels_last
from dlc._geometry import normalize_tuple


def _add(a, b):
    return None if a is None else a + b


class ZeroPadding2D(Layer):
    """Pads height and width with zeros, e.g. MNIST's 28x28 to LeNet-5's 32x32 with
    `ZeroPadding2D(2)`.

    Args:
        padding: int (all sides), (rows, cols) (symmetric), or ((top, bottom), (left, right)).
    """

    def __init__(self, padding: Any = (1, 1), data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _channels_last(data_format, "ZeroPadding2D")
        if isinstance(padding, int) and not isinstance(padding, bool):
            pads = ((padding, padding), (padding, padding))
        elif len(padding) == 2 and all(isinstance(p, int) for p in padding):
            pads = ((padding[0], padding[0]), (padding[1], padding[1]))
        else:
            pads = tuple(normalize_tuple(p, 2, "padding", allow_zero=True, owner="ZeroPadding2D") for p in padding)
            if len(pads) != 2:
                raise ValueError(f"ZeroPadding2D: invalid padding {padding!r}")
        if any(p < 0 for pair in pads for p in pair):
            raise ValueError(f"ZeroPadding2D: padding must be >= 0, received {padding!r}")
        self.padding = pads

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"ZeroPadding2D '{self.name}' expects 4-D input, received {shape_str(input_shape)}")
        (t, b), (l, r) = self.padding
        return (input_shape[0], _add(input_shape[1], t + b), _add(input_shape[2], l + r), input_shape[3])

    def _interior(self, shape):
        (t, _), (l, _) = self.padding
        return (slice(None), slice(t, t + shape[1]), slice(l, l + shape[2]), slice(None))

    def forward(self, ctx, x, training):
        out = self.compute_output_shape(x.shape)
        y = ctx.zeros("y", out)
        y[self._interior(x.shape)] = x
        return y

    def backward(self, ctx, dy, dx):
        if dx is not None:
            dx += dy[self._interior(dx.shape)]

    def get_config(self):
        c = super().get_config()
        c.update(padding=[list(p) for p in self.padding], data_format="channels_last")
        return c


class UpSampling2D(Layer):
    """Repeats rows and columns `size` times (nearest-neighbour upsampling).

    Args:
        size: int or (rows, cols), default (2, 2).
        interpolation: only 'nearest'.
    """

    def __init__(self, size: Any = (2, 2), data_format: Optional[str] = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _channels_last(data_format, "UpSampling2D")
        if interpolation != "nearest":
            raise NotImplementedError(f"UpSampling2D: only interpolation='nearest' is supported, received {interpolation!r}")
        self.size = normalize_tuple(size, 2, "size", owner="UpSampling2D")
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"UpSampling2D '{self.name}' expects 4-D input, received {shape_str(input_shape)}")
        sh, sw = self.size
        return (input_shape[0], None if input_shape[1] is None else input_shape[1] * sh,
                None if input_shape[2] is None else input_shape[2] * sw, input_shape[3])

    def forward(self, ctx, x, training):
        n, h, w, c = x.shape
        sh, sw = self.size
        y = ctx.buf("y", (n, h * sh, w * sw, c))
        y.reshape(n, h, sh, w, sw, c)[...] = x[:, :, None, :, None, :]
        return y

    def backward(self, ctx, dy, dx):
        if dx is None:
            return
        n, h, w, c = dx.shape
        sh, sw = self.size
        tmp = ctx.buf("sum", dx.shape)
        np.sum(dy.reshape(n, h, sh, w, sw, c), axis=(2, 4), out=tmp)
        dx += tmp

    def get_config(self):
        c = super().get_config()
        c.update(size=list(self.size), data_format="channels_last", interpolation=self.interpolation)
        return c
