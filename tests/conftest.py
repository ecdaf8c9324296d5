"""Shared fixtures: seeded generators, every SIMD path this CPU has, thread-count restore."""
import os

import numpy as np
import pytest

from dlc import _C

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
