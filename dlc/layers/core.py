"""Core layers: Input, Dense, Activation, Flatten, Reshape, Dropout and the activation layers
(ReLU, LeakyReLU, ELU, Softmax)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from dlc import _C, _checks, _random
from dlc import activations as _activations
from dlc import initializers as _initializers
from dlc import regularizers as _regularizers
from dlc._geometry import prod
from dlc.layers.base import KerasTensor, Layer, accumulate, shape_str


def _positive_int(value: Any, name: str, layer: str) -> int:
    return _checks.check_int(layer, name, value, 1)


def _reject(layer: str, **unsupported: Any) -> None:
    _checks.refuse(layer, **unsupported)


def _kernel_arguments(layer: Layer, name: str, activation: Any, use_bias: Any, kernel_initializer: Any,
                      bias_initializer: Any, kernel_regularizer: Any, bias_regularizer: Any,
                      **unsupported: Any) -> None:
    """The arguments every layer with a kernel and a bias takes (Dense, Conv2D,
    LocallyConnected2D, ...): resolved and set on `layer`; the ones dlc cannot honour refused."""
    layer.activation = _activations.get(activation)
    layer.use_bias = _checks.check_bool(name, "use_bias", use_bias)
    layer.kernel_initializer = _initializers.get(kernel_initializer)
    layer.bias_initializer = _initializers.get(bias_initializer)
    layer.kernel_regularizer = _regularizers.get(kernel_regularizer)
    layer.bias_regularizer = _regularizers.get(bias_regularizer)
    _reject(name, **unsupported)


class InputLayer(Layer):
    """The layer behind `Input`: it holds the model's input shape and has no computation."""

    _plan_safe = True

    def __init__(self, shape: Optional[Sequence[Optional[int]]] = None, batch_size: Optional[int] = None,
                 name: Optional[str] = None, batch_shape: Optional[Sequence[Optional[int]]] = None,
                 **kwargs: Any) -> None:
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input: give `shape` (one sample's shape, e.g. (28, 28, 1))")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        for d in batch_shape[1:]:
            if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1):
                raise ValueError(f"Input: every dimension must be a positive int or None, received shape {tuple(batch_shape[1:])}")
        super().__init__(name=name or None, **kwargs)
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.built = True
        self.output = KerasTensor(self.batch_shape, None, name=self.name)
        self.output.input_layer = self

    def get_config(self) -> Dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "name": self.name, "dtype": "float32"}

    def forward(self, ctx, x, training):
        return x

    _overwrites_dx = True

    def backward(self, ctx, dy, dx):
        accumulate(dx, dy, ctx.overwrite())


