"""The image kernels (csrc/image.c): the warp against a float64 NumPy reference for every fill
mode and interpolation on edge shapes, identity and flips exact, its backward by the adjoint
identity and finite differences, contrast / brightness and normalize against references with
their gradients, Keras's index fixers, every SIMD path and 1 vs 2 threads bit-identical,
binding refusals."""
import numpy as np
import pytest

from dlc import _C
import reference as R
from conftest import SIMD_LEVELS, requires_keras

F32 = np.float32
MODES = list(R.WARP_FILL_MODES)
INTERPS = list(R.WARP_INTERPOLATIONS)


def warp(x, t, out_hw, interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    y = np.full((x.shape[0],) + tuple(out_hw) + (x.shape[3],), np.nan, F32)
    _C.image_warp_forward(x, t, y, interpolation=R.WARP_INTERPOLATIONS[interpolation],
                          fill_mode=R.WARP_FILL_MODES[fill_mode], fill_value=fill_value)
    return y


def warp_t(dy, t, in_shape, interpolation="bilinear", fill_mode="reflect", dx=None):
    dx = np.zeros(in_shape, F32) if dx is None else dx
    _C.image_warp_backward(dy, t, dx, interpolation=R.WARP_INTERPOLATIONS[interpolation],
                           fill_mode=R.WARP_FILL_MODES[fill_mode])
    return dx


def random_transforms(rng, n, h, w, oh=None, ow=None, projective=False):
    """Rotations, zooms, shears and shifts about the centre that map the output partly outside
    the input (so every fill mode is exercised); small projective terms when asked."""
    oh, ow = oh or h, ow or w
    t = np.zeros((n, 8))
    ang = rng.uniform(-np.pi, np.pi, n)
    zx, zy = rng.uniform(0.6, 1.6, n), rng.uniform(0.6, 1.6, n)
    sh = rng.uniform(-0.3, 0.3, n)
    t[:, 0], t[:, 1] = zx * np.cos(ang), -zy * np.sin(ang) + sh
    t[:, 3], t[:, 4] = zx * np.sin(ang), zy * np.cos(ang)
    cx, cy, ox, oy = (w - 1) / 2, (h - 1) / 2, (ow - 1) / 2, (oh - 1) / 2
    t[:, 2] = cx - t[:, 0] * ox - t[:, 1] * oy + rng.uniform(-0.4, 0.4, n) * w
    t[:, 5] = cy - t[:, 3] * ox - t[:, 4] * oy + rng.uniform(-0.4, 0.4, n) * h
    if projective:
        t[:, 6], t[:, 7] = rng.uniform(-0.02, 0.02, n), rng.uniform(-0.02, 0.02, n)
    return t.astype(F32)


def identity(n):
    t = np.zeros((n, 8), F32)
    t[:, 0] = t[:, 4] = 1
    return t


SHAPES = [(1, 1, 1, 1), (1, 5, 7, 1), (2, 6, 4, 3), (3, 9, 11, 2), (1, 3, 70, 1), (2, 4, 67, 5)]


# ---------------------------------------------------------------- forward vs reference
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("interp", INTERPS)
def test_warp_matches_reference(rng, simd, shape, mode, interp):
    x = rng.standard_normal(shape).astype(F32)
    for out_hw, projective in (((shape[1], shape[2]), False), ((shape[1] + 2, max(1, shape[2] - 1)), True)):
        t = random_transforms(rng, shape[0], shape[1], shape[2], *out_hw, projective=projective)
        y = warp(x, t, out_hw, interp, mode, fill_value=0.75)
        want = R.warp_forward_ref(x, t, out_hw, interp, mode, 0.75)
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
def test_identity_and_flips_are_exact(rng, shape):
    n, h, w, c = shape
    x = rng.standard_normal(shape).astype(F32)
    x.reshape(-1)[::7] = np.inf  # an exact copy even of non-finite pixels (nearest reads one tap)
    for mode in MODES:
        np.testing.assert_array_equal(warp(x, identity(n), (h, w), "nearest", mode), x)
        flip = identity(n)
        flip[:, 0], flip[:, 2], flip[:, 4], flip[:, 5] = -1, w - 1, -1, h - 1
        np.testing.assert_array_equal(warp(x, flip, (h, w), "nearest", mode), x[:, ::-1, ::-1])
    finite = rng.standard_normal(shape).astype(F32)
    for mode in MODES:
        np.testing.assert_array_equal(warp(finite, identity(n), (h, w), "bilinear", mode), finite)


def test_integer_translation_is_a_shift_with_the_fill(rng):
    x = rng.standard_normal((2, 5, 6, 3)).astype(F32)
    t = identity(2)
    t[:, 2], t[:, 5] = 2, -1  # output (x, y) reads input (x + 2, y - 1)
    y = warp(x, t, (5, 6), "bilinear", "constant", fill_value=-3.0)
    want = np.full_like(x, -3.0)
    want[:, 1:, :4] = x[:, :4, 2:]
    np.testing.assert_array_equal(y, want)
    y = warp(x, t, (5, 6), "nearest", "wrap")
    np.testing.assert_array_equal(y, np.roll(np.roll(x, -2, axis=2), 1, axis=1))


def test_fill_modes_extend_as_documented():
    """One row 0 1 2 3 read at columns -4 .. 7 (pure translation, nearest taps)."""
    x = np.arange(4, dtype=F32).reshape(1, 1, 4, 1)
    t = identity(1)
    t[0, 2] = -4
    want = {"constant": [9, 9, 9, 9, 0, 1, 2, 3, 9, 9, 9, 9],
            "nearest": [0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3],
            "reflect": [3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0],
            "wrap": [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]}
    for mode, row in want.items():
        y = warp(x, t, (1, 12), "nearest", mode, fill_value=9.0)
        assert y.reshape(-1).tolist() == row, mode
    # bilinear at -0.5 blends the fill with pixel 0 in constant mode (taps, as Keras 3)
    t[0, 2] = -0.5
    y = warp(x, t, (1, 1), "bilinear", "constant", fill_value=8.0)
    assert y.item() == 0.5 * 8.0 + 0.5 * 0.0


def test_nearest_rounds_half_up():
    x = np.arange(5, dtype=F32).reshape(1, 1, 5, 1)
    t = identity(1)
    t[0, 2] = 0.5  # every column reads x + 0.5
    assert warp(x, t, (1, 5), "nearest", "nearest").reshape(-1).tolist() == [1, 2, 3, 4, 4]


def test_non_finite_transforms_stay_in_bounds(rng):
    x = rng.standard_normal((4, 3, 3, 2)).astype(F32)
    t = np.array([[np.nan] * 8, [np.inf, 0, 0, 0, 1, 0, 0, 0], [1e30, 1, -1e30, 1, 1, 1e30, 0, 0],
                  [1, 0, 0, 0, 1, 0, -1, -1]], F32)
    for mode in MODES:
        for interp in INTERPS:
            y = warp(x, t, (3, 3), interp, mode, fill_value=2.0)
            assert y.shape == (4, 3, 3, 2)
            dx = warp_t(np.ones_like(y), t, x.shape, interp, mode)
            assert np.isfinite(dx).all()


@requires_keras
def test_fill_mode_index_fixers_match_keras_torch():
    import torch
    from keras.src.backend.torch import image as kimg

    i = torch.arange(-40, 41, dtype=torch.int32)
    for size in (1, 2, 3, 7):
        for mode in ("reflect", "wrap", "nearest"):
            theirs = kimg._INDEX_FIXERS[mode](i, size).numpy()
            ours, _ = R.warp_index_ref(i.numpy(), size, mode)
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{mode} {size}")
        x = np.arange(size, dtype=F32).reshape(1, 1, size, 1)
        t = identity(1)
        t[0, 2] = -40
        for mode in ("reflect", "wrap", "nearest"):
            y = warp(x, t, (1, 81), "nearest", mode)
            np.testing.assert_array_equal(y.reshape(-1), kimg._INDEX_FIXERS[mode](i, size).numpy())


# ---------------------------------------------------------------- backward
@pytest.mark.parametrize("shape", SHAPES[1:])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("interp", INTERPS)
def test_warp_backward_is_the_adjoint(rng, simd, shape, mode, interp):
    """<warp(x), dy> == <x, warp_T(dy)> (fill 0), and warp_T matches the reference; dx is
    accumulated."""
    n, h, w, c = shape
    out_hw = (h + 1, w + 2)
    t = random_transforms(rng, n, h, w, *out_hw, projective=True)
    x = rng.standard_normal(shape).astype(F32)
    dy = rng.standard_normal((n,) + out_hw + (c,)).astype(F32)
    y = warp(x, t, out_hw, interp, mode, fill_value=0.0)
    base = rng.standard_normal(shape).astype(F32)
    dx = warp_t(dy, t, shape, interp, mode, dx=base.copy()) - base
    lhs = np.sum(y.astype(np.float64) * dy)
    rhs = np.sum(x.astype(np.float64) * dx)
    assert abs(lhs - rhs) <= 1e-4 * (np.abs(y).sum() * np.abs(dy).max() + 1)
    np.testing.assert_allclose(dx, R.warp_backward_ref(dy, t, shape, interp, mode), rtol=1e-5, atol=1e-5)


def test_warp_backward_by_finite_differences(rng):
    """The warp is linear in x (affine with a constant fill): central differences of
    L = <warp(x), dy> equal warp_T(dy) (float64 sums of float32 outputs)."""
    shape = (2, 5, 6, 2)
    t = random_transforms(rng, 2, 5, 6)
    x = rng.standard_normal(shape).astype(F32)
    dy = rng.standard_normal(shape).astype(F32)
    for mode in MODES:
        g = warp_t(dy, t, shape, "bilinear", mode)
        for idx in [tuple(rng.integers(0, s) for s in shape) for _ in range(12)]:
            xp, xm = x.copy(), x.copy()
            xp[idx] += 0.5
            xm[idx] -= 0.5
            loss = lambda a: np.sum(warp(a, t, (5, 6), "bilinear", mode, fill_value=1.5).astype(np.float64) * dy)
            assert abs((loss(xp) - loss(xm)) - g[idx]) < 1e-4, (mode, idx)


# ---------------------------------------------------------------- threads, SIMD
def _warp_all(rng_seed=7):
    rng = np.random.default_rng(rng_seed)
    out = {}
    for shape in ((3, 40, 37, 3), (16, 28, 28, 1), (1, 5, 300, 4)):
        n, h, w, c = shape
        t = random_transforms(rng, n, h, w, h + 3, w - 2, projective=True)
        x = rng.standard_normal(shape).astype(F32)
        dy = rng.standard_normal((n, h + 3, w - 2, c)).astype(F32)
        for mode in MODES:
            for interp in INTERPS:
                out[shape, mode, interp] = (warp(x, t, (h + 3, w - 2), interp, mode, 0.5),
                                            warp_t(dy, t, shape, interp, mode))
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        for u, v in zip(a[k], b[k]):
            assert np.array_equal(u, v, equal_nan=True), k


def test_warp_threads_bit_identical(threads):
    threads(1)
    one = _warp_all()
    threads(2)
    _assert_same(one, _warp_all())
    threads(3)
    _assert_same(one, _warp_all())


def test_warp_simd_paths_bit_identical():
    results = []
    try:
        for level in SIMD_LEVELS:
            _C.set_simd(level)
            results.append(_warp_all())
    finally:
        _C.set_simd(SIMD_LEVELS[-1])
    for r in results[1:]:
        _assert_same(results[0], r)


# ---------------------------------------------------------------- contrast, brightness
def adjust(x, factor, delta, lo, hi, center):
    y = np.empty_like(x)
    mean = np.empty((x.shape[0], x.shape[3]), F32)
    _C.image_adjust_forward(x, factor, delta, y, mean, center=center, lo=lo, hi=hi)
    return y, mean


def adjust_grad(x, factor, delta, mean, dy, lo, hi, center, dx=None):
    dx = np.zeros_like(x) if dx is None else dx
    _C.image_adjust_backward(x, factor, delta, mean, dy, dx, center=center, lo=lo, hi=hi)
    return dx


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 5, 7, 1), (2, 4, 4, 3), (2, 3, 5, 70)])
@pytest.mark.parametrize("center", [False, True])
def test_adjust_matches_reference(rng, simd, shape, center):
    x = (rng.random(shape) * 255).astype(F32)
    n = shape[0]
    factor = rng.uniform(0.3, 1.8, n).astype(F32)
    delta = rng.uniform(-60, 60, n).astype(F32)
    for lo, hi in ((0.0, 255.0), (-np.inf, np.inf), (50.0, 50.0)):
        y, mean = adjust(x, factor, delta, lo, hi, center)
        want, wmean, _ = R.image_adjust_ref(x, factor, delta, lo, hi, center)
        np.testing.assert_allclose(y, want, rtol=2e-6, atol=2e-4)
        np.testing.assert_allclose(mean, wmean, rtol=1e-6, atol=1e-6)
        dy = rng.standard_normal(shape).astype(F32)
        base = rng.standard_normal(shape).astype(F32)
        dx = adjust_grad(x, factor, delta, mean, dy, lo, hi, center, dx=base.copy()) - base
        np.testing.assert_allclose(dx, R.image_adjust_backward_ref(x, factor, delta, lo, hi, center, dy),
                                   rtol=1e-5, atol=1e-5)


