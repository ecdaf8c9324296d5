"""One flat parameter arena per model (ARCHITECTURE.md, "The arena").

Layers reserve variables while they build; `Arena.finalize()` allocates one float32 array for
the trainable parameters, one for their gradients and one for non-trainable state (batch-norm
moving statistics), runs the initializers in place and binds every variable to a view of its
arena. Offsets are rounded up to 16 floats (64 bytes). Nothing reallocates afterwards:
`set_weights` copies into the views, and the optimizer updates the whole arena in one C call.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

ALIGN = 16  # floats


def _round_up(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class Variable:
    """A layer's weight: a named float32 array that lives in its model's arena.

    Attributes:
        name: the weight's name within its layer (`kernel`, `bias`, `gamma`, ...).
        path: `layer_name/name`.
        shape: the weight's shape.
        trainable: whether the optimizer updates it (and it has a gradient).
        value: the float32 array (a view into the arena once the model is built).
        grad: its gradient (a view into the gradient arena), None if not trainable.

    Example:

    >>> layer = dlc.layers.Dense(3)
    >>> layer.build((None, 4))
    >>> layer.kernel.shape
    (4, 3)
    """

    def __init__(self, name: str, shape: Sequence[int], initializer: Callable,
                 regularizer: Optional[Callable] = None, trainable: bool = True,
                 layer_name: str = "") -> None:
        self.name = name
        self.path = f"{layer_name}/{name}" if layer_name else name
        self.shape = tuple(int(s) for s in shape)
        self.initializer = initializer
        self.regularizer = regularizer
        self.trainable = trainable
        self.value: Optional[np.ndarray] = None
        self.grad: Optional[np.ndarray] = None
        self.arena: Optional["Arena"] = None
        self.offset = -1
        # True while this training step's backward has not written the gradient yet
        # (Arena.begin_gradients): its first writer overwrites it instead of adding.
        self.grad_fresh = False

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self) -> str:
        return "float32"

    def take_grad_fresh(self) -> bool:
        """Whether the caller is the gradient's first writer in this backward pass (so it
        overwrites `grad`, which holds no value yet); later calls return False (add)."""
        fresh, self.grad_fresh = self.grad_fresh, False
        return fresh

    def numpy(self) -> np.ndarray:
        """A copy of the value as a NumPy array."""
        self._require_value()
        return self.value.copy()

    def assign(self, value) -> None:
        """Copies `value` into the variable (same shape), keeping the arena binding."""
        self._require_value()
        arr = np.asarray(value, dtype=np.float32)
        if arr.shape != self.shape:
            raise ValueError(
                f"Variable '{self.path}' has shape {self.shape}, received a value of shape "
                f"{arr.shape}"
            )
        np.copyto(self.value, arr)

    def _require_value(self) -> None:
        if self.value is None:
            raise ValueError(f"Variable '{self.path}' has no value yet: build the layer first")

    def __array__(self, dtype=None, copy=None):
        self._require_value()
        return self.value if dtype is None else self.value.astype(dtype)

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, trainable={self.trainable}>"


class Arena:
    """Flat storage for the variables of one model (or of one standalone layer)."""

    def __init__(self) -> None:
        self.variables: List[Variable] = []
        self.params = np.zeros(0, np.float32)     # trainable values
        self.grads = np.zeros(0, np.float32)      # their gradients
        self.state = np.zeros(0, np.float32)      # non-trainable values
        self.finalized = False
        self._fresh = False  # begin_gradients called and not yet settled

    def finalize(self, variables: Sequence[Variable]) -> None:
        """Allocates the arenas for `variables`, copies in values they already hold (a layer
        built before it joined this model keeps its weights), initializes the others, and binds
        every variable to its view."""
        if self.finalized:
            raise RuntimeError("Arena.finalize() called twice")
        offsets: List[Tuple[Variable, int]] = []
        n_train = n_state = 0
        for v in variables:
            if v.trainable:
                offsets.append((v, n_train))
                n_train += _round_up(v.size)
            else:
                offsets.append((v, n_state))
                n_state += _round_up(v.size)
        try:
            self.params = np.zeros(n_train, np.float32)
            self.grads = np.zeros(n_train, np.float32)
            self.state = np.zeros(n_state, np.float32)
        except (MemoryError, ValueError):
            big = max(variables, key=lambda v: v.size)
            raise MemoryError(
                f"The model's weights need {2 * n_train + n_state:,} floats "
                f"({(2 * n_train + n_state) * 4 / 2**30:,.1f} GiB with their gradients), more than this "
                f"machine can allocate; the largest is '{big.path}' of shape {big.shape}"
            ) from None
        for v, off in offsets:
            buf = self.params if v.trainable else self.state
            view = buf[off:off + v.size].reshape(v.shape)
            old = v.value
            if old is not None:
                np.copyto(view, old)
            else:
                init = np.asarray(v.initializer(v.shape, "float32"), dtype=np.float32)
                if init.shape != v.shape:
                    raise ValueError(
                        f"Initializer of '{v.path}' returned shape {init.shape}, expected {v.shape}"
                    )
                np.copyto(view, init)
            v.value = view
            v.grad = self.grads[off:off + v.size].reshape(v.shape) if v.trainable else None
            v.arena = self
            v.offset = off
        self.variables = list(variables)
        self.finalized = True

    @property
    def trainable_size(self) -> int:
        """Floats in the trainable arena (including alignment padding)."""
        return int(self.params.size)

    def zero_grads(self) -> None:
        """Zeroes every gradient (one fill)."""
        self.grads.fill(0.0)

    def begin_gradients(self) -> None:
        """Starts a backward pass without zero-filling the gradients: every gradient is
        marked fresh, its first writer overwrites it (`Variable.take_grad_fresh`), and
        `settle_gradients` zeroes those no kernel wrote."""
        for v in self.variables:
            if v.grad is not None:
                v.grad_fresh = True
        self._fresh = True

    def settle_gradients(self) -> None:
        """Zeroes every gradient still fresh: before a layer that only adds into its
        gradients, and after the backward pass (gradients nothing reached are zero)."""
        if not self._fresh:
            return
        for v in self.variables:
            if v.grad_fresh:
                v.grad.fill(0.0)
                v.grad_fresh = False
        self._fresh = False
