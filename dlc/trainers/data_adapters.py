"""From the user's data to batches, as Keras takes it.

`fit`, `evaluate` and `predict` accept:
- NumPy arrays (or anything `np.asarray` takes): one array, a list per model input / output, or
  a dict keyed by input / output layer name; with `sample_weight` and `class_weight`;
- a `dlc.utils.PyDataset` (Keras 2's `Sequence`): `len()` batches, `ds[i]` the i-th;
- any Python iterable or iterator (a generator) yielding `x`, `(x,)`, `(x, y)` or
  `(x, y, sample_weight)` batches, with `steps_per_epoch` / `validation_steps` / `steps`.

An adapter standardises every batch to `Batch(xs, ys, sws)`: float32, C-contiguous, aligned
input arrays, targets in the dtype each output's loss wants, float32 sample weights. For arrays
the rows are gathered into buffers allocated once per loop: no allocation per batch and no copy
of the whole data set.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence

import numpy as np

from dlc.layers.base import KerasTensor, shape_str


class Batch(NamedTuple):
    """One standardised batch: inputs, targets per output (None where no target), sample
    weights per output (None where unweighted)."""

    xs: List[np.ndarray]
    ys: List[Optional[np.ndarray]]
    sws: List[Optional[np.ndarray]]


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
        """Rows start:stop (no shuffling): a view when dtype, layout and alignment already fit."""
        out = []
        for a, buf, st in zip(self.arrays, self.bufs, self.staging):
            part = a[start:stop]
            if st is None and part.flags.c_contiguous and part.flags.aligned:
                out.append(part)
            else:
                dst = buf[:stop - start]
                np.copyto(dst, part, casting="unsafe")
                out.append(dst)
        return out


# ------------------------------------------------------------------------------------ checks
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


def _structure(value: Any, names: List[str], what: str, fn: str) -> List[Any]:
    """`value` (one item, a list per name, or a dict by name) as a list aligned with names."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"{fn}: {what} has keys {unknown} that are not among the model's names {names}")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)) and len(names) == 1 and len(value) != 1:
        return [value]  # one input given as nested Python lists (rows)
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"{fn}: the model has {len(names)} {what.split()[0]}(s) {names}, received a "
                             f"list of {len(value)}")
        return list(value)
    if len(names) != 1:
        raise ValueError(f"{fn}: the model has {len(names)} {what.split()[0]}s {names}: pass a list or a dict "
                         f"keyed by name, received one {type(value).__name__}")
    return [value]


def check_inputs(fn: str, model: Any, x: Any) -> List[np.ndarray]:
    """The input arrays, checked against the model's inputs (count, shape, dtype, samples)."""
    inputs: List[KerasTensor] = model._inputs
    xs = [as_array(a, "x") for a in _structure(x, [t.name for t in inputs], "input arrays", fn)]
    n = None
    for i, (a, t) in enumerate(zip(xs, inputs)):
        want = t.shape
        if a.ndim != len(want) or any(w is not None and w != g for w, g in zip(want[1:], a.shape[1:])):
            raise ValueError(
                f"Input {i} of model '{model.name}' is incompatible with layer '{t.name}': expected "
                f"shape={shape_str(want)}, found shape={a.shape}"
            )
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise TypeError(f"Input {i} of model '{model.name}' must be numeric, received dtype {a.dtype}")
        if n is not None and a.shape[0] != n:
            raise ValueError(f"{fn}: all inputs must have the same number of samples, received {[b.shape[0] for b in xs]}")
        n = a.shape[0]
    return xs


