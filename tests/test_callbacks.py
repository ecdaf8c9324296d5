"""dlc.callbacks driven as a fit loop would, with a tiny fake model."""
import csv
import math
import os
import re
import warnings

import numpy as np
import pytest

from dlc import callbacks as cbs


class FakeOptimizer:
    def __init__(self, learning_rate=1.0):
        self.learning_rate = learning_rate


class FakeModel:
    """What callbacks use of a model: optimizer, stop_training, weights, save."""

    def __init__(self, learning_rate=1.0):
        self.optimizer = FakeOptimizer(learning_rate)
        self.stop_training = False
        self.weights = [np.zeros((2, 2), np.float32), np.zeros(2, np.float32)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        for dst, src in zip(self.weights, weights):
            dst[...] = src

    def save(self, path):
        self.saved.append(("model", path))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path):
        self.saved.append(("weights", path))
        with open(path, "w") as f:
            f.write("weights")


def fit(model, callbacks, epoch_logs, steps=3, batch_logs=None, verbose=0):
    """Runs the hooks as dlc's trainer does; the weights hold the epoch index after each epoch.

    Returns the History and the number of epochs run.
    """
    model.stop_training = False
    cb = cbs.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                          epochs=len(epoch_logs), steps=steps, verbose=verbose)
    cb.on_train_begin()
    ran = 0
    logs = None
    for epoch, logs in enumerate(epoch_logs):
        cb.on_epoch_begin(epoch)
        for step in range(steps):
            cb.on_train_batch_begin(step)
            cb.on_train_batch_end(step, batch_logs(epoch, step) if batch_logs else
                                  {"loss": logs.get("loss", 0.0)})
        for w in model.weights:
            w[...] = epoch
        cb.on_epoch_end(epoch, dict(logs))
        ran += 1
        if model.stop_training:
            break
    cb.on_train_end(logs)
    return model.history, ran


# ---------------------------------------------------------------------------- base, list
class Recorder(cbs.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name.startswith("on_") and callable(attr):
            def wrapped(*args, **kwargs):
                self.calls.append(name)
                return attr(*args, **kwargs)
            return wrapped
        return attr


def test_hook_order_params_and_model():
    model, rec = FakeModel(), Recorder()
    fit(model, [rec], [{"loss": 1.0}, {"loss": 0.5}], steps=2)
    per_epoch = ["on_epoch_begin"] + ["on_train_batch_begin", "on_batch_begin",
                                      "on_train_batch_end", "on_batch_end"] * 2 + ["on_epoch_end"]
    assert rec.calls == ["on_train_begin"] + per_epoch * 2 + ["on_train_end"]
    assert rec.model is model
    assert rec.params == {"epochs": 2, "steps": 2, "verbose": 0}


def test_callback_list_converts_and_sorts_logs():
    seen = []
    lam = cbs.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs))
    cb = cbs.CallbackList([lam], model=FakeModel())
    cb.on_epoch_end(0, {"val_loss": np.float32(0.5), "accuracy": np.array(0.25), "loss": 2,
                        "nested": {"b": np.float64(1.0)}, "name": "x"})
    logs = seen[0]
    # As Keras: sorted by the outer key; a nested dict is spliced in at its own key's place.
    assert list(logs) == ["accuracy", "loss", "name", "b", "val_loss"]
    assert all(type(logs[k]) is float for k in ("accuracy", "b", "loss", "val_loss"))
    assert logs["name"] == "x"


def test_callback_list_defaults_and_validation():
    hist, prog = cbs.History(), cbs.ProgbarLogger()
    cb = cbs.CallbackList([[hist], prog], add_history=True, add_progbar=True)
    assert cb.callbacks == [hist, prog]  # no duplicates added, nested lists flattened
    cb = cbs.CallbackList(None, add_history=True, add_progbar=True)
    assert [type(c) for c in cb.callbacks] == [cbs.History, cbs.ProgbarLogger]
    with pytest.raises(TypeError, match="Callback"):
        cbs.CallbackList([object()])


