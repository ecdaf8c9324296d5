"""LayerNormalization (csrc/layernorm.c, dlc/layers/layer_normalization.py): the kernels against
float64 references on edge shapes, finite differences, accumulation, every SIMD path, 1 vs 2
threads, refusals; torch's layer_norm (float64 autograd) and Keras 3's layer (values, trailing
axes, center / scale off, configs, three training steps)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import keras, requires_keras, requires_torch, torch  # noqa: E402

import dlc  # noqa: E402
from dlc import _C  # noqa: E402
from dlc import layers as L  # noqa: E402
import helpers  # noqa: E402
import reference as R  # noqa: E402

SHAPES = [(1, 1), (1, 7), (5, 3), (33, 10), (17, 129), (3, 200)]


def _affine(rng, k, scale, center):
    g = rng.standard_normal(k).astype(np.float32) if scale else None
    b = rng.standard_normal(k).astype(np.float32) if center else None
    return g, b


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale,center", [(True, True), (True, False), (False, True), (False, False)])
def test_kernels_match_reference(rng, simd, shape, scale, center):
    m, k = shape
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    g, b = _affine(rng, k, scale, center)
    y, mean, invstd = np.full_like(x, np.nan), np.empty(m, np.float32), np.empty(m, np.float32)
    _C.layernorm_forward(x, g, b, y, mean, invstd, epsilon=1e-3)
    y_ref, m_ref, s_ref = R.layernorm_ref(x, g, b, 1e-3)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(mean, m_ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(invstd, s_ref, rtol=1e-6)
    dy = rng.standard_normal(shape).astype(np.float32)
    dx0, dg0, db0 = (rng.standard_normal(a.shape).astype(np.float32) for a in (x, mean[:1].repeat(k), mean[:1].repeat(k)))
    dx, dg, db = dx0.copy(), dg0.copy(), db0.copy()
    _C.layernorm_backward(x, dy, g, mean, invstd, dx, dg if scale else None, db if center else None)
    dx_ref, dg_ref, db_ref = R.layernorm_backward_ref(x, dy, g, 1e-3)
    np.testing.assert_allclose(dx - dx0, dx_ref, rtol=1e-4, atol=1e-5)
    if scale:
        np.testing.assert_allclose(dg - dg0, dg_ref, rtol=1e-5, atol=1e-5)
    if center:
        np.testing.assert_allclose(db - db0, db_ref, rtol=1e-5, atol=1e-5)


def test_backward_matches_finite_differences(rng):
    m, k = 6, 11
    x = rng.standard_normal((m, k)).astype(np.float32)
    g, b = _affine(rng, k, True, True)
    dy = rng.standard_normal((m, k)).astype(np.float32)
    y, mean, invstd = np.empty_like(x), np.empty(m, np.float32), np.empty(m, np.float32)
    _C.layernorm_forward(x, g, b, y, mean, invstd)
    dx, dg, db = np.zeros_like(x), np.zeros(k, np.float32), np.zeros(k, np.float32)
    _C.layernorm_backward(x, dy, g, mean, invstd, dx, dg, db)

    def f(xx, gg, bb):
        return float((dy * R.layernorm_ref(xx, gg, bb)[0]).sum())

    helpers.assert_directional_fd(f, (x, g, b), ((dx, 0), (dg, 1), (db, 2)), rng, rel=1e-5, abs=1e-6)


def test_constant_rows_and_large_offsets(rng):
    """A constant row normalizes to beta (variance 0, no NaN); a large common offset does not
    cancel the variance (two passes in double)."""
    x = np.full((2, 5), 3.0, np.float32)
    x[1] = 1e4 + np.arange(5, dtype=np.float32)
    y, mean, invstd = np.empty_like(x), np.empty(2, np.float32), np.empty(2, np.float32)
    _C.layernorm_forward(x, None, np.full(5, 0.5, np.float32), y, mean, invstd)
    np.testing.assert_array_equal(y[0], 0.5)
    np.testing.assert_allclose(y[1], R.layernorm_ref(x[1:], None, np.full(5, 0.5))[0][0], rtol=1e-5)


def test_threads_and_simd_paths_bit_identical(rng, simd, threads):
    m, k = 257, 203  # above the parallel threshold, columns not a multiple of the blocks
    x = rng.standard_normal((m, k)).astype(np.float32)
    g, b = _affine(rng, k, True, True)
    dy = rng.standard_normal((m, k)).astype(np.float32)

    def run():
        y, mean, invstd = np.empty_like(x), np.empty(m, np.float32), np.empty(m, np.float32)
        _C.layernorm_forward(x, g, b, y, mean, invstd)
        dx, dg, db = np.ones_like(x), np.ones(k, np.float32), np.ones(k, np.float32)
        _C.layernorm_backward(x, dy, g, mean, invstd, dx, dg, db)
        return y, mean, invstd, dx, dg, db

    helpers.assert_bits_same_threads_and_simd(run, threads, simd)


def test_binding_refusals_leave_everything_unchanged(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y, mean, invstd = np.full_like(x, 7.0), np.zeros(4, np.float32), np.zeros(4, np.float32)
    x0 = x.copy()
    with pytest.raises(ValueError, match="'gamma'"):
        _C.layernorm_forward(x, np.ones(4, np.float32), None, y, mean, invstd)
    with pytest.raises(ValueError, match="'mean'"):
        _C.layernorm_forward(x, None, None, y, np.zeros(5, np.float32), invstd)
    with pytest.raises(ValueError, match="epsilon"):
        _C.layernorm_forward(x, None, None, y, mean, invstd, epsilon=-1.0)
    with pytest.raises(ValueError, match="share memory"):
        _C.layernorm_forward(x, None, None, x, mean, invstd)
    with pytest.raises(ValueError, match="channel"):
        _C.layernorm_forward(np.zeros((3, 0), np.float32), None, None, np.zeros((3, 0), np.float32),
                             np.zeros(3, np.float32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="'dy'"):
        _C.layernorm_backward(x, x[:3].copy(), None, mean, invstd, None, None, None)
    assert np.array_equal(x, x0) and (y == 7.0).all()
    e = np.zeros((0, 3), np.float32)  # an empty batch is a no-op
    _C.layernorm_forward(e, None, None, e.copy(), np.zeros(0, np.float32), np.zeros(0, np.float32))


# ---------------------------------------------------------------- the layer

@requires_torch
@pytest.mark.parametrize("shape,axis", [((4, 9), -1), ((3, 5, 6), -1), ((2, 4, 3, 5), [1, 2, 3]),
                                        ((2, 4, 3, 5), [-2, -1])])
def test_layer_matches_torch_layer_norm(rng, shape, axis):
    x = rng.standard_normal(shape).astype(np.float32)
    layer = L.LayerNormalization(axis=axis, epsilon=1e-5)
    model = helpers.layer_model(layer, x)
    layer.gamma.value[...] = rng.standard_normal(layer.gamma.shape)
    layer.beta.value[...] = rng.standard_normal(layer.beta.shape)
    dy = rng.standard_normal(shape).astype(np.float32)
    y, dx = helpers.forward_backward(model, x, dy)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    gt = torch.tensor(layer.gamma.value, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(layer.beta.value, dtype=torch.float64, requires_grad=True)
    yt = torch.nn.functional.layer_norm(xt, gt.shape, gt, bt, 1e-5)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    assert layer.gamma.shape == tuple(gt.shape)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.gamma.grad, gt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.beta.grad, bt.grad.numpy(), rtol=1e-5, atol=1e-5)


@requires_keras
@pytest.mark.parametrize("shape,kwargs", [
    ((4, 9), {}), ((3, 5, 6), {"epsilon": 1e-6}), ((2, 4, 3, 5), {"axis": [1, 2, 3]}),
    ((2, 4, 3, 5), {"axis": [-2, -1], "center": False}), ((5, 7), {"scale": False}),
    ((5, 7), {"axis": 1, "scale": False, "center": False}),
])
def test_layer_matches_keras(rng, shape, kwargs):
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    kl = keras.layers.LayerNormalization(**kwargs)
    kl(x)
    weights = [w + rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in kl.get_weights()]
    kl.set_weights(weights)
    dl = L.LayerNormalization(**kwargs)
    dl(L.Input(shape=shape[1:]))
    assert [w.shape for w in dl.get_weights()] == [w.shape for w in weights]
    dl.set_weights(weights)
    np.testing.assert_allclose(dl(x), keras.ops.convert_to_numpy(kl(x)), rtol=1e-5, atol=1e-5)
    config = dl.get_config()
    theirs = kl.get_config()
    for key in ("epsilon", "center", "scale", "rms_scaling"):
        assert config[key] == theirs[key], key
    assert L.LayerNormalization.from_config(config).get_config() == config


@requires_keras
def test_training_steps_match_keras():
    def build(lib):
        Lk = lib.layers
        return lib.models.Sequential([Lk.Input((6,)), Lk.Dense(8), Lk.LayerNormalization(), Lk.Dense(3)])

    km, dm = build(keras), build(dlc)
    dm.set_weights(km.get_weights())
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    dm.compile(optimizer=dlc.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.standard_normal((16, 6)).astype(np.float32)
        y = rng.standard_normal((16, 3)).astype(np.float32)
        lk, ld = float(np.asarray(km.train_on_batch(x, y))), float(dm.train_on_batch(x, y))
        assert ld == pytest.approx(lk, rel=1e-5)
    for a, b in zip(km.get_weights(), dm.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_layer_refusals():
    with pytest.raises(TypeError, match="axis"):
        L.LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="epsilon"):
        L.LayerNormalization(epsilon=0.0)
    with pytest.raises(NotImplementedError, match="rms_scaling"):
        L.LayerNormalization(rms_scaling=True)
    with pytest.raises(NotImplementedError, match="gamma_constraint"):
        L.LayerNormalization(gamma_constraint="non_neg")
    with pytest.raises(NotImplementedError, match="trailing axes"):
        L.LayerNormalization(axis=1)(L.Input((4, 5)))
    with pytest.raises(NotImplementedError, match="trailing axes"):
        L.LayerNormalization(axis=[1, 3])(L.Input((4, 5, 6)))
    with pytest.raises(NotImplementedError, match="batch axis"):
        L.LayerNormalization(axis=[0, 1])(L.Input((4,)))
    with pytest.raises(ValueError, match="out of bounds"):
        L.LayerNormalization(axis=3)(L.Input((4, 5)))
    with pytest.raises(ValueError, match="known sizes"):
        L.LayerNormalization()(L.Input((4, None)))


def test_frozen_layer_leaves_its_gradients(rng):
    layer = L.LayerNormalization(trainable=False)
    inp = L.Input((5,))
    model = dlc.models.Model(inp, L.Dense(3)(layer(inp)))
    model.compile(optimizer="sgd", loss="mse")
    before = layer.get_weights()
    model.fit(rng.standard_normal((8, 5)).astype(np.float32), rng.standard_normal((8, 3)).astype(np.float32),
              epochs=1, verbose=0)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
