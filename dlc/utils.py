"""Utilities: seeding, one-hot encoding, normalisation, the progress bar.

Example:

>>> import dlc
>>> dlc.utils.set_random_seed(1337)
>>> dlc.utils.to_categorical([0, 2, 1], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.],
       [0., 1., 0.]], dtype=float32)
"""
from __future__ import annotations

import random as _py_random
from typing import Any, Optional

import numpy as np

from dlc import _random
from dlc._progress import Progbar

__all__ = ["set_random_seed", "to_categorical", "normalize", "Progbar"]


def set_random_seed(seed: int) -> None:
    """Sets all random seeds: dlc's, Python's and NumPy's.

    Seeds dlc's own generator (weight initialisers, shuffling in `fit`, dropout), and, as Keras
    does, Python's `random` module and NumPy's legacy global generator (`np.random.seed`), so
    code that mixes them is reproducible too.

    Args:
        seed: a non-negative integer.

    Example:

    >>> dlc.utils.set_random_seed(812)
    >>> a = np.random.rand()
    >>> dlc.utils.set_random_seed(812)
    >>> a == np.random.rand()
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError("Expected `seed` argument to be an integer. "
                         f"Received: seed={seed!r} (of type {type(seed).__name__})")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"Expected `seed` argument to be non-negative. Received: seed={seed}")
    _random.seed(seed)
    _py_random.seed(seed)
    # The legacy generator only takes 32-bit seeds.
    np.random.seed(seed % (1 << 32))


def to_categorical(x: Any, num_classes: Optional[int] = None) -> np.ndarray:
    """Converts a class vector (integers) to binary class matrix.

    E.g. for use with `categorical_crossentropy`. A trailing axis of size 1 is dropped first,
    so labels of shape `(n,)` and `(n, 1)` both give `(n, num_classes)`.

    Args:
        x: Array-like with class values to be converted into a matrix
            (integers from 0 to `num_classes - 1`).
        num_classes: Total number of classes. If `None`, this would be inferred
            as `max(x) + 1`. Defaults to `None`.

    Returns:
        A binary matrix representation of the input as a float32 NumPy array. The class axis
        is placed last.

    Example:

    >>> a = dlc.utils.to_categorical([0, 1, 2, 3], num_classes=4)
    >>> print(a)
    [[1. 0. 0. 0.]
     [0. 1. 0. 0.]
     [0. 0. 1. 0.]
     [0. 0. 0. 1.]]
    """
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr)):
            raise ValueError("to_categorical: argument 'x' must hold integer class values, "
                             "received non-integer floats")
    elif arr.dtype.kind not in "iub":
        raise TypeError("to_categorical: argument 'x' must hold integer class values, "
                        f"received dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    input_shape = arr.shape
    if len(input_shape) > 1 and input_shape[-1] == 1:
        input_shape = input_shape[:-1]
    flat = arr.reshape(-1)
    if num_classes is None or num_classes == 0:
        if flat.size == 0:
            raise ValueError("to_categorical: cannot infer `num_classes` from an empty 'x'; "
                             "pass num_classes")
        num_classes = int(flat.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"to_categorical: argument 'num_classes' must be an int, "
                        f"received {num_classes!r}")
    num_classes = int(num_classes)
    if num_classes < 0:
        raise ValueError(f"to_categorical: argument 'num_classes' must be positive, "
                         f"received {num_classes}")
    if flat.size:
        lo, hi = int(flat.min()), int(flat.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"to_categorical: class values must be in [0, {num_classes - 1}] "
                             f"for num_classes={num_classes}, received {bad}")
    out = np.zeros((flat.size, num_classes), dtype=np.float32)
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape(tuple(input_shape) + (num_classes,))


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """Normalizes an array.

    Divides `x` by its `order`-norm along `axis`; slices whose norm is zero are left as they
    are.

    Args:
        x: Array to normalize.
        axis: axis along which to normalize.
        order: Normalization order (e.g. `order=2` for L2 norm).

    Returns:
        A normalized copy of the array.

    Example:

    >>> dlc.utils.normalize(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
    """
    x = np.asarray(x)
    if x.dtype.kind not in "fc":
        x = x.astype(np.float32 if x.dtype.itemsize <= 2 else np.float64)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm = np.where(norm == 0, np.ones_like(norm), norm)
    return x / norm
