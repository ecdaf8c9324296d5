"""Max / average pooling (windowed and global), NHWC: float64 references, finite differences,
PyTorch and Keras parity, accumulation, every SIMD path, 1 vs 2 threads, binding refusals."""
import numpy as np
import pytest

import reference as ref
import helpers
from dlc import _C


def same_pads(h, w, pool, strides):
    return ref.same_padding_1d(h, pool[0], strides[0]) + ref.same_padding_1d(w, pool[1], strides[1])


# (n, h, w, c, pool, strides, padding): batch 1, odd sizes, stride > pool, asymmetric and
# Keras "same" padding with even pools, channels not divisible by 16, non-square everything.
CASES = [
    (2, 8, 8, 16, (2, 2), (2, 2), (0, 0, 0, 0)),
    (1, 7, 9, 3, (2, 2), (2, 2), (0, 0, 0, 0)),
    (3, 9, 7, 17, (3, 3), (2, 2), (1, 1, 1, 1)),
    (2, 10, 11, 5, (2, 3), (3, 4), (0, 0, 0, 0)),        # stride > pool: uncovered pixels
    (1, 13, 6, 33, (3, 2), (1, 1), (0, 0, 0, 0)),        # overlapping windows
    (2, 7, 7, 1, (4, 4), (2, 3), (1, 2, 0, 3)),          # asymmetric padding
    (1, 5, 5, 20, (5, 5), (1, 1), (2, 2, 2, 2)),
    (2, 9, 9, 8, (2, 2), (1, 1), None),                  # Keras 'same', even pool, stride 1
    (1, 11, 7, 31, (4, 2), (2, 2), None),                # Keras 'same', even pool, odd sizes
    (3, 6, 5, 64, (3, 3), (3, 3), None),
    (1, 1, 1, 7, (1, 1), (1, 1), (0, 0, 0, 0)),
    (2, 14, 14, 48, (3, 3), (1, 1), None),               # the Inception pool branch: 16-channel blocks
    (2, 8, 8, 35, (2, 2), (2, 2), None),                 # two blocks and a 3-channel tail
]


def unpack(case):
    n, h, w, c, pool, strides, pad = case
    if pad is None:
        pad = same_pads(h, w, pool, strides)
    return n, h, w, c, pool, strides, pad


