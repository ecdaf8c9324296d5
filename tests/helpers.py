"""Test logic repeated across test files (imported as `import helpers`, like reference.py)."""
import numpy as np

from dlc import _C


def assert_bits_same_threads_and_simd(run, threads, simd):
    """Runs `run()` (which returns a sequence of arrays) on 1 and 2 threads at the SIMD level
    `simd` is set to, then on 1 thread of the portable path, and asserts every array is
    bit-identical to the portable one; restores `simd` as the level (the `threads` fixture
    restores the thread count)."""
    got = []
    for nt in (1, 2):
        threads(nt)
        got.append(run())
    _C.set_simd("generic")
    threads(1)
    base = run()
    _C.set_simd(simd)
    for res in got:
        for a, b in zip(base, res):
            assert np.array_equal(a, b)
