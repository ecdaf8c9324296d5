"""LocallyConnected2D (csrc/locally_connected.c, dlc/layers/locally_connected.py): the kernels
against Keras 2's formula in float64 and against torch (unfold, float64 autograd) on edge shapes,
finite differences, accumulation, every SIMD path, 1 vs 2 threads, binding refusals; the layer's
arguments, weights, config and gradients inside a model."""
import numpy as np
import pytest

from conftest import requires_torch, torch  # noqa: E402

import dlc
from dlc import _C
from dlc import layers as L
from dlc.models import Sequential
import helpers
import reference as R

# (n, h, w, c), kernel_size, strides, filters: batch 1, 1x1 and whole-input windows, strides
# that skip columns, filter counts below / not a multiple of / above the 8 lanes
CASES = [
    ((1, 1, 1, 1), (1, 1), (1, 1), 1),
    ((1, 4, 5, 2), (2, 3), (1, 1), 3),
    ((2, 5, 5, 3), (3, 3), (2, 2), 8),
    ((3, 7, 6, 1), (2, 2), (3, 2), 17),
    ((2, 6, 4, 5), (6, 4), (1, 1), 9),   # the window is the whole input: oh = ow = 1
    ((2, 3, 8, 4), (1, 1), (1, 3), 2),
]


def _case(rng, shape, kernel_size, strides, filters):
    n, h, w, c = shape
    oh, ow = (h - kernel_size[0]) // strides[0] + 1, (w - kernel_size[1]) // strides[1] + 1
    x = rng.standard_normal(shape).astype(np.float32)
    wt = rng.standard_normal((oh * ow, kernel_size[0] * kernel_size[1] * c, filters)).astype(np.float32)
    b = rng.standard_normal((oh, ow, filters)).astype(np.float32)
    dy = rng.standard_normal((n, oh, ow, filters)).astype(np.float32)
    return x, wt, b, dy


