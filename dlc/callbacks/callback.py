"""The callback protocol: `Callback`, `CallbackList` (what the loops call), `History` and
`ProgbarLogger` (the two every `fit` gets). See `dlc.callbacks` for the order of the calls."""
from __future__ import annotations

import sys
from typing import Any, Callable, Dict, Iterable, List, Optional


from dlc._progress import Progbar

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


def _forwarder(hook: str, with_index: bool) -> Callable[..., None]:
    if with_index:
        def forward(self: "CallbackList", index: int, logs: Logs = None) -> None:
            self._call(hook, index, logs=logs)
    else:
        def forward(self: "CallbackList", logs: Logs = None) -> None:
            self._call(hook, logs=logs)
    forward.__name__ = hook
    forward.__doc__ = f"Calls `{hook}` of every member."
    return forward


# Every hook of CallbackList forwards to its members' hook of the same name.
for _hook in ("on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end",
              "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
              "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end"):
    setattr(CallbackList, _hook, _forwarder(_hook, True))
for _hook in ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
              "on_predict_begin", "on_predict_end"):
    setattr(CallbackList, _hook, _forwarder(_hook, False))


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
        from dlc import config

        level = params.get("verbose", 1)
        self.verbose = 1 if level == "auto" else int(level)
        if self.verbose == 1 and not config.is_interactive_logging_enabled():
            self.verbose = 2
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