def check_targets(fn: str, model: Any, y: Any, n: int) -> List[Optional[np.ndarray]]:
    """The targets per output (None for outputs without a loss), checked against the samples and
    each output's loss."""
    losses = model._compile_loss.losses
    if y is None:
        raise ValueError(f"{fn}: targets `y` are required to compute the loss")
    ys = _structure(y, model.output_names, "target arrays", fn)
    out: List[Optional[np.ndarray]] = []
    for i, (t, loss) in enumerate(zip(ys, losses)):
        if t is None or loss is None:
            if loss is not None:
                raise ValueError(f"{fn}: output '{model.output_names[i]}' has a loss but no targets were given")
            out.append(None)
            continue
        t = as_array(t, f"y[{model.output_names[i]!r}]" if len(ys) > 1 else "y")
        if t.ndim == 0 or t.shape[0] != n:
            raise ValueError(f"{fn}: x and y must have the same number of samples, received x: {n}, "
                             f"y: {t.shape[0] if t.ndim else 'a scalar'}")
        loss.check_targets(t, model._outputs[i].shape)
        out.append(t)
    return out


def check_sample_weights(fn: str, model: Any, sample_weight: Any, class_weight: Any,
                         ys: List[Optional[np.ndarray]], n: int) -> List[Optional[np.ndarray]]:
    """Per output, the float32 (n,) sample weights (None where unweighted): `sample_weight`,
    times `class_weight[label]` when class weights are given (Keras 2 multiplied both)."""
    names = model.output_names
    if sample_weight is None:
        sws: List[Optional[np.ndarray]] = [None] * len(names)
    else:
        sws = _structure(sample_weight, names, "sample weight arrays", fn) if len(names) > 1 or isinstance(
            sample_weight, dict) else [sample_weight]
    out = []
    for i, w in enumerate(sws):
        if w is not None:
            w = as_array(w, "sample_weight").astype(np.float32)
            if w.ndim == 2 and w.shape[1] == 1:
                w = w[:, 0]
            if w.ndim != 1 or w.shape[0] != n:
                raise ValueError(f"{fn}: argument `sample_weight` must hold one weight per sample, shape ({n},), "
                                 f"received shape {w.shape}")
            if not np.all(np.isfinite(w)) or (w < 0).any():
                raise ValueError(f"{fn}: argument `sample_weight` must hold finite weights >= 0")
        out.append(w)
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise TypeError(f"{fn}: argument `class_weight` must be a dict {{class index: weight}}, "
                            f"received {type(class_weight).__name__}")
        if len(names) != 1:
            raise ValueError(f"{fn}: argument `class_weight` is only supported for models with a single output, "
                             f"this one has {len(names)}")
        cw = class_weights_of(ys[0], class_weight)
        out[0] = cw if out[0] is None else out[0] * cw
    return out


def class_weights_of(y: np.ndarray, class_weight: Dict[Any, float]) -> np.ndarray:
    """Each sample's weight `class_weight[label]` (1.0 for a class missing from the dict); the
    label is the argmax of one-hot targets, else the rounded target."""
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    labels = np.round(labels.reshape(labels.shape[0], -1)[:, 0]).astype(np.int64)
    top = int(max(labels.max(initial=0), max((int(k) for k in class_weight), default=0))) + 1
    table = np.ones(top, np.float32)
    for k, v in class_weight.items():
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"argument `class_weight` keys must be class indices >= 0, received {k!r}")
        table[int(k)] = float(v)
    return table[labels]


# ------------------------------------------------------------------------------------ adapters
class DataAdapter:
    """Yields the batches of one epoch at a time."""

    steps: Optional[int] = None  # batches per epoch (None: until the data runs out)

    def epoch(self, shuffle_rng: Optional[np.random.Generator]) -> Iterator[Batch]:
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        pass


