"""BackupAndRestore: resumes a `fit` that was interrupted, exactly where it stopped."""
from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict, Optional

from dlc.callbacks.callback import Callback, Logs


class BackupAndRestore(Callback):
    """Backs training up to `backup_dir` so that a `fit` interrupted by a crash, a kill or a
    preempted machine resumes where it stopped (Keras 3's callback).

    At the end of every epoch (or every `save_freq` batches) the weights, the optimizer's
    state and the training state (the shuffle generator, dropout steps) are written to
    `backup_dir/latest.weights.h5`, and the epoch reached to
    `backup_dir/training_metadata.json`; both atomically. When `fit` starts again with this
    callback and the backup exists, the model gets it all back and training resumes at the
    epoch that was not finished: the result equals an uninterrupted run bit for bit (for
    epoch backups). When `fit` completes, the backup is deleted (unless
    `delete_checkpoint=False`).

    Args:
        backup_dir: the folder of the backup (str or `os.PathLike`); created as needed. Use
            one folder per training run.
        save_freq: `"epoch"` (the default) or a positive int, a backup every that many
            training batches. A batch backup resumes at the start of the epoch it was taken
            in (as Keras), with the weights of that batch.
        delete_checkpoint: delete `backup_dir` when training completes. Defaults to True.
        double_checkpoint: keep the previous backup beside the latest
            (`latest.weights.h5.bkp`), used if the latest cannot be read. Defaults to False.

    Example:

    ```python
    backup = dlc.callbacks.BackupAndRestore("runs/backup")
    model.fit(x, y, epochs=10, callbacks=[backup])   # killed during epoch 6...
    model.fit(x, y, epochs=10, callbacks=[backup])   # ...goes on with epoch 6
    ```
    """

    def __init__(self, backup_dir: Any, save_freq: Any = "epoch", delete_checkpoint: bool = True,
                 double_checkpoint: bool = False) -> None:
        super().__init__()
        if backup_dir is None or (isinstance(backup_dir, str) and not backup_dir):
            raise ValueError(f"BackupAndRestore: argument `backup_dir` must name a folder, received {backup_dir!r}")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError("BackupAndRestore: argument `save_freq` must be 'epoch' or a positive int, "
                             f"received {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self.double_checkpoint = bool(double_checkpoint)
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = self._weights_path + ".bkp"
        self._prev_training_metadata_path = self._training_metadata_path + ".bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    # ---------------------------------------------------------------- restoring
    def on_train_begin(self, logs: Logs = None) -> None:
        if not getattr(self.model, "_graph_ready", True):
            raise ValueError("BackupAndRestore: the model must be built before `fit()` (start it with "
                             "dlc.layers.Input or call model.build(input_shape)) so that a backup can be "
                             "restored into it")
        try:
            self._load_model(self._weights_path, self._training_metadata_path)
        except (OSError, ValueError) as error:
            # The latest backup cannot be read: fall back to the previous one if there is one.
            if not os.path.exists(self._prev_weights_path):
                raise
            self._load_model(self._prev_weights_path, self._prev_training_metadata_path)
            del error

    def _load_model(self, weights_path: str, metadata_path: str) -> None:
        from dlc.saving.saving_lib import read_backup_epoch

        if not os.path.exists(weights_path):
            return
        self.model.load_weights(weights_path)
        record: Optional[Dict[str, Any]] = read_backup_epoch(weights_path)
        if record is None and os.path.exists(metadata_path):  # a backup Keras wrote
            with open(metadata_path) as f:
                record = json.load(f)
        if record is not None:
            epoch = int(record.get("epoch", 0))
            self._current_epoch = epoch
            self.model._initial_epoch = epoch

    # ---------------------------------------------------------------- backing up
    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._current_epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self._should_save_on_batch(batch):
            self._save_model()

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        # Batch indices restart at 0 each epoch: an index that did not grow means a new epoch.
        fresh = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._last_batch_seen = batch
        self._batches_seen_since_last_saving += fresh
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save_model(self) -> None:
        from dlc.saving.atomic import atomic_write_bytes
        from dlc.saving.saving_lib import save_weights

        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for src, dst in ((self._weights_path, self._prev_weights_path),
                             (self._training_metadata_path, self._prev_training_metadata_path)):
                if os.path.exists(src):
                    with open(src, "rb") as f:
                        atomic_write_bytes(dst, f.read())
        record = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        # The weights file carries the record too: it is the one commit point of a backup.
        save_weights(self.model, self._weights_path, overwrite=True, _extra={"backup": record})
        atomic_write_bytes(self._training_metadata_path, json.dumps(record).encode())

    def on_train_end(self, logs: Logs = None) -> None:
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
