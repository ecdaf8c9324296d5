"""Callbacks: objects that hook into `fit`, `evaluate` and `predict` (Keras 3 API).

A training loop calls the hooks of a `CallbackList` in this order::

    callbacks.on_train_begin()
    for epoch in range(epochs):
        callbacks.on_epoch_begin(epoch)
        for step in range(steps):
            callbacks.on_train_batch_begin(step)
            logs = train_step(...)
            callbacks.on_train_batch_end(step, logs)
        epoch_logs = {...}          # plus val_* entries when validating
        callbacks.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callbacks.on_train_end(final_logs)

Example:

>>> early = dlc.callbacks.EarlyStopping(monitor="val_loss", patience=3,
...                                     restore_best_weights=True)
>>> history = model.fit(x, y, validation_split=0.1, epochs=50, callbacks=[early])
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
    """Flattens nested dicts, turns scalar values into floats and sorts the keys (as Keras)."""
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
    """Base class used to build new callbacks.

    Callbacks can be passed to `fit()`, `evaluate()` and `predict()` to hook into the stages of
    training, evaluation and inference. Subclass it and override the methods of the stages you
    are interested in.

    Attributes:
        params: Dict. Training parameters (verbosity, number of epochs, steps per epoch).
        model: The model being trained.

    Example:

    ```python
    class PrintLoss(dlc.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(f"epoch {epoch}: loss {logs['loss']:.4f}")

    model.fit(x, y, epochs=3, callbacks=[PrintLoss()])
    ```
    """

    def __init__(self) -> None:
        self.params: Dict[str, Any] = {}
        self._model: Any = None

    def set_params(self, params: Dict[str, Any]) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        return self._model

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """A backwards compatibility alias for `on_train_batch_begin`."""

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        """A backwards compatibility alias for `on_train_batch_end`."""

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        """Called at the start of an epoch (training only).

        Args:
            epoch: Integer, index of epoch.
            logs: Dict. Currently no data is passed to this argument.
        """

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Called at the end of an epoch (training only).

        Args:
            epoch: Integer, index of epoch.
            logs: Dict, metric results for this training epoch, and for the validation epoch
                if validation is performed (keys prefixed with `val_`), e.g.
                `{'loss': 0.2, 'accuracy': 0.7, 'val_loss': 0.25, 'val_accuracy': 0.68}`.
        """

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called at the beginning of a training batch in `fit`.

        Args:
            batch: Integer, index of batch within the current epoch.
            logs: Dict. Currently no data is passed to this argument.
        """
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called at the end of a training batch in `fit`.

        Args:
            batch: Integer, index of batch within the current epoch.
            logs: Dict. Aggregated metric results up until this batch.
        """
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called at the beginning of a batch in `evaluate` (and validation in `fit`).

        Args:
            batch: Integer, index of batch within the current epoch.
            logs: Dict. Currently no data is passed to this argument.
        """

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called at the end of a batch in `evaluate` (and validation in `fit`).

        Args:
            batch: Integer, index of batch within the current epoch.
            logs: Dict. Aggregated metric results up until this batch.
        """

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called at the beginning of a batch in `predict`.

        Args:
            batch: Integer, index of batch within the current epoch.
            logs: Dict. Currently no data is passed to this argument.
        """

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called at the end of a batch in `predict`.

        Args:
            batch: Integer, index of batch within the current epoch.
            logs: Dict. Aggregated metric results up until this batch.
        """

    def on_train_begin(self, logs: Logs = None) -> None:
        """Called at the beginning of training.

        Args:
            logs: Dict. Currently no data is passed to this argument.
        """

    def on_train_end(self, logs: Logs = None) -> None:
        """Called at the end of training.

        Args:
            logs: Dict. Currently the output of the last call to `on_epoch_end()` is passed.
        """

    def on_test_begin(self, logs: Logs = None) -> None:
        """Called at the beginning of evaluation or validation.

        Args:
            logs: Dict. Currently no data is passed to this argument.
        """

    def on_test_end(self, logs: Logs = None) -> None:
        """Called at the end of evaluation or validation.

        Args:
            logs: Dict. Currently the output of the last call to `on_test_batch_end()`.
        """

    def on_predict_begin(self, logs: Logs = None) -> None:
        """Called at the beginning of prediction.

        Args:
            logs: Dict. Currently no data is passed to this argument.
        """

    def on_predict_end(self, logs: Logs = None) -> None:
        """Called at the end of prediction.

        Args:
            logs: Dict. Currently no data is passed to this argument.
        """


