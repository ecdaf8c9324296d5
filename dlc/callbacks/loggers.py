"""Callbacks that log or react to each batch or epoch: CSVLogger, TerminateOnNaN,
LambdaCallback."""
from __future__ import annotations

import collections.abc
import csv
import math
import os
from typing import Any, Callable, List, Optional

import numpy as np

from dlc.callbacks.callback import Callback, Logs, _print


def _csv_cell(value: Any) -> Any:
    """A log value as CSVLogger writes it: sequences become a quoted "[a, b, ...]" string."""
    if isinstance(value, str) or not isinstance(value, collections.abc.Iterable):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value
    return '"[' + ", ".join(str(item) for item in value) + ']"'


class CSVLogger(Callback):
    """Appends one row per epoch to a CSV file: the epoch index followed by its logs.

    The columns are fixed by the first epoch's logs, in sorted order. If that first epoch had
    no `val_*` entries (as with `validation_freq > 1`), a `val_` column is reserved for each
    name anyway; a column with no value in some epoch gets `NA`. Scalar values are written as
    they are; sequences (lists, 1-D arrays) as one `[a, b, ...]` cell. The file is flushed
    after each row, so it can be watched while training runs, and closed when `fit` ends.

    Args:
        filename: path of the CSV file (str or `os.PathLike`), e.g. `"logs/run1.csv"`.
        separator: the field delimiter. Defaults to `","`.
        append: if true, rows are added to an existing file (handy when resuming with
            `initial_epoch`), and the header is written only if the file is empty or new.
            Defaults to `False`: the file is truncated when training starts.

    Example:

    ```python
    logger = dlc.callbacks.CSVLogger("logs/run1.csv", separator=";")
    model.fit(x, y, epochs=5, validation_split=0.1, callbacks=[logger], verbose=0)
    # logs/run1.csv then starts with:
    # epoch;accuracy;loss;val_accuracy;val_loss
    # 0;0.15;1.3410942857464154;0.25;1.3904803276062012
    ```
    """

    def __init__(self, filename: Any, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer: Any = None
        self.keys: Optional[List[str]] = None
        self.append_header = True
        self.csv_file: Any = None

    def on_train_begin(self, logs: Logs = None) -> None:
        mode = "w"
        if self.append:
            mode = "a"
            if os.path.exists(self.filename):
                with open(self.filename, "r", newline="") as existing:
                    first_line = existing.readline()
                self.append_header = first_line == ""  # header only into an empty file
        self._close_file()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs or {}
        if self.keys is None:
            columns = sorted(logs)
            if columns and not any(name.startswith("val_") for name in columns):
                # No validation this epoch; reserve its columns for the epochs that have it.
                columns = columns + ["val_" + name for name in columns]
            self.keys = columns
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         delimiter=self.sep)
            if self.append_header:
                self.writer.writeheader()
        cells = {name: _csv_cell(logs.get(name, "NA")) for name in self.keys}
        self.writer.writerow({"epoch": epoch, **cells})
        self.csv_file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        self._close_file()
        self.writer = None

    def _close_file(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()


class TerminateOnNaN(Callback):
    """Stops training as soon as a training batch reports a NaN or infinite loss.

    The check runs after every training batch, on the `loss` entry of the batch logs (the
    epoch's running mean, so once a NaN appears it stays). By default the callback prints a
    message and sets `model.stop_training`: `fit` then skips the rest of the epoch, calls
    `on_epoch_end` and `on_train_end` as usual and returns. With `raise_error=True` it raises
    `RuntimeError` instead, which leaves `fit` at once: no further hooks run, so nothing that
    `on_train_end` would do (restoring weights, closing a CSV file) happens.

    Args:
        raise_error: raise instead of stopping quietly. Defaults to `False`.

    Example:

    ```python
    # A learning rate this large makes the loss overflow within a few batches.
    model.compile(optimizer=dlc.optimizers.SGD(learning_rate=1e6),
                  loss="categorical_crossentropy")
    history = model.fit(x, y, epochs=20, callbacks=[dlc.callbacks.TerminateOnNaN()])
    # Batch 4: Invalid loss, terminating training    (the batch index will vary)
    print(len(history.epoch))   # 1: the first epoch was cut short
    ```
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(loss))
        if math.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(f"TerminateOnNaN: NaN or Inf loss at batch {batch} "
                               f"(loss={loss}); stopping training now")
        _print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


class LambdaCallback(Callback):
    """Builds a callback out of plain functions, without writing a subclass.

    Each function given replaces the hook of the same name. They are called with the hook's
    positional arguments: `(epoch, logs)` for the epoch hooks, `(batch, logs)` for the batch
    hooks and `(logs)` for the begin/end hooks. Hooks left out do nothing.

    Args:
        on_epoch_begin: function for `on_epoch_begin(epoch, logs)`.
        on_epoch_end: function for `on_epoch_end(epoch, logs)`.
        on_train_begin: function for `on_train_begin(logs)`.
        on_train_end: function for `on_train_end(logs)`.
        on_train_batch_begin: function for `on_train_batch_begin(batch, logs)`.
        on_train_batch_end: function for `on_train_batch_end(batch, logs)`.
        **kwargs: functions for any other hook of `Callback`, by hook name (for example
            `on_test_end=...` or `on_predict_batch_end=...`). A keyword that is not the name
            of a hook raises `TypeError`.

    Example:

    ```python
    losses = []
    record = dlc.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]),
        on_train_end=lambda logs: print(f"{len(losses)} epochs, final loss {losses[-1]:.4f}"))
    model.fit(x, y, epochs=4, callbacks=[record], verbose=0)
    ```
    """

    def __init__(self, on_epoch_begin: Optional[Callable] = None,
                 on_epoch_end: Optional[Callable] = None,
                 on_train_begin: Optional[Callable] = None,
                 on_train_end: Optional[Callable] = None,
                 on_train_batch_begin: Optional[Callable] = None,
                 on_train_batch_end: Optional[Callable] = None, **kwargs: Callable) -> None:
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name, fn in kwargs.items():
            if not (name.startswith("on_") and callable(getattr(Callback, name, None))):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            hooks[name] = fn
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)
