"""Activations (ReLU family, ELU, sigmoid, tanh, SiLU, GELU, softmax): float64 references, finite
differences, PyTorch parity for softmax, accumulation, in-place forwards, every SIMD path,
1 vs 2 threads, binding refusals."""
import numpy as np
import pytest

import reference as ref
import helpers
from dlc import _C

SHAPES = [(1,), (7,), (3, 5), (2, 3, 17), (1, 4, 4, 33), (129,)]
RELU_PARAMS = [
    dict(),
    dict(negative_slope=0.2),
    dict(threshold=0.5),
    dict(max_value=6.0),
    dict(negative_slope=0.1, threshold=-0.3, max_value=1.5),
    dict(negative_slope=0.3, max_value=0.0),
]

# name -> (forward(x, y), backward(x, y, dy, dx), reference f, reference f')
ELEMENTWISE = {
    "sigmoid": (_C.sigmoid_forward, lambda x, y, dy, dx: _C.sigmoid_backward(y, dy, dx),
                ref.sigmoid_ref, lambda x: ref.sigmoid_ref(x) * (1 - ref.sigmoid_ref(x))),
    "tanh": (_C.tanh_forward, lambda x, y, dy, dx: _C.tanh_backward(y, dy, dx),
             ref.tanh_ref, lambda x: 1 - np.tanh(x.astype(np.float64)) ** 2),
    "elu": (_C.elu_forward, lambda x, y, dy, dx: _C.elu_backward(x, y, dy, dx),
            ref.elu_ref, ref.elu_grad_ref),
    "silu": (_C.silu_forward, lambda x, y, dy, dx: _C.silu_backward(x, dy, dx),
             ref.silu_ref, ref.silu_grad_ref),
    "gelu": (_C.gelu_forward, lambda x, y, dy, dx: _C.gelu_backward(x, dy, dx),
             ref.gelu_ref, ref.gelu_grad_ref),
    "elu_a0.5": (lambda x, y: _C.elu_forward(x, y, alpha=0.5),
                 lambda x, y, dy, dx: _C.elu_backward(x, y, dy, dx, alpha=0.5),
                 lambda x: ref.elu_ref(x, 0.5), lambda x: ref.elu_grad_ref(x, 0.5)),
}


def f32(params):
    """The hyperparameters as the kernel sees them (rounded to float32), for the references."""
    return {k: (None if v is None else float(np.float32(v))) for k, v in params.items()}


def away_from(x, points, gap):
    """x with every value closer than gap to one of points pushed gap away from it."""
    x = x.copy()
    for p in points:
        if p is None or not np.isfinite(p):
            continue
        near = np.abs(x - p) < gap
        x[near] = np.float32(p) + np.where(x[near] >= p, gap, -gap).astype(np.float32)
    return x


