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
from dlc.callbacks.backup_and_restore import BackupAndRestore
from dlc.callbacks.callback import Callback, CallbackList, History, ProgbarLogger
from dlc.callbacks.loggers import CSVLogger, LambdaCallback, TerminateOnNaN
from dlc.callbacks.model_checkpoint import ModelCheckpoint
from dlc.callbacks.monitor import EarlyStopping, LearningRateScheduler, ReduceLROnPlateau

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
    "ReduceLROnPlateau", "LearningRateScheduler", "ModelCheckpoint", "CSVLogger",
    "TerminateOnNaN", "LambdaCallback", "BackupAndRestore",
]


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
