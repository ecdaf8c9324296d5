"""Convolution layers (channels-last): Conv2D, and DepthwiseConv2D / SeparableConv2D built on
the same grouped convolution kernel."""
from __future__ import annotations

from typing import Any, Optional, Tuple

from dlc import _C
from dlc._geometry import normalize_padding, normalize_tuple, output_hw, pads_2d
from dlc.layers.base import Ctx, Layer, shape_str
from dlc.layers.core import _kernel_arguments, _positive_int, _reject


def _channels_last(data_format: Optional[str], layer: str) -> str:
    """'channels_last' (the only layout dlc has), or ValueError."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer}: dlc is channels-last (NHWC) only, received data_format={data_format!r}")
    return "channels_last"


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

    _plan_safe = True

    _config = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
               "activation", "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
               "bias_regularizer")

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
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", owner=name)
        self.strides = normalize_tuple(strides, 2, "strides", owner=name)
        self.padding = normalize_padding(padding, owner=name)
        self.data_format = _channels_last(data_format, name)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", owner=name)
        self.groups = _positive_int(groups, "groups", name)
        if self.filters % self.groups:
            raise ValueError(f"{name}: `filters` ({self.filters}) must be divisible by `groups` ({self.groups})")
        _kernel_arguments(self, name, activation, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer, activity_regularizer=activity_regularizer,
                          kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.kernel = self.bias = None

    # Hooks a variant overrides (DepthwiseConv2D): the groups, output channels and kernel
    # layout for c input channels, and the view of the kernel the grouped C kernel reads.
    def _groups_for(self, c: int) -> int:
        return self.groups

    def _channels_out(self, c: int) -> int:
        return self.filters

    def _kernel_shape(self, c: int) -> Tuple[int, ...]:
        return self.kernel_size + (c // self.groups, self.filters)

    def _kernel_view(self, arr):
        return arr

    def _in_channels(self, input_shape) -> int:
        if len(input_shape) != 4:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects 4-D input (batch, height, width, channels), "
                f"received input shape {shape_str(input_shape)}"
            )
        c = input_shape[-1]
        if c is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the channel axis must be known, received {shape_str(input_shape)}")
        if c % self._groups_for(c):
            raise ValueError(f"{type(self).__name__} '{self.name}': input channels ({c}) must be divisible by groups ({self.groups})")
        return c

    def build(self, input_shape):
        c = self._in_channels(input_shape)
        self.kernel = self.add_weight("kernel", self._kernel_shape(c), self.kernel_initializer,
                                      self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self._channels_out(c),), self.bias_initializer,
                                        self.bias_regularizer)

    def compute_output_shape(self, input_shape):
        c = self._in_channels(input_shape)
        oh, ow = output_hw(self.padding, input_shape[1], input_shape[2], self.kernel_size,
                           self.strides, self.dilation_rate)
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': input {shape_str(input_shape)} is too small for a "
                f"{self.kernel_size} kernel with dilation {self.dilation_rate} and padding '{self.padding}'"
            )
        return (input_shape[0], oh, ow, self._channels_out(c))

    def _geometry(self, h: int, w: int, c: int) -> Tuple[dict, Tuple[int, int]]:
        pads = pads_2d(self.padding, h, w, self.kernel_size, self.strides, self.dilation_rate)
        oh, ow = output_hw(self.padding, h, w, self.kernel_size, self.strides, self.dilation_rate)
        return dict(strides=self.strides, dilation=self.dilation_rate, padding=pads,
                    groups=self._groups_for(c)), (oh, ow)

    _overwrites_dx = True
    _overwrites_param_grads = True  # _conv_backward; a subclass with its own backward says False

    def forward(self, ctx, x, training):
        geo, (oh, ow) = self._geometry(x.shape[1], x.shape[2], x.shape[3])
        z = ctx.buf("z", (x.shape[0], oh, ow, self._channels_out(x.shape[3])))
        # the ReLU, its own or a ReLU layer's behind it (ctx.relu_out), in the convolution's store
        relu = self.activation.is_plain_relu or ctx.relu_out
        _C.conv2d_forward(x, self._kernel_view(self.kernel.value),
                          self.bias.value if self.use_bias else None, z, relu=relu, **geo)
        ctx.saved["x"], ctx.saved["geo"] = x, geo
        if relu:
            ctx.saved["z"] = ctx.saved["y"] = z
            return z
        return self._act_forward(ctx, z, self.activation, owned=True)

    def backward(self, ctx, dy, dx):
        if self.activation.is_plain_relu or ctx.relu_out:  # the mask y > 0 read with dy
            self._conv_backward(ctx, dy, dx, ctx.saved["y"])
        else:
            self._activated_backward(ctx, dy, dx)

    def _can_fuse_relu(self) -> bool:
        return self.activation.is_linear

    def backward_linear(self, ctx, dz, dx):
        self._conv_backward(ctx, dz, dx, None)

    def _conv_backward(self, ctx, dz, dx, mask):
        """The convolution's gradients from dz (or from dy * (mask > 0) with a mask)."""
        geo = ctx.saved["geo"]
        if self.trainable:
            fresh = self.kernel.take_grad_fresh()
            if self.use_bias and self.bias.take_grad_fresh() != fresh:  # one flag for both
                (self.kernel if fresh else self.bias).grad.fill(0.0)
                fresh = False
            _C.conv2d_backward_weights(ctx.saved["x"], dz, self._kernel_view(self.kernel.grad),
                                       self.bias.grad if self.use_bias else None, dy_mask=mask,
                                       accumulate=not fresh, **geo)
        if dx is not None:
            _C.conv2d_backward_data(dz, self._kernel_view(self.kernel.value), dx, dy_mask=mask,
                                    accumulate=not ctx.overwrite(), **geo)

    def macs(self, input_shape, output_shape):
        _, oh, ow, oc = output_shape
        c = input_shape[-1] // self._groups_for(input_shape[-1])
        return (oh or 0) * (ow or 0) * oc * self.kernel_size[0] * self.kernel_size[1] * c


