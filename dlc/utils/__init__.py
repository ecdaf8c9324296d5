"""Small helpers around training: reproducible seeding, one-hot labels, unit-norm rows, the
progress bar class that `fit` uses, plots (`plot_history`, `plot_confusion_matrix`,
`plot_images`, `plot_filters`, `plot_feature_maps`; they need matplotlib, imported only when one
is called), `check_gradients` (finite differences against a model's backward pass), and
`plot_model` / `model_to_dot` (the graph, through pydot and Graphviz).

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

__all__ = ["set_random_seed", "to_categorical", "normalize", "Progbar", "PyDataset", "Sequence",
           "plot_history", "plot_confusion_matrix", "plot_images", "plot_filters",
           "plot_feature_maps", "check_gradients", "plot_model", "model_to_dot"]


class PyDataset:
    """Base class for data sets that hand `fit`, `evaluate` and `predict` one batch at a time.

    Subclasses implement `__len__` (the number of batches per epoch) and `__getitem__(index)`
    (the batch at that index: `x`, `(x, y)` or `(x, y, sample_weight)`), and may implement
    `on_epoch_end()` (e.g. to reshuffle). `fit(shuffle=True)` visits the batches in a new order
    each epoch. Keras 2's `keras.utils.Sequence` is the same class.

    Args:
        workers, use_multiprocessing, max_queue_size: Keras's parallel loading settings; dlc
            loads batches in the calling thread, in order, so these only need to be valid.

    Example:

    >>> class Batches(dlc.utils.PyDataset):
    ...     def __init__(self, x, y, batch_size=32, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.x, self.y, self.batch_size = x, y, batch_size
    ...     def __len__(self):
    ...         return -(-len(self.x) // self.batch_size)
    ...     def __getitem__(self, i):
    ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
    ...         return self.x[s], self.y[s]
    >>> model.fit(Batches(x_train, y_train), epochs=3)
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        for name, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"PyDataset: argument `{name}` must be an int >= 1, received {value!r}")
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, bool(use_multiprocessing), max_queue_size

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.__getitem__: return the batch at `index`")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__}.__len__: return the number of batches")

    @property
    def num_batches(self) -> int:
        """The number of batches per epoch (`len(self)`)."""
        return len(self)

    def on_epoch_end(self) -> None:
        """Called after every epoch of `fit` (override to reshuffle)."""


Sequence = PyDataset  # Keras 2's name



def set_random_seed(seed: int) -> None:
    """Makes a run repeatable by seeding every generator a training script is likely to touch.

    Three generators are seeded with the same value: dlc's own (used for weight initialisation,
    the shuffling done by `fit` and dropout masks), the standard-library `random` module, and
    NumPy's global legacy generator (`np.random.seed`; it accepts only 32-bit seeds, so it gets
    `seed` modulo 2**32). Seeding all three at once matches what Keras does and keeps scripts
    that draw from several of them deterministic.

    Args:
        seed: the seed, an `int` (or NumPy integer) that is zero or more. Booleans, floats and
            other types raise `ValueError`, as do negative values.

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
    # np.random.seed refuses values of 2**32 and above: fold the seed into that range.
    np.random.seed(seed % (1 << 32))


def to_categorical(x: Any, num_classes: Optional[int] = None) -> np.ndarray:
    """One-hot encodes integer labels, the target format of `categorical_crossentropy`.

    Each label `k` becomes a row of zeros with a single 1 in column `k`. The new class axis is
    appended after the label's own axes; when the labels come with a trailing axis of length 1
    (shape `(n, 1)`, as a column vector) that axis is dropped first, so `(n,)` and `(n, 1)`
    both produce `(n, num_classes)`.

    Args:
        x: the labels, anything `np.asarray` accepts. They must be whole numbers in
            `[0, num_classes)`: integer or boolean dtypes, or floats with no fractional part.
            Other floats raise `ValueError`, other dtypes `TypeError`.
        num_classes: width of the encoding. `None` (the default) or `0` means "one more than
            the largest label"; that needs at least one label.

    Returns:
        A new float32 NumPy array of shape `x.shape + (num_classes,)` (after dropping the
        length-1 trailing axis described above) holding only 0.0 and 1.0.

    Example:

    >>> labels = np.array([[2], [0], [2]])       # shape (3, 1)
    >>> dlc.utils.to_categorical(labels)          # 3 classes inferred from the largest label
    array([[0., 0., 1.],
           [1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    >>> dlc.utils.to_categorical([1, 0], num_classes=4).shape
    (2, 4)
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
    label_shape = arr.shape
    if arr.ndim >= 2 and label_shape[-1] == 1:  # column of labels: treat (n, 1) as (n,)
        label_shape = label_shape[:-1]
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
    return out.reshape(tuple(label_shape) + (num_classes,))


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scales every slice of `x` along `axis` to unit norm.

    The norm is `np.linalg.norm(..., ord=order)` taken along `axis`; each slice is divided by
    its own norm. A slice whose norm is 0 is divided by 1 instead, so it comes back unchanged
    (all zeros) rather than as NaN.

    Args:
        x: the values, anything `np.asarray` accepts. Floating and complex inputs keep their
            dtype; integer and boolean inputs are first converted to float32 (items of up to
            2 bytes) or float64 (wider items).
        axis: the axis the norm runs over. Defaults to the last one.
        order: which norm, as NumPy's `ord` (2 for Euclidean length, 1 for the sum of absolute
            values, `np.inf` for the largest magnitude). Defaults to 2.

    Returns:
        A new array with the shape of `x`; the input is not modified.

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


_SUBMODULES = ("np_utils", "plotting", "gradient_check", "model_visualization")
# Functions of submodules, loaded on first use (so `import dlc` never imports matplotlib or
# pydot).
_LAZY = {"plot_history": "plotting", "plot_confusion_matrix": "plotting", "plot_images": "plotting",
         "plot_filters": "plotting", "plot_feature_maps": "plotting",
         "check_gradients": "gradient_check",
         "plot_model": "model_visualization", "model_to_dot": "model_visualization"}


def __getattr__(name):  # submodules load on first use; a name this module lacks: say so
    if name in _SUBMODULES or name in _LAZY:
        import importlib

        module = importlib.import_module(f"dlc.utils.{_LAZY.get(name, name)}")
        value = getattr(module, name) if name in _LAZY else module
        globals()[name] = value
        return value
    from dlc._registry import missing_attribute

    return missing_attribute(__name__, {**globals(), **dict.fromkeys(_LAZY)})(name)


def __dir__() -> list:
    from dlc._registry import public_names

    return sorted(set(public_names(globals())) | set(_SUBMODULES) | set(_LAZY))
