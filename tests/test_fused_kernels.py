"""The fused kernel forms against their unfused compositions, bit for bit, on every SIMD path
and at 1 and 2 threads: GEMM with a bias and ReLU epilogue; conv2d forward with the ReLU fused;
conv2d backward data and weights in overwrite mode (accumulate=False) and with the ReLU mask of
the layer that produced dy read on the fly (dy_mask)."""
import numpy as np
import pytest

from dlc import _C

from test_conv2d import CASES, _setup

GEMM_SHAPES = [(1, 1, 1), (7, 13, 5), (6, 16, 320), (37, 45, 321), (128, 128, 700),
               (130, 10, 9216), (29, 33, 6200), (64, 300, 64), (5, 257, 33)]


def _relu(a):
    y = np.empty_like(a)
    _C.relu_forward(a, y)
    return y


@pytest.mark.parametrize("m,n,k", GEMM_SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
def test_gemm_bias_relu_epilogue_is_preset_plus_relu(simd, threads, rng, m, n, k, ta, tb):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    want = np.empty((m, n), np.float32)
    want[...] = bias
    _C.gemm(a, b, want, trans_a=ta, trans_b=tb, beta=1.0)
    want_relu = _relu(want)
    for nt in (1, 2):
        threads(nt)
        for serial in (False, True):
            got = np.full((m, n), np.nan, np.float32)
            _C.gemm(a, b, got, bias=bias, trans_a=ta, trans_b=tb, serial=serial)
            assert np.array_equal(got, want)
            got = np.full((m, n), np.nan, np.float32)
            _C.gemm(a, b, got, bias=bias, relu=True, trans_a=ta, trans_b=tb, serial=serial)
            assert np.array_equal(got, want_relu)
            plain = np.empty((m, n), np.float32)
            _C.gemm(a, b, plain, trans_a=ta, trans_b=tb, serial=serial)
            got = np.full((m, n), np.nan, np.float32)
            _C.gemm(a, b, got, relu=True, trans_a=ta, trans_b=tb, serial=serial)
            assert np.array_equal(got, _relu(plain))


def test_gemm_relu_keeps_nan_and_zero_sign(rng):
    a = np.array([[1.0], [-1.0], [np.nan], [0.0]], np.float32)
    b = np.array([[2.0, -0.0]], np.float32)
    c = np.empty((4, 2), np.float32)
    _C.gemm(a, b, c, relu=True)
    want = _relu(a @ b)
    assert np.array_equal(c, want, equal_nan=True)
    assert not np.signbit(c[~np.isnan(c)]).any()


def test_gemm_reference_refuses_the_epilogue(rng):
    a = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError):
        _C.gemm(a, a, np.empty((2, 2), np.float32), relu=True, reference=True)


FUSED_CASES = [c[0] for c in CASES]


@pytest.mark.parametrize("name", FUSED_CASES)
def test_conv_fused_forms_match_unfused(name, simd, threads, rng):
    case = next(c for c in CASES if c[0] == name)
    x, w, b, dy, kw = _setup(case, rng)
    ymask = rng.standard_normal(dy.shape).astype(np.float32)
    ymask[ymask < 0] = 0.0  # a ReLU's output: zeros and positives
    dz = np.zeros_like(dy)
    _C.relu_backward(ymask, dy, dz)  # the unfused ReLU backward into a zeroed buffer
    results = []
    for nt in (1, 2):
        threads(nt)
        y = np.empty(dy.shape, np.float32)
        _C.conv2d_forward(x, w, b, y, **kw)
        yr = np.full(dy.shape, np.nan, np.float32)
        _C.conv2d_forward(x, w, b, yr, relu=True, **kw)
        assert np.array_equal(yr, _relu(y))
        # backward data: overwrite == zeros + accumulate; mask == unfused ReLU backward
        dx_acc = np.zeros(x.shape, np.float32)
        _C.conv2d_backward_data(dz, w, dx_acc, **kw)
        dx_ow = np.full(x.shape, np.nan, np.float32)
        _C.conv2d_backward_data(dy, w, dx_ow, dy_mask=ymask, accumulate=False, **kw)
        assert np.array_equal(dx_ow, dx_acc)
        base = rng.standard_normal(x.shape).astype(np.float32)
        dx2 = base.copy()
        _C.conv2d_backward_data(dz, w, dx2, **kw)
        dx3 = base.copy()
        _C.conv2d_backward_data(dy, w, dx3, dy_mask=ymask, **kw)
        assert np.array_equal(dx2, dx3)
        # backward weights likewise
        dw_acc, db_acc = np.zeros(w.shape, np.float32), np.zeros(b.shape, np.float32)
        _C.conv2d_backward_weights(x, dz, dw_acc, db_acc, **kw)
        dw_ow, db_ow = np.full(w.shape, np.nan, np.float32), np.full(b.shape, np.nan, np.float32)
        _C.conv2d_backward_weights(x, dy, dw_ow, db_ow, dy_mask=ymask, accumulate=False, **kw)
        assert np.array_equal(dw_ow, dw_acc) and np.array_equal(db_ow, db_acc)
        dw1 = np.full(w.shape, np.nan, np.float32)
        _C.conv2d_backward_weights(x, dy, dw1, None, accumulate=False, **kw)
        dw2 = np.zeros(w.shape, np.float32)
        _C.conv2d_backward_weights(x, dy, dw2, None, **kw)
        assert np.array_equal(dw1, dw2)
        results.append((yr, dx_ow, dw_ow, db_ow))
    for a, bb in zip(*results):
        assert np.array_equal(a, bb)


