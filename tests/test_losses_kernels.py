"""Loss kernels (csrc/softmax_xent.c): fused softmax + cross-entropy (dense and sparse labels),
Keras cross-entropy on probabilities, binary cross-entropy, mean squared error.

Forward against float64 references, backward against central differences of the float64
reference (random directions), PyTorch parity, extreme logits, threads, binding refusals."""

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import F, keras, requires_keras, requires_torch, torch  # noqa: E402

from dlc import _C  # noqa: E402
import reference as R  # noqa: E402

SHAPES = [(1, 1), (1, 5), (7, 3), (33, 10), (64, 129)]


def _onehot(rng, m, k):
    return np.eye(k, dtype=np.float32)[rng.integers(0, k, m)]


def _soft(rng, m, k):
    y = rng.random((m, k)) + 0.05
    return (y / y.sum(axis=1, keepdims=True)).astype(np.float32)


def _fd(f, x, rng, h=1e-6):
    """Directional derivative of the float64 function f at x along a random unit direction d,
    by central differences: returns (d, derivative)."""
    d = rng.standard_normal(x.shape)
    d /= np.linalg.norm(d)
    x = x.astype(np.float64)
    return d, (f(x + h * d) - f(x - h * d)) / (2 * h)


# ---------------------------------------------------------------- softmax + cross-entropy

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("soft", [False, True])
def test_softmax_xent_forward_matches_reference(rng, shape, soft):
    m, k = shape
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    y = _soft(rng, m, k) if soft else _onehot(rng, m, k)
    probs, loss = np.full(shape, np.nan, np.float32), np.full(m, np.nan, np.float32)
    _C.softmax_xent_forward(x, y, probs, loss)
    p_ref, l_ref = R.softmax_xent_ref(x, y)
    np.testing.assert_allclose(probs, p_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(loss, l_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_xent_sparse_forward_matches_reference(rng, shape):
    m, k = shape
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    idx = rng.integers(0, k, m).astype(np.int32)
    probs, loss = np.empty(shape, np.float32), np.empty(m, np.float32)
    _C.softmax_xent_sparse_forward(x, idx, probs, loss)
    p_ref, l_ref = R.softmax_xent_sparse_ref(x, idx)
    np.testing.assert_allclose(probs, p_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(loss, l_ref, rtol=1e-5, atol=1e-6)
    # the dense kernel with one-hot labels gives the same loss
    dense = np.empty(m, np.float32)
    _C.softmax_xent_forward(x, np.eye(k, dtype=np.float32)[idx], np.empty_like(probs), dense)
    np.testing.assert_allclose(dense, loss, rtol=1e-6, atol=1e-7)


def test_softmax_xent_extreme_logits_are_finite():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], np.float32)
    y = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], np.float32)
    probs, loss = np.empty_like(x), np.empty(3, np.float32)
    _C.softmax_xent_forward(x, y, probs, loss)
    assert np.isfinite(probs).all() and np.isfinite(loss).all()
    _, l_ref = R.softmax_xent_ref(x, y)
    np.testing.assert_allclose(loss, l_ref, rtol=1e-6)
    assert loss[0] == pytest.approx(2e4) and loss[1] == pytest.approx(np.log(3), rel=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    sparse = np.empty(3, np.float32)
    _C.softmax_xent_sparse_forward(x, np.array([1, 0, 2], np.int32), probs, sparse)
    np.testing.assert_array_equal(sparse, loss)
    dx = np.zeros_like(x)
    _C.softmax_xent_backward(probs, y, dx, scale=1.0)
    assert np.isfinite(dx).all()


@pytest.mark.parametrize("shape", [(1, 4), (5, 7), (16, 33)])
@pytest.mark.parametrize("sparse", [False, True])
def test_softmax_xent_backward_finite_differences(rng, shape, sparse):
    m, k = shape
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    idx = rng.integers(0, k, m).astype(np.int32)
    y = np.eye(k, dtype=np.float32)[idx] if sparse else _soft(rng, m, k)
    scale = 0.37
    probs, loss = np.empty_like(x), np.empty(m, np.float32)
    dx = rng.standard_normal(shape).astype(np.float32)  # accumulated into
    dx0 = dx.copy()
    if sparse:
        _C.softmax_xent_sparse_forward(x, idx, probs, loss)
        _C.softmax_xent_sparse_backward(probs, idx, dx, scale=scale)
        f = lambda z: scale * R.softmax_xent_sparse_ref(z, idx)[1].sum()
    else:
        _C.softmax_xent_forward(x, y, probs, loss)
        _C.softmax_xent_backward(probs, y, dx, scale=scale)
        f = lambda z: scale * R.softmax_xent_ref(z, y)[1].sum()
    d, deriv = _fd(f, x, rng)
    assert float(((dx - dx0) * d).sum()) == pytest.approx(deriv, rel=1e-4, abs=1e-6)


@requires_torch
def test_softmax_xent_torch_parity(rng):
    m, k = 12, 9
    x = (rng.standard_normal((m, k)) * 4).astype(np.float32)
    idx = rng.integers(0, k, m).astype(np.int32)
    ys = _soft(rng, m, k)
    scale = 1.0 / m
    for sparse in (False, True):
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        target = torch.tensor(idx, dtype=torch.long) if sparse else torch.tensor(ys, dtype=torch.float64)
        lt = F.cross_entropy(xt, target, reduction="none")
        (lt.sum() * scale).backward()
        probs, loss = np.empty_like(x), np.empty(m, np.float32)
        dx = np.zeros_like(x)
        if sparse:
            _C.softmax_xent_sparse_forward(x, idx, probs, loss)
            _C.softmax_xent_sparse_backward(probs, idx, dx, scale=scale)
        else:
            _C.softmax_xent_forward(x, ys, probs, loss)
            _C.softmax_xent_backward(probs, ys, dx, scale=scale)
        np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(probs, torch.softmax(xt, 1).detach().numpy(), rtol=1e-5,
                                   atol=1e-7)


# ---------------------------------------------------------------- cross-entropy on probabilities

@pytest.mark.parametrize("shape", SHAPES)
def test_xent_forward_matches_reference(rng, shape):
    m, k = shape
    p = (rng.random(shape) * 2 + 0.1).astype(np.float32)  # unnormalised: Keras renormalises
    y = _soft(rng, m, k)
    loss = np.empty(m, np.float32)
    _C.xent_forward(p, y, loss)
    np.testing.assert_allclose(loss, R.xent_ref(p, y), rtol=1e-5, atol=1e-6)


def test_xent_clipping_matches_keras_semantics():
    p = np.array([[0.0, 1.0, 0.0], [1e-12, 0.5, 0.5]], np.float32)
    y = np.array([[1, 0, 0], [1, 0, 0]], np.float32)
    loss = np.empty(2, np.float32)
    _C.xent_forward(p, y, loss, epsilon=1e-3)
    np.testing.assert_allclose(loss, [-np.log(1e-3)] * 2, rtol=1e-6)
    _C.xent_forward(p, y, loss)
    np.testing.assert_allclose(loss, [-np.log(1e-7)] * 2, rtol=1e-5)


@pytest.mark.parametrize("shape", [(1, 3), (6, 5), (9, 17)])
def test_xent_backward_finite_differences(rng, shape):
    m, k = shape
    p = (rng.random(shape) + 0.2).astype(np.float32)
    y = _soft(rng, m, k)
    scale = 0.5
    dp = np.zeros_like(p)
    _C.xent_backward(p, y, dp, scale=scale)
    d, deriv = _fd(lambda z: scale * R.xent_ref(z, y).sum(), p, rng)
    assert float((dp * d).sum()) == pytest.approx(deriv, rel=1e-4, abs=1e-6)


def test_xent_backward_is_zero_where_clipped():
    p = np.array([[1e-12, 1.0, 1.0]], np.float32)  # first class clipped to eps
    y = np.array([[1.0, 0.0, 0.0]], np.float32)
    dp = np.zeros_like(p)
    _C.xent_backward(p, y, dp, scale=1.0)
    np.testing.assert_array_equal(dp, 0.0)


# ---------------------------------------------------------------- binary cross-entropy

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("from_logits", [False, True])
def test_bce_forward_matches_reference(rng, shape, from_logits):
    m, k = shape
    x = (rng.standard_normal(shape) * 3 if from_logits
         else rng.random(shape) * 0.9 + 0.05).astype(np.float32)
    z = rng.random(shape).astype(np.float32)
    loss = np.empty(m, np.float32)
    _C.bce_forward(x, z, loss, from_logits=from_logits)
    np.testing.assert_allclose(loss, R.bce_ref(x, z, from_logits), rtol=1e-5, atol=1e-6)


def test_bce_extreme_inputs_are_finite():
    x = np.array([[1e4, -1e4, 0.0, 30.0]], np.float32)
    z = np.array([[0.0, 1.0, 1.0, 1.0]], np.float32)
    loss, dx = np.empty(1, np.float32), np.zeros_like(x)
    _C.bce_forward(x, z, loss, from_logits=True)
    _C.bce_backward(x, z, dx, scale=1.0, from_logits=True)
    assert np.isfinite(loss).all() and np.isfinite(dx).all()
    np.testing.assert_allclose(loss, R.bce_ref(x, z, True), rtol=1e-6)
    np.testing.assert_allclose(dx, [[0.25, -0.25, -0.125, 0.0]], atol=1e-7)
    p = np.array([[0.0, 1.0, 1.0, 0.0]], np.float32)  # probabilities at the edges: clipped
    _C.bce_forward(p, z, loss)
    assert np.isfinite(loss).all()
    np.testing.assert_allclose(loss, R.bce_ref(p, z), rtol=1e-4)


@pytest.mark.parametrize("shape", [(1, 1), (4, 6), (9, 13)])
@pytest.mark.parametrize("from_logits", [False, True])
def test_bce_backward_finite_differences(rng, shape, from_logits):
    x = (rng.standard_normal(shape) * 2 if from_logits
         else rng.random(shape) * 0.8 + 0.1).astype(np.float32)
    z = rng.random(shape).astype(np.float32)
    scale = 1.7
    dx = np.ones_like(x)
    _C.bce_backward(x, z, dx, scale=scale, from_logits=from_logits)
    d, deriv = _fd(lambda a: scale * R.bce_ref(a, z, from_logits).sum(), x, rng)
    assert float(((dx - 1.0) * d).sum()) == pytest.approx(deriv, rel=1e-4, abs=1e-6)


@requires_torch
def test_bce_torch_parity(rng):
    shape = (10, 7)
    z = rng.random(shape).astype(np.float32)
    scale = 0.1
    for from_logits in (False, True):
        x = (rng.standard_normal(shape) * 3 if from_logits
             else rng.random(shape) * 0.9 + 0.05).astype(np.float32)
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        zt = torch.tensor(z, dtype=torch.float64)
        fn = F.binary_cross_entropy_with_logits if from_logits else F.binary_cross_entropy
        lt = fn(xt, zt, reduction="none").mean(dim=-1)
        (scale * lt.sum()).backward()
        loss, dx = np.empty(shape[0], np.float32), np.zeros_like(x)
        _C.bce_forward(x, z, loss, from_logits=from_logits)
        _C.bce_backward(x, z, dx, scale=scale, from_logits=from_logits)
        np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- mean squared error

@pytest.mark.parametrize("shape", SHAPES)
def test_mse_forward_backward(rng, shape):
    m, k = shape
    x = rng.standard_normal(shape).astype(np.float32)
    z = rng.standard_normal(shape).astype(np.float32)
    loss, dx = np.empty(m, np.float32), np.zeros_like(x)
    _C.mse_forward(x, z, loss)
    np.testing.assert_allclose(loss, R.mse_ref(x, z), rtol=1e-5, atol=1e-7)
    _C.mse_backward(x, z, dx, scale=0.25)
    d, deriv = _fd(lambda a: 0.25 * R.mse_ref(a, z).sum(), x, rng)
    assert float((dx * d).sum()) == pytest.approx(deriv, rel=1e-4, abs=1e-6)


@requires_torch
def test_mse_torch_parity(rng):
    x = rng.standard_normal((6, 11)).astype(np.float32)
    z = rng.standard_normal((6, 11)).astype(np.float32)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    lt = F.mse_loss(xt, torch.tensor(z, dtype=torch.float64), reduction="none").mean(dim=-1)
    lt.mean().backward()
    loss, dx = np.empty(6, np.float32), np.zeros_like(x)
    _C.mse_forward(x, z, loss)
    _C.mse_backward(x, z, dx, scale=1 / 6)
    np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------- Keras 3 semantics

def _keras(fn, y, x, **kw):
    out = fn(torch.tensor(y), torch.tensor(x), **kw)
    return out.detach().cpu().numpy()


@requires_keras
def test_keras3_loss_parity(rng):
    """The Keras 3 loss functions (torch backend, float32) give the same per-sample losses,
    including renormalisation and clipping of probabilities at the edges."""
    m, k = 9, 6
    p = (rng.random((m, k)) * 2).astype(np.float32)
    p[0, 0], p[1, :] = 0.0, [1.0, 0, 0, 0, 0, 0]  # clipped entries
    y = _soft(rng, m, k)
    y[1] = [0, 1, 0, 0, 0, 0]
    loss = np.empty(m, np.float32)
    _C.xent_forward(p, y, loss)
    np.testing.assert_allclose(loss, _keras(keras.losses.categorical_crossentropy, y, p),
                               rtol=1e-5, atol=1e-5)
    z = rng.random((m, k)).astype(np.float32)
    q = rng.random((m, k)).astype(np.float32)
    q[0, :2] = [0.0, 1.0]
    _C.bce_forward(q, z, loss)
    np.testing.assert_allclose(loss, _keras(keras.losses.binary_crossentropy, z, q),
                               rtol=1e-5, atol=1e-5)
    x = (rng.standard_normal((m, k)) * 5).astype(np.float32)
    _C.bce_forward(x, z, loss, from_logits=True)
    np.testing.assert_allclose(
        loss, _keras(keras.losses.binary_crossentropy, z, x, from_logits=True), rtol=1e-5,
        atol=1e-6)
    probs = np.empty_like(x)
    _C.softmax_xent_forward(x, y, probs, loss)
    np.testing.assert_allclose(
        loss, _keras(keras.losses.categorical_crossentropy, y, x, from_logits=True), rtol=1e-5,
        atol=1e-5)
    _C.mse_forward(x, z, loss)
    np.testing.assert_allclose(loss, _keras(keras.losses.mean_squared_error, z, x), rtol=1e-6)


# ---------------------------------------------------------------- threads

def _run_all(x, y, idx, p):
    out = []
    probs, loss = np.empty_like(x), np.empty(len(x), np.float32)
    _C.softmax_xent_forward(x, y, probs, loss)
    out += [probs.copy(), loss.copy()]
    _C.softmax_xent_sparse_forward(x, idx, probs, loss)
    out += [probs.copy(), loss.copy()]
    for f, a, kw in [(_C.softmax_xent_backward, probs, {}),
                     (_C.xent_backward, p, {}),
                     (_C.bce_backward, x, {"from_logits": True}),
                     (_C.bce_backward, p, {}),
                     (_C.mse_backward, x, {})]:
        d = np.ones_like(x)
        f(a, y, d, scale=0.3, **kw)
        out.append(d)
    d = np.ones_like(x)
    _C.softmax_xent_sparse_backward(probs, idx, d, scale=0.3)
    out.append(d)
    for f, a, kw in [(_C.xent_forward, p, {}), (_C.bce_forward, x, {"from_logits": True}),
                     (_C.bce_forward, p, {}), (_C.mse_forward, x, {})]:
        f(a, y, loss, **kw)
        out.append(loss.copy())
    return out


def test_one_and_two_threads_bit_identical(rng, threads):
    m, k = 301, 203  # above the parallel threshold, odd sizes
    x = rng.standard_normal((m, k)).astype(np.float32)
    y = _soft(rng, m, k)
    idx = rng.integers(0, k, m).astype(np.int32)
    p = (rng.random((m, k)) * 0.9 + 0.05).astype(np.float32)
    threads(1)
    one = _run_all(x, y, idx, p)
    threads(2)
    two = _run_all(x, y, idx, p)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------- binding refusals

def _inputs(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = _soft(rng, 4, 5)
    return x, y


def test_sparse_label_out_of_range_refused_and_nothing_written(rng):
    x, _ = _inputs(rng)
    for bad in ([0, 1, 5, 2], [0, -1, 2, 3]):
        idx = np.array(bad, np.int32)
        probs, loss = np.full_like(x, 7.0), np.full(4, 7.0, np.float32)
        x0, idx0 = x.copy(), idx.copy()
        with pytest.raises(ValueError, match="labels"):
            _C.softmax_xent_sparse_forward(x, idx, probs, loss)
        assert (probs == 7.0).all() and (loss == 7.0).all()
        dx = np.zeros_like(x)
        with pytest.raises(ValueError, match="labels"):
            _C.softmax_xent_sparse_backward(probs, idx, dx, scale=1.0)
        assert (dx == 0).all()
        assert np.array_equal(x, x0) and np.array_equal(idx, idx0)


@pytest.mark.parametrize("case", ["float64", "noncontig", "readonly", "wrong_shape", "overlap",
                                  "int_labels", "1d"])
def test_forward_refusals_leave_inputs_unchanged(rng, case):
    x, y = _inputs(rng)
    probs, loss = np.zeros_like(x), np.zeros(4, np.float32)
    args = [x, y, probs, loss]
    exc = ValueError
    if case == "float64":
        args[0], exc = x.astype(np.float64), TypeError
    elif case == "noncontig":
        big = np.zeros((4, 10), np.float32)
        big[:, ::2] = x
        args[0] = big[:, ::2]
    elif case == "readonly":
        probs.setflags(write=False)
    elif case == "wrong_shape":
        args[3] = np.zeros(5, np.float32)
    elif case == "overlap":
        args[2] = x  # probs written over the logits
    elif case == "int_labels":
        args[1], exc = np.zeros((4, 5), np.int32), TypeError
    elif case == "1d":
        args[0] = x.reshape(-1)
    saved = [a.copy() for a in args[:2]]
    with pytest.raises(exc, match="softmax_xent_forward"):
        _C.softmax_xent_forward(*args)
    for a, s in zip(args[:2], saved):
        assert np.array_equal(a, s)


def test_backward_and_hyperparameter_refusals(rng):
    x, y = _inputs(rng)
    x0, y0 = x.copy(), y.copy()
    dx = np.zeros_like(x)
    with pytest.raises(TypeError, match="scale"):
        _C.softmax_xent_backward(x, y, dx)  # scale is required
    with pytest.raises(ValueError, match="scale"):
        _C.mse_backward(x, y, dx, scale=float("nan"))
    with pytest.raises(ValueError, match="epsilon"):
        _C.bce_forward(x, y, np.zeros(4, np.float32), epsilon=0.7)
    with pytest.raises(ValueError, match="epsilon"):
        _C.xent_backward(x, y, dx, scale=1.0, epsilon=-1.0)
    with pytest.raises(ValueError, match="dx"):
        _C.bce_backward(x, y, x, scale=1.0)  # dx overlapping x
    with pytest.raises(ValueError, match="dprobs"):
        _C.xent_backward(x, y, np.zeros((4, 6), np.float32), scale=1.0)
    with pytest.raises(ValueError, match="column"):
        _C.mse_forward(np.zeros((3, 0), np.float32), np.zeros((3, 0), np.float32),
                       np.zeros(3, np.float32))
    with pytest.raises(TypeError):
        _C.mse_backward(x, y, dx, 1.0)  # hyperparameters are keyword-only
    assert np.array_equal(x, x0) and np.array_equal(y, y0) and (dx == 0).all()


def test_empty_batch_is_a_no_op():
    e = np.zeros((0, 3), np.float32)
    _C.softmax_xent_forward(e, e.copy(), e.copy(), np.zeros(0, np.float32))
    _C.softmax_xent_sparse_backward(e, np.zeros(0, np.int32), e.copy(), scale=1.0)
    _C.bce_forward(e, e.copy(), np.zeros(0, np.float32), from_logits=True)