@pytest.mark.parametrize("shape,kernel_size,strides,filters", CASES)
def test_kernels_match_keras2_formula(rng, simd, shape, kernel_size, strides, filters):
    x, w, b, dy = _case(rng, shape, kernel_size, strides, filters)
    hyper = dict(kernel_size=kernel_size, strides=strides)
    y = np.full(dy.shape, np.nan, np.float32)
    _C.local2d_forward(x, w, b, y, **hyper)
    np.testing.assert_allclose(y, R.local2d_forward(x, w, b, kernel_size, strides), rtol=1e-5, atol=1e-5)
    _C.local2d_forward(x, w, None, y, **hyper)
    np.testing.assert_allclose(y, R.local2d_forward(x, w, None, kernel_size, strides), rtol=1e-5, atol=1e-5)
    # gradients accumulate into what is there
    dx0 = rng.standard_normal(x.shape).astype(np.float32)
    dw0 = rng.standard_normal(w.shape).astype(np.float32)
    db0 = rng.standard_normal(b.shape).astype(np.float32)
    dx, dw, db = dx0.copy(), dw0.copy(), db0.copy()
    _C.local2d_backward_data(dy, w, dx, **hyper)
    _C.local2d_backward_weights(x, dy, dw, db, **hyper)
    np.testing.assert_allclose(dx - dx0, R.local2d_backward_data(dy, w, x.shape, kernel_size, strides),
                               rtol=1e-4, atol=1e-5)
    dw_ref, db_ref = R.local2d_backward_weights(x, dy, kernel_size, strides)
    np.testing.assert_allclose(dw - dw0, dw_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(db - db0, db_ref, rtol=1e-5, atol=1e-5)
    dw2 = dw0.copy()
    _C.local2d_backward_weights(x, dy, dw2, None, **hyper)  # db may be None
    assert np.array_equal(dw2, dw)


@pytest.mark.parametrize("shape,kernel_size,strides,filters", CASES[1:4])
def test_gradients_match_finite_differences(rng, shape, kernel_size, strides, filters):
    x, w, b, dy = _case(rng, shape, kernel_size, strides, filters)
    hyper = dict(kernel_size=kernel_size, strides=strides)
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
    _C.local2d_backward_data(dy, w, dx, **hyper)
    _C.local2d_backward_weights(x, dy, dw, db, **hyper)

    def f(xx, ww, bb):
        return float((dy * R.local2d_forward(xx, ww, bb, kernel_size, strides)).sum())

    helpers.assert_directional_fd(f, (x, w, b), ((dx, 0), (dw, 1), (db, 2)), rng, rel=1e-5, abs=1e-5)


@requires_torch
@pytest.mark.parametrize("shape,kernel_size,strides,filters", CASES)
def test_kernels_match_torch_unfold(rng, shape, kernel_size, strides, filters):
    """torch as the second oracle: F.unfold gives each position's patch (channel-major), reordered
    to Keras's (rows, cols, channels); autograd gives the gradients, in float64."""
    x, w, b, dy = _case(rng, shape, kernel_size, strides, filters)
    n, h, wd, c = shape
    kh, kw = kernel_size
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    cols = torch.nn.functional.unfold(xt.permute(0, 3, 1, 2), kernel_size, stride=strides)  # (n, c*kh*kw, P)
    cols = cols.reshape(n, c, kh, kw, -1).permute(0, 4, 2, 3, 1).reshape(n, -1, kh * kw * c)
    yt = torch.einsum("npk,pkf->npf", cols, wt).reshape(dy.shape) + bt
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    hyper = dict(kernel_size=kernel_size, strides=strides)
    y, dx, dw, db = np.empty_like(dy), np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
    _C.local2d_forward(x, w, b, y, **hyper)
    _C.local2d_backward_data(dy, w, dx, **hyper)
    _C.local2d_backward_weights(x, dy, dw, db, **hyper)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_threads_and_simd_paths_bit_identical(rng, simd, threads):
    """Above the parallel threshold: 1 and 2 threads at this level give the portable path's bits."""
    shape, ks, st, nf = (5, 11, 9, 3), (3, 2), (1, 2), 13
    x, w, b, dy = _case(rng, shape, ks, st, nf)
    hyper = dict(kernel_size=ks, strides=st)

    def run():
        y, dx, dw, db = np.empty_like(dy), np.ones_like(x), np.ones_like(w), np.ones_like(b)
        _C.local2d_forward(x, w, b, y, **hyper)
        _C.local2d_backward_data(dy, w, dx, **hyper)
        _C.local2d_backward_weights(x, dy, dw, db, **hyper)
        return y, dx, dw, db

    helpers.assert_bits_same_threads_and_simd(run, threads, simd)


def test_binding_refusals_leave_everything_unchanged(rng):
    x, w, b, dy = _case(rng, (2, 5, 5, 3), (3, 3), (1, 1), 4)
    y = np.full(dy.shape, 7.0, np.float32)
    x0, w0 = x.copy(), w.copy()
    hyper = dict(kernel_size=(3, 3))
    with pytest.raises(TypeError, match="kernel_size"):
        _C.local2d_forward(x, w, b, y)
    with pytest.raises(ValueError, match=r"'w' must have shape \(9, 27, 4\)"):
        _C.local2d_forward(x, w[:, :26].copy(), b, y, **hyper)
    with pytest.raises(ValueError, match="'b'"):
        _C.local2d_forward(x, w, b[:2].copy(), y, **hyper)
    with pytest.raises(ValueError, match="'y'"):
        _C.local2d_forward(x, w, b, y[:, :2].copy(), **hyper)
    with pytest.raises(ValueError, match="must fit"):
        _C.local2d_forward(x, w, b, y, kernel_size=(6, 3))
    with pytest.raises(ValueError, match="strides"):
        _C.local2d_forward(x, w, b, y, kernel_size=(3, 3), strides=(0, 1))
    with pytest.raises(ValueError, match="filters"):
        _C.local2d_forward(x, np.zeros((9, 27, 0), np.float32), None, np.zeros((2, 3, 3, 0), np.float32), **hyper)
    with pytest.raises(ValueError, match="positive sizes"):
        _C.local2d_forward(np.zeros((0, 5, 5, 3), np.float32), w, b, np.zeros((0, 3, 3, 4), np.float32), **hyper)
    with pytest.raises(TypeError, match="'x'"):
        _C.local2d_forward(x.astype(np.float64), w, b, y, **hyper)
    with pytest.raises(ValueError, match="'dx' must be C-contiguous"):
        _C.local2d_backward_data(dy, w, np.zeros((2, 5, 5, 6), np.float32)[..., ::2], **hyper)
    with pytest.raises(ValueError, match="share memory"):  # y written over x
        _C.local2d_forward(x, w, b, x.reshape(-1)[:y.size].reshape(y.shape), **hyper)
    assert np.array_equal(x, x0) and np.array_equal(w, w0) and (y == 7.0).all()


# ---------------------------------------------------------------- the layer

def test_layer_arguments_shapes_and_config():
    layer = L.LocallyConnected2D(4, 3, strides=(2, 1), activation="relu", implementation=2)
    assert layer.compute_output_shape((None, 7, 6, 2)) == (None, 3, 4, 4)
    model = Sequential([L.Input((7, 6, 2)), layer])
    assert [v.shape for v in layer.weights] == [(12, 18, 4), (3, 4, 4)]
    assert [v.name for v in layer.weights] == ["kernel", "bias"]
    config = layer.get_config()
    assert {k: config[k] for k in ("filters", "kernel_size", "strides", "padding", "data_format",
                                   "use_bias", "implementation")} == {
        "filters": 4, "kernel_size": [3, 3], "strides": [2, 1], "padding": "valid",
        "data_format": "channels_last", "use_bias": True, "implementation": 2}
    again = L.LocallyConnected2D.from_config(config)
    assert again.get_config() == config
    assert model.count_params() == 12 * 18 * 4 + 12 * 4
    assert L.LocallyConnected2D(2, 2).name.startswith("locally_connected2d")
    assert L.LocallyConnected2D(2, 2, use_bias=False).compute_output_shape((None, 3, 3, 1)) == (None, 2, 2, 2)


def test_layer_refusals():
    with pytest.raises(NotImplementedError, match="'same'.*ZeroPadding2D"):
        L.LocallyConnected2D(4, 3, padding="same")
    with pytest.raises(ValueError, match="padding"):
        L.LocallyConnected2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="implementation"):
        L.LocallyConnected2D(4, 3, implementation=4)
    with pytest.raises(ValueError, match="channels-last"):
        L.LocallyConnected2D(4, 3, data_format="channels_first")
    with pytest.raises(NotImplementedError, match="kernel_constraint"):
        L.LocallyConnected2D(4, 3, kernel_constraint="non_neg")
    with pytest.raises(ValueError, match="must be known"):
        L.LocallyConnected2D(4, 3)(L.Input((None, 5, 2)))
    with pytest.raises(ValueError, match="smaller than"):
        L.LocallyConnected2D(4, 3)(L.Input((2, 5, 2)))
    with pytest.raises(ValueError, match="4-D"):
        L.LocallyConnected2D(4, 3)(L.Input((5, 2)))


