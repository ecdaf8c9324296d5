"""Atomic saves: a process killed (SIGKILL) at random moments while it saves over an existing
file leaves the old file or the new one, always loadable; a write that fails part way (an
exception, a file size limit) raises, keeps the old file and leaves no temporary file."""
import os
import resource
import signal
import sys
import time

import numpy as np
import pytest

import dlc
from dlc import layers as L
from dlc.saving.atomic import TEMP_MARK, atomic_write, atomic_write_bytes

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

KILLS_PER_FORMAT = int(os.environ.get("DLC_KILL_ROUNDS", "70"))


def big_model():
    """About 240,000 weights, so that one save takes long enough to be killed inside."""
    model = dlc.Sequential([L.Input(shape=(500,)), L.Dense(400), L.Dense(100)])
    model.compile(optimizer="adam", loss="mse")
    return model


def fill(model, value):
    model.set_weights([np.full(w.shape, value, np.float32) for w in model.get_weights()])


def content(path, fmt):
    """The constant the file's weights hold (0.0 old, 1.0 new), or an exception if unloadable."""
    if fmt == ".keras":
        weights = dlc.models.load_model(path).get_weights()
    else:
        reader = big_model()
        reader.load_weights(path)
        weights = reader.get_weights()
    values = {float(w.flat[0]) for w in weights}
    assert len(values) == 1 and all(np.all(w == w.flat[0]) for w in weights), "a mixed file"
    return values.pop()


def save(model, path, fmt):
    if fmt == ".keras":
        model.save(path)
    else:
        model.save_weights(path)


def temp_files(folder):
    return [n for n in os.listdir(folder) if TEMP_MARK in n]


def _child_save(model, path, fmt):
    pid = os.fork()
    if pid == 0:  # the child: one save over the old file, then exit
        try:
            save(model, path, fmt)
        finally:
            os._exit(0)
    return pid


@pytest.mark.parametrize("fmt", [".keras", ".weights.h5", ".npz"])
def test_sigkill_during_saves_leaves_the_old_or_the_new_file(tmp_path, fmt):
    path = str(tmp_path / f"model{fmt}")
    old, new = big_model(), big_model()
    fill(old, 0.0)
    fill(new, 1.0)
    start = time.perf_counter()
    for _ in range(3):
        save(new, path, fmt)
    duration = (time.perf_counter() - start) / 3
    rng = np.random.default_rng(2024)
    counts = {"kills": 0, "loadable": 0, "old": 0, "new": 0, "temp_left": 0}
    for _ in range(KILLS_PER_FORMAT):
        save(old, path, fmt)
        pid = _child_save(new, path, fmt)
        time.sleep(rng.uniform(0.0, 3.0 * duration))  # the child also has to start
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        counts["kills"] += 1
        value = content(path, fmt)  # raises if torn
        counts["loadable"] += 1
        counts["old" if value == 0.0 else "new"] += 1
        counts["temp_left"] += len(temp_files(tmp_path))  # a killed writer cannot clean up...
    sys.stdout.write(f"\nkill test {fmt}: {counts} (one save takes {duration * 1e3:.1f} ms)\n")
    assert counts["loadable"] == counts["kills"] == KILLS_PER_FORMAT
    assert counts["old"] + counts["new"] == counts["kills"]
    save(old, path, fmt)  # ...the next save of the file removes what killed writers left
    assert temp_files(tmp_path) == []


def test_file_size_limit_part_way_raises_and_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "model.keras")
    small = dlc.Sequential([L.Input(shape=(4,)), L.Dense(2)])
    small.save(path)
    with open(path, "rb") as f:
        before = f.read()
    model = big_model()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_end)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
            limit = len(before) + 4096
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            try:
                model.save(path)
                message = "no error"
            except OSError as e:
                message = f"OSError {e.errno}"
            os.write(write_end, message.encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    message = os.read(read_end, 200).decode()
    os.close(read_end)
    assert status == 0
    assert message.startswith("OSError"), message
    with open(path, "rb") as f:
        assert f.read() == before
    assert temp_files(tmp_path) == []
    assert dlc.models.load_model(path).get_weights()[0].shape == (4, 2)


def test_a_writer_that_fails_part_way_leaves_the_old_file(tmp_path):
    path = tmp_path / "data.bin"
    atomic_write_bytes(path, b"old content")

    def half_then_fail(f):
        f.write(b"new con")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old content"
    assert temp_files(tmp_path) == []


def test_overwrite_false_and_permissions(tmp_path):
    path = tmp_path / "data.bin"
    atomic_write_bytes(path, b"one")
    os.chmod(path, 0o640)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        atomic_write_bytes(path, b"two", overwrite=False)
    atomic_write_bytes(path, b"three")
    assert path.read_bytes() == b"three"
    assert os.stat(path).st_mode & 0o777 == 0o640  # the replaced file's permissions are kept
    fresh = tmp_path / "fresh.bin"
    atomic_write_bytes(fresh, b"x", overwrite=False)
    assert fresh.read_bytes() == b"x"
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path, b"x")
    assert temp_files(tmp_path) == []
