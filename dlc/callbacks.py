"""Callbacks: hooks that `fit`, `evaluate` and `predict` call as they run (the Keras 3 API).

A callback is an object whose `on_*` methods the loops invoke at fixed points. Inside `fit`,
with `cbs` the `CallbackList` built from the `callbacks=` argument, the calls come in this
order::

    cbs.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            ...one optimisation step...
            cbs.on_train_batch_end(step, running_logs)    # epoch-so-far metric means
            if model.stop_training: break
        cbs.on_epoch_end(epoch, epoch_logs)               # with val_* keys on validation epochs
        if model.stop_training: break
    cbs.on_train_end(epoch_logs)

`evaluate` uses the `on_test_*` hooks and `predict` the `on_predict_*` hooks in the same
begin / per-batch / end pattern. The validation that `fit` runs is internal: it does not call
the `on_test_*` hooks of the callbacks given to `fit`; its results arrive as the `val_*`
entries of the epoch logs.

Example:

>>> stop = dlc.callbacks.EarlyStopping(monitor="val_loss", patience=3,
...                                    restore_best_weights=True)
>>> log = dlc.callbacks.CSVLogger("run.csv")
>>> history = model.fit(x, y, validation_split=0.1, epochs=50, callbacks=[stop, log])
"""
from __future__ import annotations

import collections.abc
import csv
import math
import os
import sys
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy as np

from dlc._progress import Progbar

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
    "ReduceLROnPlateau", "LearningRateScheduler", "ModelCheckpoint", "CSVLogger",
    "TerminateOnNaN", "LambdaCallback",
]

Logs = Optional[Dict[str, Any]]