class ArrayDataAdapter(DataAdapter):
    """Batches of arrays, shuffled with the generator the loop passes (or in order)."""

    def __init__(self, model: Any, xs: List[np.ndarray], ys: List[Optional[np.ndarray]],
                 sws: List[Optional[np.ndarray]], batch_size: int, steps: Optional[int] = None) -> None:
        self.n = xs[0].shape[0]
        self.batch_size = max(1, min(batch_size, self.n))
        self.steps = -(-self.n // self.batch_size) if steps is None else min(steps, -(-self.n // self.batch_size))
        self.layout = ([("x", i) for i in range(len(xs))] + [("y", i) for i, t in enumerate(ys) if t is not None]
                       + [("w", i) for i, w in enumerate(sws) if w is not None])
        arrays = xs + [t for t in ys if t is not None] + [w for w in sws if w is not None]
        losses = model._compile_loss.losses if model._compile_loss is not None else []
        dtypes = ([np.float32] * len(xs) + [losses[i].target_dtype for i, t in enumerate(ys) if t is not None]
                  + [np.float32] * sum(w is not None for w in sws))
        self.n_out = len(ys)
        self.batcher = ArrayBatcher(arrays, dtypes, self.batch_size)
        self.targets = [a for a in arrays[len(xs):]]

    def _batch(self, parts: List[np.ndarray]) -> Batch:
        xs: List[np.ndarray] = []
        ys: List[Optional[np.ndarray]] = [None] * self.n_out
        sws: List[Optional[np.ndarray]] = [None] * self.n_out
        for (kind, i), a in zip(self.layout, parts):
            if kind == "x":
                xs.append(a)
            elif kind == "y":
                ys[i] = a
            else:
                sws[i] = a
        return Batch(xs, ys, sws)

    def epoch(self, shuffle_rng: Optional[np.random.Generator]) -> Iterator[Batch]:
        bs = self.batch_size
        if shuffle_rng is not None:
            order = shuffle_rng.permutation(self.n)
            for step in range(self.steps):
                yield self._batch(self.batcher.gather(order[step * bs:(step + 1) * bs]))
            return
        for step in range(self.steps):
            parts = self.batcher.slice(step * bs, min(self.n, (step + 1) * bs))
            # a view of the user's targets must not be changed in place (label smoothing)
            parts = [p.copy() if any(np.shares_memory(p, t) for t in self.targets) else p for p in parts]
            yield self._batch(parts)


def _standardize_item(fn: str, model: Any, item: Any, with_targets: bool) -> Batch:
    """One batch from a generator or PyDataset: `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    if isinstance(item, tuple) and len(item) in (1, 2, 3):
        x, y, sw = (tuple(item) + (None, None))[:3]
    elif isinstance(item, tuple):
        raise ValueError(f"{fn}: a batch must be x, (x,), (x, y) or (x, y, sample_weight), received a tuple of {len(item)}")
    else:
        x, y, sw = item, None, None
    xs = [np.ascontiguousarray(a, dtype=np.float32) for a in check_inputs(fn, model, x)]
    n = xs[0].shape[0]
    if not with_targets:
        return Batch(xs, [], [])
    ys = check_targets(fn, model, y, n)
    losses = model._compile_loss.losses
    ys = [None if t is None else np.array(t, dtype=loss.target_dtype) for t, loss in zip(ys, losses)]
    sws = check_sample_weights(fn, model, sw, None, ys, n)
    return Batch(xs, ys, sws)


class IterableDataAdapter(DataAdapter):
    """Batches from a Python iterable or iterator (a generator): `steps` per epoch, or until it
    is exhausted. An iterator carries on where the last epoch stopped (a generator is consumed
    across epochs, as in Keras); a re-iterable object starts afresh each epoch."""

    def __init__(self, fn: str, model: Any, data: Any, steps: Optional[int], with_targets: bool,
                 class_weight: Any = None) -> None:
        self.fn, self.model, self.data, self.steps = fn, model, data, steps
        self.with_targets, self.class_weight = with_targets, class_weight
        self.reiterable = iter(data) is not data
        self._it: Optional[Iterator[Any]] = None
        self.exhausted = False

    def epoch(self, shuffle_rng: Optional[np.random.Generator]) -> Iterator[Batch]:
        if self._it is None or self.reiterable:
            self._it = iter(self.data)
        step = 0
        while self.steps is None or step < self.steps:
            try:
                item = next(self._it)
            except StopIteration:
                if self.steps is not None:
                    self.exhausted = True
                return
            yield self._weighted(_standardize_item(self.fn, self.model, item, self.with_targets))
            step += 1

    def _weighted(self, batch: Batch) -> Batch:
        if self.class_weight is None or not self.with_targets:
            return batch
        sws = check_sample_weights(self.fn, self.model, batch.sws[0], self.class_weight, batch.ys, batch.xs[0].shape[0])
        return Batch(batch.xs, batch.ys, sws)


class PyDatasetAdapter(IterableDataAdapter):
    """Batches `ds[0]` .. `ds[len(ds) - 1]` of a PyDataset / Sequence, in shuffled order when
    fit shuffles, then `ds.on_epoch_end()`."""

    def __init__(self, fn: str, model: Any, ds: Any, steps: Optional[int], with_targets: bool,
                 class_weight: Any = None) -> None:
        super().__init__(fn, model, ds, steps, with_targets, class_weight)
        n = len(ds)
        self.steps = n if steps is None else min(int(steps), n)

    def epoch(self, shuffle_rng: Optional[np.random.Generator]) -> Iterator[Batch]:
        order = shuffle_rng.permutation(len(self.data)) if shuffle_rng is not None else range(len(self.data))
        for step, i in enumerate(order):
            if step >= self.steps:
                return
            yield self._weighted(_standardize_item(self.fn, self.model, self.data[int(i)], self.with_targets))

    def on_epoch_end(self) -> None:
        self.data.on_epoch_end()


def is_pydataset(x: Any) -> bool:
    """A PyDataset / Keras 2 Sequence: indexable batches with a length and on_epoch_end."""
    from dlc.utils import PyDataset

    return isinstance(x, PyDataset) or (hasattr(x, "__getitem__") and hasattr(x, "__len__")
                                        and hasattr(x, "on_epoch_end") and not isinstance(x, (list, tuple, dict)))


def is_iterable_data(x: Any) -> bool:
    """A generator, an iterator, or another non-array iterable of batches."""
    if isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)) or x is None:
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not hasattr(x, "__array__")
                                      and not hasattr(x, "__len__"))


def get_data_adapter(fn: str, model: Any, x: Any, y: Any = None, sample_weight: Any = None,
                     class_weight: Any = None, batch_size: int = 32, steps: Optional[int] = None,
                     with_targets: bool = True) -> DataAdapter:
    """The adapter for `x` (and `y`, `sample_weight`, `class_weight` when x holds arrays)."""
    if is_pydataset(x) or is_iterable_data(x):
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(f"{fn}: argument `{name}` must be None when `x` is a "
                                 f"{'PyDataset' if is_pydataset(x) else 'generator or iterator'} "
                                 f"(its batches carry the {name}), received {type(value).__name__}")
        cls = PyDatasetAdapter if is_pydataset(x) else IterableDataAdapter
        return cls(fn, model, x, steps, with_targets, class_weight)
    xs = check_inputs(fn, model, x)
    n = xs[0].shape[0]
    if n == 0:
        raise ValueError(f"{fn}: the input `x` is empty (0 samples)")
    if not with_targets:
        return ArrayDataAdapter(model, xs, [], [], batch_size, steps)
    ys = check_targets(fn, model, y, n)
    sws = check_sample_weights(fn, model, sample_weight, class_weight, ys, n)
    return ArrayDataAdapter(model, xs, ys, sws, batch_size, steps)


def rows(shape: Sequence[int]) -> int:
    """The number of loss rows of an output of `shape` (every axis but the last)."""
    return int(np.prod(shape[:-1])) if len(shape) > 1 else 1


__all__ = ["ArrayBatcher", "ArrayDataAdapter", "Batch", "DataAdapter", "IterableDataAdapter",
           "PyDatasetAdapter", "as_array", "get_data_adapter", "rows"]
