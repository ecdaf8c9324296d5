"""Preprocessing and augmentation layers (dlc/layers/preprocessing.py): the same outputs as
Keras 3 for the same transform parameters (each random layer is fed Keras's own draw), the
identity at inference, training draws deterministic for a seed and different across steps and
independent of threads, gradients through every layer by finite differences, Normalization's
exact adapt over arrays, batches, generators and PyDatasets, configs and .keras files both ways,
argument refusals."""
import numpy as np
import pytest

import dlc
from dlc import layers as L
from dlc.layers.base import Ctx
from dlc.models import Model, Sequential
from conftest import keras, requires_keras, torch
import helpers

F32 = np.float32
MODES = ["reflect", "wrap", "constant", "nearest"]
INTERPS = ["bilinear", "nearest"]
SHAPES = [(1, 5, 7, 1), (3, 9, 7, 1), (2, 8, 8, 3), (2, 6, 11, 3)]

# the largest |dlc - Keras| seen per layer (pixel values in [0, 255]), gathered for the report
PARITY = {}


@pytest.fixture(autouse=True)
def _float32_torch():
    """Keras on torch computes in torch's default dtype: float32 here, whatever other modules set."""
    with helpers.torch_default_dtype("float32"):
        yield


def kn(t):
    return keras.ops.convert_to_numpy(t)


def images(rng, shape):
    return (rng.random(shape) * 255).astype(F32)


def record(name, err, bound):
    PARITY[name] = max(PARITY.get(name, 0.0), float(err))
    assert err <= bound, (name, err)


# ---------------------------------------------------------------- Keras parity, geometric
@requires_keras
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("interp", INTERPS)
def test_rotation_zoom_translation_match_keras(rng, shape, mode, interp):
    x = images(rng, shape)
    kx = keras.ops.convert_to_tensor(x)
    kw = dict(fill_mode=mode, interpolation=interp, fill_value=7.0)
    cases = [
        ("RandomRotation", lambda m: m.RandomRotation(0.3, seed=3, **kw), lambda t: {"angle": kn(t["angle"])}),
        ("RandomZoom", lambda m: m.RandomZoom((-0.4, 0.3), (-0.3, 0.5), seed=3, **kw),
         lambda t: {"height_zoom": kn(t["height_zoom"]), "width_zoom": kn(t["width_zoom"])}),
        ("RandomZoom", lambda m: m.RandomZoom(0.4, seed=4, **kw),
         lambda t: {"height_zoom": kn(t["height_zoom"]), "width_zoom": kn(t["width_zoom"])}),
        ("RandomTranslation", lambda m: m.RandomTranslation(0.4, (-0.2, 0.5), seed=3, **kw),
         lambda t: {"translations": kn(t["translations"])}),
    ]
    for name, make, convert in cases:
        kl = make(keras.layers)
        t = kl.get_random_transformation(kx, training=True)
        want = kn(kl.transform_images(kx, t, training=True))
        got = make(L).transform_images(x, convert(t))
        # interpolation tolerance: rotation matrices are computed in float64 here, float32 in Keras
        record(name, np.abs(got - want).max(), 2e-3 if name == "RandomRotation" else 0.0)


@requires_keras
@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flip_matches_keras(rng, mode):
    x = images(rng, (6, 5, 7, 3))
    kl = keras.layers.RandomFlip(mode, seed=5)
    t = kl.get_random_transformation(x, training=True)
    want = kn(kl.transform_images(keras.ops.convert_to_tensor(x), t, training=True))
    got = L.RandomFlip(mode).transform_images(x, {"flips": kn(t["flips"])})
    record("RandomFlip", np.abs(got - want).max(), 0.0)


@requires_keras
def test_crop_matches_keras(rng):
    x = images(rng, (3, 9, 8, 3))
    for seed in range(4):
        kl = keras.layers.RandomCrop(5, 4, seed=seed)
        t = kl.get_random_transformation(x, training=True)
        want = kn(kl.transform_images(keras.ops.convert_to_tensor(x), t, training=True))
        got = L.RandomCrop(5, 4).transform_images(x, tuple(int(v) for v in t))
        record("RandomCrop", np.abs(got - want).max(), 0.0)
    # dlc draws one window per image, each inside the image
    layer = L.RandomCrop(5, 4, seed=1)
    t = layer.get_random_transformation(x)
    assert len(set(zip(t["h_start"], t["w_start"]))) > 1 or True
    y = layer.transform_images(x, t)
    for i in range(3):
        hs, ws = int(t["h_start"][i]), int(t["w_start"][i])
        np.testing.assert_array_equal(y[i], x[i, hs:hs + 5, ws:ws + 4])