def _print(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _pythonify_logs(logs: Logs) -> Dict[str, Any]:
    """Returns a new, flat logs dict: entries of nested dicts are lifted to the top level,
    values that `float()` accepts become floats, and keys come in sorted order."""
    result: Dict[str, Any] = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(_pythonify_logs(value))
            continue
        try:
            result[key] = float(value)
        except (TypeError, ValueError):
            result[key] = value
    return result


class Callback:
    """Base class for callbacks: override the hooks you need, the others do nothing.

    Pass instances in the `callbacks=` list of `fit()`, `evaluate()` or `predict()`. Before the
    loop starts each callback receives the model (`set_model`) and the loop's settings
    (`set_params`); then its `on_*` methods are called at the points listed in this module's
    docstring. A hook may read or change the model: setting `self.model.stop_training = True`
    makes `fit` stop after the current batch (the epoch is closed with `on_epoch_end` and
    `on_train_end` still runs).

    Every hook receives `logs`: a dict keyed by metric name in sorted order, whose numeric
    values have been turned into plain Python floats (anything `float()` rejects is passed
    unchanged), or an empty dict when the hook has nothing to report.

    Attributes:
        params: dict of the loop's settings: `verbose`, `epochs` and `steps` (batches per
            epoch). `evaluate` and `predict` report `epochs=1`. Empty until `set_params`.
        model: the model being run (read-only property; `None` until `set_model`).

    Example:

    ```python
    class LossTrace(dlc.callbacks.Callback):
        # Keeps the loss of every training batch, not just the per-epoch value.
        def on_train_begin(self, logs=None):
            self.trace = []

        def on_train_batch_end(self, batch, logs=None):
            self.trace.append(logs["loss"])

    tracer = LossTrace()
    model.fit(x, y, epochs=3, callbacks=[tracer])
    print(len(tracer.trace), "batches seen")
    ```
    """

    def __init__(self) -> None:
        self.params: Dict[str, Any] = {}
        self._model: Any = None

    def set_params(self, params: Dict[str, Any]) -> None:
        """Stores the loop's settings in `self.params`."""
        self.params = params

    def set_model(self, model: Any) -> None:
        """Attaches the model the loop runs; afterwards `self.model` returns it."""
        self._model = model

    @property
    def model(self) -> Any:
        return self._model

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Older name of `on_train_batch_begin`, kept for old callbacks.

        The default `on_train_batch_begin` forwards here, so overriding this method alone
        hooks the start of every training batch.
        """

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Older name of `on_train_batch_end`, kept for old callbacks.

        The default `on_train_batch_end` forwards here, so overriding this method alone hooks
        the end of every training batch (with the same `logs`).
        """

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        """Runs in `fit` when an epoch starts, before its first batch.

        Args:
            epoch: the epoch's index, counted from 0 (from `initial_epoch` when resuming).
            logs: an empty dict.
        """

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Runs in `fit` after the last batch of an epoch (and its validation, if any).

        Args:
            epoch: the epoch's index, counted from 0.
            logs: the epoch's results: the loss and each compiled metric averaged over the
                epoch's batches and, on epochs that were validated, the same names prefixed
                with `val_`, e.g. `{"accuracy": 0.91, "loss": 0.27, "val_accuracy": 0.9,
                "val_loss": 0.3}`. Callbacks may add entries (`ReduceLROnPlateau` and
                `LearningRateScheduler` add `learning_rate`); callbacks later in the list see
                them.
        """

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Runs in `fit` before each training batch. The default calls `on_batch_begin`.

        Args:
            batch: the batch's index inside the current epoch, from 0.
            logs: an empty dict.
        """
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Runs in `fit` after each training batch. The default calls `on_batch_end`.

        Args:
            batch: the batch's index inside the current epoch, from 0.
            logs: the loss and metrics averaged over the epoch's batches so far (this one
                included), not the values of this batch alone.
        """
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Runs in `evaluate` before each batch (not during `fit`'s validation).

        Args:
            batch: the batch's index, from 0.
            logs: an empty dict.
        """

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Runs in `evaluate` after each batch (not during `fit`'s validation).

        Args:
            batch: the batch's index, from 0.
            logs: the loss and metrics averaged over the batches evaluated so far.
        """

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Runs in `predict` before each batch.

        Args:
            batch: the batch's index, from 0.
            logs: an empty dict.
        """

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Runs in `predict` after each batch.

        Args:
            batch: the batch's index, from 0.
            logs: an empty dict (unlike Keras, the batch's outputs are not passed).
        """

    def on_train_begin(self, logs: Logs = None) -> None:
        """Runs once when `fit` starts, before the first epoch.

        Args:
            logs: an empty dict.
        """

    def on_train_end(self, logs: Logs = None) -> None:
        """Runs once when `fit` finishes, including when a callback stopped it early.

        Args:
            logs: the logs of the last epoch that ran (those `on_epoch_end` received), or an
                empty dict if no epoch ran.
        """

    def on_test_begin(self, logs: Logs = None) -> None:
        """Runs once when `evaluate` starts (not for `fit`'s validation).

        Args:
            logs: an empty dict.
        """

    def on_test_end(self, logs: Logs = None) -> None:
        """Runs once when `evaluate` has gone through all batches (not for `fit`'s validation).

        Args:
            logs: the final results, the same values `evaluate(..., return_dict=True)`
                returns.
        """

    def on_predict_begin(self, logs: Logs = None) -> None:
        """Runs once when `predict` starts.

        Args:
            logs: an empty dict.
        """

    def on_predict_end(self, logs: Logs = None) -> None:
        """Runs once when `predict` has gone through all batches.

        Args:
            logs: an empty dict.
        """


class CallbackList(Callback):
    """Groups callbacks so that the loops call one object: each hook runs every member's hook.

    `fit`, `evaluate` and `predict` wrap their `callbacks=` argument in one of these. Before
    each hook is forwarded, its logs are rebuilt as a fresh dict of Python floats with sorted
    keys (nested dicts are flattened), which is why progress lines list metrics
    alphabetically; every member receives that same dict, so an entry one callback adds is
    visible to the callbacks after it.

    Args:
        callbacks: the members: `None`, a single `Callback`, or a list/tuple of them (nested
            lists and tuples are flattened). Anything that is not a `Callback` raises
            `TypeError`.
        add_history: if true and no `History` is among the members, one is appended.
        add_progbar: if true and no `ProgbarLogger` is among the members, one is appended.
        model: the model to attach to every member (`set_model`); `None` attaches nothing.
            When the list holds a `History`, it also becomes `model.history`.
        **params: the loop's settings, handed to every member through `set_params` when any
            are given (`fit` passes `verbose`, `epochs` and `steps`).

    Example:

    ```python
    cbs = dlc.callbacks.CallbackList([my_callback], add_history=True, model=model,
                                     verbose=0, epochs=2, steps=10)
    cbs.on_train_begin()
    cbs.on_epoch_end(0, {"loss": np.float32(0.5)})   # my_callback sees {"loss": 0.5}
    ```
    """

    def __init__(self, callbacks: Optional[Iterable[Callback]] = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None, **params: Any) -> None:
        super().__init__()
        self.callbacks: List[Callback] = _flatten(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError("CallbackList: every callback must be a dlc.callbacks.Callback, "
                                f"received {cb!r} of type {type(cb).__name__}")
        # Reuse the caller's own History / ProgbarLogger (the last one given, if several).
        self._progbar: Optional[ProgbarLogger] = self._last_member(ProgbarLogger)
        self._history: Optional[History] = self._last_member(History, exclude=ProgbarLogger)
        if add_history and self._history is None:
            self._history = History()
            self.callbacks.append(self._history)
        if add_progbar and self._progbar is None:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    def _last_member(self, kind: type, exclude: Any = ()) -> Any:
        found = [cb for cb in self.callbacks
                 if isinstance(cb, kind) and not isinstance(cb, exclude)]
        return found[-1] if found else None

    def append(self, callback: Callback) -> None:
        """Adds `callback` as the last member (its hooks then run after all the others)."""
        self.callbacks.append(callback)

    def set_params(self, params: Dict[str, Any]) -> None:
        """Stores `params` and, unless it is empty, passes it on to every member."""
        self.params = params
        if not params:
            return
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model: Any) -> None:
        """Attaches `model` to the list and every member; `None` is ignored."""
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def _call(self, hook: str, *args: Any, logs: Logs = None) -> None:
        logs = _pythonify_logs(logs)
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_batch_end", batch, logs=logs)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._call("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_train_batch_end", batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_test_batch_end", batch, logs=logs)

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_predict_batch_end", batch, logs=logs)

    def on_train_begin(self, logs: Logs = None) -> None:
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs: Logs = None) -> None:
        self._call("on_train_end", logs=logs)

    def on_test_begin(self, logs: Logs = None) -> None:
        self._call("on_test_begin", logs=logs)

    def on_test_end(self, logs: Logs = None) -> None:
        self._call("on_test_end", logs=logs)

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._call("on_predict_begin", logs=logs)

    def on_predict_end(self, logs: Logs = None) -> None:
        self._call("on_predict_end", logs=logs)


def _flatten(callbacks: Any) -> List[Callback]:
    """The members as one flat list: `None` gives [], a lone callback [it], lists are unnested."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    out: List[Callback] = []
    for item in callbacks:
        if isinstance(item, (list, tuple)):
            out.extend(_flatten(item))
        else:
            out.append(item)
    return out


class History(Callback):
    """Keeps every epoch's logs; `fit` always has one and returns it.

    After training, `history.history` is a dict from each log name (`"loss"`, `"val_loss"`,
    metric names, `"learning_rate"` when a scheduling callback adds it) to the list of its
    per-epoch values, and `history.epoch` lists the indices of the epochs that ran. It is also
    stored as `model.history`. A name that is missing in some epochs (a `val_*` entry with
    `validation_freq > 1`) simply has fewer values than `epoch` has entries.

    Example:

    ```python
    history = model.fit(x, y, epochs=20, validation_split=0.2, verbose=0)
    best = int(np.argmin(history.history["val_loss"]))
    print(f"lowest validation loss after epoch {history.epoch[best] + 1}")
    ```
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: Dict[str, List[Any]] = {}
        self.epoch: List[int] = []

    def on_train_begin(self, logs: Logs = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            if name not in self.history:
                self.history[name] = []
            self.history[name].append(value)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints the progress of `fit`, `evaluate` and `predict` to standard output.

    The loops add one automatically unless `verbose=0`. It takes its settings from `params`:
    `verbose` (1, or `"auto"`, draws a progress bar updated after every batch; 2 prints just
    one line at the end of each epoch), `epochs` (an `Epoch i/N` header is printed before each
    epoch when there are several) and `steps` (batches per epoch; if `None`, the count is
    learnt by the end of the first pass). Values are printed exactly as the logs hold them:
    the loops already send running means.

    Example:

    ```python
    model.fit(x, y, epochs=2, verbose=1)
    # Epoch 1/2
    # 469/469 ━━━━━━━━━━━━━━━━━━━━ 12s 25ms/step - accuracy: 0.9212 - loss: 0.2612
    # Epoch 2/2
    # ...
    ```
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.progbar: Optional[Progbar] = None
        self.target: Optional[int] = None
        self.verbose = 1
        self.epochs = 1
        self._inside_fit = False

    def set_params(self, params: Dict[str, Any]) -> None:
        super().set_params(params)
        level = params.get("verbose", 1)
        self.verbose = 1 if level == "auto" else int(level)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs: Logs = None) -> None:
        # From here on, test hooks come from validation inside fit: those stay silent.
        self._inside_fit = True

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._new_bar()
        if self.verbose and self.epochs > 1:
            _print(f"Epoch {epoch + 1}/{self.epochs}")

    def on_test_begin(self, logs: Logs = None) -> None:
        if not self._inside_fit:
            self._new_bar()

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._new_bar()

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._advance(batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        if not self._inside_fit:
            self._advance(batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._advance(batch, None)  # predict has no metrics to show

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._finish(logs)

    def on_test_end(self, logs: Logs = None) -> None:
        if not self._inside_fit:
            self._finish(logs)

    def on_predict_end(self, logs: Logs = None) -> None:
        self._finish(logs)

    def _bar(self) -> Progbar:
        """The current bar, created on first use."""
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step",
                                   stateless_metrics=set())
        return self.progbar

    def _new_bar(self) -> None:
        self.seen = 0
        self.progbar = None
        self._bar()

    def _advance(self, batch: int, logs: Logs) -> None:
        bar = self._bar()
        self.seen = batch + 1  # batches are numbered from 0, the bar counts from 1
        if self.verbose == 1:
            bar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finish(self, logs: Logs) -> None:
        bar = self._bar()
        if self.target is None:
            # The number of batches was unknown: the pass just ended tells us.
            self.target = bar.target = self.seen
        bar.update(self.target, list((logs or {}).items()), finalize=True)


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


class ModelCheckpoint(_MonitorCallback):
    """Writes the model, or only its weights, to disk during training.

    By default a file is written after every epoch; with an integer `save_freq`, after every
    that many training batches instead. `filepath` may contain `str.format` fields: `{epoch}`
    (counted from 1), `{batch}` (from 1, for batch-frequency saves) and any log name, e.g.
    `"ckpt/e{epoch:03d}-{val_loss:.3f}.weights.h5"`, so that each save gets its own file; a
    field with no matching value raises `KeyError`. Parent folders are created as needed.

    With `save_best_only=True` a file is written only when the monitored value is the best
    seen so far, so a fixed `filepath` always holds the best model.

    Args:
        filepath: where to write (str or `os.PathLike`), possibly with format fields as
            above. Must not name an existing directory (`IOError`).
        monitor: log entry that decides what "best" means with `save_best_only`. Defaults to
            `"val_loss"`. When it is missing from the logs, a warning is issued and the file
            is written anyway.
        verbose: `1` prints a line for each save (and, with `save_best_only`, for each skipped
            one); `0` (the default) is silent.
        save_best_only: write only on an improvement of `monitor`. Defaults to `False`.
        save_weights_only: write with `model.save_weights(path)` instead of `model.save(path)`.
            Defaults to `False`.
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