@requires_torch
@pytest.mark.parametrize("use_bias,activation", [(True, None), (True, "tanh"), (False, "relu")])
def test_layer_in_a_model_matches_torch(rng, use_bias, activation):
    """Forward, input gradient and weight gradients of the layer through the model executor."""
    x = rng.standard_normal((3, 6, 5, 2)).astype(np.float32)
    layer = L.LocallyConnected2D(3, (2, 3), strides=(2, 1), use_bias=use_bias, activation=activation)
    model = helpers.layer_model(layer, x)
    if use_bias:
        layer.bias.value[...] = rng.standard_normal(layer.bias.shape)
    dy = rng.standard_normal((3,) + model.output_shape[1:]).astype(np.float32)
    y, dx = helpers.forward_backward(model, x, dy)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(layer.kernel.value, dtype=torch.float64, requires_grad=True)
    cols = torch.nn.functional.unfold(xt.permute(0, 3, 1, 2), (2, 3), stride=(2, 1))
    cols = cols.reshape(3, 2, 2, 3, -1).permute(0, 4, 2, 3, 1).reshape(3, -1, 12)
    zt = torch.einsum("npk,pkf->npf", cols, wt).reshape(dy.shape)
    if use_bias:
        bt = torch.tensor(layer.bias.value, dtype=torch.float64, requires_grad=True)
        zt = zt + bt
    act = {None: lambda v: v, "tanh": torch.tanh, "relu": torch.relu}[activation]
    yt = act(zt)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.kernel.grad, wt.grad.numpy(), rtol=1e-4, atol=1e-5)
    if use_bias:
        np.testing.assert_allclose(layer.bias.grad, bt.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_model_gradient_matches_finite_differences(rng):
    """A small model LocallyConnected2D -> Flatten -> Dense trained with MSE: the loss gradient
    of every weight against central differences of the loss (float32 model, float64 sums)."""
    dlc.utils.set_random_seed(3)
    model = Sequential([L.Input((5, 4, 2)), L.LocallyConnected2D(3, 2, activation="tanh"), L.Flatten(),
                        L.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.standard_normal((4, 5, 4, 2)).astype(np.float32)
    y = rng.standard_normal((4, 2)).astype(np.float32)
    arena = model._ensure_arena()

    def loss():
        return float(np.mean((model.predict(x, verbose=0).astype(np.float64) - y) ** 2))

    with model._workspace() as ws:
        tape = model.run_forward(ws, [x], training=True)
        arena.zero_grads()
        dy = 2 * (tape.outputs[0] - y) / y.size
        model.run_backward(tape, [dy.astype(np.float32)])
    grads = arena.grads.copy()
    d = rng.standard_normal(arena.params.shape).astype(np.float32)
    p0, h = arena.params.copy(), 1e-3
    arena.params[...] = p0 + h * d
    lp = loss()
    arena.params[...] = p0 - h * d
    lm = loss()
    arena.params[...] = p0
    assert float((grads * d).sum()) == pytest.approx((lp - lm) / (2 * h), rel=1e-3)


def test_keras_2_weights_interchange(rng):
    """Weights set in Keras 2's layout give Keras 2's formula (implementation 1)."""
    layer = L.LocallyConnected2D(2, (2, 2), strides=(1, 2))
    layer._maybe_build((None, 4, 5, 3))
    w = rng.standard_normal((3 * 2, 12, 2)).astype(np.float32)
    b = rng.standard_normal((3, 2, 2)).astype(np.float32)
    layer.set_weights([w, b])
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(layer(x), R.local2d_forward(x, w, b, (2, 2), (1, 2)), rtol=1e-5, atol=1e-5)