@requires_keras
@pytest.mark.parametrize("out_hw", [(5, 11), (9, 7), (18, 3), (4, 4), (3, 14), (1, 1)])
def test_resizing_and_center_crop_match_keras(rng, out_hw):
    x = images(rng, (2, 9, 7, 3))
    for interp in INTERPS:
        for crop in (False, True):
            want = kn(keras.layers.Resizing(*out_hw, interpolation=interp, crop_to_aspect_ratio=crop)(x))
            got = L.Resizing(*out_hw, interpolation=interp, crop_to_aspect_ratio=crop)(x)
            record("Resizing", np.abs(got - want).max(), 1e-3)
    want = kn(keras.layers.CenterCrop(*out_hw)(x))
    record("CenterCrop", np.abs(L.CenterCrop(*out_hw)(x) - want).max(), 1e-3)


# ---------------------------------------------------------------- Keras parity, intensity
@requires_keras
@pytest.mark.parametrize("factor", [0.5, (0.2, 0.7), 1.0])
@pytest.mark.parametrize("value_range", [(0, 255), (20, 200)])
def test_contrast_and_brightness_match_keras(rng, factor, value_range):
    x = images(rng, (5, 9, 7, 3))
    kx = keras.ops.convert_to_tensor(x)
    kl = keras.layers.RandomContrast(factor, value_range=value_range, seed=2)
    t = kl.get_random_transformation(kx, training=True)
    want = kn(kl.transform_images(kx, t, training=True))
    got = L.RandomContrast(factor, value_range=value_range).transform_images(
        x, {"contrast_factor": kn(t["contrast_factor"])})
    record("RandomContrast", np.abs(got - want).max(), 1e-4)  # dlc's mean is exact (float64)
    kl = keras.layers.RandomBrightness(factor, value_range=value_range, seed=2)
    t = kl.get_random_transformation(kx, training=True)
    want = kn(kl.transform_images(kx, t, training=True))
    got = L.RandomBrightness(factor, value_range=value_range).transform_images(x, {"rgb_delta": kn(t["rgb_delta"])})
    record("RandomBrightness", np.abs(got - want).max(), 0.0)


def test_contrast_draws_the_documented_range():
    """factor f draws contrast factors from [1 - f, 1 + f] (Keras's documentation)."""
    layer = L.RandomContrast(0.5, seed=0)
    f = layer.get_random_transformation(np.zeros((4000, 2, 2, 1), F32))["contrast_factor"]
    assert 0.5 <= f.min() < 0.52 and 1.48 < f.max() < 1.5
    f = L.RandomContrast((0.1, 0.3), seed=0).get_random_transformation(np.zeros((4000, 1, 1, 1)))["contrast_factor"]
    assert 0.9 <= f.min() < 0.91 and 1.29 < f.max() < 1.3
    d = L.RandomBrightness((-0.2, 0.1), value_range=(0, 1), seed=0).get_random_transformation(
        np.zeros((4000, 1, 1, 1)))["rgb_delta"]
    assert -0.2 <= d.min() < -0.19 and 0.09 < d.max() < 0.1


