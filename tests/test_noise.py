"""Spatial dropout, Gaussian noise and Gaussian dropout (csrc/noise.c, dlc/layers/regularization.py):
the Philox normal stream against its float64 reference and its statistics, the kernels against
references, finite differences, every SIMD path and 1 vs 2 threads, refusals; the layers' masks
(whole channels, seeded, deterministic, training only), their gradients inside a model, configs
and Keras 3's layers (inference identity, the same statistics in training)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import keras, requires_keras  # noqa: E402

import dlc  # noqa: E402
from dlc import _C  # noqa: E402
from dlc import layers as L  # noqa: E402
import helpers  # noqa: E402
import reference as R  # noqa: E402


# ---------------------------------------------------------------- the normal stream

@pytest.mark.parametrize("n,seed,step", [(1, 0, 0), (7, 3, 9), (4098, 2**64 - 1, 2**63), (70001, 5, 1)])
def test_normals_match_reference(simd, n, seed, step):
    z = np.empty(n, np.float32)
    _C.philox_normal(z, seed=seed, step=step)
    np.testing.assert_allclose(z, R.philox_normal_ref(n, seed, step), rtol=1e-6, atol=1e-7)
    assert np.abs(z).max() <= np.sqrt(48 * np.log(2)) + 1e-6


def test_normal_statistics():
    n = 2_000_000
    z = np.empty(n, np.float32)
    _C.philox_normal(z, seed=2024, step=3)
    z = z.astype(np.float64)
    se = 1 / np.sqrt(n)
    assert abs(z.mean()) < 5 * se
    assert abs(z.std() - 1) < 5 * se
    assert abs((z ** 4).mean() - 3) < 5 * np.sqrt(96 / n)  # kurtosis of a normal
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 5 * np.sqrt(2 / n)  # the Box-Muller pairs
    assert abs((np.abs(z) > 1.96).mean() - 0.05) < 5 * np.sqrt(0.05 * 0.95 / n)


def test_noise_kernels_are_exact_functions_of_the_stream(rng):
    x = rng.standard_normal((5, 13)).astype(np.float32)
    z = np.empty_like(x)
    _C.philox_normal(z, seed=11, step=4)
    y = np.empty_like(x)
    _C.gaussian_noise_forward(x, y, stddev=0.3, seed=11, step=4)
    assert np.array_equal(y, x + np.float32(0.3) * z)
    noise = np.empty_like(x)
    _C.gaussian_dropout_forward(x, y, noise, stddev=0.7, seed=11, step=4)
    assert np.array_equal(noise, np.float32(1) + np.float32(0.7) * z)
    assert np.array_equal(y, x * noise)
    dy, dx0 = rng.standard_normal(x.shape).astype(np.float32), rng.standard_normal(x.shape).astype(np.float32)
    dx = dx0.copy()
    _C.gaussian_dropout_backward(noise, dy, dx)
    assert np.array_equal(dx, dx0 + dy * noise)
    other = np.empty_like(x)
    _C.gaussian_noise_forward(x, other, stddev=0.3, seed=11, step=5)
    assert not np.array_equal(other, x + np.float32(0.3) * z)


# ---------------------------------------------------------------- spatial dropout kernels

@pytest.mark.parametrize("shape,first", [((1, 1, 1), False), ((2, 5, 3), False), ((3, 4, 5, 6), False),
                                         ((3, 6, 4, 5), True), ((2, 3, 2, 4, 7), False), ((2, 7, 3, 2, 4), True)])
@pytest.mark.parametrize("rate", [0.0, 0.4])
def test_spatial_dropout_matches_reference(rng, simd, shape, first, rate):
    x = rng.standard_normal(shape).astype(np.float32)
    n, c = shape[0], shape[1 if first else -1]
    y, mask = np.full_like(x, np.nan), np.full((n, c), 9, np.uint8)
    _C.spatial_dropout_forward(x, y, mask, channels_first=first, rate=rate, seed=21, step=6)
    y_ref, m_ref = R.spatial_dropout_ref(x, rate, 21, 6, first)
    assert np.array_equal(mask, m_ref)
    # the mask Dropout draws for an (n, c) array
    dm = np.empty((n, c), np.uint8)
    _C.dropout_forward(np.ones((n, c), np.float32), np.empty((n, c), np.float32), dm, rate=rate, seed=21, step=6)
    assert np.array_equal(mask, dm)
    scale = np.float32(1) / (np.float32(1) - np.float32(rate))
    np.testing.assert_allclose(y, y_ref, rtol=1e-6)
    bshape = (n, c) + (1,) * (x.ndim - 2) if first else (n,) + (1,) * (x.ndim - 2) + (c,)
    assert np.array_equal(y, np.where(mask.reshape(bshape) == 1, x * scale, np.float32(0)))
    dy, dx0 = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    dx = dx0.copy()
    _C.spatial_dropout_backward(mask, dy, dx, channels_first=first, rate=rate)
    np.testing.assert_allclose(dx - dx0, np.where(mask.reshape(bshape) == 1, dy * scale, 0), rtol=1e-6, atol=1e-6)
    # linear for a fixed key: central differences of <dy, y(x)>
    d = rng.standard_normal(shape)
    f = lambda v: float((dy * R.spatial_dropout_ref(v, rate, 21, 6, first)[0]).sum())  # noqa: E731
    fd = (f(x + 1e-3 * d) - f(x - 1e-3 * d)) / 2e-3
    assert float(((dx - dx0) * d).sum()) == pytest.approx(fd, rel=1e-5, abs=1e-5)


def test_spatial_dropout_drops_inf_and_nan_and_keeps_the_rate():
    x = np.full((400, 3, 3, 50), np.inf, np.float32)
    x[..., ::2] = np.nan
    y, mask = np.empty_like(x), np.empty((400, 50), np.uint8)
    _C.spatial_dropout_forward(x, y, mask, rate=0.3, seed=5, step=0)
    assert (y[np.broadcast_to(mask[:, None, None, :] == 0, y.shape)] == 0).all()
    assert abs((1 - mask.mean()) - 0.3) < 5 * np.sqrt(0.3 * 0.7 / mask.size)


def test_threads_and_simd_paths_bit_identical(rng, simd, threads):
    x = rng.standard_normal((7, 33, 17, 21)).astype(np.float32)  # above the parallel threshold
    dy = rng.standard_normal(x.shape).astype(np.float32)
    xf = np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def run():
        out = []
        for v, first in ((x, False), (xf, True)):
            y, m, dx = np.empty_like(v), np.empty((7, 21), np.uint8), np.ones_like(v)
            _C.spatial_dropout_forward(v, y, m, channels_first=first, rate=0.35, seed=8, step=2)
            _C.spatial_dropout_backward(m, dy.reshape(v.shape), dx, channels_first=first, rate=0.35)
            out += [y, m, dx]
        y, noise, dx = np.empty_like(x), np.empty_like(x), np.ones_like(x)
        _C.gaussian_dropout_forward(x, y, noise, stddev=0.5, seed=8, step=2)
        _C.gaussian_dropout_backward(noise, dy, dx)
        z = np.empty_like(x)
        _C.gaussian_noise_forward(x, z, stddev=0.2, seed=8, step=2)
        return out + [y, noise, dx, z]

    helpers.assert_bits_same_threads_and_simd(run, threads, simd)


def test_binding_refusals_leave_everything_unchanged(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y, mask = np.full_like(x, 7.0), np.full((2, 5), 9, np.uint8)
    x0 = x.copy()
    kw = dict(rate=0.5, seed=1, step=2)
    with pytest.raises(ValueError, match="'mask'"):
        _C.spatial_dropout_forward(x, y, np.zeros((2, 4), np.uint8), **kw)
    with pytest.raises(ValueError, match="'mask'"):  # channels_first: the mask is (n, x.shape[1])
        _C.spatial_dropout_forward(x, y, mask, channels_first=True, **kw)
    with pytest.raises(ValueError, match="rate"):
        _C.spatial_dropout_forward(x, y, mask, rate=1.0, seed=1, step=2)
    with pytest.raises(ValueError, match="3-D"):
        _C.spatial_dropout_forward(x[0, 0], y[0, 0], mask, **kw)
    with pytest.raises(ValueError, match="share memory"):
        _C.spatial_dropout_forward(x, x, mask, **kw)
    with pytest.raises(TypeError, match="seed"):
        _C.spatial_dropout_forward(x, y, mask, rate=0.5, step=2)
    with pytest.raises(ValueError, match="stddev"):
        _C.gaussian_noise_forward(x, y, stddev=-0.1, seed=1, step=1)
    with pytest.raises(ValueError, match="stddev"):
        _C.gaussian_dropout_forward(x, y, np.empty_like(x), stddev=float("nan"), seed=1, step=1)
    with pytest.raises(ValueError, match="noise"):
        _C.gaussian_dropout_forward(x, y, np.empty((2, 3), np.float32), stddev=0.1, seed=1, step=1)
    with pytest.raises(ValueError, match="'dy'"):
        _C.gaussian_dropout_backward(x, x[:1].copy(), np.zeros_like(x))
    assert np.array_equal(x, x0) and (y == 7.0).all() and (mask == 9).all()
    e = np.zeros((0, 3, 2), np.float32)  # empty batches are no-ops
    _C.spatial_dropout_forward(e, e.copy(), np.zeros((0, 2), np.uint8), **kw)
    _C.gaussian_noise_forward(e, e.copy(), stddev=0.5, seed=1, step=1)


# ---------------------------------------------------------------- the layers

def _train_call(layer, x):
    return layer(x, training=True)


def test_spatial_dropout2d_drops_whole_channels_per_sample(rng):
    x = rng.uniform(1, 2, (64, 5, 6, 16)).astype(np.float32)
    layer = L.SpatialDropout2D(0.5, seed=3)
    y = _train_call(layer, x)
    kept = (y != 0)
    per_channel = kept.reshape(64, 30, 16)
    assert (per_channel.all(axis=1) | ~per_channel.any(axis=1)).all()  # a channel is all kept or all dropped
    np.testing.assert_allclose(y[kept], x[kept] * 2, rtol=1e-6)
    frac = 1 - per_channel[:, 0, :].mean()
    assert abs(frac - 0.5) < 5 * np.sqrt(0.25 / (64 * 16))
    # samples differ, steps differ, the seed repeats
    assert not np.array_equal(per_channel[0, 0], per_channel[1, 0]) or not np.array_equal(per_channel[2, 0], per_channel[3, 0])
    y2 = _train_call(layer, x)
    assert not np.array_equal(y, y2)
    again = L.SpatialDropout2D(0.5, seed=3)
    assert np.array_equal(_train_call(again, x), y) and np.array_equal(_train_call(again, x), y2)
    # inference: the identity
    assert np.array_equal(layer(x), x)
    cf = L.SpatialDropout2D(0.5, data_format="channels_first", seed=3)
    yf = _train_call(cf, np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    assert np.array_equal(yf, y.transpose(0, 3, 1, 2))  # the same (sample, channel) mask


def test_spatial_dropout_masks_do_not_depend_on_threads(rng, threads):
    x = rng.standard_normal((16, 20, 20, 24)).astype(np.float32)
    out = []
    for nt in (1, 2):
        threads(nt)
        dlc.utils.set_random_seed(12)
        model = dlc.models.Sequential([L.Input((20, 20, 24)), L.SpatialDropout2D(0.3), L.GaussianNoise(0.5),
                                       L.GaussianDropout(0.2)])
        with model._workspace() as ws:
            out.append(model.run_forward(ws, [x], training=True).outputs[0].copy())
    assert np.array_equal(out[0], out[1])


@pytest.mark.parametrize("cls,shape", [(L.SpatialDropout1D, (4, 7, 5)), (L.SpatialDropout3D, (2, 3, 4, 2, 5))])
def test_spatial_dropout_1d_and_3d(rng, cls, shape):
    x = rng.uniform(1, 2, shape).astype(np.float32)
    layer = cls(0.5, seed=1)
    y = _train_call(layer, x)
    kept = (y != 0).reshape(shape[0], -1, shape[-1])
    assert (kept.all(axis=1) | ~kept.any(axis=1)).all()
    with pytest.raises(ValueError, match=f"{len(shape)}-D"):
        cls(0.5)(L.Input(shape[1:-1]))


def test_gaussian_layers_statistics_and_inference_identity(rng):
    x = rng.standard_normal((200, 500)).astype(np.float32)
    noise = L.GaussianNoise(0.3, seed=4)
    d = (_train_call(noise, x) - x).astype(np.float64)
    n = d.size
    assert abs(d.mean()) < 5 * 0.3 / np.sqrt(n) and abs(d.std() - 0.3) < 5 * 0.3 / np.sqrt(2 * n)
    assert np.array_equal(noise(x), x)
    gd = L.GaussianDropout(0.2, seed=4)
    ratio = (_train_call(gd, x) / x).astype(np.float64)
    s = np.sqrt(0.2 / 0.8)
    assert abs(ratio.mean() - 1) < 5 * s / np.sqrt(n) and abs(ratio.std() - s) < 5 * s / np.sqrt(2 * n)
    assert np.array_equal(gd(x), x)
    assert np.array_equal(L.GaussianNoise(0.0)(x, training=True), x)
    assert np.array_equal(L.GaussianDropout(0.0)(x, training=True), x)


@pytest.mark.parametrize("make", [lambda: L.SpatialDropout2D(0.4), lambda: L.GaussianDropout(0.3),
                                  lambda: L.GaussianNoise(0.2)])
def test_gradients_in_a_model_match_finite_differences_for_a_fixed_draw(rng, make):
    """Conv2D -> (random layer) -> Flatten -> Dense with MSE: with the layer's step held fixed
    (the same draw every time), the weight gradients match central differences of the loss."""
    dlc.utils.set_random_seed(5)
    noise = make()
    model = dlc.models.Sequential([L.Input((5, 5, 2)), L.Conv2D(4, 3, activation="tanh"), noise, L.Flatten(),
                                   L.Dense(2)])
    x = rng.standard_normal((3, 5, 5, 2)).astype(np.float32)
    t = rng.standard_normal((3, 2)).astype(np.float32)
    arena = model._ensure_arena()

    def loss_and_grad(grad):
        noise._step = 7
        with model._workspace() as ws:
            tape = model.run_forward(ws, [x], training=True)
            out = tape.outputs[0].astype(np.float64)
            if grad:
                arena.zero_grads()
                model.run_backward(tape, [(2 * (tape.outputs[0] - t) / t.size).astype(np.float32)])
        return float(np.mean((out - t) ** 2))

    loss_and_grad(True)
    g = arena.grads.copy()
    d = rng.standard_normal(arena.params.shape).astype(np.float32)
    p0, h = arena.params.copy(), 1e-3
    arena.params[...] = p0 + h * d
    lp = loss_and_grad(False)
    arena.params[...] = p0 - h * d
    lm = loss_and_grad(False)
    arena.params[...] = p0
    assert float((g * d).sum()) == pytest.approx((lp - lm) / (2 * h), rel=2e-3)


def test_arguments_configs_and_resume_state():
    with pytest.raises(ValueError, match="rate"):
        L.SpatialDropout2D(1.0)
    with pytest.raises(ValueError, match="data_format"):
        L.SpatialDropout2D(0.1, data_format="nhwc")
    with pytest.raises(ValueError, match="stddev"):
        L.GaussianNoise(1.5)  # Keras 3's range is [0, 1]
    with pytest.raises(ValueError, match="rate"):
        L.GaussianDropout(1.0)
    with pytest.raises(ValueError, match="seed"):
        L.GaussianNoise(0.1, seed=-1)
    for layer in (L.SpatialDropout1D(0.2, seed=1), L.SpatialDropout2D(0.2, data_format="channels_first"),
                  L.SpatialDropout3D(0.1), L.GaussianNoise(0.2, seed=9), L.GaussianDropout(0.4)):
        config = layer.get_config()
        again = type(layer).from_config(config)
        assert again.get_config() == config
    assert "trainable" not in L.SpatialDropout2D(0.2).get_config()
    dlc.utils.set_random_seed(0)
    model = dlc.models.Sequential([L.Input((4, 4, 3)), L.SpatialDropout2D(0.5, name="sd"), L.Flatten(),
                                   L.GaussianNoise(0.1, name="gn"), L.Dense(2), L.GaussianDropout(0.1, name="gd")])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 4, 4, 3), np.float32), np.ones((8, 2), np.float32), batch_size=4, epochs=1, verbose=0)
    steps = model._training_state()["random_layers"]
    assert steps == {"sd": 2, "gn": 2, "gd": 2}


@requires_keras
@pytest.mark.parametrize("name,args", [("SpatialDropout1D", (0.3,)), ("SpatialDropout2D", (0.3,)),
                                       ("SpatialDropout3D", (0.3,)), ("GaussianNoise", (0.2,)),
                                       ("GaussianDropout", (0.3,))])
def test_keras_names_configs_and_inference(rng, name, args):
    ours, theirs = getattr(L, name)(*args, seed=3), getattr(keras.layers, name)(*args, seed=3)
    ndim = {"SpatialDropout1D": 3, "SpatialDropout3D": 5}.get(name, 4)
    x = rng.standard_normal((2,) + (3,) * (ndim - 2) + (4,)).astype(np.float32)
    np.testing.assert_array_equal(ours(x), keras.ops.convert_to_numpy(theirs(x)))  # inference
    ours_c, theirs_c = ours.get_config(), theirs.get_config()
    assert set(ours_c) - {"batch_input_shape"} == set(theirs_c), (ours_c, theirs_c)
    for key in theirs_c:
        if key not in ("name", "dtype"):
            assert ours_c[key] == theirs_c[key], key
    rebuilt = getattr(keras.layers, name).from_config({**ours_c, "dtype": "float32"})
    assert rebuilt.get_config()["seed"] == 3


@requires_keras
def test_training_statistics_match_keras(rng):
    """Different generators, the same distributions: the dropped-channel fraction and the noise
    moments of dlc and Keras 3 agree within sampling error."""
    x = rng.uniform(1, 2, (256, 4, 4, 32)).astype(np.float32)
    yk = keras.ops.convert_to_numpy(keras.layers.SpatialDropout2D(0.3, seed=1)(x, training=True))
    yd = L.SpatialDropout2D(0.3, seed=1)(x, training=True)
    fk, fd = (1 - (y[:, 0, 0, :] != 0).mean() for y in (yk, yd))
    assert abs(fk - fd) < 6 * np.sqrt(2 * 0.21 / (256 * 32))
    np.testing.assert_allclose(yd[yd != 0], x[yd != 0] / 0.7, rtol=1e-6)
    np.testing.assert_allclose(yk[yk != 0], x[yk != 0] / 0.7, rtol=1e-6)
    z = rng.standard_normal((400, 400)).astype(np.float32)
    for name, arg, f in (("GaussianNoise", 0.4, lambda y: y - z), ("GaussianDropout", 0.25, lambda y: y / z)):
        k = f(keras.ops.convert_to_numpy(getattr(keras.layers, name)(arg, seed=2)(z, training=True))).astype(np.float64)
        d = f(getattr(L, name)(arg, seed=2)(z, training=True)).astype(np.float64)
        se = k.std() / np.sqrt(k.size)
        assert abs(k.mean() - d.mean()) < 6 * se * np.sqrt(2)
        assert abs(k.std() - d.std()) < 6 * k.std() / np.sqrt(k.size)
