"""Merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum."""
from __future__ import annotations

from typing import Any, List

import numpy as np

from dlc.layers.base import Layer, accumulate, shape_str


class _Merge(Layer):
    def _fold(self, ctx, xs, op) -> np.ndarray:
        """op(...op(op(xs[0], xs[1]), xs[2])...) into the node's output buffer."""
        y = ctx.buf("y", xs[0].shape)
        op(xs[0], xs[1], out=y)
        for x in xs[2:]:
            op(y, x, out=y)
        return y

    def _check(self, input_shape) -> None:
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(f"{type(self).__name__} '{self.name}' must be called on a list of at least 2 inputs, received {input_shape}")

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        first = input_shape[0]
        for s in input_shape[1:]:
            if len(s) != len(first) or any(a is not None and b is not None and a != b for a, b in zip(s[1:], first[1:])):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' needs inputs of the same shape, received "
                    + ", ".join(shape_str(t) for t in input_shape)
                )
        return first


class Add(_Merge):
    """Adds a list of inputs of the same shape (e.g. a residual connection).

    Example:

    >>> y = dlc.layers.Add()([x, shortcut])
    """

    def forward(self, ctx, xs, training):
        return self._fold(ctx, xs, np.add)

    def backward(self, ctx, dy, dxs):
        for dx in dxs:
            accumulate(dx, dy)


class Subtract(_Merge):
    """Subtracts the second of two inputs from the first."""

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list) and len(input_shape) != 2:
            raise ValueError(f"Subtract '{self.name}' takes exactly 2 inputs, received {len(input_shape)}")
        return super().compute_output_shape(input_shape)

    def forward(self, ctx, xs, training):
        y = ctx.buf("y", xs[0].shape)
        np.subtract(xs[0], xs[1], out=y)
        return y

    def backward(self, ctx, dy, dxs):
        accumulate(dxs[0], dy)
        if dxs[1] is not None:
            np.subtract(dxs[1], dy, out=dxs[1])


class Average(_Merge):
    """Averages a list of inputs of the same shape."""

    def forward(self, ctx, xs, training):
        y = self._fold(ctx, xs, np.add)
        y *= np.float32(1.0 / len(xs))
        return y

    def backward(self, ctx, dy, dxs):
        scaled = dy * np.float32(1.0 / len(dxs))
        for dx in dxs:
            accumulate(dx, scaled)


class Multiply(_Merge):
    """Multiplies a list of inputs of the same shape elementwise."""

    def forward(self, ctx, xs, training):
        ctx.saved["xs"] = xs
        return self._fold(ctx, xs, np.multiply)

    def backward(self, ctx, dy, dxs):
        xs: List[np.ndarray] = ctx.saved["xs"]
        for i, dx in enumerate(dxs):
            if dx is None:
                continue
            g = dy.copy()
            for j, x in enumerate(xs):
                if j != i:
                    g *= x
            accumulate(dx, g)


class _Extremum(_Merge):
    _op: Any = None

    def forward(self, ctx, xs, training):
        y = ctx.buf("y", xs[0].shape)
        winner = ctx.buf("winner", xs[0].shape, np.int32)
        np.copyto(y, xs[0])
        winner.fill(0)
        for i, x in enumerate(xs[1:], start=1):
            better = type(self)._op(x, y)
            np.copyto(y, x, where=better)
            winner[better] = i
        ctx.saved["winner"] = winner
        return y

    def backward(self, ctx, dy, dxs):
        winner = ctx.saved["winner"]
        for i, dx in enumerate(dxs):
            if dx is not None:
                np.add(dx, np.where(winner == i, dy, np.float32(0)), out=dx)


class Maximum(_Extremum):
    """Elementwise maximum of a list of inputs (the gradient goes to the first maximum)."""

    _op = np.greater


class Minimum(_Extremum):
    """Elementwise minimum of a list of inputs (the gradient goes to the first minimum)."""

    _op = np.less


class Concatenate(_Merge):
    """Concatenates a list of inputs along `axis` (default: the last, channels).

    Example:

    >>> y = dlc.layers.Concatenate()([branch1x1, branch3x3, branch5x5, branch_pool])
    """

    _config = ("axis",)

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Concatenate: argument `axis` must be an int, received {axis!r}")
        self.axis = axis

    def _axis(self, ndim: int) -> int:
        ax = self.axis + ndim if self.axis < 0 else self.axis
        if not 1 <= ax < ndim:
            raise ValueError(f"Concatenate '{self.name}': axis {self.axis} is out of range for {ndim}-D inputs (the batch axis cannot be concatenated)")
        return ax

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        ndim = len(input_shape[0])
        ax = self._axis(ndim)
        for s in input_shape:
            if len(s) != ndim or any(i != ax and i > 0 and a is not None and b is not None and a != b
                                     for i, (a, b) in enumerate(zip(s, input_shape[0]))):
                raise ValueError(
                    f"Concatenate '{self.name}' needs inputs that match except on axis {self.axis}, received "
                    + ", ".join(shape_str(t) for t in input_shape)
                )
        sizes = [s[ax] for s in input_shape]
        out = list(input_shape[0])
        out[ax] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def forward(self, ctx, xs, training):
        ax = self._axis(xs[0].ndim)
        shape = list(xs[0].shape)
        shape[ax] = sum(x.shape[ax] for x in xs)
        y = ctx.buf("y", shape)
        np.concatenate(xs, axis=ax, out=y)
        ctx.saved["sizes"] = [x.shape[ax] for x in xs]
        return y

    def backward(self, ctx, dy, dxs):
        ax = self._axis(dy.ndim)
        start = 0
        index = [slice(None)] * dy.ndim
        for dx, size in zip(dxs, ctx.saved["sizes"]):
            index[ax] = slice(start, start + size)
            if dx is not None:
                np.add(dx, dy[tuple(index)], out=dx)
            start += size