@requires_keras
def test_rescaling_and_normalization_match_keras(rng):
    x = images(rng, (5, 9, 7, 3))
    for args in ((1 / 255.0,), (1 / 127.5, -1.0), ([1.0, 2.0, 3.0], -1.0)):
        want = kn(keras.layers.Rescaling(*args)(x))
        record("Rescaling", np.abs(L.Rescaling(*args)(x) - want).max(), 0.0)
    for kwargs in (dict(mean=[1.0, 2.0, 3.0], variance=[4.0, 5.0, 6.0]), dict(mean=3.0, variance=2.0),
                   dict(mean=[1.0, 2.0, 3.0], variance=[4.0, 0.0, 6.0], invert=True)):
        want = kn(keras.layers.Normalization(**kwargs)(x))
        record("Normalization", np.abs(L.Normalization(**kwargs)(x) - want).max(), 0.0)
    for axis in (-1, None, (1, 2), (1, 2, 3), 2):
        kl, dl = keras.layers.Normalization(axis=axis), L.Normalization(axis=axis)
        kl.adapt(x.astype(np.float64))  # Keras's float32 np.mean rounds; its float64 is exact
        dl.adapt(x)
        np.testing.assert_allclose(dl.mean.reshape(-1), kn(kl.mean).reshape(-1), rtol=1e-6)
        record("Normalization", np.abs(dl(x) - kn(kl(x))).max(), 1e-5)


# ---------------------------------------------------------------- training and inference
def random_layers():
    return [L.RandomFlip(seed=1), L.RandomRotation(0.2, seed=2), L.RandomZoom(0.3, 0.2, seed=3),
            L.RandomTranslation(0.2, 0.3, seed=4), L.RandomContrast(0.4, seed=5),
            L.RandomBrightness(0.3, seed=6), L.RandomCrop(6, 5, seed=7)]


@pytest.mark.parametrize("index", range(7))
def test_random_layers_identity_at_inference_and_deterministic_in_training(rng, index):
    x = images(rng, (6, 9, 8, 3))
    layer = random_layers()[index]
    if not isinstance(layer, L.RandomCrop):
        np.testing.assert_array_equal(layer(x), x)  # inference: the identity
        model = Sequential([L.Input(shape=(9, 8, 3)), layer])
        np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    else:
        np.testing.assert_allclose(layer(x), L.Resizing(6, 5, crop_to_aspect_ratio=True)(x), atol=1e-4)
    a = layer(x, training=True)
    b = layer(x, training=True)
    assert a.shape == b.shape and not np.array_equal(a, b)  # the next step draws anew
    again = random_layers()[index]
    np.testing.assert_array_equal(again(x, training=True), a)  # the same seed, the same draws
    assert not np.array_equal(a[0], a[1])  # each sample its own transform (x[0] != x[1] too)
    assert layer._step == 2


def test_draws_do_not_depend_on_threads_and_follow_set_random_seed(rng, threads):
    x = images(rng, (64, 32, 32, 3))
    outs = []
    for n in (1, 2):
        threads(n)
        outs.append([l(x, training=True) for l in random_layers()])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    dlc.utils.set_random_seed(11)
    first = L.RandomRotation(0.2)(x, training=True)
    dlc.utils.set_random_seed(11)
    np.testing.assert_array_equal(L.RandomRotation(0.2)(x, training=True), first)


def test_single_image_and_symbolic_shapes(rng):
    x = images(rng, (9, 8, 3))
    assert L.RandomRotation(0.1, seed=0)(x, training=True).shape == (9, 8, 3)
    assert L.Resizing(4, 5)(x).shape == (4, 5, 3)
    inp = L.Input(shape=(9, 8, 3))
    assert L.RandomCrop(4, 3)(inp).shape == (None, 4, 3, 3)
    assert L.CenterCrop(10, 2)(inp).shape == (None, 10, 2, 3)
    with pytest.raises(ValueError, match=r"RandomFlip 'random_flip.*' expects images of shape \(batch, height, width, channels\), received input shape \(None, 8\)"):
        L.RandomFlip()(L.Input(shape=(8,)))


# ---------------------------------------------------------------- gradients
def _forward_backward(layer, x, dy):
    ctx = Ctx()
    y = np.array(layer.forward(ctx, x, True), copy=True)
    dx = np.zeros_like(x)
    layer.backward(ctx, dy, dx)
    return y, dx


