"""Callbacks that watch a logged value: EarlyStopping, ReduceLROnPlateau, and the
LearningRateScheduler."""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable, List, Optional

import numpy as np

from dlc.callbacks.callback import Callback, Logs, _print


# --------------------------------------------------------------------------- monitoring
# Metric names for which larger is better, used when mode="auto" cannot ask the metric itself.
_MAXIMIZED = ("acc", "accuracy", "auc", "precision", "recall", "f1_score", "fbeta_score",
              "iou", "r2_score")


class _MonitorCallback(Callback):
    """Common base of the callbacks that track one logged value and react when it stalls.

    It owns `monitor`, `mode`, `min_delta` and the best value so far (`best`), and decides
    whether a new value counts as an improvement. With `mode="auto"` the direction is worked
    out lazily (at the first check, once the model's metrics exist) by `_infer_direction`.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto",
                 baseline: Optional[float] = None, min_delta: float = 0.0) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__}: unknown mode {mode!r} (expected 'auto', "
                          "'min' or 'max'); using 'auto'", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op: Optional[Callable[[float, float], bool]] = None

    def _set_monitor_op(self) -> None:
        """Fixes the comparison: `monitor_op` is np.greater or np.less, `_sign` +1 or -1."""
        if self.mode == "min":
            maximize = False
        elif self.mode == "max":
            maximize = True
        else:
            maximize = self._infer_direction()
        self.monitor_op = np.greater if maximize else np.less
        self._sign = 1.0 if maximize else -1.0

    def _infer_direction(self) -> bool:
        """True if the monitored value should grow, False if it should shrink.

        Tried in turn, on the name without its `val_` prefix: losses shrink; a compiled metric
        of that name that declares its direction is believed; known score names and names
        ending in "accuracy" grow; names ending in error, crossentropy, hinge or divergence
        shrink. Anything else is refused with `ValueError`, asking for an explicit mode.
        """
        name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
        if name == "loss" or name.endswith("_loss"):
            return False
        for metric in getattr(self.model, "metrics", None) or ():
            direction = getattr(metric, "_direction", None)
            if getattr(metric, "name", None) == name and direction in ("up", "down"):
                return direction == "up"
        if name in _MAXIMIZED or name.endswith("accuracy"):
            return True
        if name.endswith(("error", "crossentropy", "hinge", "divergence")):
            return False
        raise ValueError(
            f"{type(self).__name__}: cannot tell whether monitor={self.monitor!r} should go up "
            "or down; pass mode='max' if higher values are better or mode='min' if lower "
            "values are better")

    def _is_improvement(self, value: float, reference: Optional[float]) -> bool:
        """Whether `value` beats `reference` by more than `min_delta` (anything beats None)."""
        if reference is None:
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        return bool(self.monitor_op(value - self._sign * self.min_delta, reference))


class EarlyStopping(_MonitorCallback):
    """Ends `fit` once a logged value has stopped getting better.

    After every epoch the value named by `monitor` is read from the epoch logs and compared
    with the best one so far. An epoch whose value beats the best by more than `min_delta`
    resets a counter of stalled epochs; other epochs add to it. When the counter reaches
    `patience` (counting epochs since the last reset, the current one included), the callback
    sets `model.stop_training` and `fit` ends after that epoch. It never stops on the very
    first epoch (index 0). Epochs before `start_from_epoch` are ignored entirely.

    Args:
        monitor: name of the log entry to watch. Defaults to `"val_loss"`. If an epoch's logs
            lack it, a warning is issued and that epoch is skipped.
        min_delta: how much better than the best a value must be to count, as an absolute
            amount (its sign is ignored). Defaults to `0`.
        patience: training stops at the `patience`-th stalled epoch in a row (`0` acts like
            `1`: the first stalled epoch stops it). Defaults to `0`.
        verbose: `1` prints a line when training is stopped and when weights are restored;
            `0` (the default) prints nothing.
        mode: `"min"` if smaller values are better, `"max"` if larger ones are, `"auto"` (the
            default) to decide from the name: losses, errors, crossentropies, hinges and
            divergences go down; accuracies and scores such as AUC, precision, recall go up.
            A name it cannot place raises `ValueError` at the end of the first epoch. Other
            strings are replaced by `"auto"` with a warning.
        baseline: a value the model has to beat. New bests that stay short of it are
            recorded but do not reset the count of stalled epochs, so once `patience` epochs
            have gone by without beating it, the next epoch that is not a new best stops the
            run. Defaults to `None` (no baseline).
        restore_best_weights: if true, the weights are copied (`model.get_weights()`) at every
            new best and put back (`model.set_weights()`) when training ends, whether or not it
            stopped early. The first watched epoch is always copied, so something is restored
            even if no epoch beats the baseline. Defaults to `False`: the model keeps the
            weights of its last epoch.
        start_from_epoch: number of initial epochs to leave out (warm-up), as an epoch index:
            watching starts at epoch `start_from_epoch`. Defaults to `0`.

    Example:

    ```python
    stopper = dlc.callbacks.EarlyStopping(monitor="val_accuracy", min_delta=0.001,
                                          patience=5, restore_best_weights=True, verbose=1)
    history = model.fit(x, y, epochs=200, validation_split=0.2, callbacks=[stopper])
    print("best epoch:", stopper.best_epoch + 1, "stopped at:", len(history.epoch))
    ```
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: Optional[float] = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: Optional[List[np.ndarray]] = None
        self.best_epoch = 0

    def on_train_begin(self, logs: Logs = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        value = self._get_monitor_value(logs)
        if value is None:
            return
        if epoch < self.start_from_epoch:  # still warming up
            return
        keep_weights = self.restore_best_weights
        if keep_weights and self.best_weights is None:
            # First watched epoch: take a copy now so that there is always one to restore.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if not self._is_improvement(value, self.best):
            if epoch > 0 and self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
            return
        self.best, self.best_epoch = value, epoch
        if keep_weights:
            self.best_weights = self.model.get_weights()
        # A new best only resets the count when it also clears the baseline (if one is set).
        if self.baseline is None or self._is_improvement(value, self.baseline):
            self.wait = 0

    def on_train_end(self, logs: Logs = None) -> None:
        talk = self.verbose > 0
        if talk and self.stopped_epoch > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.best_weights is None or not self.restore_best_weights:
            return
        if talk:
            _print("Restoring model weights from the end of the best epoch: "
                   f"{self.best_epoch + 1}.")
        self.model.set_weights(self.best_weights)

    def _get_monitor_value(self, logs: Logs) -> Optional[float]:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"EarlyStopping: the monitored value '{self.monitor}' is not in the "
                          f"epoch logs, which hold: {', '.join(logs) or 'nothing'}", stacklevel=3)
        return value