def test_conv_dy_mask_refuses_wrong_shape_and_overlap(rng):
    x = rng.standard_normal((2, 6, 6, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 8)).astype(np.float32)
    dy = rng.standard_normal((2, 4, 4, 8)).astype(np.float32)
    dx = np.zeros_like(x)
    with pytest.raises(ValueError, match="dy_mask"):
        _C.conv2d_backward_data(dy, w, dx, dy_mask=np.zeros((2, 4, 4, 7), np.float32))
    with pytest.raises(ValueError, match="share memory"):
        _C.conv2d_backward_data(dy, w, dx, dy_mask=dx.reshape(-1)[: dy.size].reshape(dy.shape))


# ---------------------------------------------------------------- ReLU, dropout, max pooling

def test_relu_backward_overwrite_is_accumulate_on_zeros(simd, rng):
    x = rng.standard_normal(70001).astype(np.float32)
    x[::7] = 0.0
    dy = rng.standard_normal(x.shape).astype(np.float32)
    want = np.zeros_like(x)
    _C.relu_backward(x, dy, want)
    got = np.full_like(x, np.nan)
    _C.relu_backward(x, dy, got, accumulate=False)
    assert np.array_equal(got, want)


def _drop(x, rate, seed, step):
    y, m = np.empty_like(x), np.empty(x.shape, np.uint8)
    _C.dropout_forward(x, y, m, rate=rate, seed=seed, step=step)
    return y, m


def test_dropout_backward_overwrite_and_fused_relu(simd, threads, rng):
    h = _relu(rng.standard_normal((96, 300)).astype(np.float32))
    dy = rng.standard_normal(h.shape).astype(np.float32)
    _, mask = _drop(h, 0.5, 7, 3)
    acc = np.zeros_like(h)
    _C.dropout_backward(mask, dy, acc, rate=0.5)
    want = np.zeros_like(h)
    _C.relu_backward(h, acc, want)
    for nt in (1, 2):
        threads(nt)
        got = np.full_like(h, np.nan)
        _C.dropout_backward(mask, dy, got, rate=0.5, accumulate=False)
        assert np.array_equal(got, acc)
        got = np.full_like(h, np.nan)
        _C.dropout_backward(mask, dy, got, relu_y=h, rate=0.5, accumulate=False)
        assert np.array_equal(got, want)
    with pytest.raises(ValueError):
        _C.dropout_backward(mask, dy, got, relu_y=h, rate=0.5)  # relu needs overwrite


POOLS = [((2, 12, 12, 64), (2, 2), (2, 2), (0, 0, 0, 0)),
         ((3, 13, 11, 5), (2, 2), (2, 2), (0, 0, 0, 0)),
         ((2, 12, 12, 24), (3, 3), (1, 1), (1, 1, 1, 1)),
         ((1, 9, 10, 17), (3, 2), (2, 1), (1, 0, 0, 1))]