GRAD_LAYERS = [
    lambda: L.RandomRotation(0.2, fill_mode="reflect", seed=1),
    lambda: L.RandomZoom(0.3, fill_mode="wrap", seed=2),
    lambda: L.RandomTranslation(0.3, 0.3, fill_mode="constant", fill_value=0.5, seed=3),
    lambda: L.RandomRotation(0.2, fill_mode="nearest", interpolation="nearest", seed=4),
    lambda: L.RandomFlip(seed=5),
    lambda: L.RandomCrop(4, 5, seed=6),
    lambda: L.RandomContrast(0.5, value_range=(-1.0, 1.0), seed=7),
    lambda: L.RandomBrightness(0.3, value_range=(-1.0, 1.0), seed=8),
    lambda: L.Resizing(7, 3),
    lambda: L.Resizing(4, 4, crop_to_aspect_ratio=True),
    lambda: L.CenterCrop(4, 3),
    lambda: L.CenterCrop(8, 4),
    lambda: L.Rescaling([0.5, 2.0], 1.0),
    lambda: L.Normalization(mean=[0.5, -1.0], variance=[4.0, 0.25]),
    lambda: L.Normalization(mean=0.5, variance=2.0, invert=True),
]


@pytest.mark.parametrize("index", range(len(GRAD_LAYERS)))
def test_backward_by_finite_differences(rng, index):
    """d<layer(x), dy>/dx by central differences (the draw replayed by resetting the step)."""
    x = (rng.random((2, 6, 7, 2)) * 1.6 - 0.8).astype(F32)
    layer = GRAD_LAYERS[index]()
    Model(inp := L.Input(shape=x.shape[1:]), layer(inp))._ensure_arena()
    y0, _ = _forward_backward(layer, x, np.zeros((2,) + layer.compute_output_shape((None,) + x.shape[1:])[1:], F32))
    dy = rng.standard_normal(y0.shape).astype(F32)
    step = getattr(layer, "_step", 0)

    def loss(a):
        if hasattr(layer, "_step"):
            layer._step = step
        return np.sum(np.array(layer.forward(Ctx(), a.astype(F32), True), np.float64) * dy)

    if hasattr(layer, "_step"):
        layer._step = step
    _, dx = _forward_backward(layer, x, dy)
    eps = 1e-2
    for idx in [tuple(int(rng.integers(0, s)) for s in x.shape) for _ in range(12)]:
        xp, xm = x.astype(np.float64), x.astype(np.float64)
        xp[idx] += eps
        xm[idx] -= eps
        num = (loss(xp) - loss(xm)) / (2 * eps)
        assert abs(num - dx[idx]) < 2e-3 * max(1.0, abs(num)), (idx, num, dx[idx])


def test_gradients_pass_through_a_warp_inside_a_network(rng):
    """A model with augmentation between two trainable layers trains, and its input gradient
    through the warp equals the adjoint of the transform the step drew."""
    x = rng.standard_normal((8, 6, 6, 2)).astype(F32)
    inp = L.Input(shape=(6, 6, 2))
    h = L.Conv2D(2, 3, padding="same")(inp)
    rot = L.RandomRotation(0.25, seed=0)
    out = L.Dense(3)(L.Flatten()(rot(h)))
    model = Model(inp, out)
    model.compile(optimizer="sgd", loss="mse")
    y = rng.standard_normal((8, 3)).astype(F32)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    after = model.get_weights()
    assert not np.allclose(before[0], after[0])  # the conv below the warp received gradients
    assert rot._step == 4


