"""Pooling layers (channels-last): MaxPooling2D, AveragePooling2D, GlobalMaxPooling2D,
GlobalAveragePooling2D."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from dlc import _C
from dlc._geometry import normalize_padding, normalize_tuple, output_hw, pads_2d
from dlc.layers.base import Layer, shape_str
from dlc.layers.conv import _channels_last


class _Pooling2D(Layer):
    _kind = ""

    _config = ("pool_size", "strides", "padding", "data_format")

    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid",
                 data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", owner=name)
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, 2, "strides", owner=name)
        self.padding = normalize_padding(padding, owner=name)
        self.data_format = _channels_last(data_format, type(self).__name__)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects 4-D input (batch, height, width, channels), received {shape_str(input_shape)}")
        oh, ow = output_hw(self.padding, input_shape[1], input_shape[2], self.pool_size, self.strides)
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise ValueError(f"{type(self).__name__} '{self.name}': input {shape_str(input_shape)} is smaller than the pool {self.pool_size}")
        return (input_shape[0], oh, ow, input_shape[3])

    def _geo(self, x_shape):
        h, w = x_shape[1], x_shape[2]
        pads = pads_2d(self.padding, h, w, self.pool_size, self.strides)
        oh, ow = output_hw(self.padding, h, w, self.pool_size, self.strides)
        return dict(pool_size=self.pool_size, strides=self.strides, padding=pads), (x_shape[0], oh, ow, x_shape[3])

    def macs(self, input_shape, output_shape):
        return 0


class MaxPooling2D(_Pooling2D):
    """Max pooling over `pool_size` windows moved by `strides` (default: pool_size).

    Args:
        pool_size: int or (ph, pw), default (2, 2).
        strides: int or (sh, sw); None means pool_size.
        padding: 'valid' or 'same' (padded positions never win).

    Example:

    >>> layer = dlc.layers.MaxPooling2D(pool_size=(2, 2))
    """

    _plan_safe = True

    _overwrites_dx = True

    def forward(self, ctx, x, training):
        geo, out_shape = self._geo(x.shape)
        y = ctx.buf("y", out_shape)
        ctx.saved["geo"], ctx.saved["code"] = geo, None
        drop = ctx.dropout_after  # a Dropout behind this layer, fused by the executor
        if drop is not None and training and drop.rate > 0.0:
            # one pass: y = dropout(maxpool(x)), one byte per output (window position | kept)
            code = ctx.buf("code", out_shape, np.uint8)
            _C.maxpool2d_dropout_forward(x, y, code, rate=drop.rate, seed=drop._seed,
                                         step=drop._step, **geo)
            drop._step += 1
            ctx.saved["code"], ctx.saved["rate"] = code, drop.rate
            return y
        argmax = None if ctx.inference else ctx.buf("argmax", out_shape, np.int32)
        _C.maxpool2d_forward(x, y, argmax, **geo)
        ctx.saved["argmax"] = argmax
        return y

    def _can_fuse_dropout(self) -> bool:
        return self.pool_size[0] * self.pool_size[1] < 128  # the code's 7 bits of position

    def backward(self, ctx, dy, dx):
        if dx is not None:
            if ctx.saved["code"] is not None:
                _C.maxpool2d_dropout_backward(dy, ctx.saved["code"], dx, rate=ctx.saved["rate"],
                                              accumulate=not ctx.overwrite(), **ctx.saved["geo"])
                return
            _C.maxpool2d_backward(dy, ctx.saved["argmax"], dx, accumulate=not ctx.overwrite(),
                                  **ctx.saved["geo"])


class AveragePooling2D(_Pooling2D):
    """Average pooling over `pool_size` windows moved by `strides` (default: pool_size); with
    'same' padding the padded positions are left out of each average (as in Keras)."""

    _plan_safe = True

    def forward(self, ctx, x, training):
        geo, out_shape = self._geo(x.shape)
        y = ctx.buf("y", out_shape)
        _C.avgpool2d_forward(x, y, **geo)
        ctx.saved["geo"] = geo
        return y

    def backward(self, ctx, dy, dx):
        if dx is not None:
            _C.avgpool2d_backward(dy, dx, **ctx.saved["geo"])


class _GlobalPooling2D(Layer):

    _plan_safe = True
    _config = ("data_format", "keepdims")

    def __init__(self, data_format: Optional[str] = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = _channels_last(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects 4-D input (batch, height, width, channels), received {shape_str(input_shape)}")
        if self.keepdims:
            return (input_shape[0], 1, 1, input_shape[3])
        return (input_shape[0], input_shape[3])

    def _out(self, y):
        return y.reshape(y.shape[0], 1, 1, y.shape[1]) if self.keepdims else y


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over height and width: (batch, h, w, c) -> (batch, c) (or (batch, 1, 1, c) with
    keepdims=True)."""

    def forward(self, ctx, x, training):
        y = ctx.buf("y", (x.shape[0], x.shape[3]))
        argmax = ctx.buf("argmax", (x.shape[0], x.shape[3]), np.int32)
        _C.global_maxpool2d_forward(x, y, argmax)
        ctx.saved["argmax"] = argmax
        return self._out(y)

    def backward(self, ctx, dy, dx):
        if dx is not None:
            _C.global_maxpool2d_backward(dy.reshape(dy.shape[0], dy.shape[-1]), ctx.saved["argmax"], dx)


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width: (batch, h, w, c) -> (batch, c) (or (batch, 1, 1, c) with
    keepdims=True)."""

    def forward(self, ctx, x, training):
        y = ctx.buf("y", (x.shape[0], x.shape[3]))
        _C.global_avgpool2d_forward(x, y)
        return self._out(y)

    def backward(self, ctx, dy, dx):
        if dx is not None:
            _C.global_avgpool2d_backward(dy.reshape(dy.shape[0], dy.shape[-1]), dx)
