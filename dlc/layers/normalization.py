"""BatchNormalization (over the last axis, channels-last)."""
from __future__ import annotations

from typing import Any

import numpy as np

from dlc import _C, _checks
from dlc import initializers as _initializers
from dlc import regularizers as _regularizers
from dlc.layers.base import Layer, accumulate, shape_str
from dlc.layers.core import _reject


class BatchNormalization(Layer):
    """Normalizes each channel over the batch (and spatial axes), then scales and shifts:
    `gamma * (x - mean) / sqrt(var + epsilon) + beta`.

    In training (`fit`), uses the batch's mean and variance and updates the moving statistics
    `moving = moving * momentum + batch * (1 - momentum)`; at inference (`predict`, `evaluate`)
    and when `trainable=False`, uses the moving statistics (as Keras 3 does).

    Args:
        axis: the feature axis; dlc supports the last one (-1), Keras's default.
        momentum: of the moving statistics, default 0.99.
        epsilon: added to the variance, default 1e-3.
        center: learn beta; scale: learn gamma.
        beta_initializer, gamma_initializer, moving_mean_initializer,
            moving_variance_initializer, beta_regularizer, gamma_regularizer: as Keras.

    Weights, in Keras's order: `[gamma, beta, moving_mean, moving_variance]`.

    Example:

    >>> x = dlc.layers.BatchNormalization()(x)
    """

    _plan_safe = True

    _config = ("axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
               "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer",
               "gamma_regularizer")
    _overwrites_dx = True

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, synchronized: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        momentum = _checks.check_float("BatchNormalization", "momentum", momentum, 0.0, 1.0, high_open=False)
        epsilon = _checks.check_float("BatchNormalization", "epsilon", epsilon, 0.0, float("inf"))
        if epsilon == 0.0:
            raise ValueError("BatchNormalization: argument `epsilon` must be > 0, received 0.0")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"BatchNormalization: argument `axis` must be an int, received {axis!r}")
        _reject("BatchNormalization", beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center = _checks.check_bool("BatchNormalization", "center", center)
        self.scale = _checks.check_bool("BatchNormalization", "scale", scale)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.moving_mean_initializer = _initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = _initializers.get(moving_variance_initializer)
        self.beta_regularizer = _regularizers.get(beta_regularizer)
        self.gamma_regularizer = _regularizers.get(gamma_regularizer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        if self.axis not in (-1, len(input_shape) - 1):
            raise NotImplementedError(
                f"BatchNormalization '{self.name}': dlc normalizes over the last (channel) axis only, "
                f"received axis={self.axis} for input shape {shape_str(input_shape)}"
            )
        c = input_shape[-1]
        if c is None:
            raise ValueError(f"BatchNormalization '{self.name}': the channel axis must be known, received {shape_str(input_shape)}")
        if self.scale:
            self.gamma = self.add_weight("gamma", (c,), self.gamma_initializer, self.gamma_regularizer)
        if self.center:
            self.beta = self.add_weight("beta", (c,), self.beta_initializer, self.beta_regularizer)
        self.moving_mean = self.add_weight("moving_mean", (c,), self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (c,), self.moving_variance_initializer,
                                               trainable=False)

    def forward(self, ctx, x, training):
        c = x.shape[-1]
        x2 = x.reshape(-1, c)
        y = ctx.buf("y", x.shape)
        gamma = self.gamma.value if self.scale else None
        beta = self.beta.value if self.center else None
        train = bool(training) and self.trainable
        stats = None
        relu = ctx.relu_out  # a ReLU layer behind this one, fused by the executor
        if train:
            stats = ctx.buf("mean", (c,)), ctx.buf("invstd", (c,))
            _C.batchnorm_forward_train(x2, gamma, beta, y.reshape(-1, c), stats[0], stats[1],
                                       self.moving_mean.value, self.moving_variance.value,
                                       epsilon=self.epsilon, momentum=self.momentum, relu=relu)
        else:
            _C.batchnorm_forward_infer(x2, gamma, beta, self.moving_mean.value,
                                       self.moving_variance.value, y.reshape(-1, c),
                                       epsilon=self.epsilon, relu=relu)
        ctx.saved["x2"], ctx.saved["stats"] = x2, stats
        ctx.saved["relu_y"] = y if relu else None
        return y

    def _can_fuse_relu(self) -> bool:
        return True

    def backward(self, ctx, dy, dx):
        c = dy.shape[-1]
        dy2 = dy.reshape(-1, c)
        gamma = self.gamma.value if self.scale else None
        stats, relu_y = ctx.saved["stats"], ctx.saved["relu_y"]
        mask = relu_y.reshape(-1, c) if relu_y is not None else None
        if stats is not None:
            dx2 = dx.reshape(-1, c) if dx is not None else ctx.buf("dx_scratch", dy2.shape)
            _C.batchnorm_backward(ctx.saved["x2"], dy2, gamma, stats[0], stats[1],
                                  dx2, self.gamma.grad if self.scale else None,
                                  self.beta.grad if self.center else None, dy_mask=mask,
                                  accumulate=dx is not None and not ctx.overwrite())
            return
        if mask is not None:  # the fused ReLU's backward first
            dy2 = self._relu_backward(ctx, dy2, mask)
        # Inference-mode backward (a frozen layer): an affine map with the moving statistics.
        factor = (1.0 / np.sqrt(self.moving_variance.value.astype(np.float64) + self.epsilon)).astype(np.float32)
        if dx is not None:
            accumulate(dx, dy2 * (factor * gamma if gamma is not None else factor), ctx.overwrite())

    def macs(self, input_shape, output_shape):
        return 0
