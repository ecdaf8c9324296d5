"""Batch normalisation: float64 references, finite differences, PyTorch parity (train and eval,
with the moving-variance convention adapted), accumulation, every SIMD path, 1 vs 2 threads,
binding refusals."""
import numpy as np
import pytest

import reference as ref
from conftest import SIMD_LEVELS
from dlc import _C

SHAPES = [(5, 3), (1, 7), (2, 4, 4, 17), (1, 5, 3, 8), (3, 9, 9, 1), (64, 33), (4, 3, 130)]


def params(rng, c, scale=True, center=True):
    gamma = (1 + 0.5 * rng.standard_normal(c)).astype(np.float32) if scale else None
    beta = rng.standard_normal(c).astype(np.float32) if center else None
    mm = rng.standard_normal(c).astype(np.float32)
    mv = rng.uniform(0.5, 2.0, c).astype(np.float32)
    return gamma, beta, mm, mv


def train(x, gamma, beta, mm, mv, **kw):
    """Runs the training forward on copies of the moving statistics."""
    c = x.shape[-1]
    y = np.full(x.shape, np.nan, np.float32)
    mean, invstd = np.full(c, np.nan, np.float32), np.full(c, np.nan, np.float32)
    mm, mv = mm.copy(), mv.copy()
    _C.batchnorm_forward_train(x, gamma, beta, y, mean, invstd, mm, mv, **kw)
    return y, mean, invstd, mm, mv