def test_adjust_brightness_is_exact_and_contrast_by_finite_differences(rng):
    x = (rng.random((2, 4, 5, 3)) * 2 - 1).astype(F32)
    delta = np.array([0.25, -0.5], F32)
    y, _ = adjust(x, np.ones(2, F32), delta, -np.inf, np.inf, False)
    np.testing.assert_array_equal(y, x + delta.reshape(-1, 1, 1, 1))
    factor = np.array([0.7, 1.4], F32)
    dy = rng.standard_normal(x.shape).astype(F32)
    _, mean = adjust(x, factor, np.zeros(2, F32), -0.8, 0.8, True)
    g = adjust_grad(x, factor, np.zeros(2, F32), mean, dy, -0.8, 0.8, True)
    for idx in [tuple(rng.integers(0, s) for s in x.shape) for _ in range(10)]:
        xp, xm = x.astype(np.float64), x.astype(np.float64)
        xp[idx] += 1e-6
        xm[idx] -= 1e-6
        f = lambda a: np.sum(R.image_adjust_ref(a, factor, 0 * factor, -0.8, 0.8, True)[0] * dy)
        num = (f(xp) - f(xm)) / 2e-6
        assert abs(num - g[idx]) < 1e-3 * max(1.0, abs(num)), idx


def test_adjust_refusals():
    x = np.zeros((2, 3, 3, 1), F32)
    with pytest.raises(ValueError, match="image_adjust_forward: arguments 'lo' and 'hi' must be numbers with lo <= hi"):
        adjust(x, np.ones(2, F32), np.zeros(2, F32), 1.0, 0.0, True)
    with pytest.raises(ValueError, match="lo <= hi"):
        adjust(x, np.ones(2, F32), np.zeros(2, F32), np.nan, 1.0, True)
    with pytest.raises(ValueError, match=r"argument 'factor' must have shape \(2,\) = \(n,\), received \(3,\)"):
        adjust(x, np.ones(3, F32), np.zeros(2, F32), 0.0, 1.0, True)