class DepthwiseConv2D(Conv2D):
    """Depthwise 2-D convolution: each input channel convolved with its own
    `depth_multiplier` filters (no mixing across channels).

    Args:
        kernel_size, strides, padding, dilation_rate, activation, use_bias: as Conv2D.
        depth_multiplier: output channels per input channel (default 1).
        depthwise_initializer, depthwise_regularizer: for the kernel, Keras's layout
            `(kh, kw, in_channels, depth_multiplier)`.

    Example (the lecture's depthwise separable block):

    >>> x = dlc.layers.DepthwiseConv2D(3, padding="same")(x)
    >>> x = dlc.layers.Conv2D(64, 1)(x)
    """

    _config = ("kernel_size", "strides", "padding", "data_format", "dilation_rate", "depth_multiplier",
               "activation", "use_bias", "depthwise_initializer", "bias_initializer",
               "depthwise_regularizer", "bias_regularizer")

    def __init__(self, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 depth_multiplier: int = 1, data_format: Optional[str] = None,
                 dilation_rate: Any = (1, 1), activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier", "DepthwiseConv2D")
        super().__init__(self.depth_multiplier, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                         use_bias=use_bias, kernel_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=depthwise_constraint, bias_constraint=bias_constraint, **kwargs)

    @property
    def depthwise_initializer(self):
        return self.kernel_initializer

    @property
    def depthwise_regularizer(self):
        return self.kernel_regularizer

    def _groups_for(self, c):
        return c

    def _channels_out(self, c):
        return c * self.depth_multiplier

    def _kernel_shape(self, c):
        return self.kernel_size + (c, self.depth_multiplier)

    def _kernel_view(self, arr):
        # (kh, kw, c, m) is, in memory, the grouped kernel (kh, kw, 1, c * m): no copy.
        return arr.reshape(self.kernel_size + (1, arr.shape[2] * arr.shape[3]))

    def build(self, input_shape):
        super().build(input_shape)
        c = input_shape[-1]
        self.groups, self.filters = c, self._channels_out(c)


class SeparableConv2D(Layer):
    """Depthwise separable 2-D convolution: a depthwise convolution (per channel) followed by a
    pointwise 1x1 convolution that mixes channels; far fewer parameters than Conv2D.

    Args:
        filters: output channels of the pointwise convolution.
        kernel_size, strides, padding, dilation_rate: of the depthwise step.
        depth_multiplier: depthwise output channels per input channel.
        activation, use_bias: applied after the pointwise step.
        depthwise_initializer, pointwise_initializer, bias_initializer: as Keras.

    Weights, in Keras's order: `[depthwise_kernel (kh, kw, in, m), pointwise_kernel
    (1, 1, in * m, filters), bias]`.

    Example (the lecture's 3x3 depthwise + 1x1 pointwise):

    >>> x = dlc.layers.SeparableConv2D(64, 3, padding="same", activation="relu")(x)
    """

    _plan_safe = True

    _config = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
               "depth_multiplier", "activation", "use_bias", "depthwise_initializer",
               "pointwise_initializer", "bias_initializer", "depthwise_regularizer",
               "pointwise_regularizer", "bias_regularizer")

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 data_format: Optional[str] = None, dilation_rate: Any = (1, 1), depth_multiplier: int = 1,
                 activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", pointwise_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", depthwise_regularizer: Any = None,
                 pointwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None,
                 pointwise_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _reject("SeparableConv2D", activity_regularizer=activity_regularizer,
                depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                bias_constraint=bias_constraint)
        self.filters = _positive_int(filters, "filters", "SeparableConv2D")
        self._dw = DepthwiseConv2D(kernel_size, strides=strides, padding=padding, data_format=data_format,
                                   depth_multiplier=depth_multiplier, dilation_rate=dilation_rate,
                                   use_bias=False, depthwise_initializer=depthwise_initializer,
                                   depthwise_regularizer=depthwise_regularizer, name=self.name + "_depthwise")
        self._pw = Conv2D(self.filters, 1, activation=activation, use_bias=use_bias,
                          kernel_initializer=pointwise_initializer, bias_initializer=bias_initializer,
                          kernel_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
                          name=self.name + "_pointwise")
        self.activation = self._pw.activation
        self.kernel_size, self.strides, self.padding = self._dw.kernel_size, self._dw.strides, self._dw.padding
        self.dilation_rate, self.depth_multiplier, self.use_bias = self._dw.dilation_rate, depth_multiplier, bool(use_bias)
        self.trainable = self._trainable  # the parts follow the whole

    def _sublayers(self):
        return [self._dw, self._pw]

    # The parts' arguments, as SeparableConv2D's own (for get_config).
    data_format = "channels_last"
    depthwise_initializer = property(lambda self: self._dw.kernel_initializer)
    depthwise_regularizer = property(lambda self: self._dw.kernel_regularizer)
    pointwise_initializer = property(lambda self: self._pw.kernel_initializer)
    pointwise_regularizer = property(lambda self: self._pw.kernel_regularizer)
    bias_initializer = property(lambda self: self._pw.bias_initializer)
    bias_regularizer = property(lambda self: self._pw.bias_regularizer)

    def build(self, input_shape):
        self._dw._maybe_build(input_shape)
        mid = self._dw.compute_output_shape(input_shape)
        self._pw._maybe_build(mid)
        k = self._dw.kernel
        k.name, k.path = "depthwise_kernel", f"{self.name}/depthwise_kernel"
        p = self._pw.kernel
        p.name, p.path = "pointwise_kernel", f"{self.name}/pointwise_kernel"
        self._variables = [k, p] + ([self._pw.bias] if self.use_bias else [])
        if self.use_bias:
            self._pw.bias.path = f"{self.name}/bias"

    def compute_output_shape(self, input_shape):
        return self._pw.compute_output_shape(self._dw.compute_output_shape(input_shape))

    def forward(self, ctx, x, training):
        dctx, pctx = ctx.cache("depthwise", Ctx), ctx.cache("pointwise", Ctx)
        mid = self._dw.forward(dctx, x, training)
        out = self._pw.forward(pctx, mid, training)
        ctx.saved.update(dw=dctx, pw=pctx, mid=mid, z=pctx.saved["z"])
        return out

    def backward(self, ctx, dy, dx):
        self._backward_through(ctx, self._pw.backward, dy, dx)

    def backward_linear(self, ctx, dz, dx):
        self._backward_through(ctx, self._pw.backward_linear, dz, dx)

    _overwrites_dx = True  # as its two parts do: the pointwise part writes dmid afresh

    def _backward_through(self, ctx, pointwise_backward, d, dx):
        dmid = ctx.buf("dmid", ctx.saved["mid"].shape)
        pctx, dctx = ctx.saved["pw"], ctx.saved["dw"]
        pctx.fresh, dctx.fresh = (True,), ctx.fresh
        pointwise_backward(pctx, d, dmid)
        self._dw.backward(dctx, dmid, dx)

    def macs(self, input_shape, output_shape):
        mid = self._dw.compute_output_shape(input_shape)
        return self._dw.macs(input_shape, mid) + self._pw.macs(mid, output_shape)


