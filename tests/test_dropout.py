"""Dropout (csrc/dropout.c): Philox-4x32-10 known answers, the (seed, step, index) stream, mask
statistics, scaling, determinism across threads, backward, binding refusals."""
import numpy as np
import pytest

from dlc import _C
import reference as R

# Random123's tests/kat_vectors, the three "philox4x32 10" lines: counter (4 words),
# key (2 words), expected output (4 words).
PHILOX_KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,want", PHILOX_KAT)
def test_philox_known_answers(ctr, key, want):
    assert _C.philox4x32_10(ctr, key) == want
    assert R.philox4x32_10_ref(ctr, key) == want  # the Python oracle too


def test_philox_matches_python_oracle_on_random_blocks(rng):
    for _ in range(50):
        ctr = tuple(int(v) for v in rng.integers(0, 2**32, 4))
        key = tuple(int(v) for v in rng.integers(0, 2**32, 2))
        assert _C.philox4x32_10(ctr, key) == R.philox4x32_10_ref(ctr, key)


def test_uniform_stream_layout():
    """Element i is word i % 4 of block (counter = (i//4, step), key = seed), top 24 bits."""
    seed, step = 0x299F31D0A4093822, 0x0370734413198A2E
    out = np.empty(4 * 3 + 2, np.float32)
    _C.philox_uniform(out, seed=seed, step=step)
    for i, u in enumerate(out):
        b = i // 4
        words = R.philox4x32_10_ref((b & 0xFFFFFFFF, b >> 32, step & 0xFFFFFFFF, step >> 32),
                                    (seed & 0xFFFFFFFF, seed >> 32))
        assert u == (words[i % 4] >> 8) / 2.0**24
    # seed 0, step 0, block 0 is the all-zeros known answer
    _C.philox_uniform(out, seed=0, step=0)
    assert list(out[:4]) == [(w >> 8) / 2.0**24 for w in PHILOX_KAT[0][2]]


@pytest.mark.parametrize("n,seed,step", [(1, 0, 0), (7, 1, 2), (4099, 2**64 - 1, 2**64 - 1),
                                         (100003, 123456789, 42)])
def test_uniform_matches_reference_and_range(simd, n, seed, step):
    out = np.empty(n, np.float32)
    _C.philox_uniform(out, seed=seed, step=step)
    assert np.array_equal(out, R.philox_uniform_ref(n, seed, step))
    assert (out >= 0).all() and (out < 1).all()
    assert np.array_equal(out * 2**24, np.floor(out * 2**24))  # exact 24-bit fractions


def test_uniform_shape_any():
    a, b = np.empty((3, 5, 7), np.float32), np.empty(105, np.float32)
    _C.philox_uniform(a, seed=5, step=6)
    _C.philox_uniform(b, seed=5, step=6)
    assert np.array_equal(a.reshape(-1), b)


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.9])
def test_mask_fraction_close_to_rate(rate):
    n = 1_000_000
    x = np.ones(n, np.float32)
    y, mask = np.empty_like(x), np.empty(n, np.uint8)
    _C.dropout_forward(x, y, mask, rate=rate, seed=2024, step=7)
    dropped = 1.0 - mask.mean()
    sigma = np.sqrt(rate * (1 - rate) / n)
    assert abs(dropped - rate) < 6 * sigma  # binomial bound (deterministic for this seed)
    assert set(np.unique(mask)) <= {0, 1}


@pytest.mark.parametrize("shape", [(1,), (3, 5), (2, 7, 9, 3), (10001,)])
@pytest.mark.parametrize("rate", [0.0, 0.25, 0.6])
def test_forward_matches_reference(rng, simd, shape, rate):
    x = rng.standard_normal(shape).astype(np.float32)
    y, mask = np.full_like(x, np.nan), np.full(shape, 9, np.uint8)
    _C.dropout_forward(x, y, mask, rate=rate, seed=11, step=3)
    y_ref, m_ref = R.dropout_ref(x, rate, 11, 3)
    assert np.array_equal(mask, m_ref)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6)
    # exactly x times the float32 scale where kept, 0 where dropped
    scale = np.float32(1) / (np.float32(1) - np.float32(rate))
    assert np.array_equal(y, np.where(mask == 1, x * scale, np.float32(0)))
    if rate == 0.0:
        assert np.array_equal(y, x) and (mask == 1).all()


def test_dropped_inf_and_nan_give_zero():
    x = np.full(4000, np.inf, np.float32)
    x[::2] = np.nan
    y, mask = np.empty_like(x), np.empty(x.shape, np.uint8)
    _C.dropout_forward(x, y, mask, rate=0.5, seed=1, step=1)
    assert (y[mask == 0] == 0).all() and 0 < mask.sum() < x.size