@pytest.mark.parametrize("affine", [(True, True), (False, True), (True, False), (False, False)])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_train_and_infer(rng, simd, shape, affine):
    c = shape[-1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    gamma, beta, mm0, mv0 = params(rng, c, *affine)
    y, mean, invstd, mm, mv = train(x, gamma, beta, mm0, mv0, epsilon=1e-3, momentum=0.9)
    wy, wmean, winv, wmm, wmv = ref.batchnorm_train_ref(x, gamma, beta, mm0, mv0, 1e-3, 0.9)
    np.testing.assert_allclose(mean, wmean, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(invstd, winv, rtol=1e-6)
    np.testing.assert_allclose(y, wy, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(mm, wmm, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mv, wmv, rtol=1e-6)
    yi = np.full(shape, np.nan, np.float32)
    _C.batchnorm_forward_infer(x, gamma, beta, mm0, mv0, yi, epsilon=1e-3)
    np.testing.assert_allclose(yi, ref.batchnorm_infer_ref(x, gamma, beta, mm0, mv0, 1e-3),
                               rtol=1e-5, atol=2e-6)


def test_single_row_batch(rng):
    # m = 1: the variance is 0, xhat = 0, y = beta; gradients wrt x vanish.
    x = rng.standard_normal((1, 6)).astype(np.float32)
    gamma, beta, mm, mv = params(rng, 6)
    y, mean, invstd, _, _ = train(x, gamma, beta, mm, mv)
    np.testing.assert_array_equal(mean, x[0])
    np.testing.assert_allclose(invstd, 1 / np.sqrt(1e-3), rtol=1e-6)
    np.testing.assert_array_equal(y, beta[None])


def test_backward(rng, simd):
    for shape in SHAPES:
        c = shape[-1]
        x = (rng.standard_normal(shape) * 3 - 1).astype(np.float32)
        gamma, beta, mm, mv = params(rng, c)
        _, mean, invstd, _, _ = train(x, gamma, beta, mm, mv)
        dy = rng.standard_normal(shape).astype(np.float32)
        dx0 = rng.standard_normal(shape).astype(np.float32)
        dg0, db0 = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
        dx, dg, db = dx0.copy(), dg0.copy(), db0.copy()
        _C.batchnorm_backward(x, dy, gamma, mean, invstd, dx, dg, db)
        wdx, wdg, wdb = ref.batchnorm_backward_ref(x, dy, gamma, 1e-3)
        np.testing.assert_allclose(dx, dx0 + wdx, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(dg, dg0 + wdg, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(db, db0 + wdb, rtol=1e-5, atol=1e-5)
        # gamma None means 1; dgamma / dbeta None are skipped.
        dx = dx0.copy()
        _C.batchnorm_backward(x, dy, None, mean, invstd, dx, None, None)
        wdx, _, _ = ref.batchnorm_backward_ref(x, dy, None, 1e-3)
        np.testing.assert_allclose(dx, dx0 + wdx, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 5, 7), (1, 4, 4, 3)])
def test_finite_differences(rng, shape):
    """The C backward against central differences of the float64 training forward (batch
    statistics included) along random directions, for x, gamma and beta."""
    c = shape[-1]
    x = rng.standard_normal(shape).astype(np.float32)
    gamma, beta, mm, mv = params(rng, c)
    _, mean, invstd, _, _ = train(x, gamma, beta, mm, mv)
    dy = rng.standard_normal(shape).astype(np.float32)
    dx, dg, db = np.zeros_like(x), np.zeros(c, np.float32), np.zeros(c, np.float32)
    _C.batchnorm_backward(x, dy, gamma, mean, invstd, dx, dg, db)

    def loss(xx, g, b):
        return np.sum(dy * ref.batchnorm_train_ref(xx, g, b, mm, mv)[0])

    h = 1e-5
    x64, g64, b64 = x.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64)
    vx, vg, vb = rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)
    fd = (loss(x64 + h * vx, g64, b64) - loss(x64 - h * vx, g64, b64)) / (2 * h)
    np.testing.assert_allclose(np.sum(dx * vx), fd, rtol=1e-4, atol=1e-5)
    fd = (loss(x64, g64 + h * vg, b64) - loss(x64, g64 - h * vg, b64)) / (2 * h)
    np.testing.assert_allclose(np.sum(dg * vg), fd, rtol=1e-5)
    fd = (loss(x64, g64, b64 + h * vb) - loss(x64, g64, b64 - h * vb)) / (2 * h)
    np.testing.assert_allclose(np.sum(db * vb), fd, rtol=1e-5)


def test_large_batch_with_offset_is_accurate(rng):
    # m = 128 * 26 * 26 rows around a large offset: the naive E[x^2] - E[x]^2 in float32 would
    # lose every digit of the variance; two passes in double keep it.
    x = (1000 + 0.1 * rng.standard_normal((128, 26, 26, 4))).astype(np.float32)
    gamma, beta, mm, mv = params(rng, 4)
    y, mean, invstd, _, mv1 = train(x, gamma, beta, mm, mv)
    wy, wmean, winv, _, wmv = ref.batchnorm_train_ref(x, gamma, beta, mm, mv)
    np.testing.assert_allclose(mean, wmean, rtol=1e-7)
    np.testing.assert_allclose(invstd, winv, rtol=1e-6)
    np.testing.assert_allclose(mv1, wmv, rtol=1e-6)
    np.testing.assert_allclose(y, wy, rtol=1e-3, atol=2e-3)  # x - mean in float32: 6e-5 ulp


# ---------------------------------------------------------------- PyTorch parity


@pytest.mark.parametrize("shape", [(2, 5, 5, 6), (16, 10), (1, 3, 4, 5)])
def test_torch_parity(rng, shape):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    c = shape[-1]
    m = int(np.prod(shape[:-1]))
    eps, momentum = 1e-3, 0.99
    x = rng.standard_normal(shape).astype(np.float32) * 2 + 1
    gamma, beta, mm0, mv0 = params(rng, c)
    dy = rng.standard_normal(shape).astype(np.float32)
    # torch works on (N, C, ...): move the channel axis second.
    to_t = lambda a: torch.tensor(np.moveaxis(a.astype(np.float64), -1, 1).copy())
    from_t = lambda t: np.moveaxis(t.detach().numpy(), 1, -1)
    xt = to_t(x).requires_grad_(True)
    gt = torch.tensor(gamma.astype(np.float64), requires_grad=True)
    bt = torch.tensor(beta.astype(np.float64), requires_grad=True)
    rm, rv = torch.tensor(mm0.astype(np.float64)), torch.tensor(mv0.astype(np.float64))
    # torch's momentum is Keras's 1 - momentum.
    yt = F.batch_norm(xt, rm, rv, gt, bt, training=True, momentum=1 - momentum, eps=eps)
    (yt * to_t(dy)).sum().backward()

    y, mean, invstd, mm, mv = train(x, gamma, beta, mm0, mv0, epsilon=eps, momentum=momentum)
    np.testing.assert_allclose(y, from_t(yt), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(mm, rm.numpy(), rtol=1e-6, atol=1e-7)
    # torch updates running_var with the unbiased batch variance, Keras (and dlc) with the
    # biased one: recover torch's batch variance and rescale it by (m - 1) / m.
    torch_var = (rv.numpy() - momentum * mv0) / (1 - momentum)
    keras_mv = momentum * mv0.astype(np.float64) + (1 - momentum) * torch_var * (m - 1) / m
    np.testing.assert_allclose(mv, keras_mv, rtol=1e-5)

    dx, dg, db = np.zeros_like(x), np.zeros(c, np.float32), np.zeros(c, np.float32)
    _C.batchnorm_backward(x, dy, gamma, mean, invstd, dx, dg, db)
    np.testing.assert_allclose(dx, from_t(xt.grad), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dg, gt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-5, atol=1e-5)

    # Evaluation mode: the running statistics.
    ye = F.batch_norm(to_t(x), torch.tensor(mm0.astype(np.float64)),
                      torch.tensor(mv0.astype(np.float64)), gt.detach(), bt.detach(),
                      training=False, eps=eps)
    yi = np.empty_like(x)
    _C.batchnorm_forward_infer(x, gamma, beta, mm0, mv0, yi, epsilon=eps)
    np.testing.assert_allclose(yi, from_t(ye), rtol=1e-5, atol=2e-6)


def test_defaults_are_keras(rng):
    x = rng.standard_normal((10, 3)).astype(np.float32)
    gamma, beta, mm0, mv0 = params(rng, 3)
    _, _, _, mm, mv = train(x, gamma, beta, mm0, mv0)
    _, _, _, wmm, wmv = ref.batchnorm_train_ref(x, gamma, beta, mm0, mv0, 1e-3, 0.99)
    np.testing.assert_allclose(mm, wmm, rtol=1e-6)
    np.testing.assert_allclose(mv, wmv, rtol=1e-6)


# ---------------------------------------------------------------- threads and SIMD


def _run_all(rng, shape):
    c = shape[-1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    # Channel 0 starts with +1e15 and ends with -1e15: while either sits in a partial sum
    # (double, ulp 0.125) the small values round, so the mean's bits depend on how the rows
    # are partitioned. The partition must depend on m only, never on the thread count.
    x.reshape(-1, c)[0, 0], x.reshape(-1, c)[-1, 0] = 1e15, -1e15
    gamma, beta, mm, mv = params(rng, c)
    dy = rng.standard_normal(shape).astype(np.float32)
    y, mean, invstd, mm1, mv1 = train(x, gamma, beta, mm, mv)
    yi = np.empty_like(x)
    _C.batchnorm_forward_infer(x, gamma, beta, mm, mv, yi)
    dx, dg, db = np.full_like(x, 0.5), np.full(c, 0.5, np.float32), np.full(c, 0.5, np.float32)
    _C.batchnorm_backward(x, dy, gamma, mean, invstd, dx, dg, db)
    return dict(y=y, mean=mean, invstd=invstd, mm=mm1, mv=mv1, yi=yi, dx=dx, dg=dg, db=db)


@pytest.mark.parametrize("shape", [(8, 26, 26, 16), (5000, 7), (40, 1000)])
def test_threads_bit_identical(threads, shape):
    res = []
    for t in (1, 2):
        threads(t)
        res.append(_run_all(np.random.default_rng(8), shape))
    for k in res[0]:
        assert np.array_equal(res[0][k], res[1][k]), k
    # The parallel branches against the references too (channels 1.. : channel 0 holds the
    # +/-1e15 pair that only the bit-identity check is for).
    rng = np.random.default_rng(8)
    c = shape[-1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    x.reshape(-1, c)[0, 0], x.reshape(-1, c)[-1, 0] = 1e15, -1e15
    gamma, beta, mm, mv = params(rng, c)
    dy = rng.standard_normal(shape).astype(np.float32)
    out, k = res[0], slice(1, None)
    wy, wmean, winv, wmm, wmv = ref.batchnorm_train_ref(x, gamma, beta, mm, mv)
    np.testing.assert_allclose(out["y"][..., k], wy[..., k], rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(out["mean"][k], wmean[k], rtol=1e-6)
    np.testing.assert_allclose(out["invstd"][k], winv[k], rtol=1e-6)
    np.testing.assert_allclose(out["mv"][k], wmv[k], rtol=1e-6)
    np.testing.assert_allclose(out["yi"], ref.batchnorm_infer_ref(x, gamma, beta, mm, mv),
                               rtol=1e-5, atol=1e-3)
    wdx, wdg, wdb = ref.batchnorm_backward_ref(x[..., k], dy[..., k], gamma[k])
    np.testing.assert_allclose(out["dx"][..., k], 0.5 + wdx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["dg"][k], 0.5 + wdg, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out["db"][k], 0.5 + wdb, rtol=1e-5, atol=1e-3)


def test_simd_paths_bit_identical():
    res = {}
    try:
        for level in SIMD_LEVELS:
            _C.set_simd(level)
            res[level] = _run_all(np.random.default_rng(9), (3, 7, 5, 37))
    finally:
        _C.set_simd(SIMD_LEVELS[-1])
    for level in SIMD_LEVELS[1:]:
        for k in res["generic"]:
            assert np.array_equal(res["generic"][k], res[level][k]), (level, k)


# ---------------------------------------------------------------- binding refusals


def test_refusals_leave_everything_unchanged(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    gamma, beta, mm, mv = params(rng, 5)
    y, mean, invstd = np.zeros_like(x), np.zeros(5, np.float32), np.zeros(5, np.float32)
    arrays = [x, gamma, beta, mm, mv, y, mean, invstd]
    before = [a.copy() for a in arrays]

    def fwd(**over):
        a = dict(x=x, gamma=gamma, beta=beta, y=y, mean=mean, invstd=invstd, moving_mean=mm,
                 moving_var=mv)
        kw = {k: over.pop(k) for k in ("epsilon", "momentum") if k in over}
        a.update(over)
        _C.batchnorm_forward_train(*a.values(), **kw)

    with pytest.raises(TypeError, match="batchnorm_forward_train.*'x'.*float32"):
        fwd(x=x.astype(np.float64))
    with pytest.raises(TypeError, match="batchnorm_forward_train.*'gamma'.*float32"):
        fwd(gamma=gamma.astype(np.float64))
    with pytest.raises(ValueError, match=r"'beta'.*\(5,\).*\(4,\)"):
        fwd(beta=beta[:4].copy())
    with pytest.raises(ValueError, match=r"'y'.*\(4, 5\).*\(5, 4\)"):
        fwd(y=np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="'x'.*C-contiguous"):
        fwd(x=np.zeros((5, 4), np.float32).T)
    ro = mv.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'moving_var'.*read-only"):
        fwd(moving_var=ro)
    with pytest.raises(ValueError, match="'mean' must not share memory with argument 'gamma'"):
        fwd(mean=gamma)
    with pytest.raises(ValueError, match="'moving_mean' must not share memory with argument 'moving_var'"):
        fwd(moving_mean=mv)
    with pytest.raises(ValueError, match="'y' must not share memory with argument 'x'"):
        fwd(y=x)
    with pytest.raises(ValueError, match="at least one row"):
        fwd(x=np.zeros((0, 5), np.float32), y=np.zeros((0, 5), np.float32))
    with pytest.raises(ValueError, match="positive channel count"):
        fwd(x=np.zeros((3, 0), np.float32), y=np.zeros((3, 0), np.float32))
    with pytest.raises(ValueError, match="epsilon"):
        fwd(epsilon=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        fwd(momentum=float("nan"))
    with pytest.raises(TypeError):
        _C.batchnorm_forward_train(x, gamma, beta, y, mean, invstd, mm, mv, 1e-3)
    for b, a in zip(before, arrays):
        np.testing.assert_array_equal(b, a)

    with pytest.raises(ValueError, match="batchnorm_forward_infer.*'y' must not share memory with argument 'x'"):
        _C.batchnorm_forward_infer(x, gamma, beta, mm, mv, x)
    with pytest.raises(ValueError, match=r"batchnorm_forward_infer.*'moving_var'.*\(5,\)"):
        _C.batchnorm_forward_infer(x, gamma, beta, mm, mv[:3].copy(), y)

    dy = rng.standard_normal(x.shape).astype(np.float32)
    dx, dg, db = np.zeros_like(x), np.zeros(5, np.float32), np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="batchnorm_backward.*'dx' must not share memory with argument 'dy'"):
        _C.batchnorm_backward(x, dy, gamma, mean, invstd, dy, dg, db)
    with pytest.raises(ValueError, match="'dgamma' must not share memory with argument 'dbeta'"):
        _C.batchnorm_backward(x, dy, gamma, mean, invstd, dx, dg, dg)
    with pytest.raises(ValueError, match=r"batchnorm_backward.*'dy'.*\(4, 5\)"):
        _C.batchnorm_backward(x, dy[:2].copy(), gamma, mean, invstd, dx, dg, db)
    with pytest.raises(TypeError, match="'dbeta'.*float32"):
        _C.batchnorm_backward(x, dy, gamma, mean, invstd, dx, dg, db.astype(np.float64))
    for b, a in zip(before, arrays):
        np.testing.assert_array_equal(b, a)
    for a in (dx, dg, db):
        np.testing.assert_array_equal(a, 0)