class CallbackList(Callback):
    """Container abstracting a list of callbacks: one call runs the hook of each.

    Log values are converted to Python floats and their keys sorted before they reach the
    callbacks (so progress lines list metrics alphabetically, as in Keras).

    Args:
        callbacks: List of `Callback` instances.
        add_history: Whether a `History` callback should be added, if one does not already
            exist in the `callbacks` list.
        add_progbar: Whether a `ProgbarLogger` callback should be added, if one does not
            already exist in the `callbacks` list.
        model: The model these callbacks are used with.
        **params: If provided, parameters will be passed to each callback via
            `Callback.set_params` (for `fit`: `epochs`, `steps` and `verbose`).

    Example:

    ```python
    callbacks = dlc.callbacks.CallbackList(user_callbacks, add_history=True,
                                           add_progbar=verbose != 0, model=model,
                                           epochs=epochs, steps=steps, verbose=verbose)
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
        self._history: Optional[History] = None
        self._progbar: Optional[ProgbarLogger] = None
        for cb in self.callbacks:
            if isinstance(cb, ProgbarLogger):
                self._progbar = cb
            elif isinstance(cb, History):
                self._history = cb
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    def append(self, callback: Callback) -> None:
        """Adds a callback at the end of the list."""
        self.callbacks.append(callback)

    def set_params(self, params: Dict[str, Any]) -> None:
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model: Any) -> None:
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
    """Callback that records events into a `History` object.

    It is added to every `fit()` and returned by it: `history.history` maps each metric name to
    the list of its values, one per epoch; `history.epoch` lists the epoch indices.

    Example:

    ```python
    history = model.fit(x, y, epochs=10, validation_split=0.1)
    plt.plot(history.history["loss"], label="train")
    plt.plot(history.history["val_loss"], label="validation")
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
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Callback that prints metrics to stdout with a progress bar.

    `fit`, `evaluate` and `predict` add it when `verbose` is not 0. It reads `params`
    `epochs`, `steps` (None if unknown) and `verbose` (0, 1, 2 or "auto", meaning 1).
    Metric values in the logs are shown as given: they are the running values of the epoch.

    Example:

    ```python
    model.fit(x, y, epochs=2, verbose=1)
    # Epoch 1/2
    # 469/469 ━━━━━━━━━━━━━━━━━━━━ 12s 25ms/step - accuracy: 0.9212 - loss: 0.2612
    ```
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.progbar: Optional[Progbar] = None
        self.target: Optional[int] = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params: Dict[str, Any]) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs: Logs = None) -> None:
        self._called_in_fit = True

    def on_test_begin(self, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            _print(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._finalize_progbar(logs)

    def on_test_end(self, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs: Logs = None) -> None:
        self._finalize_progbar(logs)

    def _reset_progbar(self) -> None:
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self) -> None:
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step",
                                   stateless_metrics=set())

    def _update_progbar(self, batch: int, logs: Logs) -> None:
        self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs: Logs) -> None:
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)


# --------------------------------------------------------------------------- monitoring
_MAXIMIZED = ("acc", "accuracy", "auc", "precision", "recall", "f1_score", "fbeta_score",
              "iou", "r2_score")


class _MonitorCallback(Callback):
    """Shared logic of callbacks that watch a metric and act when it stops improving."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto",
                 baseline: Optional[float] = None, min_delta: float = 0.0) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op: Optional[Callable[[float, float], bool]] = None

    def _set_monitor_op(self) -> None:
        if self.mode == "min":
            maximize = False
        elif self.mode == "max":
            maximize = True
        else:
            maximize = self._infer_direction()
        self.monitor_op = np.greater if maximize else np.less
        self._sign = 1.0 if maximize else -1.0

    def _infer_direction(self) -> bool:
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
            f"{type(self).__name__} callback received monitor={self.monitor}, but dlc isn't "
            "able to automatically determine whether that metric should be maximized or "
            "minimized. Pass `mode='max'` in order to monitor based on the highest metric "
            "value, or pass `mode='min'` in order to use the lowest value.")

    def _is_improvement(self, value: float, reference: Optional[float]) -> bool:
        if reference is None:
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        return bool(self.monitor_op(value - self._sign * self.min_delta, reference))


class EarlyStopping(_MonitorCallback):
    """Stop training when a monitored metric has stopped improving.

    At the end of every epoch the monitored quantity (from the epoch logs) is compared with the
    best seen so far; after `patience` epochs without an improvement larger than `min_delta`,
    `model.stop_training` is set and `fit` stops.

    Args:
        monitor: Quantity to be monitored. Defaults to `"val_loss"`.
        min_delta: Minimum change in the monitored quantity to qualify as an improvement,
            i.e. an absolute change of less than min_delta, will count as no improvement.
            Defaults to `0`.
        patience: Number of epochs with no improvement after which training will be stopped.
            Defaults to `0`.
        verbose: Verbosity mode, 0 or 1. Mode 1 displays messages when the callback takes an
            action. Defaults to `0`.
        mode: One of `{"auto", "min", "max"}`. In `"min"` mode, training will stop when the
            quantity monitored has stopped decreasing; in `"max"` mode when it has stopped
            increasing; in `"auto"` mode, the direction is inferred from the name of the
            monitored quantity (losses and errors decrease, accuracies increase).
            Defaults to `"auto"`.
        baseline: Baseline value for the monitored quantity. If not `None`, training will stop
            if the model doesn't show improvement over the baseline. Defaults to `None`.
        restore_best_weights: Whether to restore model weights from the epoch with the best
            value of the monitored quantity (via `model.get_weights()`/`set_weights()`). If
            `False`, the weights of the last epoch are kept. Defaults to `False`.
        start_from_epoch: Number of epochs to wait before starting to monitor improvement
            (a warm-up period). Defaults to `0`.

    Example:

    ```python
    callback = dlc.callbacks.EarlyStopping(monitor="loss", patience=3)
    # Stops when the loss has not improved for three consecutive epochs.
    history = model.fit(x, y, epochs=10, callbacks=[callback], verbose=0)
    ```
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: Optional[float] = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
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
        current = self._get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Keep the first monitored epoch's weights in case no epoch beats the baseline.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print("Restoring model weights from the end of the best epoch: "
                       f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def _get_monitor_value(self, logs: Logs) -> Optional[float]:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}", stacklevel=3)
        return value


def _get_lr(optimizer: Any) -> float:
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute.')
    return float(np.asarray(optimizer.learning_rate))


class ReduceLROnPlateau(_MonitorCallback):
    """Reduce learning rate when a metric has stopped improving.

    Models often benefit from reducing the learning rate by a factor of 2-10 once learning
    stagnates. This callback monitors a quantity and if no improvement is seen for a
    `patience` number of epochs, the learning rate is reduced (`new_lr = lr * factor`).

    Args:
        monitor: String. Quantity to be monitored.
        factor: Float. Factor by which the learning rate will be reduced.
            `new_lr = lr * factor`.
        patience: Integer. Number of epochs with no improvement after which learning rate will
            be reduced.
        verbose: Integer. 0: quiet, 1: update messages.
        mode: String. One of `{'auto', 'min', 'max'}`. In `'min'` mode, the learning rate will
            be reduced when the quantity monitored has stopped decreasing; in `'max'` mode it
            will be reduced when the quantity monitored has stopped increasing; in `'auto'`
            mode, the direction is inferred from the name of the monitored quantity.
        min_delta: Float. Threshold for measuring the new optimum, to only focus on
            significant changes.
        cooldown: Integer. Number of epochs to wait before resuming normal operation after the
            learning rate has been reduced.
        min_lr: Float. Lower bound on the learning rate.

    Example:

    ```python
    reduce_lr = dlc.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2,
                                                patience=5, min_lr=0.001)
    model.fit(x_train, y_train, callbacks=[reduce_lr])
    ```
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, **kwargs: Any) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
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
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = _get_lr(optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: {','.join(logs)}.",
                          stacklevel=3)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = _get_lr(optimizer)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                               f"rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Learning rate scheduler.

    At the beginning of every epoch, this callback gets the updated learning rate value from
    the `schedule` function, with the current epoch and current learning rate, and applies it
    to the optimizer.

    Args:
        schedule: A function that takes an epoch index (integer, indexed from 0) and current
            learning rate (float) as inputs and returns a new learning rate as output (float).
            A function of the epoch alone is accepted too.
        verbose: Integer. 0: quiet, 1: log update messages.

    Example:

    ```python
    import math

    def scheduler(epoch, lr):
        # Keeps the initial rate for ten epochs, then anneals it: lr = lr0 * exp(-0.1 t).
        return lr if epoch < 10 else lr * math.exp(-0.1)

    callback = dlc.callbacks.LearningRateScheduler(scheduler)
    history = model.fit(x, y, epochs=15, callbacks=[callback], verbose=0)
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
        except TypeError:  # the older one-argument form schedule(epoch)
            lr = self.schedule(epoch)
        if isinstance(lr, (np.ndarray, np.generic)) and np.ndim(lr) == 0:
            lr = lr.item()
        if isinstance(lr, bool) or not isinstance(lr, (float, int)):
            raise ValueError("The output of the `schedule` function should be a float. "
                             f"Got: {lr!r}")
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError("The output of the `schedule` function should be a finite, "
                             f"non-negative float. Got: {lr}")
        optimizer.learning_rate = lr
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model.optimizer)