def test_same_key_same_mask_and_different_key_different_mask(rng):
    x = rng.standard_normal(5000).astype(np.float32)

    def mask_of(seed, step):
        y, m = np.empty_like(x), np.empty(x.shape, np.uint8)
        _C.dropout_forward(x, y, m, rate=0.5, seed=seed, step=step)
        return m

    a = mask_of(3, 10)
    assert np.array_equal(a, mask_of(3, 10))
    for other in (mask_of(3, 11), mask_of(4, 10), mask_of(3 + 2**32, 10), mask_of(3, 10 + 2**32)):
        assert not np.array_equal(a, other)
        # independent masks agree on about half the positions
        assert 0.45 < (a == other).mean() < 0.55


def test_one_and_two_threads_bit_identical(rng, simd, threads):
    n = 300_001  # above the parallel threshold, not a multiple of 4
    x = rng.standard_normal(n).astype(np.float32)
    dy = rng.standard_normal(n).astype(np.float32)
    res = []
    for t in (1, 2):
        threads(t)
        y, m, u = np.empty_like(x), np.empty(n, np.uint8), np.empty_like(x)
        dx = np.ones_like(x)
        _C.dropout_forward(x, y, m, rate=0.4, seed=99, step=5)
        _C.dropout_backward(m, dy, dx, rate=0.4)
        _C.philox_uniform(u, seed=99, step=5)
        res.append((y, m, dx, u))
    for a, b in zip(*res):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("rate", [0.0, 0.35])
def test_backward_accumulates_and_matches_finite_differences(rng, rate):
    x = rng.standard_normal((6, 11)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    y, mask = np.empty_like(x), np.empty(x.shape, np.uint8)
    _C.dropout_forward(x, y, mask, rate=rate, seed=8, step=2)
    dx = rng.standard_normal(x.shape).astype(np.float32)
    dx0 = dx.copy()
    _C.dropout_backward(mask, dy, dx, rate=rate)
    np.testing.assert_allclose(dx - dx0, dy * mask / (1 - rate), rtol=1e-6, atol=1e-6)
    # the layer is linear for a fixed key: central differences of <dy, y(x)> along d
    d = rng.standard_normal(x.shape)
    f = lambda z: float((dy * R.dropout_ref(z, rate, 8, 2)[0]).sum())
    h = 1e-3
    deriv = (f(x + h * d) - f(x - h * d)) / (2 * h)
    assert float(((dx - dx0) * d).sum()) == pytest.approx(deriv, rel=1e-5)


# ---------------------------------------------------------------- binding refusals

@pytest.mark.parametrize("case", ["rate_one", "rate_negative", "rate_nan", "seed_negative",
                                  "step_too_big", "missing_seed", "float64", "mask_dtype",
                                  "mask_shape", "readonly", "overlap", "noncontig"])
def test_forward_refusals_leave_everything_unchanged(rng, case):
    x = rng.standard_normal((5, 6)).astype(np.float32)
    y, mask = np.full_like(x, 3.0), np.full(x.shape, 7, np.uint8)
    args, kw, exc = [x, y, mask], dict(rate=0.5, seed=1, step=2), ValueError
    if case == "rate_one":
        kw["rate"] = 1.0
    elif case == "rate_negative":
        kw["rate"] = -0.1
    elif case == "rate_nan":
        kw["rate"] = float("nan")
    elif case == "seed_negative":
        kw["seed"] = -1
    elif case == "step_too_big":
        kw["step"] = 2**64
    elif case == "missing_seed":
        del kw["seed"]
        exc = TypeError
    elif case == "float64":
        args[0], exc = x.astype(np.float64), TypeError
    elif case == "mask_dtype":
        args[2], exc = np.zeros(x.shape, np.bool_), TypeError
    elif case == "mask_shape":
        args[2] = np.zeros(30, np.uint8)
    elif case == "readonly":
        y.setflags(write=False)
    elif case == "overlap":
        args[1] = x
    elif case == "noncontig":
        args[1] = np.zeros((5, 12), np.float32)[:, ::2]
    x0 = x.copy()
    with pytest.raises(exc, match="dropout_forward"):
        _C.dropout_forward(*args, **kw)
    assert np.array_equal(x, x0) and (y == 3.0).all() and (mask == 7).all()


def test_backward_and_uniform_refusals(rng):
    dy = rng.standard_normal(8).astype(np.float32)
    mask = np.ones(8, np.uint8)
    dx = np.zeros(8, np.float32)
    dy0 = dy.copy()
    with pytest.raises(ValueError, match="rate"):
        _C.dropout_backward(mask, dy, dx, rate=1.5)
    with pytest.raises(ValueError, match="dx"):
        _C.dropout_backward(mask, dy, dy, rate=0.5)
    with pytest.raises(ValueError, match="dy"):
        _C.dropout_backward(mask, dy[:7], dx, rate=0.5)
    with pytest.raises(ValueError, match="out"):
        ro = np.zeros(4, np.float32)
        ro.setflags(write=False)
        _C.philox_uniform(ro, seed=1, step=1)
    with pytest.raises(TypeError, match="counter"):
        _C.philox4x32_10((1, 2, 3), (0, 0))
    with pytest.raises(ValueError, match="key"):
        _C.philox4x32_10((1, 2, 3, 4), (0, 2**32))
    assert np.array_equal(dy, dy0) and (dx == 0).all()