def randn(rng, shape, scale=2.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ---------------------------------------------------------------- ReLU


@pytest.mark.parametrize("params", RELU_PARAMS)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_forward_backward(rng, simd, shape, params):
    x = randn(rng, shape)
    y = np.full(shape, np.nan, np.float32)
    _C.relu_forward(x, y, **params)
    np.testing.assert_allclose(y, ref.relu_ref(x, **f32(params)), rtol=1e-6, atol=1e-7)
    dy = randn(rng, shape)
    dx0 = randn(rng, shape)
    dx = dx0.copy()
    _C.relu_backward(x, dy, dx, **params)
    want = dx0 + dy * ref.relu_grad_ref(x, **f32(params))
    np.testing.assert_allclose(dx, want, rtol=1e-6, atol=1e-6)


def test_relu_zero_is_positive_zero():
    x = np.array([-3.0, -0.5, 0.0, 2.0], np.float32)
    y = np.empty_like(x)
    _C.relu_forward(x, y)
    assert not np.signbit(y).any()


@pytest.mark.parametrize("params", RELU_PARAMS)
def test_relu_finite_differences(rng, params):
    x = randn(rng, (4, 37))
    h = 1e-3
    x = away_from(x, [params.get("threshold", 0.0), params.get("max_value")], 4 * h)
    dy = randn(rng, x.shape)
    dx = np.zeros_like(x)
    _C.relu_backward(x, dy, dx, **params)
    v = rng.standard_normal(x.shape)
    x64 = x.astype(np.float64)
    fd = (np.sum(dy * ref.relu_ref(x64 + h * v, **params))
          - np.sum(dy * ref.relu_ref(x64 - h * v, **params))) / (2 * h)
    np.testing.assert_allclose(np.sum(dx * v), fd, rtol=1e-4)


# ---------------------------------------------------------------- ELU, sigmoid, tanh


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("shape", SHAPES)
def test_elementwise_forward_backward(rng, simd, name, shape):
    fwd, bwd, f, fprime = ELEMENTWISE[name]
    x = randn(rng, shape)
    y = np.full(shape, np.nan, np.float32)
    fwd(x, y)
    np.testing.assert_allclose(y, f(x), rtol=2e-6, atol=1e-7)
    dy = randn(rng, shape)
    dx0 = randn(rng, shape)
    dx = dx0.copy()
    bwd(x, y, dy, dx)
    np.testing.assert_allclose(dx, dx0 + dy * fprime(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_finite_differences(rng, name):
    fwd, bwd, f, _ = ELEMENTWISE[name]
    x = away_from(randn(rng, (5, 23)), [0.0], 1e-2)  # ELU's kink in the second derivative
    y = np.empty_like(x)
    fwd(x, y)
    dy = randn(rng, x.shape)
    dx = np.zeros_like(x)
    bwd(x, y, dy, dx)
    v = rng.standard_normal(x.shape)
    h = 1e-4
    x64 = x.astype(np.float64)
    fd = (np.sum(dy * f(x64 + h * v)) - np.sum(dy * f(x64 - h * v))) / (2 * h)
    np.testing.assert_allclose(np.sum(dx * v), fd, rtol=1e-4)


def test_sigmoid_stable_for_large_inputs():
    x = np.array([-1e4, -200.0, -88.0, -30.0, 0.0, 30.0, 88.0, 200.0, 1e4], np.float32)
    y = np.empty_like(x)
    _C.sigmoid_forward(x, y)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, ref.sigmoid_ref(x), rtol=1e-6, atol=1e-45)
    assert y[0] == 0.0 and y[-1] == 1.0 and y[4] == 0.5
    assert y[3] > 0  # exp(-30) survives: no 1 - (1 - tiny) cancellation on the negative side


def test_tanh_and_elu_extremes():
    x = np.array([-1e4, -50.0, 50.0, 1e4], np.float32)
    y = np.empty_like(x)
    _C.tanh_forward(x, y)
    np.testing.assert_array_equal(y, [-1, -1, 1, 1])
    _C.elu_forward(x, y, alpha=2.0)
    np.testing.assert_array_equal(y, [-2, -2, 50, 1e4])


def test_transcendentals_accurate_across_magnitudes():
    # Both signs, from subnormal to saturated, crossing the 2^-12 switch to the series.
    mag = np.concatenate([np.logspace(-40, 1.5, 3000), [2.0**-12, np.nextafter(2.0**-12, 0)]])
    x = np.concatenate([mag, -mag, [0.0, -0.0]]).astype(np.float32)
    y = np.empty_like(x)
    _C.tanh_forward(x, y)
    np.testing.assert_allclose(y, np.tanh(x.astype(np.float64)), rtol=1.2e-7, atol=0)
    assert np.array_equal(np.signbit(y), np.signbit(x))
    _C.elu_forward(x, y, alpha=1.5)
    np.testing.assert_allclose(y, ref.elu_ref(x, 1.5), rtol=1.2e-7, atol=1e-44)  # subnormals
    _C.sigmoid_forward(x, y)
    np.testing.assert_allclose(y, ref.sigmoid_ref(x), rtol=2.5e-7, atol=0)


@pytest.mark.parametrize("name", ["relu", "elu", "sigmoid", "tanh"])
def test_nan_propagates(name):
    fwd = {"relu": _C.relu_forward, "elu": _C.elu_forward, "sigmoid": _C.sigmoid_forward,
           "tanh": _C.tanh_forward}[name]
    x = np.array([np.nan, 1.0, -1.0, np.nan], np.float32)
    y = np.zeros_like(x)
    fwd(x, y)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))


# ---------------------------------------------------------------- softmax