class Conv2DTranspose(Conv2D):
    """Transposed 2-D convolution ("deconvolution"): the gradient of Conv2D with respect to its
    input, used to upsample (e.g. 2x2 -> 5x5 with a 3x3 kernel and stride 2).

    Args:
        filters, kernel_size, strides, padding, activation, use_bias, initializers: as Conv2D.
            Output size: `(in - 1) * stride + kernel` for 'valid', `in * stride` for 'same'.

    The kernel has Keras's layout `(kh, kw, filters, in_channels)`.

    Example:

    >>> y = dlc.layers.Conv2DTranspose(16, 3, strides=2)(x)   # (None, 2, 2, c) -> (None, 5, 5, 16)
    """

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 output_padding: Any = None, data_format: Optional[str] = None, dilation_rate: Any = (1, 1),
                 **kwargs: Any) -> None:
        if output_padding is not None:
            raise NotImplementedError("Conv2DTranspose: output_padding is not supported yet")
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)
        if self.dilation_rate != (1, 1):
            raise NotImplementedError("Conv2DTranspose: dilation_rate other than 1 is not supported yet")

    def build(self, input_shape):
        c = self._in_channels(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, c),
                                      self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer)

    def _out_len(self, n, k, s):
        if n is None:
            return None
        return n * s if self.padding == "same" else (n - 1) * s + k

    def compute_output_shape(self, input_shape):
        self._in_channels(input_shape)
        return (input_shape[0], self._out_len(input_shape[1], self.kernel_size[0], self.strides[0]),
                self._out_len(input_shape[2], self.kernel_size[1], self.strides[1]), self.filters)

    def forward(self, ctx, x, training):
        oh = self._out_len(x.shape[1], self.kernel_size[0], self.strides[0])
        ow = self._out_len(x.shape[2], self.kernel_size[1], self.strides[1])
        # The convolution this layer transposes maps (oh, ow, filters) to x's (h, w, c).
        geo, _ = self._geometry(oh, ow, self.filters)
        z = ctx.buf("z", (x.shape[0], oh, ow, self.filters))
        _C.conv2d_backward_data(x, self.kernel.value, z, accumulate=False, **geo)
        if self.use_bias:
            z += self.bias.value
        ctx.saved["x"], ctx.saved["geo"] = x, geo
        return self._act_forward(ctx, z, self.activation, owned=True)

    def backward(self, ctx, dy, dx):
        self._activated_backward(ctx, dy, dx)

    def _can_fuse_relu(self) -> bool:
        return False

    _plan_safe = False  # its forward adds the bias with NumPy
    _overwrites_param_grads = False  # its backward_linear adds into the weight gradients

    def backward_linear(self, ctx, dz, dx):
        geo, x = ctx.saved["geo"], ctx.saved["x"]
        if self.trainable:
            _C.conv2d_backward_weights(dz, x, self.kernel.grad, None, **geo)
            if self.use_bias:
                _C.colsum(dz, self.bias.grad, accumulate=True)
        if dx is None:
            return
        if ctx.overwrite():
            _C.conv2d_forward(dz, self.kernel.value, None, dx, **geo)
            return
        tmp = ctx.buf("dx_tmp", dx.shape)
        _C.conv2d_forward(dz, self.kernel.value, None, tmp, **geo)
        dx += tmp

    def macs(self, input_shape, output_shape):
        return (input_shape[1] or 0) * (input_shape[2] or 0) * input_shape[3] * self.filters * self.kernel_size[0] * self.kernel_size[1]
