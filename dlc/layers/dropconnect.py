"""DropConnect: dropout on a layer's weights instead of its outputs (Wan et al., 2013), as a
wrapper around any layer with a `kernel` (Keras has no DropConnect).

Why a wrapper, `DropConnect(Dense(64), rate=0.5)`, and not a `Dense(..., dropconnect=rate)`
keyword: the wrapped layer stays exactly the plain Keras layer (its code, its config and its
saved files, which Keras 3 still loads, are untouched), one wrapper serves every layer with a
kernel (Dense, Conv2D, DepthwiseConv2D, Conv2DTranspose, LocallyConnected2D), it reads like
Keras's own wrappers (`TimeDistributed(layer)`, `Bidirectional(layer)`: the layer is an
argument and its config is nested in the wrapper's), and at inference it is simply the
wrapped layer.
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, Optional

import numpy as np

from dlc import _C, _checks
from dlc._arena import Variable
from dlc.layers.base import Ctx, Layer
from dlc.layers.regularization import _Random


class DropConnect(_Random):
    """Drops individual weights of the wrapped layer's kernel at each training step: a fresh
    mask, the kernel's weights set to 0 with probability `rate` and the kept ones scaled by
    `1 / (1 - rate)` (inverted scaling, as dropout), for the whole batch of that step. The
    gradient reaches only the kept weights (scaled the same way); the bias is never dropped.
    At inference (`predict`, `evaluate`) it is the plain wrapped layer.

    Args:
        layer: the layer to wrap, one with a `kernel` weight (Dense, Conv2D,
            DepthwiseConv2D, Conv2DTranspose, LocallyConnected2D).
        rate: float in [0, 1), the fraction of weights dropped per step.
        seed: optional int; by default drawn from dlc's seeded generator. The mask of step t
            is Dropout's mask for the kernel's shape keyed by (seed, t): the same for any
            number of threads, and `dlc.utils.set_random_seed` makes training repeatable.

    Weights, config and summary are the wrapped layer's (its weights keep their names and
    Keras's layout). The wrapped layer's `activation` is the wrapper's, so a softmax output
    keeps the fused softmax + cross-entropy loss.

    Example:

    >>> model = dlc.models.Sequential([
    ...     dlc.layers.Input((784,)),
    ...     dlc.layers.DropConnect(dlc.layers.Dense(256, activation="relu"), rate=0.5),
    ...     dlc.layers.Dense(10, activation="softmax")])
    """

    _config = ("rate", "seed")

    def __init__(self, layer: Any, rate: float = 0.5, seed: Optional[int] = None, **kwargs: Any) -> None:
        if isinstance(layer, dict):  # a nested config, from get_config() or a saved model
            from dlc.saving.keras_config import layer_from_keras

            layer = layer_from_keras(layer, where="DropConnect")
        if not isinstance(layer, Layer):
            raise TypeError(f"DropConnect: argument `layer` must be a dlc layer with a kernel (e.g. "
                            f"dlc.layers.Dense(64)), received {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self.rate = _checks.check_float("DropConnect", "rate", rate, 0.0, 1.0)
        self._init_random(seed)
        if not self._trainable:
            layer.trainable = False

    # The wrapped layer's trainable flag is the wrapper's (one flag, so the optimizer and the
    # layer's own backward never disagree).
    @property
    def trainable(self) -> bool:
        return self.layer.trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self.layer.trainable = value

    @property
    def activation(self) -> Any:
        return getattr(self.layer, "activation", None)

    def _sublayers(self):
        return [self.layer]

    def get_config(self) -> Dict[str, Any]:
        from dlc.saving.keras_config import layer_to_keras

        config = super().get_config()
        config["layer"] = layer_to_keras(self.layer)
        return config

    def build(self, input_shape):
        self.layer._maybe_build(input_shape)
        kernel = getattr(self.layer, "kernel", None)
        if not isinstance(kernel, Variable) or not kernel.trainable:
            raise TypeError(
                f"DropConnect '{self.name}': the wrapped layer must have a trainable `kernel` weight (Dense, "
                f"Conv2D, DepthwiseConv2D, Conv2DTranspose, LocallyConnected2D), received "
                f"{type(self.layer).__name__} '{self.layer.name}'")
        self._variables = list(self.layer._variables)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    @contextlib.contextmanager
    def _masked_kernel(self, ctx: Ctx, value: np.ndarray, grad: Optional[np.ndarray]) -> Iterator[None]:
        """The wrapped layer's `kernel` is a stand-in holding `value` (the masked kernel) and
        `grad` (the gradient of the masked kernel) for one of its own calls; the real variable,
        which the optimizer, get_weights and saving see, is restored afterwards whatever
        happens."""
        real = self.layer.kernel
        shadow = ctx.cache("shadow", lambda: Variable(real.name, real.shape, None, None, True, self.layer.name))
        shadow.value, shadow.grad = value, grad
        self.layer.kernel = shadow
        try:
            yield
        finally:
            self.layer.kernel = real
            shadow.value = shadow.grad = None

    def forward(self, ctx, x, training):
        inner = ctx.cache("inner", Ctx)
        mask = None
        if training and self.rate > 0.0:
            kernel = self.layer.kernel
            w = ctx.buf("masked_kernel", kernel.shape)
            mask = ctx.buf("mask", kernel.shape, np.uint8)
            _C.dropout_forward(kernel.value, w, mask, rate=self.rate, seed=self._seed, step=self._next_step())
            with self._masked_kernel(ctx, w, None):
                y = self.layer.forward(inner, x, training)
            ctx.saved["masked_kernel"] = w
        else:
            y = self.layer.forward(inner, x, training)
        ctx.saved["mask"], ctx.saved["inner"] = mask, inner
        if "z" in inner.saved:  # the pre-activation, for a loss fused with a softmax
            ctx.saved["z"] = inner.saved["z"]
        return y

    def backward(self, ctx, dy, dx):
        self._backward(ctx, self.layer.backward, dy, dx)

    def backward_linear(self, ctx, dz, dx):
        self._backward(ctx, self.layer.backward_linear, dz, dx)

    def _backward(self, ctx, inner_backward, d, dx):
        mask, inner = ctx.saved["mask"], ctx.saved["inner"]
        if mask is None:
            inner_backward(inner, d, dx)
            return
        kernel = self.layer.kernel
        dw = ctx.zeros("masked_grad", kernel.shape)
        with self._masked_kernel(ctx, ctx.saved["masked_kernel"], dw):
            inner_backward(inner, d, dx)
        if self.layer.trainable:  # dW = dW_masked * mask / (1 - rate)
            _C.dropout_backward(mask, dw, kernel.grad, rate=self.rate)

    def macs(self, input_shape, output_shape):
        return self.layer.macs(input_shape, output_shape)


__all__ = ["DropConnect"]