def _get_lr(optimizer: Any) -> float:
    """The optimizer's current learning rate as a Python float."""
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{type(optimizer).__name__} has no 'learning_rate' attribute, "
                         "which learning-rate callbacks need")
    return float(np.asarray(optimizer.learning_rate))


class ReduceLROnPlateau(_MonitorCallback):
    """Lowers the optimizer's learning rate when a logged value stops improving.

    A run that has stalled at one learning rate often makes progress again at a smaller one.
    After each epoch the monitored value is compared with the best so far; after `patience`
    epochs without an improvement larger than `min_delta`, the rate is multiplied by
    `factor` (never going below `min_lr`) and the count starts over. A `cooldown` of a few
    epochs can follow each reduction, during which stalled epochs are not counted.

    The rate in force during the epoch is also written to the epoch logs as `learning_rate`,
    so a `History` or `CSVLogger` placed after this callback records it.

    Args:
        monitor: name of the log entry to watch. Defaults to `"val_loss"`. If an epoch's logs
            lack it, a warning is issued and nothing else happens that epoch.
        factor: multiplier applied at each reduction; must be below 1 (`ValueError`
            otherwise). Defaults to `0.1`.
        patience: stalled epochs after which the rate is lowered. Defaults to `10`.
        verbose: `1` prints a line at each reduction; `0` (the default) is silent.
        mode: `"min"`, `"max"` or `"auto"` (the default), with the same meaning as in
            `EarlyStopping`.
        min_delta: smallest change that counts as an improvement. Defaults to `1e-4`.
        cooldown: epochs to wait after a reduction before counting stalled epochs again.
            Defaults to `0`.
        min_lr: the rate is never set below this. Once the rate is at (or under) it, no
            further reduction happens. Defaults to `0`.
        **kwargs: not accepted: any other keyword raises `TypeError`.

    Example:

    ```python
    plateau = dlc.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3,
                                              cooldown=1, min_lr=1e-5, verbose=1)
    history = model.fit(x, y, epochs=60, validation_split=0.1, callbacks=[plateau])
    print(history.history["learning_rate"][-1])   # the rate used in the last epoch
    ```
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, **kwargs: Any) -> None:
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: argument 'factor' must be below 1.0, "
                             f"received {factor}")
        if kwargs:
            unknown = ", ".join(sorted(kwargs))
            raise TypeError(f"ReduceLROnPlateau: unexpected keyword argument(s): {unknown}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs: Logs = None) -> None:
        self._reset()

    def in_cooldown(self) -> bool:
        """Whether epochs of the post-reduction cooldown remain."""
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        if logs is None:
            logs = {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = _get_lr(optimizer)
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"ReduceLROnPlateau: the monitored value '{self.monitor}' is not in "
                          f"the epoch logs, which hold: {', '.join(logs)}", stacklevel=3)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(value, self.best):
            self.best = value
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait >= self.patience:
            self._lower_rate(epoch, optimizer)

    def _lower_rate(self, epoch: int, optimizer: Any) -> None:
        current = _get_lr(optimizer)
        # The optimizer may keep the rate in float32, so a rate clamped to min_lr can read
        # back a hair above it; rounding min_lr the same way treats that rate as the floor.
        if not current > np.float32(self.min_lr):
            return
        lowered = max(current * self.factor, self.min_lr)
        optimizer.learning_rate = lowered
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                   f"{lowered}.")
        self.cooldown_counter = self.cooldown
        self.wait = 0


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of every epoch from a function.

    Before each epoch, `schedule(epoch, lr)` is called with the epoch index and the rate
    currently set, and the optimizer is given the value it returns. At the end of each epoch
    the rate that was used is added to the epoch logs as `learning_rate` (so the `History`
    that `fit` adds records it).

    Args:
        schedule: the function. It receives the epoch index (from 0, counting from
            `initial_epoch` when resuming) and the current rate as a float, and must return
            the new rate: an int or float (NumPy scalars are accepted) that is finite and not
            negative, else `ValueError`. If calling it with two arguments raises `TypeError`,
            it is called again as `schedule(epoch)`, so one-argument functions work too.
        verbose: `1` prints the rate set at each epoch; `0` (the default) is silent.

    Example:

    ```python
    def warmup_then_step(epoch, lr):
        # Linear warm-up over 5 epochs to 0.1, then divide by 10 every 30 epochs.
        if epoch < 5:
            return 0.1 * (epoch + 1) / 5
        return 0.1 * 0.1 ** ((epoch - 5) // 30)

    schedule = dlc.callbacks.LearningRateScheduler(warmup_then_step)
    model.fit(x, y, epochs=90, callbacks=[schedule], verbose=2)
    ```
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: argument 'schedule' must be callable, "
                            f"received {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        optimizer = self.model.optimizer
        current = _get_lr(optimizer)
        try:
            lr = self.schedule(epoch, current)
        except TypeError:  # a schedule written for the epoch alone
            lr = self.schedule(epoch)
        if isinstance(lr, (np.ndarray, np.generic)) and np.ndim(lr) == 0:
            lr = lr.item()
        if isinstance(lr, bool) or not isinstance(lr, (float, int)):
            raise ValueError("LearningRateScheduler: the result of `schedule` should be a float "
                             f"(or int), received {lr!r}")
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError("LearningRateScheduler: the result of `schedule` must be finite "
                             f"and non-negative, received {lr}")
        optimizer.learning_rate = lr
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model.optimizer)
