"""Convolution layers (channels-last): Conv2D, and DepthwiseConv2D / SeparableConv2D built on
the same grouped convolution kernel."""
from __future__ import annotations

from typing import Any, Optional, Tuple

from dlc import _C
from dlc import activations as _activations
from dlc import initializers as _initializers
from dlc import regularizers as _regularizers
from dlc._geometry import normalize_padding, normalize_tuple, output_hw, pads_2d
from dlc.layers.base import Layer, shape_str
from dlc.layers.core import _positive_int, _reject


def _channels_last(data_format: Optional[str], layer: str) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer}: dlc is channels-last (NHWC) only, received data_format={data_format!r}")


class Conv2D(Layer):
    """2-D convolution over NHWC inputs: `output = activation(conv2d(input, kernel) + bias)`.

    Args:
        filters: number of output channels.
        kernel_size: int or (height, width).
        strides: int or (sh, sw), default 1.
        padding: 'valid' (no padding) or 'same' (output size ceil(input / stride); for even
            kernels the extra row and column go at the bottom and right, as in Keras).
        dilation_rate: int or (dh, dw), default 1.
        groups: split input channels into this many groups, each convolved with
            filters / groups filters (groups == input channels is a depthwise convolution).
        activation: activation name or function (default: none).
        use_bias: whether to add a bias per filter.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as Keras.

    The kernel has Keras's layout `(kh, kw, in_channels // groups, filters)`.

    Example:

    >>> layer = dlc.layers.Conv2D(32, kernel_size=(3, 3), activation="relu")
    """

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 data_format: Optional[str] = None, dilation_rate: Any = (1, 1), groups: int = 1,
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        self.filters = _positive_int(filters, "filters", name)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        _channels_last(data_format, name)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        self.groups = _positive_int(groups, "groups", name)
        if self.filters % self.groups:
            raise ValueError(f"{name}: `filters` ({self.filters}) must be divisible by `groups` ({self.groups})")
        self.activation = _activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        _reject(name, activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                bias_constraint=bias_constraint)
        self.kernel = self.bias = None

    def _in_channels(self, input_shape) -> int:
        if len(input_shape) != 4:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects 4-D input (batch, height, width, channels), "
                f"received input shape {shape_str(input_shape)}"
            )
        c = input_shape[-1]
        if c is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the channel axis must be known, received {shape_str(input_shape)}")
        if c % self.groups:
            raise ValueError(f"{type(self).__name__} '{self.name}': input channels ({c}) must be divisible by groups ({self.groups})")
        return c

    def build(self, input_shape):
        c = self._in_channels(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (c // self.groups, self.filters),
                                      self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer)

    def compute_output_shape(self, input_shape):
        self._in_channels(input_shape)
        oh, ow = output_hw(self.padding, input_shape[1], input_shape[2], self.kernel_size,
                           self.strides, self.dilation_rate)
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': input {shape_str(input_shape)} is too small for a "
                f"{self.kernel_size} kernel with dilation {self.dilation_rate} and padding '{self.padding}'"
            )
        return (input_shape[0], oh, ow, self.filters)

    def _geometry(self, h: int, w: int) -> Tuple[dict, Tuple[int, int]]:
        pads = pads_2d(self.padding, h, w, self.kernel_size, self.strides, self.dilation_rate)
        oh, ow = output_hw(self.padding, h, w, self.kernel_size, self.strides, self.dilation_rate)
        return dict(strides=self.strides, dilation=self.dilation_rate, padding=pads, groups=self.groups), (oh, ow)

    def forward(self, ctx, x, training):
        geo, (oh, ow) = self._geometry(x.shape[1], x.shape[2])
        z = ctx.buf("z", (x.shape[0], oh, ow, self.filters))
        _C.conv2d_forward(x, self.kernel.value, self.bias.value if self.use_bias else None, z, **geo)
        ctx.saved["x"], ctx.saved["geo"] = x, geo
        return self._act_forward(ctx, z, self.activation, owned=True)

    def backward(self, ctx, dy, dx):
        dz = self._act_backward(ctx, dy, self.activation)
        geo = ctx.saved["geo"]
        if self.trainable:
            _C.conv2d_backward_weights(ctx.saved["x"], dz, self.kernel.grad,
                                       self.bias.grad if self.use_bias else None, **geo)
        if dx is not None:
            _C.conv2d_backward_data(dz, self.kernel.value, dx, **geo)

    def macs(self, input_shape, output_shape):
        _, oh, ow, oc = output_shape
        c = input_shape[-1] // self.groups
        return (oh or 0) * (ow or 0) * oc * self.kernel_size[0] * self.kernel_size[1] * c

    def get_config(self):
        c = super().get_config()
        c.update(filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
                 padding=self.padding, data_format="channels_last",
                 dilation_rate=list(self.dilation_rate), groups=self.groups,
                 activation=_activations.serialize(self.activation), use_bias=self.use_bias,
                 kernel_initializer=_initializers.serialize(self.kernel_initializer),
                 bias_initializer=_initializers.serialize(self.bias_initializer),
                 kernel_regularizer=_regularizers.serialize(self.kernel_regularizer),
                 bias_regularizer=_regularizers.serialize(self.bias_regularizer))
        return c
