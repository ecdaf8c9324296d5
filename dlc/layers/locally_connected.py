"""LocallyConnected2D: locally connected (unshared) 2-D convolution, Keras 2's layer (Keras 3
removed it), channels-last."""
from __future__ import annotations

from typing import Any, Optional

from dlc import _C
from dlc._geometry import conv_output_length, normalize_padding, normalize_tuple
from dlc.layers.base import Layer, shape_str
from dlc.layers.conv import _channels_last
from dlc.layers.core import _kernel_arguments, _positive_int


class LocallyConnected2D(Layer):
    """Locally connected 2-D layer: like Conv2D, but the weights are unshared, so every output
    position has its own filters (the lectures' locally connected, or unshared, convolution):
    `output[n, i, j, :] = activation(patch(i, j) @ kernel[i * out_cols + j] + bias[i, j])`.

    Args:
        filters: number of output channels.
        kernel_size: int or (rows, cols) of the window.
        strides: int or (sh, sw), default 1.
        padding: 'valid' only (Keras 2's implementation 1); 'same' is refused.
        data_format: 'channels_last' (None) only.
        activation: activation name or function (default: none).
        use_bias: whether to add a bias per output position and filter.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as Keras.
        implementation: 1, 2 or 3, accepted for Keras 2 code; every value computes the same
            result with implementation 1's weight layout (Keras 2's 2 and 3 stored the kernel
            differently, so their saved weights do not load here).

    Weights, Keras 2's layout: kernel `(out_rows * out_cols, kernel_rows * kernel_cols *
    in_channels, filters)` (each patch flattened as (rows, cols, channels)), bias
    `(out_rows, out_cols, filters)`. Input `(batch, rows, cols, channels)` with known sizes.

    Example (Keras 2's: 3x3 unshared weights with 64 filters on 32x32x3 images):

    >>> model = dlc.models.Sequential([dlc.layers.Input((32, 32, 3)),
    ...                                dlc.layers.LocallyConnected2D(64, (3, 3))])
    >>> model.output_shape
    (None, 30, 30, 64)
    >>> model.count_params()   # (30*30)*(3*3*3*64) + (30*30)*64
    1612800
    """

    _config = ("filters", "kernel_size", "strides", "padding", "data_format", "activation", "use_bias",
               "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
               "implementation")

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 data_format: Optional[str] = None, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, implementation: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = "LocallyConnected2D"
        self.filters = _positive_int(filters, "filters", name)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", owner=name)
        self.strides = normalize_tuple(strides, 2, "strides", owner=name)
        self.padding = normalize_padding(padding, owner=name)
        if self.padding != "valid":
            raise NotImplementedError(
                f"{name}: padding={padding!r} is not supported by dlc; only 'valid' (Keras 2's "
                f"implementation=1). Pad the input first, e.g. with ZeroPadding2D")
        self.data_format = _channels_last(data_format, name)
        _kernel_arguments(self, name, activation, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer, activity_regularizer=activity_regularizer,
                          kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        if isinstance(implementation, bool) or implementation not in (1, 2, 3):
            raise ValueError(f"{name}: argument `implementation` must be 1, 2 or 3, received {implementation!r}")
        self.implementation = int(implementation)
        self.kernel = self.bias = None

    def _output_hw(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"LocallyConnected2D '{self.name}' expects 4-D input (batch, rows, cols, "
                             f"channels), received input shape {shape_str(input_shape)}")
        oh = conv_output_length(input_shape[1], self.kernel_size[0], "valid", self.strides[0])
        ow = conv_output_length(input_shape[2], self.kernel_size[1], "valid", self.strides[1])
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise ValueError(f"LocallyConnected2D '{self.name}': input {shape_str(input_shape)} is smaller "
                             f"than the {self.kernel_size} window ('valid' padding)")
        return oh, ow

    def build(self, input_shape):
        oh, ow = self._output_hw(input_shape)
        c = input_shape[3]
        if oh is None or ow is None or c is None:
            raise ValueError(f"LocallyConnected2D '{self.name}': the rows, cols and channels of the input "
                             f"must be known (the layer has weights per position), received "
                             f"{shape_str(input_shape)}")
        kh, kw = self.kernel_size
        self.kernel = self.add_weight("kernel", (oh * ow, kh * kw * c, self.filters), self.kernel_initializer,
                                      self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (oh, ow, self.filters), self.bias_initializer,
                                        self.bias_regularizer)

    def compute_output_shape(self, input_shape):
        oh, ow = self._output_hw(input_shape)
        return (input_shape[0], oh, ow, self.filters)

    def _hyper(self):
        return dict(kernel_size=self.kernel_size, strides=self.strides)

    def forward(self, ctx, x, training):
        oh, ow = self._output_hw(x.shape)
        z = ctx.buf("z", (x.shape[0], oh, ow, self.filters))
        _C.local2d_forward(x, self.kernel.value, self.bias.value if self.use_bias else None, z, **self._hyper())
        ctx.saved["x"] = x
        return self._act_forward(ctx, z, self.activation, owned=True)

    def backward(self, ctx, dy, dx):
        self._activated_backward(ctx, dy, dx)

    def backward_linear(self, ctx, dz, dx):
        if self.trainable:
            _C.local2d_backward_weights(ctx.saved["x"], dz, self.kernel.grad,
                                        self.bias.grad if self.use_bias else None, **self._hyper())
        if dx is not None:
            _C.local2d_backward_data(dz, self.kernel.value, dx, **self._hyper())

    def macs(self, input_shape, output_shape):
        _, oh, ow, f = output_shape
        return (oh or 0) * (ow or 0) * f * self.kernel_size[0] * self.kernel_size[1] * (input_shape[3] or 0)


__all__ = ["LocallyConnected2D"]
