"""LayerNormalization: Keras 3's layer, normalising each sample over its trailing axes."""
from __future__ import annotations

from typing import Any, List, Sequence, Tuple

from dlc import _C, _checks
from dlc import initializers as _initializers
from dlc import regularizers as _regularizers
from dlc._geometry import prod
from dlc.layers.base import Layer, shape_str
from dlc.layers.core import _reject


class LayerNormalization(Layer):
    """Normalizes each sample over its feature axes, then scales and shifts:
    `gamma * (x - mean) / sqrt(var + epsilon) + beta`, with the mean and (biased) variance of
    each sample over `axis`; the same in training and inference (no moving statistics).

    Args:
        axis: the axis or axes to normalize over, default -1 (Keras 3's default: the last).
            dlc supports the last axis and any run of trailing axes ending at it, e.g.
            `[1, 2, 3]` (or `[-3, -2, -1]`) to normalize each image over (rows, cols,
            channels); other axes (the batch axis, or axes not at the end) are refused.
        epsilon: added to the variance, default 1e-3.
        center: learn beta (an offset); scale: learn gamma (a factor).
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer: as Keras.

    Weights, in Keras's order: `[gamma, beta]`, each shaped like the normalized axes.

    Example:

    >>> x = dlc.layers.Dense(64)(inputs)
    >>> x = dlc.layers.LayerNormalization()(x)
    """

    _config = ("axis", "epsilon", "center", "scale", "rms_scaling", "beta_initializer", "gamma_initializer",
               "beta_regularizer", "gamma_regularizer")
    rms_scaling = False

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, rms_scaling: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        name = "LayerNormalization"
        if isinstance(axis, (list, tuple)):
            if not axis or any(isinstance(a, bool) or not isinstance(a, int) for a in axis):
                raise TypeError(f"{name}: argument `axis` must be an int or a non-empty list of ints, received {axis!r}")
            axis = list(axis)
        elif isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"{name}: argument `axis` must be an int or a list of ints, received {axis!r}")
        self.axis = axis
        self.epsilon = _checks.check_float(name, "epsilon", epsilon, 0.0, float("inf"))
        if self.epsilon == 0.0:
            raise ValueError(f"{name}: argument `epsilon` must be > 0, received 0.0")
        self.center = _checks.check_bool(name, "center", center)
        self.scale = _checks.check_bool(name, "scale", scale)
        if _checks.check_bool(name, "rms_scaling", rms_scaling):
            raise NotImplementedError(f"{name}: rms_scaling=True (deprecated in Keras 3) is not supported by dlc")
        _reject(name, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.beta_regularizer = _regularizers.get(beta_regularizer)
        self.gamma_regularizer = _regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None

    def _axes(self, input_shape: Sequence[Any]) -> List[int]:
        """The normalized axes as sorted positive indices: a run of trailing axes, or an error."""
        nd = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if a >= nd or a < -nd:
                raise ValueError(f"LayerNormalization '{self.name}': axis {a} is out of bounds for input shape "
                                 f"{shape_str(input_shape)}, received axis={self.axis}")
        axes = sorted({a % nd for a in axes})
        if axes != list(range(axes[0], nd)) or axes[0] == 0:
            raise NotImplementedError(
                f"LayerNormalization '{self.name}': dlc normalizes over the last axis or a run of trailing axes "
                f"ending at it (not the batch axis), e.g. axis=-1 or axis={list(range(1, nd))}; received "
                f"axis={self.axis} for input shape {shape_str(input_shape)}")
        return axes

    def _feature_shape(self, input_shape) -> Tuple[int, ...]:
        shape = tuple(input_shape[a] for a in self._axes(input_shape))
        if any(d is None for d in shape):
            raise ValueError(f"LayerNormalization '{self.name}': the normalized axes must have known sizes, "
                             f"received {shape_str(input_shape)}")
        return shape

    def build(self, input_shape):
        shape = self._feature_shape(input_shape)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer)

    def compute_output_shape(self, input_shape):
        self._axes(input_shape)
        return input_shape

    def forward(self, ctx, x, training):
        k = prod(self._feature_shape(x.shape))
        x2 = x.reshape(-1, k)
        y = ctx.buf("y", x.shape)
        mean, invstd = ctx.buf("mean", (x2.shape[0],)), ctx.buf("invstd", (x2.shape[0],))
        _C.layernorm_forward(x2, self.gamma.value.reshape(-1) if self.scale else None,
                             self.beta.value.reshape(-1) if self.center else None, y.reshape(-1, k), mean,
                             invstd, epsilon=self.epsilon)
        ctx.saved.update(x2=x2, mean=mean, invstd=invstd)
        return y

    def backward(self, ctx, dy, dx):
        x2 = ctx.saved["x2"]
        train = self.trainable
        _C.layernorm_backward(x2, dy.reshape(x2.shape), self.gamma.value.reshape(-1) if self.scale else None,
                              ctx.saved["mean"], ctx.saved["invstd"],
                              dx.reshape(x2.shape) if dx is not None else None,
                              self.gamma.grad.reshape(-1) if self.scale and train else None,
                              self.beta.grad.reshape(-1) if self.center and train else None)


__all__ = ["LayerNormalization"]