@pytest.mark.parametrize("shape,pool,strides,pad", POOLS)
def test_maxpool_overwrite_relu_and_dropout_pair(simd, threads, rng, shape, pool, strides, pad):
    x = _relu(rng.standard_normal(shape).astype(np.float32))
    x[0, 0, 0, :3] = 0.0
    kw = dict(pool_size=pool, strides=strides, padding=pad)
    n, h, w, c = shape
    oh = (h + pad[0] + pad[1] - pool[0]) // strides[0] + 1
    ow = (w + pad[2] + pad[3] - pool[1]) // strides[1] + 1
    p, am = np.empty((n, oh, ow, c), np.float32), np.empty((n, oh, ow, c), np.int32)
    _C.maxpool2d_forward(x, p, am, **kw)
    d, mask = _drop(p, 0.25, 11, 5)
    dy = rng.standard_normal(p.shape).astype(np.float32)
    # unfused references, each into a zeroed buffer
    raw = np.zeros_like(x)
    _C.maxpool2d_backward(dy, am, raw, **kw)
    raw_relu = np.zeros_like(x)
    _C.relu_backward(x, raw, raw_relu)
    dd = np.zeros_like(p)
    _C.dropout_backward(mask, dy, dd, rate=0.25)
    pair = np.zeros_like(x)
    _C.maxpool2d_backward(dd, am, pair, **kw)
    pair_relu = np.zeros_like(x)
    _C.relu_backward(x, pair, pair_relu)
    outs = []
    for nt in (1, 2):
        threads(nt)
        got = np.full_like(x, np.nan)
        _C.maxpool2d_backward(dy, am, got, accumulate=False, **kw)
        assert np.array_equal(got, raw)
        got = np.full_like(x, np.nan)
        _C.maxpool2d_backward(dy, am, got, relu_y=p, accumulate=False, **kw)
        assert np.array_equal(got, raw_relu)
        y, code = np.full_like(p, np.nan), np.zeros(p.shape, np.uint8)
        _C.maxpool2d_dropout_forward(x, y, code, rate=0.25, seed=11, step=5, **kw)
        assert np.array_equal(y, d)
        assert np.array_equal((code >> 7).astype(np.uint8), mask)
        got = np.full_like(x, np.nan)
        _C.maxpool2d_dropout_backward(dy, code, got, rate=0.25, accumulate=False, **kw)
        assert np.array_equal(got, pair)
        got2 = np.full_like(x, np.nan)
        _C.maxpool2d_dropout_backward(dy, code, got2, relu_y=y, rate=0.25, accumulate=False, **kw)
        assert np.array_equal(got2, pair_relu)
        acc, ref_acc = np.ones_like(x), np.ones_like(x)
        _C.maxpool2d_dropout_backward(dy, code, acc, rate=0.25, **kw)
        _C.maxpool2d_backward(dd, am, ref_acc, **kw)
        assert np.array_equal(acc, ref_acc)
        outs.append((y, code, got, got2))
    for a, b in zip(*outs):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------- data movement

def test_fill_copy_add_colsum_copy2d(simd, threads, rng):
    x = rng.standard_normal((300, 70)).astype(np.float32)
    y = np.empty_like(x)
    for nt in (1, 2):
        threads(nt)
        _C.fill(y, value=2.5)
        assert (y == 2.5).all()
        _C.fill(y)
        assert (y == 0).all() and not np.signbit(y).any()
        _C.copy(x, y)
        assert np.array_equal(x, y)
        _C.add_into(x, y)
        assert np.array_equal(y, x + x)
        s = np.full(70, np.nan, np.float32)
        _C.colsum(x, s)
        want = np.zeros(70, np.float32)
        for r in x:
            want += r
        assert np.array_equal(s, want)
        _C.colsum(x, s, accumulate=True)
        want2 = want.copy()
        for r in x:
            want2 += r
        assert np.array_equal(s, want2)
        big = np.zeros((300, 100), np.float32)
        _C.copy2d(x, big, rows=300, cols=70, ldx=70, ldy=100, offset_y=20)
        assert np.array_equal(big[:, 20:90], x) and (big[:, :20] == 0).all()
        back = np.ones((300, 30), np.float32)
        _C.copy2d(big, back, rows=300, cols=30, ldx=100, ldy=30, offset_x=60, accumulate=True)
        assert np.array_equal(back, 1 + x[:, 40:70])
    with pytest.raises(ValueError, match="inside"):
        _C.copy2d(x, big, rows=300, cols=70, ldx=70, ldy=100, offset_y=31)
    with pytest.raises(ValueError, match="share memory"):
        _C.copy(x, x)