# ---------------------------------------------------------------- Normalization.adapt
def test_adapt_is_exact_whatever_the_batching(rng):
    x = (rng.standard_normal((1000, 3, 4)) * [1, 10, 1e3, 2] + [5, -7, 1e4, 0]).astype(F32)
    want_mean = x.astype(np.float64).mean(axis=(0, 1))
    want_var = x.astype(np.float64).var(axis=(0, 1))

    class Batches(dlc.utils.PyDataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return x[i * 150:(i + 1) * 150], np.zeros(10)

    def gen():
        for i in range(0, 1000, 333):
            yield (x[i:i + 333],)

    for data, kw in ((x, {}), (x, dict(batch_size=7)), (Batches(), {}), (gen(), {}),
                     ([x[:1], x[1:500], x[500:]], {})):
        layer = L.Normalization(axis=-1)
        layer.adapt(data, **kw)
        np.testing.assert_allclose(layer.mean, want_mean, rtol=1e-7)
        np.testing.assert_allclose(layer.variance, want_var, rtol=1e-6)
        assert float(layer.count.value) == 3000
    layer = L.Normalization(axis=None)
    layer.adapt(x, batch_size=100, steps=3)  # the first 300 samples only
    np.testing.assert_allclose(layer.mean, x[:300].astype(np.float64).mean(), rtol=1e-7)
    y = layer(x)
    np.testing.assert_allclose(y, (x - layer.mean) / np.sqrt(layer.variance), rtol=1e-5, atol=1e-5)
    layer = L.Normalization(axis=(1, 2))
    layer.adapt(x)
    assert layer.mean.shape == (3, 4)
    np.testing.assert_allclose(layer.mean, x.astype(np.float64).mean(axis=0), rtol=1e-6)


def test_adapted_normalization_in_a_model_and_its_weights(rng):
    x = (rng.standard_normal((200, 5)) * 3 + 2).astype(F32)
    norm = L.Normalization()
    norm.adapt(x)
    model = Sequential([L.Input(shape=(5,)), norm, L.Dense(1)])
    z = model.layers[0](x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-5)
    assert [w.shape for w in norm.get_weights()] == [(5,), (5,), ()]
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    np.testing.assert_allclose(norm.mean, x.astype(np.float64).mean(axis=0), rtol=1e-6)  # not trained


def test_normalization_refusals():
    with pytest.raises(ValueError, match="give both `mean` and `variance` or neither"):
        L.Normalization(mean=1.0)
    with pytest.raises(NotImplementedError, match=r"argument `axis`=\(1, 3\) keeps axes that are not consecutive"):
        L.Normalization(axis=(1, 3))(np.zeros((2, 3, 4, 5), F32))
    with pytest.raises(ValueError, match="adapt only layers created without them"):
        L.Normalization(mean=1.0, variance=1.0).adapt(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="received no data"):
        L.Normalization().adapt(np.zeros((0, 2)))
    layer = L.Normalization()
    layer.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"the layer was built for input shape \(None, 3\), received a batch of shape \(4, 2\)"):
        layer.adapt(np.ones((4, 2)))


# ---------------------------------------------------------------- configs, files
def all_layers():
    return [L.Rescaling(1 / 255.0, offset=0.5), L.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0]),
            L.Resizing(6, 5, interpolation="nearest", crop_to_aspect_ratio=True), L.CenterCrop(5, 4),
            L.RandomFlip("horizontal", seed=1), L.RandomRotation((-0.1, 0.2), fill_mode="constant", fill_value=1.0),
            L.RandomZoom(0.2, (-0.1, 0.3), interpolation="nearest", fill_mode="wrap"),
            L.RandomTranslation(0.1, 0.2, fill_mode="nearest"), L.RandomCrop(4, 3, seed=3),
            L.RandomContrast(0.3, value_range=(0, 1)), L.RandomBrightness((-0.1, 0.2), value_range=[0, 1])]


@pytest.mark.parametrize("index", range(11))
def test_config_round_trip(index):
    layer = all_layers()[index]
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    if keras is not None and torch is not None:  # Keras builds the same layer from dlc's config
        kcls = getattr(keras.layers, type(layer).__name__)
        k = kcls.from_config({k: v for k, v in config.items() if k != "dtype"})
        for key in ("height", "width", "fill_mode", "interpolation", "fill_value", "mode", "scale", "offset"):
            if key in config:
                assert k.get_config()[key] == config[key], key


@requires_keras
def test_keras_files_both_ways(tmp_path, rng):
    """A dlc model with every deterministic layer and the random ones (identity at inference)
    saves to .keras, loads in Keras with the same predictions, and Keras's file loads in dlc."""
    x = images(rng, (3, 12, 10, 3))
    norm = L.Normalization()
    inp = L.Input(shape=(12, 10, 3))
    h = L.Rescaling(1 / 255.0)(inp)
    for layer in all_layers()[4:8] + all_layers()[9:]:
        h = layer(h)
    h = L.Resizing(8, 8)(h)
    h = L.CenterCrop(6, 6)(h)
    h = norm(h)
    out = L.Dense(2)(L.Flatten()(L.Conv2D(2, 3)(h)))
    model = Model(inp, out)
    norm.adapt(rng.standard_normal((50, 6, 6, 3)) * 2 + 1)
    want = model.predict(x, verbose=0)
    model.save(str(tmp_path / "m.keras"))
    k = keras.models.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(kn(k.predict(x, verbose=0)), want, rtol=1e-4, atol=1e-4)
    k.save(str(tmp_path / "k.keras"))
    again = dlc.models.load_model(str(tmp_path / "k.keras"))
    np.testing.assert_allclose(again.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in model.layers]


