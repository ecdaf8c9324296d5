"""Test logic repeated across test files (imported as `import helpers`, like reference.py)."""
import contextlib

import numpy as np

from conftest import SIMD_LEVELS, torch
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


def layer_model(layer, x):
    """A one-layer functional Model of `layer` on inputs shaped like `x` (batch excluded), its
    arena built (so the test may set weights before `forward_backward`)."""
    from dlc import layers as L
    from dlc.models import Model

    inp = L.Input(shape=x.shape[1:])
    model = Model(inp, layer(inp))
    model._ensure_arena()
    return model


def forward_backward(model, x, dy, training=True):
    """Forward and backward of a one-input, one-output model through its executor, gradients
    zeroed first: returns (y, dx); the weights' gradients are left in the arena."""
    arena = model._ensure_arena()
    with model._workspace() as ws:
        tape = model.run_forward(ws, [x], training=training)
        y = tape.outputs[0].copy()
        arena.zero_grads()
        dx = np.zeros_like(x)
        model.run_backward(tape, [dy], input_grads=[dx])
    return y, dx


def assert_directional_fd(f, args, grads, rng, rel, abs, h=1e-6):
    """For each (grad, i) in `grads`: the central difference of the float64 function `f` along
    a random direction d of argument i matches sum(grad * d) (pytest.approx with rel, abs)."""
    import pytest

    for grad, which in grads:
        args64 = [a.astype(np.float64) for a in args]
        d = rng.standard_normal(args64[which].shape)
        plus, minus = list(args64), list(args64)
        plus[which], minus[which] = args64[which] + h * d, args64[which] - h * d
        fd = (f(*plus) - f(*minus)) / (2 * h)
        assert float((grad * d).sum()) == pytest.approx(fd, rel=rel, abs=abs)


def assert_same_bits_at_every_simd_level(run):
    """Runs `run()` (a dict of arrays) at every SIMD level this CPU has and asserts each level's
    arrays are bit-identical to the portable path's; leaves the best level set."""
    res = {}
    try:
        for level in SIMD_LEVELS:
            _C.set_simd(level)
            res[level] = run()
    finally:
        _C.set_simd(SIMD_LEVELS[-1])
    for level in SIMD_LEVELS[1:]:
        for name in res["generic"]:
            assert np.array_equal(res["generic"][name], res[level][name]), (level, name)


@contextlib.contextmanager
def torch_default_dtype(dtype_name):
    """torch's default dtype set to `dtype_name` ('float32', 'float64') inside the block, then
    restored (a no-op without torch)."""
    if torch is None:
        yield
        return
    before = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype_name))
    try:
        yield
    finally:
        torch.set_default_dtype(before)