@pytest.mark.parametrize("shape", [(1,), (10,), (3, 10), (2, 3, 7), (5, 1), (1, 33), (4, 129)])
def test_softmax_forward_backward(rng, simd, shape):
    x = randn(rng, shape, 3.0)
    y = np.full(shape, np.nan, np.float32)
    _C.softmax_forward(x, y)
    np.testing.assert_allclose(y, ref.softmax_ref(x), rtol=1e-6, atol=1e-8)
    dy = randn(rng, shape)
    dx0 = randn(rng, shape)
    dx = dx0.copy()
    _C.softmax_backward(y, dy, dx)
    np.testing.assert_allclose(dx, dx0 + ref.softmax_backward_ref(y, dy), rtol=1e-5, atol=1e-6)


def test_softmax_large_logits_and_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = randn(rng, (6, 11), 3.0)
    x[0] += 1e4  # overflows exp without the max subtraction
    x[1] -= 1e4
    y = np.empty_like(x)
    _C.softmax_forward(x, y)
    assert np.all(np.isfinite(y))
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    yt = torch.softmax(xt, dim=-1)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-6, atol=1e-8)
    dy = randn(rng, x.shape)
    (yt * torch.tensor(dy.astype(np.float64))).sum().backward()
    dx = np.zeros_like(x)
    _C.softmax_backward(y, dy, dx)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_softmax_finite_differences(rng):
    x = randn(rng, (4, 9))
    y = np.empty_like(x)
    _C.softmax_forward(x, y)
    dy = randn(rng, x.shape)
    dx = np.zeros_like(x)
    _C.softmax_backward(y, dy, dx)
    v = rng.standard_normal(x.shape)
    h = 1e-4
    x64 = x.astype(np.float64)
    fd = (np.sum(dy * ref.softmax_ref(x64 + h * v))
          - np.sum(dy * ref.softmax_ref(x64 - h * v))) / (2 * h)
    np.testing.assert_allclose(np.sum(dx * v), fd, rtol=1e-4)


def test_activation_parity_with_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = randn(rng, (3, 41))
    t = torch.tensor(x.astype(np.float64))
    y = np.empty_like(x)
    for ours, theirs in [
        (lambda: _C.relu_forward(x, y), F.relu(t)),
        (lambda: _C.relu_forward(x, y, negative_slope=0.2), F.leaky_relu(t, 0.2)),
        (lambda: _C.relu_forward(x, y, max_value=6.0), F.relu6(t)),
        (lambda: _C.elu_forward(x, y, alpha=0.7), F.elu(t, alpha=0.7)),
        (lambda: _C.sigmoid_forward(x, y), torch.sigmoid(t)),
        (lambda: _C.tanh_forward(x, y), torch.tanh(t)),
        (lambda: _C.silu_forward(x, y), F.silu(t)),
        (lambda: _C.gelu_forward(x, y), F.gelu(t)),
    ]:
        ours()
        np.testing.assert_allclose(y, theirs.numpy(), rtol=2e-6, atol=1e-7)


def test_relu_parity_with_keras(rng):
    """The general form matches keras.activations.relu (torch backend) off the kinks, for the
    hyperparameters Keras's ReLU layer accepts (threshold, max_value, negative_slope >= 0;
    with a negative threshold Keras's clip to [0, max_value] zeroes threshold < x < 0)."""
    pytest.importorskip("torch")
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras is not on the torch backend")
    x = randn(rng, (4, 50))
    for kw in [dict(), dict(negative_slope=0.25), dict(max_value=1.5), dict(threshold=0.5),
               dict(negative_slope=0.125, threshold=0.5, max_value=2.0)]:
        xk = away_from(x, [kw.get("threshold", 0.0), kw.get("max_value")], 1e-3)
        want = keras.activations.relu(xk, **kw).detach().cpu().numpy()
        y = np.empty_like(xk)
        _C.relu_forward(xk, y, **kw)
        np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-7)


