"""Shared fixtures: seeded generators, every SIMD path this CPU has, thread-count restore, and
the optional reference oracles (PyTorch, Keras 3 on torch), which skip with the reason when
they are not installed."""
import importlib
import os

import numpy as np
import pytest

from dlc import _C

os.environ.setdefault("KERAS_BACKEND", "torch")


def _optional(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


torch = _optional("torch")
keras = _optional("keras")
F = torch.nn.functional if torch is not None else None
requires_torch = pytest.mark.skipif(
    torch is None, reason="needs PyTorch, a reference oracle of the tests: pip install '.[test]'")
requires_keras = pytest.mark.skipif(
    keras is None or torch is None,
    reason="needs Keras 3 on its torch backend, a reference oracle: pip install '.[test]'")

_LEVELS = ["generic", "avx2", "avx512"]
_DETECTED = _C.cpu_features()["detected"]
SIMD_LEVELS = _LEVELS[: _LEVELS.index(_DETECTED) + 1]


@pytest.fixture
def rng():
    """A NumPy generator seeded per test, so failures reproduce."""
    return np.random.default_rng(1234)


@pytest.fixture(params=SIMD_LEVELS)
def simd(request):
    """Runs the test once per SIMD path this CPU supports, then restores the best one."""
    _C.set_simd(request.param)
    yield request.param
    _C.set_simd(_DETECTED)


@pytest.fixture
def threads():
    """Lets a test change the thread count; restores it afterwards."""
    before = _C.get_num_threads()
    yield _C.set_num_threads
    _C.set_num_threads(before)


def data_dir():
    """The data sets folder for tests: $DLC_DATA_DIR, else the nearest shared/datasets beside
    the repository or one of its parents (where the course machines keep the IDX files)."""
    env = os.environ.get("DLC_DATA_DIR")
    if env:
        return env
    d = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    while True:
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
        here = os.path.join(d, "shared", "datasets")
        if os.path.isdir(here):
            return here
