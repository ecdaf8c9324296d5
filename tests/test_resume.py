"""Exact resume: a checkpoint after epoch 1 resumed for epochs 2-3 (in a fresh process, or in a
fresh model object) equals 3 uninterrupted epochs bit for bit, and so does BackupAndRestore
after a crash; with SGD momentum, Adam, Dropout, BatchNormalization and shuffling together."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dlc
from dlc import callbacks as cbs
from dlc import layers as L

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OPTIMIZERS = {
    "sgd_momentum": lambda: dlc.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "adam": lambda: dlc.optimizers.Adam(learning_rate=0.01),
}


def data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((70, 6, 6, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 70)]
    return x, y


def build(opt_name, seed=3):
    """Conv -> BatchNorm -> ReLU -> Dropout -> Dense -> Dropout -> softmax, compiled."""
    dlc.utils.set_random_seed(seed)
    inp = L.Input(shape=(6, 6, 2))
    h = L.Conv2D(4, 3, padding="same")(inp)
    h = L.BatchNormalization(momentum=0.8)(h)
    h = L.Activation("relu")(h)
    h = L.Dropout(0.3)(L.Flatten()(h))
    h = L.Dense(8, activation="relu")(h)
    out = L.Dense(3, activation="softmax")(L.Dropout(0.2)(h))
    model = dlc.Model(inp, out)
    model.compile(optimizer=OPTIMIZERS[opt_name](), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


FIT = dict(batch_size=16, shuffle=True, verbose=0)


def uninterrupted(opt_name):
    x, y = data()
    model = build(opt_name)
    history = model.fit(x, y, epochs=3, validation_split=0.2, **FIT).history
    return model, history


def assert_same_run(model, history, ref_model, ref_history, epochs=(1, 2)):
    for a, b in zip(model.get_weights(), ref_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    ref = {k: [v[e] for e in epochs] for k, v in ref_history.items()}
    assert history == ref  # floats compared exactly


def assert_same_optimizer(model, ref_model):
    s, r = model.optimizer.get_state(), ref_model.optimizer.get_state()
    assert s["iterations"] == r["iterations"]
    assert sorted(s["slots"]) == sorted(r["slots"])
    for name in s["slots"]:
        np.testing.assert_array_equal(s["slots"][name], r["slots"][name])


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_checkpoint_resume_in_a_fresh_model_equals_uninterrupted(tmp_path, opt_name):
    ref_model, ref_history = uninterrupted(opt_name)
    x, y = data()
    path = str(tmp_path / "ckpt.keras")
    build(opt_name).fit(x, y, epochs=1, validation_split=0.2, callbacks=[cbs.ModelCheckpoint(path)], **FIT)
    dlc.utils.set_random_seed(999)  # whatever the global generator holds now must not matter
    resumed = dlc.models.load_model(path)
    assert resumed.compiled and type(resumed.optimizer) is type(ref_model.optimizer)
    history = resumed.fit(x, y, epochs=3, initial_epoch=1, validation_split=0.2, **FIT).history
    assert_same_run(resumed, history, ref_model, ref_history)
    assert_same_optimizer(resumed, ref_model)


_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import dlc
    from test_resume import data, FIT
    x, y = data()
    model = dlc.models.load_model({path!r})
    history = model.fit(x, y, epochs=3, initial_epoch=1, validation_split=0.2, **FIT).history
    np.savez({out!r}, *model.get_weights())
    with open({out!r} + ".json", "w") as f:
        json.dump(history, f)
""")


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_checkpoint_resume_in_a_fresh_process_equals_uninterrupted(tmp_path, opt_name):
    ref_model, ref_history = uninterrupted(opt_name)
    x, y = data()
    path, out = str(tmp_path / "ckpt.keras"), str(tmp_path / "resumed.npz")
    build(opt_name).fit(x, y, epochs=1, validation_split=0.2, callbacks=[cbs.ModelCheckpoint(path)], **FIT)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = _CHILD.format(tests=os.path.join(REPO, "tests"), path=path, out=out)
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=str(tmp_path), timeout=300)
    with np.load(out, allow_pickle=False) as saved:
        weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    with open(out + ".json") as f:
        history = json.load(f)
    for a, b in zip(weights, ref_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history == {k: v[1:] for k, v in ref_history.items()}


class Crash(cbs.Callback):
    """Raises in the middle of epoch `epoch` (0-based), after some of its batches trained."""

    def __init__(self, epoch, batch=2):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("fresh_object", [False, True], ids=["same_model", "fresh_model"])
def test_backup_and_restore_after_a_crash_equals_uninterrupted(tmp_path, opt_name, fresh_object):
    ref_model, ref_history = uninterrupted(opt_name)
    x, y = data()
    backup_dir = str(tmp_path / "backup")
    model = build(opt_name)
    with pytest.raises(RuntimeError, match="simulated crash"):
        model.fit(x, y, epochs=3, validation_split=0.2, callbacks=[cbs.BackupAndRestore(backup_dir), Crash(1)], **FIT)
    assert sorted(os.listdir(backup_dir)) == ["latest.weights.h5", "training_metadata.json"]
    with open(os.path.join(backup_dir, "training_metadata.json")) as f:
        assert json.load(f) == {"epoch": 1, "batch": 0}
    if fresh_object:
        model = build(opt_name, seed=12345)  # other initial weights, dropout seeds, shuffle state
    history = model.fit(x, y, epochs=3, validation_split=0.2, callbacks=[cbs.BackupAndRestore(backup_dir)],
                        **FIT)
    assert model.history.epoch == [1, 2]
    assert_same_run(model, history.history, ref_model, ref_history)
    assert_same_optimizer(model, ref_model)
    assert not os.path.exists(backup_dir)  # deleted once training completed


def test_backup_and_restore_keeps_the_backup_and_its_previous_copy(tmp_path):
    x, y = data()
    backup_dir = str(tmp_path / "b")
    model = build("adam")
    bnr = cbs.BackupAndRestore(backup_dir, delete_checkpoint=False, double_checkpoint=True)
    model.fit(x, y, epochs=2, callbacks=[bnr], **FIT)
    assert sorted(os.listdir(backup_dir)) == ["latest.weights.h5", "latest.weights.h5.bkp",
                                              "training_metadata.json", "training_metadata.json.bkp"]
    # A finished run restarted with the same backup has nothing left to do.
    again = model.fit(x, y, epochs=2, callbacks=[bnr], **FIT)
    assert again.epoch == []
    # A torn latest backup falls back to the previous one.
    with open(os.path.join(backup_dir, "latest.weights.h5"), "wb") as f:
        f.write(b"torn")
    history = build("adam").fit(x, y, epochs=2, callbacks=[bnr], **FIT)
    assert history.epoch == [1]


def test_backup_and_restore_batch_frequency_and_argument_errors(tmp_path):
    x, y = data()
    backup_dir = str(tmp_path / "b")
    model = build("sgd_momentum")
    with pytest.raises(RuntimeError):
        model.fit(x, y, epochs=3, callbacks=[cbs.BackupAndRestore(backup_dir, save_freq=2), Crash(1, batch=2)],
                  **FIT)
    with open(os.path.join(backup_dir, "training_metadata.json")) as f:
        # 5 batches per epoch, a backup every 2 (counted across epochs): the last one after batch
        # index 2 of epoch index 1, the batch that crashed.
        assert json.load(f) == {"epoch": 1, "batch": 2}
    history = model.fit(x, y, epochs=3, callbacks=[cbs.BackupAndRestore(backup_dir, save_freq=2)], **FIT)
    assert history.epoch == [1, 2]  # a batch backup resumes at the start of its epoch, as Keras
    with pytest.raises(ValueError, match="save_freq"):
        cbs.BackupAndRestore(backup_dir, save_freq="batch")
    with pytest.raises(ValueError, match="backup_dir"):
        cbs.BackupAndRestore("")


def test_model_checkpoint_saves_optimizer_and_training_state(tmp_path):
    x, y = data()
    model = build("adam")
    path = str(tmp_path / "e{epoch}.keras")
    model.fit(x, y, epochs=2, callbacks=[cbs.ModelCheckpoint(path)], **FIT)
    again = dlc.models.load_model(str(tmp_path / "e2.keras"))
    assert_same_optimizer(again, model)
    assert again._training_state() == model._training_state()
    plain = dlc.models.load_model(str(tmp_path / "e2.keras"), compile=False)
    assert not plain.compiled and plain.optimizer is None
    np.testing.assert_array_equal(plain.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert not [n for n in os.listdir(tmp_path) if ".dlc-tmp-" in n]  # no temporary file left