class ModelCheckpoint(_MonitorCallback):
    """Callback to save the model or its weights at some frequency.

    The filepath can contain named formatting options, filled with the epoch number (1-based)
    and the keys of the epoch logs: with `filepath="model.{epoch:02d}-{val_loss:.2f}.keras"`
    the checkpoints are saved with the epoch number and the validation loss in the name.
    Missing folders are created.

    Args:
        filepath: string or `PathLike`, path to save the model file.
        monitor: The metric name to monitor (for `save_best_only`).
        verbose: Verbosity mode, 0 or 1. Mode 1 displays messages when the callback takes an
            action.
        save_best_only: if `save_best_only=True`, it only saves when the model is considered
            the "best" so far according to the monitored quantity.
        save_weights_only: if True, only the weights are saved (`model.save_weights(filepath)`),
            else the full model is saved (`model.save(filepath)`).
        mode: one of {`"auto"`, `"min"`, `"max"`}: whether the monitored quantity should be
            minimized or maximized; `"auto"` infers it from the name.
        save_freq: `"epoch"` or integer. With `"epoch"` the callback saves after each epoch;
            with an integer, after that many batches.
        initial_value_threshold: Floating point initial "best" value of the metric to be
            monitored. Only applies if `save_best_only=True`.

    Example:

    ```python
    checkpoint = dlc.callbacks.ModelCheckpoint(
        "checkpoints/best.weights.h5", monitor="val_accuracy", mode="max",
        save_best_only=True, save_weights_only=True)
    model.fit(x, y, epochs=10, validation_split=0.1, callbacks=[checkpoint])
    model.load_weights("checkpoints/best.weights.h5")
    ```
    """

    def __init__(self, filepath: Any, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: Any = "epoch",
                 initial_value_threshold: Optional[float] = None) -> None:
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are "
                             "'epoch' or positive integer values")
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
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch started
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _get_file_path(self, epoch: int, batch: Optional[int], logs: Logs) -> str:
        logs = dict(logs or {})
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from None

    def _should_save_model(self, epoch: int, logs: Logs, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to "
                       f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch: int, batch: Optional[int], logs: Logs) -> None:
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)