def test_history_records_epochs():
    model = FakeModel()
    history, ran = fit(model, [], [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.5}])
    assert isinstance(history, cbs.History) and ran == 2
    assert history.history == {"loss": [1.0, 0.5], "val_loss": [2.0, 1.5]}
    assert history.epoch == [0, 1]
    assert history.params["epochs"] == 2


# ---------------------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience_and_restore():
    model = FakeModel()
    losses = [1.0, 0.8, 0.9, 0.85, 0.7, 0.6]
    es = cbs.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history, ran = fit(model, [es], [{"val_loss": v} for v in losses])
    assert ran == 4 and es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 0.8
    assert history.history["val_loss"] == losses[:4]
    assert all(np.all(w == 1) for w in model.weights)  # restored from the best epoch


def test_early_stopping_without_restore_keeps_last_weights():
    model = FakeModel()
    es = cbs.EarlyStopping(monitor="loss", patience=0)
    _, ran = fit(model, [es], [{"loss": v} for v in [1.0, 0.5, 0.6, 0.1]])
    assert ran == 3
    assert all(np.all(w == 2) for w in model.weights)


def test_early_stopping_auto_mode_maximizes_accuracy():
    model = FakeModel()
    es = cbs.EarlyStopping(monitor="val_accuracy", patience=1)
    _, ran = fit(model, [es], [{"val_accuracy": v} for v in [0.5, 0.6, 0.7, 0.65, 0.64, 0.9]])
    assert ran == 4 and es.best == 0.7


def test_early_stopping_min_delta():
    es = cbs.EarlyStopping(monitor="loss", min_delta=0.1, patience=2)
    _, ran = fit(FakeModel(), [es], [{"loss": v} for v in [1.0, 0.95, 0.91, 0.5]])
    assert ran == 3  # improvements of less than 0.1 do not count


def test_early_stopping_baseline_and_start_from_epoch():
    losses = [{"loss": v} for v in [1.0, 1.1, 1.2, 1.3, 1.4]]
    _, ran = fit(FakeModel(), [cbs.EarlyStopping(monitor="loss", patience=2)], losses)
    assert ran == 3
    # Not better than the baseline: the first epoch already counts towards `patience`.
    _, ran = fit(FakeModel(), [cbs.EarlyStopping(monitor="loss", baseline=0.1, patience=2)],
                 losses)
    assert ran == 2
    es = cbs.EarlyStopping(monitor="loss", patience=0, start_from_epoch=3)
    _, ran = fit(FakeModel(), [es], [{"loss": v} for v in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    assert ran == 5  # epochs 0-2 are not monitored; 3 sets the best, 4 fails to improve


def test_early_stopping_mode_errors_and_missing_metric():
    es = cbs.EarlyStopping(monitor="my_score")
    with pytest.raises(ValueError, match="mode='max'"):
        fit(FakeModel(), [es], [{"my_score": 1.0}])
    es = cbs.EarlyStopping(monitor="my_score", mode="max", patience=0)
    _, ran = fit(FakeModel(), [es], [{"my_score": v} for v in [1.0, 2.0, 1.5, 3.0]])
    assert ran == 3
    es = cbs.EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(UserWarning, match="val_loss"):
        _, ran = fit(FakeModel(), [es], [{"loss": 1.0}, {"loss": 2.0}])
    assert ran == 2
    with pytest.warns(UserWarning, match="unknown"):
        assert cbs.EarlyStopping(mode="biggest").mode == "auto"


def test_early_stopping_prints_when_verbose(capsys):
    es = cbs.EarlyStopping(monitor="loss", patience=0, verbose=1, restore_best_weights=True)
    fit(FakeModel(), [es], [{"loss": v} for v in [1.0, 2.0]])
    out = capsys.readouterr().out
    assert "Epoch 2: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 1." in out


# ---------------------------------------------------------------------------- ReduceLROnPlateau
def test_reduce_lr_on_plateau_schedule():
    model = FakeModel(learning_rate=1.0)
    lrs = []
    probe = cbs.LambdaCallback(on_epoch_end=lambda e, logs: lrs.append(
        model.optimizer.learning_rate))
    rl = cbs.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1,
                               min_lr=0.2)
    history, _ = fit(model, [rl, probe], [{"val_loss": 1.0}] * 9)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]
    # The rate before each epoch's reduction is logged (History runs after the callback).
    assert history.history["learning_rate"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]


