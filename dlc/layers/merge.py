"""Merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum."""
from __future__ import annotations

from typing import Any, List

import numpy as np

from dlc import _C
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

    _overwrites_dx = True

    def backward(self, ctx, dy, dxs):
        for i, dx in enumerate(dxs):
            accumulate(dx, dy, ctx.overwrite(i))


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

    _plan_safe = True

    _config = ("axis",)
    _overwrites_dx = True

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
        rows, inner = int(np.prod(shape[:ax])), int(np.prod(shape[ax + 1:]))
        flat, ld, start = y.reshape(-1), shape[ax] * inner, 0
        for x in xs:  # each input is a block of columns of y seen as (rows, ld)
            cols = x.shape[ax] * inner
            _C.copy2d(np.ascontiguousarray(x).reshape(-1), flat, rows=rows, cols=cols, ldx=cols,
                      ldy=ld, offset_y=start)
            start += cols
        ctx.saved["sizes"] = [x.shape[ax] for x in xs]
        return y

    def backward(self, ctx, dy, dxs):
        ax = self._axis(dy.ndim)
        rows, inner = int(np.prod(dy.shape[:ax])), int(np.prod(dy.shape[ax + 1:]))
        flat, ld, start = dy.reshape(-1), dy.shape[ax] * inner, 0
        for i, (dx, size) in enumerate(zip(dxs, ctx.saved["sizes"])):
            cols = size * inner
            if dx is not None:
                _C.copy2d(flat, dx.reshape(-1), rows=rows, cols=cols, ldx=ld, ldy=cols,
                          offset_x=start, accumulate=not ctx.overwrite(i))
            start += cols


def _broadcast(a: tuple, b: tuple) -> tuple:
    """NumPy's broadcast of two shapes with None for unknown sizes."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1 or y is None or x is None or x == y:
            out.append(x if x is not None else y)
        else:
            raise ValueError(f"cannot broadcast shapes {shape_str(a)} and {shape_str(b)}")
    return tuple(out)


def _reduce_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """`g` summed over the axes along which an operand of `shape` was broadcast."""
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


class TensorOp(Layer):
    """An elementwise arithmetic node: what `a + b`, `a - b`, `a * b`, `a / b` and `-a` build on
    symbolic tensors (with NumPy broadcasting), and `a + 2.0`, `1 - a`, ... with a scalar.

    Args:
        op: 'add', 'subtract', 'multiply', 'divide' or 'negative'.
        scalar: the constant operand, or None when both operands are tensors.
        reverse: the scalar comes first (`2 - a`, `1 / a`).

    Example:

    >>> x = x + shortcut          # the same as dlc.layers.add([x, shortcut])
    >>> y = (x - 0.5) * 2.0
    """

    _config = ("op", "scalar", "reverse")
    _OPS = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
            "negative": None}

    def __init__(self, op: str, scalar: Any = None, reverse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if op not in self._OPS:
            raise ValueError(f"TensorOp: argument `op` must be one of {sorted(self._OPS)}, received {op!r}")
        if scalar is not None and (isinstance(scalar, bool) or not isinstance(scalar, (int, float, np.number))):
            raise TypeError(f"TensorOp: argument `scalar` must be a number, received {scalar!r}")
        self.op, self.scalar, self.reverse = op, None if scalar is None else float(scalar), bool(reverse)

    def _binary(self) -> bool:
        return self.op != "negative" and self.scalar is None

    def compute_output_shape(self, input_shape):
        if self._binary():
            if not isinstance(input_shape, list) or len(input_shape) != 2:
                raise ValueError(f"TensorOp '{self.name}' ({self.op}) takes 2 tensors, received {input_shape}")
            return _broadcast(input_shape[0], input_shape[1])
        return input_shape

    def forward(self, ctx, x, training):
        if self.op == "negative":
            y = ctx.buf("y", x.shape)
            np.negative(x, out=y)
            return y
        a, b = (x[0], x[1]) if self._binary() else ((np.float32(self.scalar), x) if self.reverse
                                                     else (x, np.float32(self.scalar)))
        y = ctx.buf("y", np.broadcast_shapes(np.shape(a), np.shape(b)))
        self._OPS[self.op](a, b, out=y)
        ctx.saved["a"], ctx.saved["b"] = a, b
        return y

    def backward(self, ctx, dy, dx):
        if self.op == "negative":
            if dx is not None:
                np.subtract(dx, dy, out=dx)
            return
        a, b = ctx.saved["a"], ctx.saved["b"]
        grads = {"add": (lambda: dy, lambda: dy), "subtract": (lambda: dy, lambda: -dy),
                 "multiply": (lambda: dy * b, lambda: dy * a),
                 "divide": (lambda: dy / b, lambda: -dy * a / (b * b))}[self.op]
        targets = dx if self._binary() else ([None, dx] if self.reverse else [dx, None])
        for d, grad in zip(targets, grads):
            if d is not None:
                np.add(d, _reduce_to(grad(), d.shape).astype(np.float32, copy=False), out=d)


def _merge_function(cls: type, doc: str):
    def merge(inputs: List[Any], **kwargs: Any) -> Any:
        return cls(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = cls.__name__.lower()
    merge.__doc__ = doc
    return merge


add = _merge_function(Add, "`Add()(inputs)`: the sum of a list of tensors (a residual connection).")
subtract = _merge_function(Subtract, "`Subtract()(inputs)`: the first of two tensors minus the second.")
multiply = _merge_function(Multiply, "`Multiply()(inputs)`: the elementwise product of a list of tensors.")
average = _merge_function(Average, "`Average()(inputs)`: the elementwise mean of a list of tensors.")
maximum = _merge_function(Maximum, "`Maximum()(inputs)`: the elementwise maximum of a list of tensors.")
minimum = _merge_function(Minimum, "`Minimum()(inputs)`: the elementwise minimum of a list of tensors.")


def concatenate(inputs: List[Any], axis: int = -1, **kwargs: Any) -> Any:
    """`Concatenate(axis)(inputs)`: a list of tensors joined along `axis` (default: channels).

    Example:

    >>> y = dlc.layers.concatenate([branch1x1, branch3x3, branch5x5, branch_pool])
    """
    return Concatenate(axis=axis, **kwargs)(inputs)