class CSVLogger(Callback):
    """Callback that streams epoch results to a CSV file.

    Supports all values that can be represented as a string, including 1D iterables such as
    `np.ndarray`.

    Args:
        filename: Filename of the CSV file, e.g. `'run/log.csv'`.
        separator: String used to separate elements in the CSV file.
        append: Boolean. True: append if file exists (useful for continuing training).
            False: overwrite existing file.

    Example:

    ```python
    csv_logger = dlc.callbacks.CSVLogger("training.log")
    model.fit(x_train, y_train, callbacks=[csv_logger])
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
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "r", newline="") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs or {}

        def handle_value(value: Any) -> Any:
            is_zero_dim = isinstance(value, np.ndarray) and value.ndim == 0
            if isinstance(value, str):
                return value
            if isinstance(value, collections.abc.Iterable) and not is_zero_dim:
                return f'"[{", ".join(map(str, value))}]"'
            return value

        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                # Keep the columns stable if validation logs appear in later epochs.
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:
            class _Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=_Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TerminateOnNaN(Callback):
    """Callback that terminates training when a NaN or Inf loss is encountered.

    By default training stops gracefully, by setting `model.stop_training = True` (the other
    callbacks still see `on_train_end()`); with `raise_error=True` a `RuntimeError` is raised at
    once.

    Args:
        raise_error: Boolean, default False. If True, immediately raises RuntimeError on
            NaN/Inf loss, bypassing callback cleanup methods.

    Example:

    ```python
    model.fit(x, y, callbacks=[dlc.callbacks.TerminateOnNaN()])
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
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. "
                                   f"Loss value: {loss}. Terminating training immediately.")
            _print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """Callback for creating simple, custom callbacks on-the-fly.

    The functions are called with positional arguments: `on_epoch_begin` and `on_epoch_end`
    with `(epoch, logs)`; `on_train_begin` and `on_train_end` with `(logs)`;
    `on_train_batch_begin` and `on_train_batch_end` with `(batch, logs)`.

    Args:
        on_epoch_begin: called at the beginning of every epoch.
        on_epoch_end: called at the end of every epoch.
        on_train_begin: called at the beginning of model training.
        on_train_end: called at the end of model training.
        on_train_batch_begin: called at the beginning of every train batch.
        on_train_batch_end: called at the end of every train batch.
        **kwargs: Any other hook of `Callback` to override, as `hook_name=function`
            (e.g. `on_test_end=...`).

    Example:

    ```python
    import json
    json_log = open("loss_log.json", mode="wt", buffering=1)
    json_logging_callback = dlc.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: json_log.write(
            json.dumps({"epoch": epoch, "loss": logs["loss"]}) + "\\n"),
        on_train_end=lambda logs: json_log.close())
    model.fit(x, y, callbacks=[json_logging_callback])
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
