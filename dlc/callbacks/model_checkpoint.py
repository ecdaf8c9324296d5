"""ModelCheckpoint: saves the model or its weights during training."""
from __future__ import annotations

import os
import warnings
from typing import Any, Optional


from dlc.callbacks.callback import Logs, _print
from dlc.callbacks.monitor import _MonitorCallback


class ModelCheckpoint(_MonitorCallback):
    """Writes the model, or only its weights, to disk during training.

    By default a file is written after every epoch; with an integer `save_freq`, after every
    that many training batches instead. `filepath` may contain `str.format` fields: `{epoch}`
    (counted from 1), `{batch}` (from 1, for batch-frequency saves) and any log name, e.g.
    `"ckpt/e{epoch:03d}-{val_loss:.3f}.weights.h5"`, so that each save gets its own file; a
    field with no matching value raises `KeyError`. Parent folders are created as needed.

    With `save_best_only=True` a file is written only when the monitored value is the best
    seen so far, so a fixed `filepath` always holds the best model. Every file is written
    atomically (a temporary file renamed over the old one): a crash during a save leaves the
    previous checkpoint intact.

    Args:
        filepath: where to write (str or `os.PathLike`), possibly with format fields as
            above. Must not name an existing directory (`IOError`).
        monitor: log entry that decides what "best" means with `save_best_only`. Defaults to
            `"val_loss"`. When it is missing from the logs, a warning is issued and the file
            is written anyway.
        verbose: `1` prints a line for each save (and, with `save_best_only`, for each skipped
            one); `0` (the default) is silent.
        save_best_only: write only on an improvement of `monitor`. Defaults to `False`.
        save_weights_only: write with `model.save_weights(path)` (a `.weights.h5` file)
            instead of `model.save(path)` (a `.keras` file). Defaults to `False`: the file
            then holds everything exact resume needs (weights, compile arguments, the
            optimizer's state and the training state), so that
            `dlc.models.load_model(path).fit(..., initial_epoch=epoch)` goes on as if training
            had never stopped.
        mode: `"min"`, `"max"` or `"auto"` (the default), as in `EarlyStopping`: the
            direction in which `monitor` improves.
        save_freq: `"epoch"` (the default) or a positive int, the number of training batches
            between saves (counted across epoch boundaries). Anything else raises
            `ValueError`.
        initial_value_threshold: with `save_best_only`, a value the first save must already
            beat; `None` (the default) lets the first epoch be saved unconditionally.

    Example:

    ```python
    keep_best = dlc.callbacks.ModelCheckpoint(
        "runs/{epoch:02d}-{val_accuracy:.3f}.weights.h5", monitor="val_accuracy",
        save_best_only=True, save_weights_only=True, verbose=1)
    model.fit(x, y, epochs=30, validation_split=0.1, callbacks=[keep_best])
    # runs/ now holds one file per epoch that set a new best validation accuracy.
    ```
    """

    def __init__(self, filepath: Any, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: Any = "epoch",
                 initial_value_threshold: Optional[float] = None) -> None:
        super().__init__(monitor=monitor, mode=mode, baseline=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError("ModelCheckpoint: argument 'save_freq' must be 'epoch' or a "
                             f"positive int, received {save_freq!r}")
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen: Optional[int] = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.monitor_op is None and self.save_best_only:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch: int) -> bool:
        """Counts finished batches; True when `save_freq` of them have passed since a save."""
        if self.save_freq == "epoch":
            return False
        previous = self._last_batch_seen
        self._last_batch_seen = batch
        # Batch indices restart at 0 each epoch: an index that did not grow means a new
        # epoch began, and batches 0..batch of it are the new ones.
        fresh = batch + 1 if previous is None or batch <= previous else batch - previous
        pending = self._batches_seen_since_last_saving + fresh
        due = pending >= self.save_freq
        self._batches_seen_since_last_saving = 0 if due else pending
        return due

    def _get_file_path(self, epoch: int, batch: Optional[int], logs: Logs) -> str:
        """`filepath` with its fields filled in (1-based epoch and batch, then the logs)."""
        logs = dict(logs or {})
        counters = {"epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            counters["batch"] = batch + 1
        try:
            return self.filepath.format(**counters, **logs)
        except KeyError as missing:
            raise KeyError(f"ModelCheckpoint: Failed to format filepath {self.filepath!r}: "
                           f"no value for the field {missing}") from None

    def _should_save_model(self, epoch: int, logs: Logs, filepath: str) -> bool:
        """Applies `save_best_only` (updating `best`), printing the outcome when verbose."""
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"ModelCheckpoint: save_best_only needs '{self.monitor}' in the "
                          "logs, but it is missing; saving regardless", stacklevel=3)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        previous = _fmt_best(self.best)
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to "
                       f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {previous}")
        return False

    def _save_model(self, epoch: int, batch: Optional[int], logs: Logs) -> None:
        path = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, path):
            return
        if os.path.isdir(path):
            raise IOError("ModelCheckpoint: the checkpoint path must name a file, but "
                          f"{path!r} is an existing directory")
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


def _fmt_best(best: Optional[float]) -> str:
    """How ModelCheckpoint's messages show the best value so far (5 decimals, or None)."""
    return "None" if best is None else format(best, ".5f")