def test_reduce_lr_on_plateau_improvement_resets_wait(capsys):
    model = FakeModel(learning_rate=0.1)
    rl = cbs.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=2, min_delta=0.01,
                               verbose=1)
    fit(model, [rl], [{"loss": v} for v in [1.0, 0.9, 0.895, 0.8, 0.795, 0.79]])
    assert math.isclose(model.optimizer.learning_rate, 0.01)
    assert "Epoch 6: ReduceLROnPlateau reducing learning rate to 0.01" in capsys.readouterr().out
    with pytest.raises(ValueError, match="factor"):
        cbs.ReduceLROnPlateau(factor=1.0)


# ---------------------------------------------------------------------------- parity with Keras
def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _run_both(make, logs_seq, model_lr=1.0):
    keras = _keras()
    results = []
    for module in (cbs, keras.callbacks):
        model = FakeModel(model_lr)
        cb = make(module)
        cb.set_model(model)
        cb.on_train_begin()
        lrs = []
        for epoch, logs in enumerate(logs_seq):
            for w in model.weights:
                w[...] = epoch
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cb.on_epoch_end(epoch, dict(logs))
            lrs.append(float(model.optimizer.learning_rate))
            if model.stop_training:
                break
        cb.on_train_end()
        results.append((epoch, lrs, float(model.weights[0][0, 0])))
    return results


@pytest.mark.parametrize("trial", range(6))
def test_early_stopping_matches_keras(trial):
    rng = np.random.default_rng(trial)
    vals = np.round(1.0 + np.cumsum(rng.normal(-0.02, 0.05, size=30)), 3)
    kwargs = dict(monitor="val_loss", patience=int(rng.integers(0, 4)),
                  min_delta=float(rng.choice([0.0, 0.01])), restore_best_weights=True,
                  baseline=[None, 0.95][trial % 2], start_from_epoch=int(rng.integers(0, 3)))
    ours, theirs = _run_both(lambda m: m.EarlyStopping(**kwargs),
                             [{"val_loss": float(v)} for v in vals])
    assert ours == theirs


@pytest.mark.parametrize("trial", range(6))
def test_reduce_lr_on_plateau_matches_keras(trial):
    rng = np.random.default_rng(100 + trial)
    vals = np.round(1.0 + np.cumsum(rng.normal(0.01, 0.05, size=30)), 3)
    kwargs = dict(monitor="val_accuracy", mode=["auto", "max"][trial % 2], factor=0.5,
                  patience=int(rng.integers(1, 6)), cooldown=int(rng.integers(0, 3)),
                  min_lr=0.01, min_delta=float(rng.choice([0.0, 0.01])))
    if kwargs["mode"] == "auto":
        kwargs["mode"] = "max"  # Keras 3 cannot infer it without a compiled model
    ours, theirs = _run_both(lambda m: m.ReduceLROnPlateau(**kwargs),
                             [{"val_accuracy": float(v)} for v in vals])
    assert ours[1] == pytest.approx(theirs[1], rel=1e-12)


# ---------------------------------------------------------------------------- LearningRateScheduler
def test_learning_rate_scheduler():
    model = FakeModel(learning_rate=0.5)
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr if epoch < 2 else lr * math.exp(-0.1)

    history, _ = fit(model, [cbs.LearningRateScheduler(schedule)], [{"loss": 1.0}] * 4)
    assert seen[:3] == [(0, 0.5), (1, 0.5), (2, 0.5)]
    assert math.isclose(model.optimizer.learning_rate, 0.5 * math.exp(-0.2))
    assert history.history["learning_rate"][0] == 0.5
    assert math.isclose(history.history["learning_rate"][3], 0.5 * math.exp(-0.2))


