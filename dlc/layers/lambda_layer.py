"""Lambda: a NumPy function as a forward-only layer (Keras 3's `Lambda`, without code in
configs)."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Optional

import numpy as np

from dlc.layers.base import Layer
from dlc.layers.core import _reject


class Lambda(Layer):
    """Wraps a function of NumPy arrays as a layer, for transforms that need no gradient:
    scaling or normalizing raw inputs, clipping, a fixed feature map.

    Args:
        function: called as `function(x, **arguments)` on the input array (a list of arrays
            for a list of inputs); returns an array whose first axis is the batch. It receives
            read-only arrays (compute a new array, do not write into its input). When it takes
            a `training` argument it gets the training flag.
        output_shape: the output shape without the batch axis (a tuple), or a function of the
            input shape giving the full output shape; by default the function is run once on
            zeros to find it (inputs of known size only).
        arguments: optional dict of keyword arguments for `function`.

    dlc does not differentiate Python code, so no gradient may need to flow through a Lambda:
    call it directly on the model's `Input`, where the executor asks for none (compose several
    transforms in one Lambda rather than chaining them). Training a model in which a Lambda
    follows another layer (any layer: the executor then hands it a gradient to fill) raises an
    error naming it; `predict` and `evaluate` run any Lambda. And dlc never stores code in configs (no pickle, no bytecode): `get_config()` (so
    `model.save`, `to_json`) refuses a Lambda; rebuild the model in code and use
    `save_weights` / `load_weights`.

    Example:

    >>> inputs = dlc.layers.Input((28, 28, 1))
    >>> x = dlc.layers.Lambda(lambda v: v / 255.0)(inputs)   # raw pixels in, no gradient needed
    >>> x = dlc.layers.Conv2D(32, 3, activation="relu")(x)
    """

    def __init__(self, function: Callable[..., Any], output_shape: Any = None, mask: Any = None,
                 arguments: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: argument `function` must be callable, received {function!r}")
        _reject("Lambda", mask=mask)
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: argument `arguments` must be a dict of keyword arguments, received {arguments!r}")
        if output_shape is not None and not callable(output_shape):
            try:
                output_shape = tuple(None if d is None else int(d) for d in output_shape)
            except TypeError:
                raise TypeError(f"Lambda: argument `output_shape` must be a tuple (without the batch axis) "
                                f"or a function of the input shape, received {output_shape!r}") from None
        self.function = function
        self.output_shape = output_shape
        self.arguments = dict(arguments or {})
        try:
            self._takes_training = "training" in inspect.signature(function).parameters
        except (TypeError, ValueError):  # builtins without a signature
            self._takes_training = False

    def _call(self, x: Any, training: bool) -> Any:
        kwargs = dict(self.arguments)
        if self._takes_training:
            kwargs["training"] = bool(training)
        return self.function(x, **kwargs)

    def compute_output_shape(self, input_shape):
        multi = isinstance(input_shape, list)
        batch = input_shape[0][0] if multi else input_shape[0]
        if callable(self.output_shape):
            return tuple(self.output_shape(input_shape))
        if self.output_shape is not None:
            return (batch,) + self.output_shape
        shapes = input_shape if multi else [input_shape]
        if any(d is None for s in shapes for d in s[1:]):
            raise ValueError(f"Lambda '{self.name}': give `output_shape` for inputs of unknown size, received "
                             f"input shape {input_shape}")
        probe = [np.zeros((2,) + tuple(s[1:]), np.float32) for s in shapes]
        for p in probe:
            p.flags.writeable = False
        out = np.asarray(self._call(probe if multi else probe[0], False))
        if out.ndim < 1 or out.shape[0] != 2:
            raise ValueError(f"Lambda '{self.name}': the function must keep the batch axis first; on a batch of 2 "
                             f"it returned shape {out.shape}")
        return (batch,) + out.shape[1:]

    def forward(self, ctx, x, training):
        multi = isinstance(x, list)
        views = [v.view() for v in (x if multi else [x])]
        for v in views:
            v.flags.writeable = False
        out = self._call(views if multi else views[0], training)
        y = np.ascontiguousarray(out, dtype=np.float32)
        n = views[0].shape[0]
        if y.ndim < 1 or y.shape[0] != n:
            raise ValueError(f"Lambda '{self.name}': the function must return an array with the batch axis first "
                             f"({n} rows), received shape {np.shape(out)}")
        return y

    def backward(self, ctx, dy, dx):
        if all(d is None for d in (dx if isinstance(dx, list) else [dx])):
            return  # nothing before this Lambda needs a gradient (e.g. it follows the model's input)
        raise NotImplementedError(
            f"Lambda '{self.name}': training needs the gradient through this Lambda (it follows another layer, "
            f"or its model's inputs need gradients), but dlc does not differentiate Python functions. Call the "
            f"Lambda directly on the model's Input (one Lambda for several transforms), or write a Layer "
            f"subclass with `forward` and `backward`.")

    def get_config(self):
        raise NotImplementedError(
            f"Lambda '{self.name}' cannot be serialized: its function is Python code, and dlc never stores code "
            f"in configs (no pickle, no bytecode). Rebuild the model in code and keep its weights with "
            f"save_weights / load_weights.")

    @classmethod
    def from_config(cls, config):
        raise NotImplementedError("Lambda layers cannot be rebuilt from a config: dlc never loads code. Rebuild "
                                  "the model in code and load its weights with load_weights.")

    def __repr__(self) -> str:
        return f"<Lambda name={self.name}, function={getattr(self.function, '__name__', self.function)!r}>"


__all__ = ["Lambda"]