def distinct(rng, shape, spacing=0.01):
    """Values with no ties: a random permutation scaled by spacing, centred."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * spacing).astype(np.float32).reshape(shape)


def geo(pool, strides, pad):
    return dict(pool_size=pool, strides=strides, padding=tuple(pad))


def ids(case):
    return "x".join(map(str, case[:4])) + f"-p{case[4]}-s{case[5]}-{case[6] or 'same'}"


# ---------------------------------------------------------------- forward and backward


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_maxpool(rng, simd, case):
    n, h, w, c, pool, strides, pad = unpack(case)
    x = distinct(rng, (n, h, w, c))
    want_y, want_arg = ref.maxpool2d_ref(x, pool, strides, pad)
    y = np.full(want_y.shape, np.nan, np.float32)
    arg = np.full(want_y.shape, -7, np.int32)
    _C.maxpool2d_forward(x, y, arg, **geo(pool, strides, pad))
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(arg, want_arg)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx0 = rng.standard_normal(x.shape).astype(np.float32)
    dx = dx0.copy()
    _C.maxpool2d_backward(dy, arg, dx, **geo(pool, strides, pad))
    np.testing.assert_allclose(dx, ref.maxpool2d_backward_ref(dy, want_arg, dx0),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_maxpool_without_argmax_has_the_same_max(rng, simd, threads, case):
    """argmax=None (inference) writes y only, with the bits of the full forward."""
    n, h, w, c, pool, strides, pad = unpack(case)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    want_y, _ = ref.maxpool2d_ref(x, pool, strides, pad)
    for nt in (1, 2):
        threads(nt)
        y = np.full(want_y.shape, np.nan, np.float32)
        _C.maxpool2d_forward(x, y, None, **geo(pool, strides, pad))
        np.testing.assert_array_equal(y, want_y)


def test_inference_forward_keeps_no_argmax_and_training_still_does(rng):
    """predict and evaluate skip the argmax that only backward reads; a training step
    afterwards (the same workspace) still routes its gradient through the argmax."""
    import dlc
    from dlc import layers as L

    dlc.utils.set_random_seed(0)
    model = dlc.models.Sequential([L.Input((6, 6, 16)), L.MaxPooling2D(2), L.Flatten(),
                                   L.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.standard_normal((4, 6, 6, 16)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    before = model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    with model._workspace() as ws:
        assert ws.ctxs[0].saved["argmax"] is None
    k0 = model.layers[-1].kernel.numpy()
    model.train_on_batch(x, y)
    with model._workspace() as ws:
        assert ws.ctxs[0].saved["argmax"] is not None
    assert not np.array_equal(model.layers[-1].kernel.numpy(), k0)
    assert not np.array_equal(model.predict(x, verbose=0), before)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_avgpool(rng, simd, case):
    n, h, w, c, pool, strides, pad = unpack(case)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    want = ref.avgpool2d_ref(x, pool, strides, pad)
    y = np.full(want.shape, np.nan, np.float32)
    _C.avgpool2d_forward(x, y, **geo(pool, strides, pad))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx0 = rng.standard_normal(x.shape).astype(np.float32)
    dx = dx0.copy()
    _C.avgpool2d_backward(dy, dx, **geo(pool, strides, pad))
    np.testing.assert_allclose(dx, ref.avgpool2d_backward_ref(dy, dx0, pool, strides, pad),
                               rtol=1e-5, atol=1e-6)


def test_padding_never_wins_a_max(rng):
    # All inputs negative: a zero-valued pad would win; Keras/TF never let it.
    x = -1.0 - rng.random((1, 3, 3, 4)).astype(np.float32)
    y = np.empty((1, 2, 2, 4), np.float32)
    arg = np.empty((1, 2, 2, 4), np.int32)
    _C.maxpool2d_forward(x, y, arg, pool_size=(2, 2), strides=(2, 2), padding=(1, 0, 1, 0))
    assert np.all(y < -1.0)
    # The corner window holds one real pixel only: its average is that pixel, not a quarter.
    _C.avgpool2d_forward(x, y, pool_size=(2, 2), strides=(2, 2), padding=(1, 0, 1, 0))
    np.testing.assert_array_equal(y[0, 0, 0], x[0, 0, 0])


def test_maxpool_ties_pick_first_in_window():
    x = np.ones((1, 2, 2, 3), np.float32)
    y = np.empty((1, 1, 1, 3), np.float32)
    arg = np.empty((1, 1, 1, 3), np.int32)
    _C.maxpool2d_forward(x, y, arg)
    np.testing.assert_array_equal(arg, 0)


def test_maxpool_ties_pick_first_in_window_in_channel_blocks(simd):
    """Blocks of 16 channels keep the window's max in registers: ties still go to the first
    position, row-major, in the blocks and in the tail."""
    x = np.ones((1, 3, 3, 19), np.float32)
    x[0, 2, 1, :] = 2.0                       # a later strict maximum ...
    x[0, 2, 2, :] = 2.0                       # ... tied by the position after it
    y = np.empty((1, 1, 1, 19), np.float32)
    arg = np.empty((1, 1, 1, 19), np.int32)
    _C.maxpool2d_forward(x, y, arg, pool_size=(3, 3), strides=(1, 1))
    np.testing.assert_array_equal(y, 2.0)
    np.testing.assert_array_equal(arg, 7)


def test_maxpool_backward_ignores_argmax_outside_window(rng):
    dy = np.ones((1, 2, 2, 2), np.float32)
    arg = np.array([3, 99999, -5, 0, 4, 5, 10, 15], np.int32).reshape(1, 2, 2, 2)
    dx = np.zeros((1, 4, 4, 2), np.float32)
    _C.maxpool2d_backward(dy, arg, dx)
    # Only entries naming a pixel inside their own window land: output (1, 1) (window rows and
    # cols 2-3) names pixel 10 = (2, 2) in channel 0 and 15 = (3, 3) in channel 1. The others
    # are out of range (99999, -5) or name a pixel of another window (3, 0, 4, 5).
    want = np.zeros_like(dx)
    want[0, 2, 2, 0] = 1
    want[0, 3, 3, 1] = 1
    np.testing.assert_array_equal(dx, want)


# ---------------------------------------------------------------- finite differences


@pytest.mark.parametrize("case", [CASES[2], CASES[5], CASES[8]], ids=ids)
def test_pool_finite_differences(rng, case):
    """Max: the C backward against differences of the C forward between two float32 points
    x -/+ step * v (max pooling is linear between them: inputs spaced 0.01 apart moved by at
    most 1e-3 keep every argmax). Average: against central differences of the float64
    reference along v."""
    n, h, w, c, pool, strides, pad = unpack(case)
    g = geo(pool, strides, pad)
    x = distinct(rng, (n, h, w, c))
    oh, ow = ref.pool_output_hw(h, w, pool, strides, pad)
    dy = rng.standard_normal((n, oh, ow, c)).astype(np.float32)
    v = rng.uniform(-1, 1, x.shape)
    step = 1e-3

    def loss_max(xx):
        y = np.empty(dy.shape, np.float32)
        _C.maxpool2d_forward(xx, y, np.empty(dy.shape, np.int32), **g)
        return np.sum(dy.astype(np.float64) * y)

    y = np.empty(dy.shape, np.float32)
    arg = np.empty(dy.shape, np.int32)
    _C.maxpool2d_forward(x, y, arg, **g)
    dx = np.zeros_like(x)
    _C.maxpool2d_backward(dy, arg, dx, **g)
    xp, xm = (x + step * v).astype(np.float32), (x - step * v).astype(np.float32)
    delta = xp.astype(np.float64) - xm
    np.testing.assert_allclose(np.sum(dx * delta), loss_max(xp) - loss_max(xm), rtol=1e-5)

    dx = np.zeros_like(x)
    _C.avgpool2d_backward(dy, dx, **g)
    x64 = x.astype(np.float64)
    fd = (np.sum(dy * ref.avgpool2d_ref(x64 + step * v, pool, strides, pad))
          - np.sum(dy * ref.avgpool2d_ref(x64 - step * v, pool, strides, pad))) / (2 * step)
    np.testing.assert_allclose(np.sum(dx.astype(np.float64) * v), fd, rtol=1e-5)


def test_global_finite_differences(rng):
    x = distinct(rng, (2, 5, 3, 7))
    dy = rng.standard_normal((2, 7)).astype(np.float32)
    v = rng.uniform(-1, 1, x.shape)
    step = 1e-4
    y = np.empty((2, 7), np.float32)
    arg = np.empty((2, 7), np.int32)
    _C.global_maxpool2d_forward(x, y, arg)
    dx = np.zeros_like(x)
    _C.global_maxpool2d_backward(dy, arg, dx)
    x64 = x.astype(np.float64)
    f = lambda xx: np.sum(dy * ref.global_maxpool2d_ref(xx)[0])
    fd = (f(x64 + step * v) - f(x64 - step * v)) / (2 * step)
    np.testing.assert_allclose(np.sum(dx * v), fd, rtol=1e-5)
    dx = np.zeros_like(x)
    _C.global_avgpool2d_backward(dy, dx)
    f = lambda xx: np.sum(dy * ref.global_avgpool2d_ref(xx))
    fd = (f(x64 + step * v) - f(x64 - step * v)) / (2 * step)
    np.testing.assert_allclose(np.sum(dx * v), fd, rtol=1e-5)


# ---------------------------------------------------------------- global pooling


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 5, 3, 7), (3, 13, 13, 17), (1, 4, 6, 130)])
def test_global_pooling(rng, simd, shape):
    n, h, w, c = shape
    x = distinct(rng, shape)
    y = np.full((n, c), np.nan, np.float32)
    arg = np.full((n, c), -1, np.int32)
    _C.global_maxpool2d_forward(x, y, arg)
    want_y, want_arg = ref.global_maxpool2d_ref(x)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(arg, want_arg)
    dy = rng.standard_normal((n, c)).astype(np.float32)
    dx0 = rng.standard_normal(shape).astype(np.float32)
    dx = dx0.copy()
    _C.global_maxpool2d_backward(dy, arg, dx)
    np.testing.assert_allclose(dx, ref.global_maxpool2d_backward_ref(dy, want_arg, dx0),
                               rtol=1e-6, atol=1e-6)
    x = rng.standard_normal(shape).astype(np.float32) + 3
    _C.global_avgpool2d_forward(x, y)
    np.testing.assert_allclose(y, ref.global_avgpool2d_ref(x), rtol=1e-6)
    dx = dx0.copy()
    _C.global_avgpool2d_backward(dy, dx)
    np.testing.assert_allclose(dx, ref.global_avgpool2d_backward_ref(dy, dx0), rtol=1e-5,
                               atol=1e-6)


def test_global_avg_accurate_over_many_positions(rng):
    # Sums run in double: 300 x 300 positions of a large offset keep full float32 accuracy.
    x = (1000 + rng.standard_normal((1, 300, 300, 3))).astype(np.float32)
    y = np.empty((1, 3), np.float32)
    _C.global_avgpool2d_forward(x, y)
    np.testing.assert_allclose(y, ref.global_avgpool2d_ref(x), rtol=1e-7)


# ---------------------------------------------------------------- PyTorch and Keras parity


@pytest.mark.parametrize("case", CASES[:9], ids=ids)
def test_torch_parity(rng, case):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    n, h, w, c, pool, strides, pad = unpack(case)
    x = distinct(rng, (n, h, w, c))
    xt = torch.tensor(x.astype(np.float64)).permute(0, 3, 1, 2).requires_grad_(True)
    t, b, l, r = pad
    # Asymmetric padding: pad with -inf for the max (never wins), and for the average divide a
    # zero-padded window sum by the count of real pixels (count_include_pad=False).
    ymax = F.max_pool2d(F.pad(xt, (l, r, t, b), value=-np.inf), pool, strides)
    ones = torch.ones_like(xt)
    wsum = F.avg_pool2d(F.pad(xt, (l, r, t, b)), pool, strides, divisor_override=1)
    cnt = F.avg_pool2d(F.pad(ones, (l, r, t, b)), pool, strides, divisor_override=1)
    yavg = wsum / cnt
    dy = rng.standard_normal(tuple(ymax.shape)).astype(np.float32)  # (n, c, oh, ow)
    dyt = torch.tensor(dy.astype(np.float64))
    gmax, = torch.autograd.grad((ymax * dyt).sum(), xt)
    gavg, = torch.autograd.grad((yavg * dyt).sum(), xt)
    nhwc = lambda a: a.detach().permute(0, 2, 3, 1).numpy()
    dy_nhwc = np.ascontiguousarray(dy.transpose(0, 2, 3, 1))
    g = geo(pool, strides, pad)

    y = np.empty(dy_nhwc.shape, np.float32)
    arg = np.empty(dy_nhwc.shape, np.int32)
    _C.maxpool2d_forward(x, y, arg, **g)
    np.testing.assert_array_equal(y, nhwc(ymax))
    dx = np.zeros_like(x)
    _C.maxpool2d_backward(dy_nhwc, arg, dx, **g)
    np.testing.assert_allclose(dx, nhwc(gmax), rtol=1e-6, atol=1e-6)

    _C.avgpool2d_forward(x, y, **g)
    np.testing.assert_allclose(y, nhwc(yavg), rtol=1e-5, atol=1e-6)
    dx = np.zeros_like(x)
    _C.avgpool2d_backward(dy_nhwc, dx, **g)
    np.testing.assert_allclose(dx, nhwc(gavg), rtol=1e-5, atol=1e-6)

    if t == b and l == r and 2 * t <= pool[0] and 2 * l <= pool[1]:
        # Symmetric padding: torch's own count_include_pad=False.
        ya = F.avg_pool2d(xt, pool, strides, padding=(t, l), count_include_pad=False)
        _C.avgpool2d_forward(x, y, **g)
        np.testing.assert_allclose(y, nhwc(ya), rtol=1e-5, atol=1e-6)


def test_keras_same_padding_parity(rng):
    """'same' pads computed as Keras does match Keras's own pooling layers (torch backend).
    Keras's torch backend pads asymmetric 'same' windows by replicating the edge, which leaves
    a max unchanged but counts edge pixels twice in an average (TensorFlow excludes them, as
    dlc does); so averages are compared only where the two agree: symmetric or 1-pixel pads."""
    pytest.importorskip("torch")
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras is not on the torch backend")
    for (n, h, w, c, pool, strides, check_avg) in [
            (2, 7, 9, 3, (2, 2), (2, 2), True), (1, 5, 5, 2, (3, 3), (2, 2), True),
            (2, 6, 8, 3, (3, 3), (1, 1), True), (1, 6, 5, 4, (4, 2), (1, 3), False)]:
        x = distinct(rng, (n, h, w, c))
        g = geo(pool, strides, same_pads(h, w, pool, strides))
        want = keras.layers.MaxPooling2D(pool, strides, padding="same")(x).detach().cpu().numpy()
        y = np.empty(want.shape, np.float32)
        _C.maxpool2d_forward(x, y, np.empty(want.shape, np.int32), **g)
        np.testing.assert_array_equal(y, want)
        if check_avg:
            layer = keras.layers.AveragePooling2D(pool, strides, padding="same")
            want = layer(x).detach().cpu().numpy()
            _C.avgpool2d_forward(x, y, **g)
            np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- threads and SIMD


def _run_all(rng, n, h, w, c, pool, strides, pad):
    g = geo(pool, strides, pad)
    x = distinct(rng, (n, h, w, c), 1e-3)
    oh, ow = ref.pool_output_hw(h, w, pool, strides, pad)
    dy = rng.standard_normal((n, oh, ow, c)).astype(np.float32)
    gdy = rng.standard_normal((n, c)).astype(np.float32)
    out = {}
    y = np.empty(dy.shape, np.float32)
    arg = np.empty(dy.shape, np.int32)
    _C.maxpool2d_forward(x, y, arg, **g)
    out["max_y"], out["max_arg"] = y.copy(), arg.copy()
    dx = np.full(x.shape, 0.5, np.float32)
    _C.maxpool2d_backward(dy, arg, dx, **g)
    out["max_dx"] = dx
    _C.avgpool2d_forward(x, y, **g)
    out["avg_y"] = y.copy()
    dx = np.full(x.shape, 0.5, np.float32)
    _C.avgpool2d_backward(dy, dx, **g)
    out["avg_dx"] = dx
    gy = np.empty((n, c), np.float32)
    garg = np.empty((n, c), np.int32)
    _C.global_maxpool2d_forward(x, gy, garg)
    out["gmax_y"], out["gmax_arg"] = gy.copy(), garg
    dx = np.full(x.shape, 0.5, np.float32)
    _C.global_maxpool2d_backward(gdy, garg, dx)
    out["gmax_dx"] = dx
    _C.global_avgpool2d_forward(x, gy)
    out["gavg_y"] = gy.copy()
    dx = np.full(x.shape, 0.5, np.float32)
    _C.global_avgpool2d_backward(gdy, dx)
    out["gavg_dx"] = dx
    return out


def _check_run_all(rng, cfg, out):
    """_run_all's outputs (same seed) against the float64 references: the large shapes of
    the thread tests take the parallel branches, which the small cases above do not."""
    n, h, w, c, pool, strides, pad = cfg
    x = distinct(rng, (n, h, w, c), 1e-3)
    oh, ow = ref.pool_output_hw(h, w, pool, strides, pad)
    dy = rng.standard_normal((n, oh, ow, c)).astype(np.float32)
    gdy = rng.standard_normal((n, c)).astype(np.float32)
    half = np.full(x.shape, 0.5)
    y, arg = ref.maxpool2d_ref(x, pool, strides, pad)
    np.testing.assert_array_equal(out["max_y"], y)
    np.testing.assert_array_equal(out["max_arg"], arg)
    np.testing.assert_allclose(out["max_dx"], ref.maxpool2d_backward_ref(dy, arg, half), rtol=1e-6,
                               atol=1e-6)
    # x reaches |x| ~ 65 (distinct values 1e-3 apart): float32 sums carry ~1e-5 absolute error.
    np.testing.assert_allclose(out["avg_y"], ref.avgpool2d_ref(x, pool, strides, pad), rtol=1e-5,
                               atol=3e-5)
    np.testing.assert_allclose(out["avg_dx"], ref.avgpool2d_backward_ref(dy, half, pool, strides, pad),
                               rtol=1e-5, atol=1e-6)
    gy, garg = ref.global_maxpool2d_ref(x)
    np.testing.assert_array_equal(out["gmax_y"], gy)
    np.testing.assert_array_equal(out["gmax_arg"], garg)
    np.testing.assert_allclose(out["gmax_dx"], ref.global_maxpool2d_backward_ref(gdy, garg, half),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["gavg_y"], ref.global_avgpool2d_ref(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out["gavg_dx"], ref.global_avgpool2d_backward_ref(gdy, half),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cfg", [(6, 26, 26, 32, (2, 2), (2, 2), (0, 0, 0, 0)),
                                 (5, 15, 17, 19, (3, 3), (1, 1), (1, 1, 1, 1)),
                                 (64, 6, 7, 40, (3, 2), (2, 2), (1, 1, 0, 1))])
def test_threads_bit_identical(threads, cfg):
    # Large enough (> 32k values) that every kernel goes parallel; the last case has
    # n * c = 2560 for the global max backward's scatter.
    res = []
    for t in (1, 2):
        threads(t)
        res.append(_run_all(np.random.default_rng(3), *cfg))
    for k in res[0]:
        assert np.array_equal(res[0][k], res[1][k]), k
    _check_run_all(np.random.default_rng(3), cfg, res[0])


def test_simd_paths_bit_identical():
    cfg = (2, 9, 11, 37, (3, 2), (2, 1), (1, 1, 0, 1))
    helpers.assert_same_bits_at_every_simd_level(lambda: _run_all(np.random.default_rng(4), *cfg))


def test_concurrent_python_threads():
    """The wrappers release the GIL and keep no state: calls from several Python threads at
    once give the serial results."""
    import threading
    want = [_run_all(np.random.default_rng(k), 4, 12, 12, 24, (2, 2), (2, 2), (0, 0, 0, 0))
            for k in range(4)]
    got = [None] * 4

    def work(k):
        got[k] = _run_all(np.random.default_rng(k), 4, 12, 12, 24, (2, 2), (2, 2), (0, 0, 0, 0))

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for k in range(4):
        for name in want[k]:
            assert np.array_equal(want[k][name], got[k][name]), (k, name)


# ---------------------------------------------------------------- binding refusals


def test_defaults_are_2x2_stride_2(rng):
    x = distinct(rng, (1, 4, 6, 3))
    y = np.empty((1, 2, 3, 3), np.float32)
    arg = np.empty((1, 2, 3, 3), np.int32)
    _C.maxpool2d_forward(x, y, arg)
    np.testing.assert_array_equal(y, ref.maxpool2d_ref(x, (2, 2), (2, 2), (0, 0, 0, 0))[0])


def test_pool_refusals(rng):
    x = distinct(rng, (2, 6, 6, 3))
    y = np.zeros((2, 3, 3, 3), np.float32)
    arg = np.zeros((2, 3, 3, 3), np.int32)
    dx = np.zeros_like(x)
    before = [a.copy() for a in (x, y, arg, dx)]
    with pytest.raises(TypeError, match="maxpool2d_forward.*'x'.*float32"):
        _C.maxpool2d_forward(x.astype(np.float64), y, arg)
    with pytest.raises(TypeError, match="maxpool2d_forward.*'argmax'.*int32"):
        _C.maxpool2d_forward(x, y, arg.astype(np.int64))
    with pytest.raises(ValueError, match="avgpool2d_forward.*'x'.*C-contiguous"):
        _C.avgpool2d_forward(np.zeros((2, 6, 3, 6), np.float32).transpose(0, 1, 3, 2), y)
    ro = np.zeros_like(y)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="maxpool2d_forward.*'y'.*read-only"):
        _C.maxpool2d_forward(x, ro, arg)
    with pytest.raises(ValueError, match=r"maxpool2d_forward.*'y'.*\(2, 3, 3, 3\).*\(2, 2, 3, 3\)"):
        _C.maxpool2d_forward(x, np.zeros((2, 2, 3, 3), np.float32), arg)
    with pytest.raises(ValueError, match=r"maxpool2d_backward.*'dy'.*\(2, 3, 3, 3\)"):
        _C.maxpool2d_backward(y[:1].copy(), arg, dx)
    with pytest.raises(ValueError, match="avgpool2d_forward.*'x'.*4-D"):
        _C.avgpool2d_forward(x[0], y)
    with pytest.raises(ValueError, match="padding.*smaller than pool_size"):
        _C.avgpool2d_forward(x, y, padding=(2, 0, 0, 0))
    with pytest.raises(ValueError, match="pool_size.*must fit"):
        _C.avgpool2d_forward(x, y, pool_size=(7, 2))
    with pytest.raises(ValueError, match="strides.*>= 1"):
        _C.avgpool2d_forward(x, y, strides=(0, 2))
    with pytest.raises(TypeError, match="pool_size.*tuple of 2 ints"):
        _C.avgpool2d_forward(x, y, pool_size=2)
    with pytest.raises(TypeError, match="padding.*tuple of 4 ints"):
        _C.avgpool2d_forward(x, y, padding=(1, 1))
    with pytest.raises(ValueError, match="padding.*>= 0"):
        _C.avgpool2d_forward(x, y, padding=(-1, 0, 0, 0))
    with pytest.raises(TypeError):
        _C.avgpool2d_forward(x, y, (2, 2))  # hyperparameters are keyword-only
    with pytest.raises(ValueError, match="positive sizes"):
        _C.avgpool2d_forward(np.zeros((0, 6, 6, 3), np.float32), np.zeros((0, 3, 3, 3), np.float32))
    # Overlapping output: y is a view into x's own buffer.
    buf = distinct(rng, (2, 6, 6, 3)).reshape(-1)
    buf_before = buf.copy()
    xv = buf.reshape(2, 6, 6, 3)
    yv = buf[:54].reshape(2, 3, 3, 3)
    with pytest.raises(ValueError, match="'y' must not share memory with argument 'x'"):
        _C.avgpool2d_forward(xv, yv)
    with pytest.raises(ValueError, match="'dx' must not share memory with argument 'dy'"):
        _C.avgpool2d_backward(yv, xv)
    np.testing.assert_array_equal(buf, buf_before)
    for b, a in zip(before, (x, y, arg, dx)):
        np.testing.assert_array_equal(b, a)


def test_global_refusals(rng):
    x = distinct(rng, (2, 3, 4, 5))
    y = np.zeros((2, 5), np.float32)
    arg = np.zeros((2, 5), np.int32)
    dx = np.zeros_like(x)
    dy = np.ones((2, 5), np.float32)
    with pytest.raises(ValueError, match=r"global_maxpool2d_forward.*'y'.*\(2, 5\).*\(2, 4\)"):
        _C.global_maxpool2d_forward(x, np.zeros((2, 4), np.float32), arg)
    with pytest.raises(ValueError, match="global_avgpool2d_forward.*'x'.*4-D"):
        _C.global_avgpool2d_forward(x.reshape(2, 12, 5), y)
    with pytest.raises(TypeError, match="global_maxpool2d_backward.*'argmax'.*int32"):
        _C.global_maxpool2d_backward(dy, arg.astype(np.float32), dx)
    bad = arg.copy()
    bad[1, 3] = 12  # h * w = 12: one past the end
    with pytest.raises(ValueError, match=r"'argmax'.*\[0, 12\)"):
        _C.global_maxpool2d_backward(dy, bad, dx)
    bad[1, 3] = -1
    with pytest.raises(ValueError, match="'argmax'"):
        _C.global_maxpool2d_backward(dy, bad, dx)
    np.testing.assert_array_equal(dx, 0)
    with pytest.raises(ValueError, match="'dx' must not share memory with argument 'dy'"):
        _C.global_avgpool2d_backward(dx.reshape(-1)[:10].reshape(2, 5), dx)
    np.testing.assert_array_equal(dx, 0)