# ---------------------------------------------------------------- normalize
@pytest.mark.parametrize("outer,k,inner", [(1, 1, 1), (7, 3, 1), (2, 5, 9), (4, 1, 33), (3, 70, 1)])
@pytest.mark.parametrize("divide", [False, True])
def test_normalize_matches_reference_in_place_and_backward(rng, simd, outer, k, inner, divide):
    x = rng.standard_normal((outer, k, inner)).astype(F32)
    sub, add = rng.standard_normal(k).astype(F32), rng.standard_normal(k).astype(F32)
    mul = rng.uniform(0.5, 2.0, k).astype(F32)
    y = np.empty_like(x)
    _C.normalize_forward(x, sub, mul, add, y, outer=outer, inner=inner, divide=divide)
    want = ((x - sub[:, None]) / mul[:, None] if divide else (x - sub[:, None]) * mul[:, None]) + add[:, None]
    np.testing.assert_array_equal(y, want.astype(F32))  # the same float32 formula
    np.testing.assert_allclose(y, R.normalize_ref(x, sub, mul, add, outer, inner, divide).reshape(x.shape),
                               rtol=1e-6, atol=1e-6)
    z = x.copy()
    _C.normalize_forward(z, sub, mul, add, z, outer=outer, inner=inner, divide=divide)
    np.testing.assert_array_equal(z, y)
    dy = rng.standard_normal(x.shape).astype(F32)
    dx = np.ones_like(x)
    _C.normalize_backward(mul, dy, dx, outer=outer, inner=inner, divide=divide)
    np.testing.assert_array_equal(dx, 1 + (dy / mul[:, None] if divide else dy * mul[:, None]))