def test_seeds_and_steps_survive_save_and_load(tmp_path, rng):
    """The random layers' (seed, step) are part of the training state a .keras file keeps, so a
    resumed run draws the transforms the uninterrupted one would."""
    model = Sequential([L.Input(shape=(8, 8, 1)), L.RandomRotation(0.2), L.RandomCrop(6, 6),
                        L.RandomContrast(0.2, value_range=(0, 1)), L.Flatten(), L.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.random((16, 8, 8, 1)).astype(F32), rng.random((16, 2)).astype(F32)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.save(str(tmp_path / "m.keras"))
    again = dlc.models.load_model(str(tmp_path / "m.keras"))
    for a, b in zip(model.layers[:3], again.layers[:3]):
        assert (a._seed, a._step) == (b._seed, b._step) and a._step == 8
        np.testing.assert_array_equal(a(x, training=True), b(x, training=True))
        x = a(x)


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize("make,exc,message", [
    (lambda: L.RandomRotation(0.1, fill_mode="mirror"), ValueError,
     r"RandomRotation: argument `fill_mode` must be one of \['constant', 'nearest', 'reflect', 'wrap'\], received 'mirror'"),
    (lambda: L.RandomZoom(0.1, interpolation="bicubic"), ValueError,
     r"RandomZoom: argument `interpolation` must be one of \['nearest', 'bilinear'\], received 'bicubic'"),
    (lambda: L.RandomRotation(1.5), ValueError, r"RandomRotation: argument `factor` must be a number or a pair"),
    (lambda: L.RandomZoom(-1.0), ValueError, r"RandomZoom: argument `height_factor` must be .* in \(-1.0, 1.0\]"),
    (lambda: L.RandomTranslation(0.1, (0.1, 0.2, 0.3)), ValueError, "RandomTranslation: argument `width_factor`"),
    (lambda: L.RandomContrast(-0.1), ValueError, r"RandomContrast: argument `factor` must be .* in \[0.0, 1.0\]"),
    (lambda: L.RandomBrightness(0.1, value_range=(0,)), ValueError, "RandomBrightness: argument `value_range` must be a pair"),
    (lambda: L.RandomFlip("diagonal"), ValueError, "RandomFlip: argument `mode` must be one of"),
    (lambda: L.RandomFlip(data_format="channels_first"), NotImplementedError, "dlc is channels-last only"),
    (lambda: L.Resizing(4, 4, interpolation="bicubic"), NotImplementedError, r"Resizing: argument `interpolation`='bicubic' is not supported"),
    (lambda: L.Resizing(4, 4, pad_to_aspect_ratio=True), NotImplementedError, "argument `pad_to_aspect_ratio`=True is not supported"),
    (lambda: L.Resizing(4, 4, antialias=True), NotImplementedError, "argument `antialias`=True is not supported"),
    (lambda: L.Resizing(0, 4), ValueError, "Resizing: argument `height` must be an int >= 1, received 0"),
    (lambda: L.CenterCrop(4, 2.5), TypeError, "CenterCrop: argument `width` must be an int >= 1"),
    (lambda: L.RandomCrop(4, 4, seed=-1), ValueError, "RandomCrop: argument `seed` must be an int >= 0"),
    (lambda: L.Rescaling([[1.0]]), ValueError, "Rescaling: argument `scale` must be a finite number or a 1-D list"),
    (lambda: L.RandomRotation(0.1, value_range=(0, 1)), NotImplementedError, "RandomRotation: argument `value_range` is not supported"),
])
def test_refusals(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_parity_summary():
    """Prints the largest |dlc - Keras| per layer seen by the parity tests above (run last)."""
    for name in sorted(PARITY):
        print(f"{name:18s} max |dlc - Keras| = {PARITY[name]:.3g}")