def Input(shape: Optional[Sequence[Optional[int]]] = None, batch_size: Optional[int] = None,
          name: Optional[str] = None, dtype: Any = None, batch_shape: Optional[Sequence[Optional[int]]] = None,
          **kwargs: Any) -> KerasTensor:
    """Starts a model: a symbolic tensor for inputs of `shape` (one sample, no batch axis).

    Args:
        shape: shape of one sample, e.g. `(28, 28, 1)`; None for a variable dimension.
        batch_size: optional fixed batch size.
        name: optional name.
        batch_shape: alternatively, the full shape including the batch axis.

    Returns:
        A symbolic tensor to call layers on.

    Example:

    >>> inputs = dlc.layers.Input(shape=(28, 28, 1))
    >>> x = dlc.layers.Conv2D(32, 3, activation="relu")(inputs)
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, name=name, batch_shape=batch_shape,
                       dtype=dtype, **kwargs)
    return layer.output


class Dense(Layer):
    """Densely connected layer: `output = activation(dot(input, kernel) + bias)`.

    Args:
        units: positive int, dimensionality of the output.
        activation: activation name or function (default: none).
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initializers (Keras defaults
            'glorot_uniform' and 'zeros').
        kernel_regularizer, bias_regularizer: optional regularizers.

    Input of shape `(batch, ..., in)` gives output `(batch, ..., units)`; the kernel is
    `(in, units)` as in Keras.

    Example:

    >>> layer = dlc.layers.Dense(128, activation="relu")
    """

    _plan_safe = True

    _config = ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
               "kernel_regularizer", "bias_regularizer")

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = _positive_int(units, "units", "Dense")
        _kernel_arguments(self, "Dense", activation, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer, activity_regularizer=activity_regularizer,
                          kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                          lora_rank=lora_rank)
        self.kernel = self.bias = None

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}': the last axis of the input must be known, received input shape {shape_str(input_shape)}")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                                      self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    _overwrites_dx = True
    _overwrites_param_grads = True

    def forward(self, ctx, x, training):
        x2 = x.reshape(-1, x.shape[-1])
        z = ctx.buf("z", (x2.shape[0], self.units))
        relu = self.activation.is_plain_relu or ctx.relu_out  # bias and ReLU in the GEMM's store
        _C.gemm(x2, self.kernel.value, z, bias=self.bias.value if self.use_bias else None, relu=relu)
        ctx.saved["x2"] = x2
        z = z.reshape(x.shape[:-1] + (self.units,))
        if relu:
            ctx.saved["z"] = ctx.saved["y"] = z
            return z
        return self._act_forward(ctx, z, self.activation, owned=True)

    def backward(self, ctx, dy, dx):
        if ctx.relu_out:  # a ReLU layer fused behind
            self.backward_linear(ctx, self._relu_backward(ctx, dy, ctx.saved["y"]), dx)
            return
        self._activated_backward(ctx, dy, dx)

    def _can_fuse_relu(self) -> bool:
        return self.activation.is_linear

    def backward_linear(self, ctx, dz, dx):
        dz = dz.reshape(-1, self.units)
        if self.trainable:
            _C.gemm(ctx.saved["x2"], dz, self.kernel.grad, trans_a=True,
                    beta=0.0 if self.kernel.take_grad_fresh() else 1.0)
            if self.use_bias:
                _C.colsum(dz, self.bias.grad, accumulate=not self.bias.take_grad_fresh())
        if dx is not None:
            _C.gemm(dz, self.kernel.value, dx.reshape(-1, dx.shape[-1]), trans_b=True,
                    beta=0.0 if ctx.overwrite() else 1.0)

    def macs(self, input_shape, output_shape):
        return prod(d for d in input_shape[1:] if d is not None) * self.units


class Activation(Layer):
    """Applies an activation function to its input.

    Args:
        activation: name ('relu', 'softmax', ...) or one of `dlc.activations`' functions.

    Example:

    >>> x = dlc.layers.Activation("relu")(x)
    """

    _plan_safe = True

    _config = ("activation",)

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = _activations.get(activation)

    def forward(self, ctx, x, training):
        return self._act_forward(ctx, x, self.activation)

    _overwrites_dx = True

    def backward(self, ctx, dy, dx):
        if dx is None:
            return
        if self.activation.is_linear:
            accumulate(dx, dy, ctx.overwrite())
        elif self.activation.is_plain_relu:
            _C.relu_backward(ctx.saved["y"], dy, dx, accumulate=not ctx.overwrite())
        else:
            if ctx.overwrite():
                dx.fill(0)
            self.activation.backward(ctx.saved["z"], ctx.saved["y"], dy, dx)

    def backward_linear(self, ctx, dz, dx):
        accumulate(dx, dz, ctx.overwrite())


class ReLU(Activation):
    """Rectified linear unit layer, Keras's general form.

    Args:
        max_value: cap on the output (None: no cap).
        negative_slope: slope below the threshold.
        threshold: values below it are damped.
    """

    _config = ("max_value", "negative_slope", "threshold")

    def __init__(self, max_value: Optional[float] = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(_activations.ReLU(negative_slope, max_value, threshold), **kwargs)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold


class LeakyReLU(Activation):
    """Leaky ReLU: `x` for x >= 0, `negative_slope * x` otherwise (Keras 3 default 0.3)."""

    _config = ("negative_slope",)

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(_activations.LeakyReLU(negative_slope), **kwargs)
        self.negative_slope = negative_slope


class ELU(Activation):
    """Exponential linear unit: `x` for x > 0, `alpha * (exp(x) - 1)` otherwise."""

    _config = ("alpha",)

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(_activations.ELU(alpha), **kwargs)
        self.alpha = alpha


class Softmax(Activation):
    """Softmax over the last axis."""

    _config = ("axis",)

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        if axis != -1:
            raise NotImplementedError(f"Softmax: only axis=-1 is supported, received axis={axis!r}")
        super().__init__("softmax", **kwargs)
        self.axis = axis


class Flatten(Layer):
    """Flattens each sample: `(batch, d1, d2, ...)` -> `(batch, d1 * d2 * ...)` (a view, no copy)."""

    _plan_safe = True

    def __init__(self, data_format: Optional[str] = None, **kwargs: Any) -> None:
        if data_format not in (None, "channels_last"):
            raise ValueError(f"Flatten: dlc is channels-last only, received data_format={data_format!r}")
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else prod(rest))

    def forward(self, ctx, x, training):
        return x.reshape(x.shape[0], -1)

    _overwrites_dx = True

    def backward(self, ctx, dy, dx):
        accumulate(dx, dy, ctx.overwrite())


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (one entry may be -1)."""

    _plan_safe = True

    _config = ("target_shape",)

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in target_shape) > 1 or any(d == 0 or d < -1 for d in target_shape):
            raise ValueError(f"Reshape: invalid target_shape {target_shape!r}")
        self.target_shape = target_shape

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        total = prod(rest)
        known = prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if total % known:
                raise ValueError(f"Reshape '{self.name}': cannot reshape {shape_str(input_shape)} to {self.target_shape}")
            out = tuple(total // known if d == -1 else d for d in self.target_shape)
        else:
            out = self.target_shape
        if prod(out) != total:
            raise ValueError(f"Reshape '{self.name}': cannot reshape {shape_str(input_shape)} ({total} values per sample) to {self.target_shape}")
        return (input_shape[0],) + out

    def forward(self, ctx, x, training):
        return x.reshape((x.shape[0],) + self.target_shape)

    _overwrites_dx = True

    def backward(self, ctx, dy, dx):
        accumulate(dx, dy, ctx.overwrite())


class Dropout(Layer):
    """Inverted dropout: during training, sets inputs to 0 with probability `rate` and scales the
    rest by `1 / (1 - rate)`; the identity at inference.

    The mask comes from a counter-based generator keyed by (seed, step, element), so it does not
    depend on the number of threads, and `dlc.utils.set_random_seed` makes training repeatable.

    Args:
        rate: float in [0, 1), the fraction of inputs to drop.
        noise_shape: not supported (None).
        seed: optional int; by default drawn from dlc's seeded generator.
    """

    _plan_safe = True

    _config = ("rate", "noise_shape", "seed")
    _overwrites_dx = True

    def __init__(self, rate: float, noise_shape: Any = None, seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _reject("Dropout", noise_shape=noise_shape)
        self.rate = _checks.check_float("Dropout", "rate", rate, 0.0, 1.0)
        self.seed, self.noise_shape = seed, None
        self._seed = int(seed) if seed is not None else _random.next_seed()
        self._step = 0

    def forward(self, ctx, x, training):
        if not training or self.rate == 0.0:
            ctx.saved["mask"] = None
            return x
        y = ctx.buf("y", x.shape)
        mask = ctx.buf("mask", x.shape, np.uint8)
        _C.dropout_forward(x, y, mask, rate=self.rate, seed=self._seed, step=self._step)
        self._step += 1
        ctx.saved["mask"] = mask
        return y

    def backward(self, ctx, dy, dx):
        if dx is None:
            return
        mask = ctx.saved["mask"]
        if mask is not None:
            _C.dropout_backward(mask, dy, dx, rate=self.rate, accumulate=not ctx.overwrite())
        else:
            accumulate(dx, dy, ctx.overwrite())


__all__ = ["Input", "InputLayer", "Dense", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax",
           "Flatten", "Reshape", "Dropout"]