def test_normalize_refusals():
    x, v = np.zeros((4, 3), F32), np.ones(3, F32)
    with pytest.raises(ValueError, match=r"normalize_forward: argument 'x' must hold outer \* k \* inner = 5 \* 3 \* 1 values, received shape \(4, 3\)"):
        _C.normalize_forward(x, v, v, v, np.zeros_like(x), outer=5, inner=1)
    with pytest.raises(TypeError, match="missing required keyword argument 'outer'"):
        _C.normalize_forward(x, v, v, v, np.zeros_like(x), inner=1)
    buf = np.zeros(13, F32)
    with pytest.raises(ValueError, match="output 'y' must not share memory with argument 'x'"):
        _C.normalize_forward(buf[:12].reshape(4, 3), v, v, v, buf[1:].reshape(4, 3), outer=4, inner=1)


def test_image_kernels_threads_and_simd_bit_identical(threads):
    rng = np.random.default_rng(3)
    x = (rng.random((64, 32, 32, 3)) * 255).astype(F32)
    f, d = rng.uniform(0.5, 1.5, 64).astype(F32), rng.uniform(-20, 20, 64).astype(F32)
    dy = rng.standard_normal(x.shape).astype(F32)
    k = rng.standard_normal(3).astype(F32)

    def run():
        y, m = adjust(x, f, d, 0.0, 255.0, True)
        g = adjust_grad(x, f, d, m, dy, 0.0, 255.0, True)
        z = np.empty_like(x)
        _C.normalize_forward(x, k, np.abs(k) + 0.1, k, z, outer=64 * 32 * 32, inner=1, divide=True)
        return y, m, g, z

    threads(1)
    one = run()
    for n in (2, 3):
        threads(n)
        for a, b in zip(one, run()):
            assert np.array_equal(a, b)
    try:
        for level in SIMD_LEVELS:
            _C.set_simd(level)
            for a, b in zip(one, run()):
                assert np.array_equal(a, b), level
    finally:
        _C.set_simd(SIMD_LEVELS[-1])