def test_silu_gelu_parity_with_keras_and_large_inputs(rng):
    """silu and gelu match keras.activations (torch backend), including their layer and model
    use through `activation='silu'` / `'swish'` / `'gelu'`; extreme inputs stay finite."""
    pytest.importorskip("torch")
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    import dlc

    x = randn(rng, (4, 50))
    for name in ("silu", "swish", "gelu"):
        # Keras on torch loses a few float32 digits in gelu's negative tail (dlc's erfc form
        # matches the float64 reference to 2e-6, see test_elementwise_forward_backward)
        want = keras.ops.convert_to_numpy(keras.activations.get(name)(x))
        np.testing.assert_allclose(dlc.activations.get(name)(x), want, rtol=2e-6, atol=1e-6)
    big = np.array([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4], np.float32)
    for fwd, bwd in ((_C.silu_forward, _C.silu_backward), (_C.gelu_forward, _C.gelu_backward)):
        y, dx = np.empty_like(big), np.zeros_like(big)
        fwd(big, y)
        bwd(big, np.ones_like(big), dx)
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
        np.testing.assert_allclose(y[-3:], big[-3:], rtol=1e-6)
        np.testing.assert_allclose(dx[[0, -1]], [0.0, 1.0], atol=1e-6)
    km = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(5, activation="gelu"),
                           keras.layers.Dense(3, activation="swish")])
    dm = dlc.Sequential([dlc.Input(shape=(6,)), dlc.layers.Dense(5, activation="gelu"),
                         dlc.layers.Dense(3, activation="swish")])
    dm.set_weights(km.get_weights())
    xs = randn(rng, (7, 6))
    np.testing.assert_allclose(dm.predict(xs, verbose=0), keras.ops.convert_to_numpy(km(xs)), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- in place, threads, SIMD

FORWARDS = {
    "relu": lambda x, y: _C.relu_forward(x, y, negative_slope=0.1, max_value=2.0),
    "elu": _C.elu_forward,
    "sigmoid": _C.sigmoid_forward,
    "tanh": _C.tanh_forward,
    "silu": _C.silu_forward,
    "gelu": _C.gelu_forward,
    "softmax": _C.softmax_forward,
}


@pytest.mark.parametrize("name", sorted(FORWARDS))
def test_forward_in_place(rng, name):
    x = randn(rng, (3, 50))
    want = np.empty_like(x)
    FORWARDS[name](x, want)
    buf = x.copy()
    FORWARDS[name](buf, buf)
    np.testing.assert_array_equal(buf, want)


def _all_kernels(rng, n_rows, k):
    """Runs every forward and backward on (n_rows, k) data; returns all outputs."""
    x = randn(rng, (n_rows, k))
    dy = randn(rng, (n_rows, k))
    out = {}
    for name, fwd in FORWARDS.items():
        y = np.empty_like(x)
        fwd(x, y)
        out[name] = y
    grads = {
        "relu": lambda dx: _C.relu_backward(x, dy, dx, negative_slope=0.1, max_value=2.0),
        "elu": lambda dx: _C.elu_backward(x, out["elu"], dy, dx),
        "sigmoid": lambda dx: _C.sigmoid_backward(out["sigmoid"], dy, dx),
        "tanh": lambda dx: _C.tanh_backward(out["tanh"], dy, dx),
        "silu": lambda dx: _C.silu_backward(x, dy, dx),
        "gelu": lambda dx: _C.gelu_backward(x, dy, dx),
        "softmax": lambda dx: _C.softmax_backward(out["softmax"], dy, dx),
    }
    for name, g in grads.items():
        dx = np.full_like(x, 0.25)
        g(dx)
        out["d" + name] = dx
    return out


def test_threads_bit_identical(threads):
    # 300 x 257 = 77k values: above the parallel threshold, not a multiple of the block.
    res = []
    for t in (1, 2):
        threads(t)
        res.append(_all_kernels(np.random.default_rng(5), 300, 257))
    for name in res[0]:
        assert np.array_equal(res[0][name], res[1][name], equal_nan=True), name
    # The parallel branches against the references too.
    rng = np.random.default_rng(5)
    x = randn(rng, (300, 257))
    dy = randn(rng, (300, 257))
    out = res[0]
    relu_kw = dict(negative_slope=float(np.float32(0.1)), max_value=2.0)
    np.testing.assert_allclose(out["relu"], ref.relu_ref(x, **relu_kw), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out["elu"], ref.elu_ref(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out["sigmoid"], ref.sigmoid_ref(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out["tanh"], ref.tanh_ref(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out["softmax"], ref.softmax_ref(x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(out["drelu"], 0.25 + dy * ref.relu_grad_ref(x, **relu_kw),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["delu"], 0.25 + dy * ref.elu_grad_ref(x), rtol=1e-5, atol=1e-6)
    s = ref.sigmoid_ref(x)
    np.testing.assert_allclose(out["dsigmoid"], 0.25 + dy * s * (1 - s), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["dtanh"], 0.25 + dy * (1 - np.tanh(x.astype(np.float64)) ** 2),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["dsoftmax"], 0.25 + ref.softmax_backward_ref(out["softmax"], dy),
                               rtol=1e-5, atol=1e-6)
    for name in ("silu", "gelu"):
        f, fprime = getattr(ref, f"{name}_ref"), getattr(ref, f"{name}_grad_ref")
        np.testing.assert_allclose(out[name], f(x), rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose(out["d" + name], 0.25 + dy * fprime(x), rtol=1e-5, atol=1e-6)


def test_simd_paths_bit_identical():
    helpers.assert_same_bits_at_every_simd_level(lambda: _all_kernels(np.random.default_rng(6), 37, 45))


def test_empty_arrays():
    x = np.empty((0, 3), np.float32)
    y = np.empty_like(x)
    _C.relu_forward(x, y)
    _C.softmax_forward(x, y)
    _C.softmax_backward(x, x.copy(), y)


# ---------------------------------------------------------------- binding refusals


def _snapshot(*arrays):
    return [a.copy() for a in arrays]


def _unchanged(before, arrays):
    return all(np.array_equal(b, a, equal_nan=True) for b, a in zip(before, arrays))


def test_forward_refusals(rng):
    x = randn(rng, (4, 6))
    y = np.zeros_like(x)
    before = _snapshot(x, y)
    with pytest.raises(TypeError, match="relu_forward.*'x'.*float32"):
        _C.relu_forward(x.astype(np.float64), y)
    with pytest.raises(ValueError, match="sigmoid_forward.*'x'.*C-contiguous"):
        _C.sigmoid_forward(np.zeros((6, 4), np.float32).T, y)
    ro = np.zeros_like(x)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="tanh_forward.*'y'.*read-only"):
        _C.tanh_forward(x, ro)
    with pytest.raises(ValueError, match=r"elu_forward.*'y'.*\(4, 6\).*\(4, 5\)"):
        _C.elu_forward(x, np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="softmax_forward.*0-d"):
        _C.softmax_forward(np.ones((), np.float32), np.ones((), np.float32))
    with pytest.raises(TypeError, match="max_value"):
        _C.relu_forward(x, y, max_value="six")
    with pytest.raises(ValueError, match="negative_slope"):
        _C.relu_forward(x, y, negative_slope=float("nan"))
    with pytest.raises(ValueError, match="max_value"):
        _C.relu_forward(x, y, max_value=float("nan"))
    with pytest.raises(ValueError, match="alpha"):
        _C.elu_forward(x, y, alpha=float("inf"))
    with pytest.raises(TypeError):
        _C.relu_forward(x, y, 0.1)  # hyperparameters are keyword-only
    assert _unchanged(before, [x, y])


@pytest.mark.parametrize("name", sorted(FORWARDS))
def test_forward_refuses_partial_overlap(rng, name):
    buf = randn(rng, (2, 65))
    before = buf.copy()
    x = buf.reshape(-1)[:64].reshape(2, 32)
    y = buf.reshape(-1)[1:65].reshape(2, 32)
    with pytest.raises(ValueError, match="share memory"):
        FORWARDS[name](x, y)
    np.testing.assert_array_equal(buf, before)


def test_backward_refusals(rng):
    x = randn(rng, (3, 8))
    y = np.empty_like(x)
    _C.sigmoid_forward(x, y)
    dy = randn(rng, x.shape)
    dx = np.zeros_like(x)
    before = _snapshot(x, y, dy, dx)
    with pytest.raises(ValueError, match="relu_backward.*'dx'.*'x'"):
        _C.relu_backward(x, dy, x)
    with pytest.raises(ValueError, match="sigmoid_backward.*'dx'.*'dy'"):
        _C.sigmoid_backward(y, dy, dy)
    with pytest.raises(ValueError, match="elu_backward.*'dx'.*'y'"):
        _C.elu_backward(x, y, dy, y)
    with pytest.raises(ValueError, match=r"tanh_backward.*'dy'.*\(3, 8\)"):
        _C.tanh_backward(y, dy[:, :4].copy(), dx)
    with pytest.raises(ValueError, match=r"softmax_backward.*'dx'.*\(3, 8\)"):
        _C.softmax_backward(y, dy, np.zeros((8, 3), np.float32))
    with pytest.raises(TypeError, match="softmax_backward.*'dy'.*float32"):
        _C.softmax_backward(y, dy.astype(np.float16), dx)
    ro = np.zeros_like(x)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.relu_backward(x, dy, ro)
    assert _unchanged(before, [x, y, dy, dx])