def test_learning_rate_scheduler_one_argument_and_errors(capsys):
    model = FakeModel()
    fit(model, [cbs.LearningRateScheduler(lambda epoch: 0.1 * (epoch + 1), verbose=1)],
        [{"loss": 1.0}] * 3)
    assert math.isclose(model.optimizer.learning_rate, 0.3)
    assert "Epoch 3: LearningRateScheduler setting learning rate to 0.3" in \
        capsys.readouterr().out
    fit(model, [cbs.LearningRateScheduler(lambda e, lr: np.float32(0.25))], [{"loss": 1.0}])
    assert model.optimizer.learning_rate == 0.25
    with pytest.raises(ValueError, match="should be a float"):
        fit(model, [cbs.LearningRateScheduler(lambda e, lr: "fast")], [{"loss": 1.0}])
    with pytest.raises(TypeError, match="callable"):
        cbs.LearningRateScheduler(0.1)


# ---------------------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_formats_path_and_saves_every_epoch(tmp_path):
    model = FakeModel()
    pattern = str(tmp_path / "ckpt" / "model.{epoch:02d}-{val_loss:.2f}.keras")
    fit(model, [cbs.ModelCheckpoint(pattern)], [{"val_loss": v} for v in [0.5, 0.25]])
    expected = [str(tmp_path / "ckpt" / "model.01-0.50.keras"),
                str(tmp_path / "ckpt" / "model.02-0.25.keras")]
    assert model.saved == [("model", p) for p in expected]
    assert all(os.path.isfile(p) for p in expected)  # the folder was created


def test_model_checkpoint_save_best_only_weights(tmp_path, capsys):
    model = FakeModel()
    path = str(tmp_path / "best.weights.h5")
    ck = cbs.ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True,
                             save_weights_only=True, verbose=1)
    fit(model, [ck], [{"val_accuracy": v} for v in [0.5, 0.7, 0.6, 0.8]])
    assert model.saved == [("weights", path)] * 3  # epochs 1, 2 and 4
    out = capsys.readouterr().out
    assert "Epoch 3: val_accuracy did not improve from 0.70000" in out
    assert "Epoch 4: val_accuracy improved from 0.70000 to 0.80000, saving model to" in out


def test_model_checkpoint_save_freq_and_errors(tmp_path):
    model = FakeModel()
    pattern = str(tmp_path / "e{epoch}-b{batch}.keras")
    fit(model, [cbs.ModelCheckpoint(pattern, save_freq=2)], [{"loss": 1.0}] * 2, steps=3)
    names = [os.path.basename(p) for _, p in model.saved]
    assert names == ["e1-b2.keras", "e2-b1.keras", "e2-b3.keras"]
    with pytest.raises(KeyError, match="Failed to format"):
        fit(FakeModel(), [cbs.ModelCheckpoint(str(tmp_path / "{val_auc}.keras"))],
            [{"loss": 1.0}])
    with pytest.raises(ValueError, match="save_freq"):
        cbs.ModelCheckpoint("x.keras", save_freq="batch")
    with pytest.raises(IOError, match="directory"):
        fit(FakeModel(), [cbs.ModelCheckpoint(str(tmp_path))], [{"loss": 1.0}])


# ---------------------------------------------------------------------------- CSVLogger
def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    fit(FakeModel(), [cbs.CSVLogger(path)], [{"loss": 1.0, "accuracy": 0.5},
                                            {"loss": 0.5, "accuracy": 0.75}])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["epoch", "accuracy", "loss", "val_accuracy", "val_loss"],
                    ["0", "0.5", "1.0", "NA", "NA"], ["1", "0.75", "0.5", "NA", "NA"]]
    fit(FakeModel(), [cbs.CSVLogger(path, separator=";", append=True)],
        [{"loss": 0.25, "accuracy": 0.9}])
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[-1] == "0;0.9;0.25;NA;NA"  # no second header