# ---------------------------------------------------------------- binding refusals
def test_warp_refusals():
    x, t, y = np.zeros((2, 4, 5, 3), F32), identity(2), np.zeros((2, 6, 7, 3), F32)
    with pytest.raises(ValueError, match=r"image_warp_forward: argument 'transform' must have shape \(2, 8\) = \(n, 8\), received \(2, 6\)"):
        _C.image_warp_forward(x, np.zeros((2, 6), F32), y)
    with pytest.raises(ValueError, match=r"argument 'y' must have shape \(2, 6, 7, 3\) = \(n, oh, ow, c\), received \(1, 6, 7, 3\)"):
        _C.image_warp_forward(x, t, y[:1])
    with pytest.raises(ValueError, match=r"argument 'y' \(n, oh, ow, c\) must be 4-D, received shape \(2, 6, 7\)"):
        _C.image_warp_forward(x, t, np.zeros((2, 6, 7), F32))
    with pytest.raises(ValueError, match=r"argument 'x' \(n, h, w, c\) must have positive sizes, received shape \(2, 0, 5, 3\)"):
        _C.image_warp_forward(np.zeros((2, 0, 5, 3), F32), t, y)
    with pytest.raises(ValueError, match=r"argument 'y' \(n, oh, ow, c\) must have positive sizes"):
        _C.image_warp_forward(x, t, np.zeros((2, 0, 7, 3), F32))
    with pytest.raises(ValueError, match=r"argument 'interpolation' must be an int in \[0, 1\], received 2"):
        _C.image_warp_forward(x, t, y, interpolation=2)
    with pytest.raises(ValueError, match=r"argument 'fill_mode' must be an int in \[0, 3\], received -1"):
        _C.image_warp_forward(x, t, y, fill_mode=-1)
    with pytest.raises(ValueError, match="output 'y' must not share memory with argument 'x'"):
        big = np.zeros((2, 4, 5, 3), F32)
        _C.image_warp_forward(big, t, big)
    with pytest.raises(ValueError, match=r"argument 'dy' must have shape \(2, 4, 4, 3\) = \(n, oh, ow, c\), received \(2, 4, 4, 2\)"):
        _C.image_warp_backward(np.zeros((2, 4, 4, 2), F32), t, x)
    with pytest.raises(ValueError, match=r"must be below 2\*\*24 pixels on each side"):
        _C.image_warp_forward(np.zeros((1, 1, 1 << 24, 1), F32), identity(1), np.zeros((1, 1, 1, 1), F32))
