"""The fused kernel forms against their unfused compositions, bit for bit, on every SIMD path
and at 1 and 2 threads: GEMM with a bias and ReLU epilogue; conv2d forward with the ReLU fused;
conv2d backward data and weights in overwrite mode (accumulate=False) and with the ReLU mask of
the layer that produced dy read on the fly (dy_mask)."""
import numpy as np
import pytest

from dlc import _C

from test_conv2d import CASES, _setup

GEMM_SHAPES = [(1, 1, 1), (7, 13, 5), (6, 16, 320), (37, 45, 321), (128, 128, 700),
               (130, 10, 9216), (64, 300, 64), (5, 257, 33)]


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