def test_csv_logger_overwrites_and_arrays(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("old\n")
    fit(FakeModel(), [cbs.CSVLogger(str(path))], [{"loss": 1.0, "val_loss": 2.0}])
    logger = cbs.CSVLogger(str(tmp_path / "arr.csv"))
    logger.on_train_begin()
    logger.on_epoch_end(0, {"w": np.array([1, 2])})
    logger.on_train_end()
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,1.0,2.0"]
    assert (tmp_path / "arr.csv").read_text().splitlines()[1].startswith('0,"""[1, 2]"""')


# ---------------------------------------------------------------------------- TerminateOnNaN
def test_terminate_on_nan(capsys):
    model = FakeModel()
    batch = lambda e, s: {"loss": float("nan") if (e, s) == (1, 1) else 1.0}  # noqa: E731
    _, ran = fit(model, [cbs.TerminateOnNaN()], [{"loss": 1.0}] * 5, batch_logs=batch)
    assert ran == 2 and model.stop_training
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    inf = lambda e, s: {"loss": float("inf")}  # noqa: E731
    with pytest.raises(RuntimeError, match="NaN or Inf loss"):
        fit(FakeModel(), [cbs.TerminateOnNaN(raise_error=True)], [{"loss": 1.0}], batch_logs=inf)
    _, ran = fit(FakeModel(), [cbs.TerminateOnNaN()], [{"loss": 1.0}] * 3)
    assert ran == 3


# ---------------------------------------------------------------------------- LambdaCallback
def test_lambda_callback():
    events = []
    lam = cbs.LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_end=lambda epoch, logs: events.append(("epoch", epoch, logs["loss"])),
        on_train_batch_end=lambda batch, logs: events.append(("batch", batch)),
        on_train_end=lambda logs: events.append("end"),
        on_test_end=lambda logs: events.append("test_end"))
    fit(FakeModel(), [lam], [{"loss": 0.5}], steps=2)
    lam.on_test_end({})
    assert events == ["begin", ("batch", 0), ("batch", 1), ("epoch", 0, 0.5), "end",
                      "test_end"]
    with pytest.raises(TypeError, match="unknown hook"):
        cbs.LambdaCallback(on_banana=lambda: None)


# ---------------------------------------------------------------------------- ProgbarLogger
BAR_LINE = re.compile(r"3/3 ━{20} \d+s \d+(?:us|ms)/step - accuracy: 0\.5000 - loss: 1\.2500")


def test_progbar_logger_fit_output(monkeypatch, capsys):
    monkeypatch.setenv("DLC_PROGRESS", "static")
    logs = [{"loss": 1.25, "accuracy": 0.5}] * 2
    batch = lambda e, s: {"loss": 9.0, "accuracy": 0.1}  # noqa: E731  (running values)
    fit(FakeModel(), [], logs, steps=3, verbose=1, batch_logs=batch)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert BAR_LINE.fullmatch(lines[1]) and BAR_LINE.fullmatch(lines[3]), lines


def test_progbar_logger_verbose_2_and_0(monkeypatch, capsys):
    monkeypatch.setenv("DLC_PROGRESS", "dynamic")
    fit(FakeModel(), [], [{"loss": 0.5}], steps=3, verbose=2)
    out = capsys.readouterr().out
    assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms)/step - loss: 0\.5000\n", out), out
    fit(FakeModel(), [cbs.ProgbarLogger()], [{"loss": 0.5}], steps=3, verbose=0)
    assert capsys.readouterr().out == ""


def test_progbar_logger_evaluate_and_unknown_steps(monkeypatch, capsys):
    monkeypatch.setenv("DLC_PROGRESS", "static")
    pl = cbs.ProgbarLogger()
    cb = cbs.CallbackList([pl], model=FakeModel(), epochs=1, steps=None, verbose="auto")
    cb.on_test_begin()
    for step in range(4):
        cb.on_test_batch_begin(step)
        cb.on_test_batch_end(step, {"loss": 0.5})
    cb.on_test_end({"loss": 0.5})
    out = capsys.readouterr().out
    assert re.fullmatch(r"4/4 ━{20} \d+s \d+(us|ms)/step - loss: 0\.5000\n", out), out
