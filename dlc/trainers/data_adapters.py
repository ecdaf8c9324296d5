"""From the user's data to batches: argument checks and the array batcher.

The batcher gathers rows of the user's arrays into buffers allocated once per loop, in the
dtype the model computes in: no allocation per batch and no copy of the whole data set.
"""
from __future__ import annotations

from typing import Any, List, Sequence

import numpy as np

from dlc.layers.base import KerasTensor, shape_str


class ArrayBatcher:
    """Batches of rows of `arrays`, cast to `dtypes`, into buffers of `batch_size` rows."""

    def __init__(self, arrays: Sequence[np.ndarray], dtypes: Sequence[Any], batch_size: int) -> None:
        self.arrays = list(arrays)
        self.bufs = [np.empty((batch_size,) + a.shape[1:], dt) for a, dt in zip(arrays, dtypes)]
        self.staging = [None if a.dtype == b.dtype else np.empty((batch_size,) + a.shape[1:], a.dtype)
                        for a, b in zip(arrays, self.bufs)]

    def gather(self, idx: np.ndarray) -> List[np.ndarray]:
        """Rows `idx` of every array, in the batch buffers."""
        out = []
        n = len(idx)
        for a, buf, st in zip(self.arrays, self.bufs, self.staging):
            dst = buf[:n]
            if st is None:
                np.take(a, idx, axis=0, out=dst, mode="clip")
            else:
                np.take(a, idx, axis=0, out=st[:n], mode="clip")
                np.copyto(dst, st[:n], casting="unsafe")
            out.append(dst)
        return out

    def slice(self, start: int, stop: int) -> List[np.ndarray]:
        """Rows start:stop (no shuffling): a view when dtype and layout already fit."""
        out = []
        for a, buf, st in zip(self.arrays, self.bufs, self.staging):
            if st is None and a.flags.c_contiguous:
                out.append(a[start:stop])
            else:
                dst = buf[:stop - start]
                np.copyto(dst, a[start:stop], casting="unsafe")
                out.append(dst)
        return out


def as_array(x: Any, what: str) -> np.ndarray:
    """`x` as a NumPy array, or TypeError naming `what`."""
    if isinstance(x, np.ndarray):
        return x
    try:
        arr = np.asarray(x)
    except Exception as e:  # pragma: no cover - numpy's own message is specific
        raise TypeError(f"{what} must be a NumPy array (or convertible to one), received {type(x).__name__}: {e}") from None
    if arr.dtype == object:
        raise TypeError(f"{what} must be a numeric NumPy array, received {type(x).__name__} of ragged or non-numeric values")
    return arr


def prepare_x(model_name: str, inputs: Sequence[KerasTensor], x: Any, what: str) -> List[np.ndarray]:
    """The input arrays, checked against the model's inputs (count, shape, dtype, samples)."""
    from dlc.models.functional import as_list

    xs = [as_array(a, what) for a in as_list(x)]
    if len(xs) != len(inputs):
        raise ValueError(f"Model '{model_name}' expects {len(inputs)} input array(s), received {len(xs)}")
    n = None
    for i, (a, t) in enumerate(zip(xs, inputs)):
        want = t.shape
        if a.ndim != len(want) or any(w is not None and w != g for w, g in zip(want[1:], a.shape[1:])):
            raise ValueError(
                f"Input {i} of model '{model_name}' is incompatible with layer '{t.name}': expected "
                f"shape={shape_str(want)}, found shape={a.shape}"
            )
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise TypeError(f"Input {i} of model '{model_name}' must be numeric, received dtype {a.dtype}")
        if n is not None and a.shape[0] != n:
            raise ValueError(f"All inputs must have the same number of samples, received {[b.shape[0] for b in xs]}")
        n = a.shape[0]
    return xs


def prepare_y(loss: Any, outputs: Sequence[KerasTensor], y: Any, n: int) -> np.ndarray:
    """The target array, checked against the sample count and the loss's expectations."""
    if y is None:
        raise ValueError("fit/evaluate: targets `y` are required")
    if len(outputs) != 1:
        raise NotImplementedError("Training models with several outputs is not supported yet")
    y = as_array(y, "y")
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"x and y must have the same number of samples, received x: {n}, y: {y.shape[0] if y.ndim else 'a scalar'}")
    loss.check_targets(y, outputs[0].shape)
    return y


def check_batch_size(batch_size: Any) -> int:
    """Keras's default of 32, or a positive int."""
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"Argument `batch_size` must be a positive int, received {batch_size!r}")
    return int(batch_size)


def verbosity(verbose: Any) -> int:
    """0, 1 or 2 ('auto' is 1)."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"Argument `verbose` must be 0, 1, 2 or 'auto', received {verbose!r}")
    return int(verbose)


def rows(shape: Sequence[int]) -> int:
    """The number of loss rows of an output of `shape` (every axis but the last)."""
    return int(np.prod(shape[:-1])) if len(shape) > 1 else 1


__all__ = ["ArrayBatcher", "as_array", "check_batch_size", "prepare_x", "prepare_y", "rows", "verbosity"]

