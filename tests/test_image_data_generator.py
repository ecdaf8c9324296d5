"""Keras 2's ImageDataGenerator (dlc/preprocessing/image.py): the matrices Keras 2's
apply_affine_transform hands scipy (captured from Keras's own code), the resampling against an
independent float64 scipy-style reference, flips, channel shifts, the random parameter rules,
flow (batches, order, determinism by (seed, epoch, image), sample weights), validation_split
subsets, rescale, feature-wise and sample-wise normalisation against Keras 2, a CNN trained from
flow on real MNIST, the image helpers, refusals."""
import os
import sys
import types
import warnings

import numpy as np
import pytest

import dlc
from dlc.preprocessing import image as I
from conftest import data_dir, keras, requires_keras, torch

F32 = np.float32


@pytest.fixture
def captured():
    """Keras 2's legacy image module with scipy replaced by a recorder of the affine_transform
    calls (scipy is not installed; the matrices are what is compared)."""
    if keras is None or torch is None:
        pytest.skip("needs Keras 3 on its torch backend, a reference oracle")
    from keras.src.legacy.preprocessing import image as kimg

    calls = []

    def affine_transform(x, matrix, offset, order=1, mode="constant", cval=0.0):
        calls.append(dict(matrix=np.array(matrix), offset=np.array(offset), order=order, mode=mode, cval=cval))
        return x

    fake = types.SimpleNamespace(ndimage=types.SimpleNamespace(
        interpolation=types.SimpleNamespace(affine_transform=affine_transform)))
    before = kimg.scipy
    kimg.scipy = fake
    yield kimg, calls
    kimg.scipy = before


PARAMS = [dict(theta=20), dict(tx=2.5, ty=-1.5), dict(shear=12), dict(zx=0.8, zy=1.3),
          dict(theta=-33, tx=1, ty=2, shear=5, zx=1.1, zy=0.9), dict(theta=90), dict(theta=180, zx=2, zy=0.5)]


@pytest.mark.parametrize("hw", [(9, 13), (28, 28), (5, 4)])
def test_matrices_equal_keras2(captured, hw):
    kimg, calls = captured
    h, w = hw
    x = np.zeros((h, w, 2), F32)
    gen = kimg.ImageDataGenerator(fill_mode="reflect", cval=0.5)
    for p in PARAMS:
        calls.clear()
        kimg.apply_affine_transform(x, row_axis=0, col_axis=1, channel_axis=2, **p)
        args = {**dict(theta=0, tx=0, ty=0, shear=0, zx=1, zy=1), **p}
        m, o = I.scipy_affine(h=h, w=w, **args)
        np.testing.assert_array_equal(m[0], calls[0]["matrix"])
        np.testing.assert_array_equal(o[0], calls[0]["offset"])
        calls.clear()  # and through ImageDataGenerator.apply_transform, with its mode and cval
        gen.apply_transform(x, dict(args, flip_horizontal=False, flip_vertical=False))
        assert calls[0]["mode"] == "reflect" and calls[0]["cval"] == 0.5 and calls[0]["order"] == 1
        np.testing.assert_array_equal(m[0], calls[0]["matrix"])
    # Keras 2's channels-first default of apply_affine_transform: the same matrix
    calls.clear()
    kimg.apply_affine_transform(np.zeros((2, h, w), F32), theta=15, tx=1)
    m, o = I.scipy_affine(theta=15, tx=1, h=h, w=w)
    np.testing.assert_array_equal(m[0], calls[0]["matrix"])


def scipy_style_ref(img, matrix, offset, mode="nearest"):
    """scipy.ndimage.affine_transform, order 1, of one channel-last image in float64: output
    (r, c) reads matrix @ (r, c) + offset, coordinates clamped ('nearest') into the image."""
    img = img.astype(np.float64)
    h, w, _ = img.shape
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    src_r = matrix[0, 0] * r + matrix[0, 1] * c + offset[0]
    src_c = matrix[1, 0] * r + matrix[1, 1] * c + offset[1]
    inside = (src_r >= 0) & (src_r <= h - 1) & (src_c >= 0) & (src_c <= w - 1)
    src_r, src_c = np.clip(src_r, 0, h - 1), np.clip(src_c, 0, w - 1)
    r0, c0 = np.floor(src_r).astype(int), np.floor(src_c).astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    tr, tc = (src_r - r0)[..., None], (src_c - c0)[..., None]
    out = ((1 - tr) * ((1 - tc) * img[r0, c0] + tc * img[r0, c1]) + tr * ((1 - tc) * img[r1, c0] + tc * img[r1, c1]))
    return out, inside


@pytest.mark.parametrize("mode", ["nearest", "reflect", "constant", "wrap"])
def test_resampling_matches_scipy_semantics(rng, mode):
    """Inside the image every fill mode gives scipy's bilinear value; with 'nearest' everywhere."""
    h, w = 11, 14
    img = rng.random((h, w, 3)).astype(F32)
    gen = I.ImageDataGenerator(fill_mode=mode, cval=0.25)
    for p in PARAMS:
        args = {**dict(theta=0, tx=0, ty=0, shear=0, zx=1, zy=1), **p}
        m, o = I.scipy_affine(h=h, w=w, **args)
        want, inside = scipy_style_ref(img, m[0], o[0])
        got = gen.apply_transform(img, args)
        mask = np.ones_like(inside) if mode == "nearest" else inside
        np.testing.assert_allclose(got[mask], want[mask], atol=2e-5)


def test_flips_channel_shift_and_identity(rng, captured):
    kimg, _ = captured
    img = rng.random((6, 7, 3)).astype(F32)
    gen = I.ImageDataGenerator()
    np.testing.assert_array_equal(gen.apply_transform(img, {}), img)
    np.testing.assert_array_equal(gen.apply_transform(img, dict(flip_horizontal=True)), img[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(img, dict(flip_vertical=True)), img[::-1])
    np.testing.assert_array_equal(gen.apply_transform(img, dict(flip_horizontal=True, flip_vertical=True)),
                                  img[::-1, ::-1])
    # a flip after a transform mirrors the transformed image (Keras 2's order)
    rot = gen.apply_transform(img, dict(theta=30))
    np.testing.assert_allclose(gen.apply_transform(img, dict(theta=30, flip_horizontal=True)), rot[:, ::-1], atol=1e-6)
    got = gen.apply_transform(img, dict(channel_shift_intensity=0.3))
    np.testing.assert_allclose(got, kimg.apply_channel_shift(img, 0.3, 2), atol=1e-7)


def test_random_parameters_follow_keras2_rules():
    shape = (20, 30, 1)
    gen = I.ImageDataGenerator(rotation_range=40, width_shift_range=0.2, height_shift_range=3,
                               shear_range=10, zoom_range=[0.5, 0.9], horizontal_flip=True,
                               channel_shift_range=5.0)
    draws = [gen.get_random_transform(shape, seed=s) for s in range(400)]
    theta = np.array([d["theta"] for d in draws])
    assert -40 <= theta.min() < -35 and 35 < theta.max() <= 40
    ty = np.array([d["ty"] for d in draws])  # width fraction times the width
    assert -6 <= ty.min() < -5 and 5 < ty.max() <= 6
    assert set(d["tx"] for d in draws) == {-2.0, -1.0, 0.0, 1.0, 2.0}  # int: from (-3, 3)
    zx = np.array([d["zx"] for d in draws])
    assert 0.5 <= zx.min() < 0.55 and 0.85 < zx.max() < 0.9
    assert 150 < sum(d["flip_horizontal"] for d in draws) < 250 and not any(d["flip_vertical"] for d in draws)
    assert all(abs(d["channel_shift_intensity"]) <= 5 for d in draws) and draws[0]["brightness"] is None
    choose = I.ImageDataGenerator(width_shift_range=[2, 5]).get_random_transform
    assert {choose(shape, seed=s)["ty"] for s in range(100)} == {-5.0, -2.0, 2.0, 5.0}
    assert gen.get_random_transform(shape, seed=3) == gen.get_random_transform(shape, seed=3)


# ---------------------------------------------------------------- flow
def labelled(n=50, h=6, w=5):
    """Images whose every pixel is the sample's index, so a batch shows which samples it holds."""
    x = np.repeat(np.arange(n, dtype=F32), h * w).reshape(n, h, w, 1)
    return x, np.arange(n) % 5


def test_flow_batches_order_and_targets():
    x, y = labelled()
    it = I.ImageDataGenerator().flow(x, y, batch_size=16, shuffle=False)
    assert isinstance(it, dlc.utils.PyDataset) and len(it) == 4
    bx, by = it[3]
    assert bx.shape == (2, 6, 5, 1) and bx.dtype == F32
    np.testing.assert_array_equal(bx[:, 0, 0, 0], [48, 49])
    np.testing.assert_array_equal(by, y[48:])
    it = I.ImageDataGenerator().flow(x, y, batch_size=16, seed=1)
    seen = np.concatenate([it[i][0][:, 0, 0, 0] for i in range(len(it))])
    assert sorted(seen) == list(range(50)) and list(seen) != list(range(50))
    it.on_epoch_end()
    again = np.concatenate([it[i][0][:, 0, 0, 0] for i in range(len(it))])
    assert list(again) != list(seen) and sorted(again) == list(range(50))
    for i in range(len(it)):  # targets stay with their images
        bx, by = it[i]
        np.testing.assert_array_equal(by, y[bx[:, 0, 0, 0].astype(int)])
    bx, by, bw = I.ImageDataGenerator().flow(x, y, sample_weight=np.arange(50) / 10, batch_size=8)[0]
    np.testing.assert_allclose(bw, bx[:, 0, 0, 0] / 10)
    only_x = I.ImageDataGenerator().flow(x, batch_size=8)[0]
    assert isinstance(only_x, np.ndarray) and only_x.shape == (8, 6, 5, 1)
    nxt = I.ImageDataGenerator().flow(x, y, batch_size=20, shuffle=False)
    assert [next(nxt)[0].shape[0] for _ in range(4)] == [20, 20, 10, 20]  # cycles, as Keras 2
    with pytest.raises(ValueError, match="Asked to retrieve element 4, but the Sequence has length 4"):
        I.ImageDataGenerator().flow(x, y, batch_size=16)[4]


def test_flow_draws_are_keyed_by_seed_epoch_and_image(rng):
    x = rng.random((40, 12, 12, 1)).astype(F32)
    gen = I.ImageDataGenerator(rotation_range=30, zoom_range=0.2, horizontal_flip=True)
    a = gen.flow(x, batch_size=40, shuffle=False, seed=5)[0]
    parts = gen.flow(x, batch_size=7, shuffle=False, seed=5)
    fetched = {i: parts[i] for i in reversed(range(len(parts)))}  # visited last to first
    b = np.concatenate([fetched[i] for i in range(len(parts))])
    np.testing.assert_array_equal(a, b)  # any batching, any visiting order: the same images
    shuffled = gen.flow(x, np.arange(40), batch_size=9, seed=5)
    for i in (4, 0, 2):
        bx, by = shuffled[i]
        np.testing.assert_array_equal(bx, a[by])
    other = gen.flow(x, batch_size=40, shuffle=False, seed=6)[0]
    assert not np.array_equal(a, other)
    it = gen.flow(x, batch_size=40, shuffle=False, seed=5)
    it.on_epoch_end()
    assert not np.array_equal(it[0], a)  # a new epoch draws anew
    dlc.utils.set_random_seed(3)
    first = gen.flow(x, batch_size=40)[0]
    dlc.utils.set_random_seed(3)
    np.testing.assert_array_equal(gen.flow(x, batch_size=40)[0], first)


def test_validation_split_subsets():
    x, y = labelled(50)
    gen = I.ImageDataGenerator(validation_split=0.2)
    train = gen.flow(x, y, batch_size=64, shuffle=False, subset="training")
    val = gen.flow(x, y, batch_size=64, shuffle=False, subset="validation")
    np.testing.assert_array_equal(val[0][0][:, 0, 0, 0], np.arange(10))  # the first rows (Keras 2)
    np.testing.assert_array_equal(train[0][0][:, 0, 0, 0], np.arange(10, 50))
    assert len(gen.flow(x, y, batch_size=32, subset="training")) == 2
    with pytest.raises(ValueError, match="Training and validation subsets have different number of classes"):
        gen.flow(x, np.sort(y), subset="training")
    assert gen.flow(x, np.sort(y), subset="validation", ignore_class_split=True).n == 10
    with pytest.raises(ValueError, match="Invalid subset name: 'test'"):
        gen.flow(x, y, subset="test")
    with pytest.raises(ValueError, match="`validation_split` must be strictly between 0 and 1"):
        I.ImageDataGenerator(validation_split=1.5)


@requires_keras
def test_rescale_and_normalisation_match_keras2(rng):
    from keras.src.legacy.preprocessing import image as kimg

    x = (rng.random((30, 7, 6, 3)) * 255).astype(F32)
    x[..., 1] *= 0.5
    for kwargs in (dict(rescale=1 / 255), dict(featurewise_center=True, featurewise_std_normalization=True),
                   dict(rescale=1 / 255, featurewise_center=True),
                   dict(samplewise_center=True, samplewise_std_normalization=True, rescale=0.5)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours, theirs = I.ImageDataGenerator(**kwargs), kimg.ImageDataGenerator(**kwargs)
        ours.fit(x)
        theirs.fit(x)
        if ours.mean is not None:
            np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-5)
        if ours.std is not None:
            np.testing.assert_allclose(ours.std, theirs.std, rtol=1e-5)
        got = ours.flow(x, batch_size=30, shuffle=False)[0]
        want = np.stack([theirs.standardize(img.copy()) for img in x])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_preprocessing_function_runs_per_augmented_image_before_rescale(rng):
    x = rng.random((5, 4, 4, 1)).astype(F32)
    seen = []

    def fn(img):
        seen.append(img.shape)
        return img + 1.0

    out = I.ImageDataGenerator(preprocessing_function=fn, rescale=2.0, horizontal_flip=True).flow(
        x, batch_size=5, shuffle=False, seed=0)[0]
    assert seen == [(4, 4, 1)] * 5
    flipped = np.array([np.array_equal(o, (img + 1) * 2) or np.array_equal(o, (img[:, ::-1] + 1) * 2)
                        for o, img in zip(out, x)])
    assert flipped.all()


def test_featurewise_without_fit_warns(rng):
    gen = I.ImageDataGenerator(featurewise_center=True)
    with pytest.warns(UserWarning, match="hasn't been fit on any training data"):
        gen.flow(rng.random((3, 2, 2, 1)), batch_size=3)[0]


def test_small_cnn_trains_from_flow_on_mnist():
    if data_dir() is None:
        pytest.skip("needs MNIST: set DLC_DATA_DIR or put shared/datasets above the repository")
    os.environ.setdefault("DLC_DATA_DIR", data_dir())
    (x_train, y_train), (x_test, y_test) = dlc.datasets.mnist.load_data()
    x_train, y_train = x_train[:600].reshape(-1, 28, 28, 1), y_train[:600]
    x_test, y_test = x_test[:300].reshape(-1, 28, 28, 1).astype(F32) / 255, y_test[:300]
    dlc.utils.set_random_seed(0)
    L = dlc.layers
    model = dlc.Sequential([L.Input(shape=(28, 28, 1)), L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(),
                            L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
                            L.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    datagen = I.ImageDataGenerator(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1,
                                   zoom_range=0.1, rescale=1 / 255, validation_split=0.1)
    history = model.fit(datagen.flow(x_train, y_train, batch_size=32, subset="training"), epochs=6, verbose=0,
                        validation_data=datagen.flow(x_train, y_train, batch_size=32, subset="validation"))
    assert history.history["loss"][-1] < history.history["loss"][0]
    acc = model.evaluate(x_test, y_test, verbose=0)[1]
    assert acc > 0.8, acc


# ---------------------------------------------------------------- helpers, refusals
def test_image_helpers_round_trip(tmp_path, rng):
    pytest.importorskip("PIL")
    x = (rng.random((5, 7, 3)) * 255).astype(F32)
    img = I.array_to_img(x, scale=False)
    assert img.size == (7, 5) and img.mode == "RGB"
    np.testing.assert_array_equal(I.img_to_array(img), x.astype(np.uint8))
    gray = I.array_to_img(x[..., :1])
    assert gray.mode == "L" and I.img_to_array(gray).shape == (5, 7, 1)
    I.save_img(str(tmp_path / "a.png"), x, scale=False)
    back = I.img_to_array(I.load_img(str(tmp_path / "a.png")))
    np.testing.assert_array_equal(back, x.astype(np.uint8))
    small = I.load_img(str(tmp_path / "a.png"), color_mode="grayscale", target_size=(3, 4))
    assert small.size == (4, 3) and small.mode == "L"
    assert I.smart_resize(x, (4, 4)).shape == (4, 4, 3)
    assert I.smart_resize(x[None], (10, 3)).shape == (1, 10, 3, 3)


def test_array_to_img_names_pillow_when_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"array_to_img needs Pillow \(the PIL package\).*pip install pillow"):
        I.array_to_img(np.zeros((2, 2, 1)))
    with pytest.raises(ImportError, match="needs Pillow"):
        I.load_img("x.png")
    np.testing.assert_array_equal(I.img_to_array(np.ones((2, 3))), np.ones((2, 3, 1)))  # no PIL needed


@pytest.mark.parametrize("make,exc,message", [
    (lambda: I.ImageDataGenerator(zca_whitening=True), NotImplementedError, "`zca_whitening`=True is not supported"),
    (lambda: I.ImageDataGenerator(brightness_range=(0.5, 1.5)), NotImplementedError, "`brightness_range` is not supported"),
    (lambda: I.ImageDataGenerator(interpolation_order=3), NotImplementedError, "`interpolation_order`=3 is not supported"),
    (lambda: I.ImageDataGenerator(data_format="channels_first"), NotImplementedError, "channels-last only"),
    (lambda: I.ImageDataGenerator(fill_mode="mirror"), ValueError, "argument `fill_mode` must be one of"),
    (lambda: I.ImageDataGenerator(zoom_range="big"), ValueError, "`zoom_range` should be a float"),
    (lambda: I.ImageDataGenerator(width_shift_range=[[1]]), ValueError, "`width_shift_range` must be a number or a 1-D list"),
    (lambda: I.ImageDataGenerator().flow_from_directory("d"), NotImplementedError, "flow_from_directory is not supported"),
    (lambda: I.ImageDataGenerator().flow(np.zeros((2, 3, 3, 1)), save_to_dir="d"), NotImplementedError,
     "`save_to_dir` is not supported"),
    (lambda: I.ImageDataGenerator().flow((np.zeros((2, 3, 3, 1)), np.zeros(2))), NotImplementedError,
     "as a list or tuple"),
    (lambda: I.ImageDataGenerator().flow(np.zeros((2, 3, 3))), ValueError, "should have rank 4"),
    (lambda: I.ImageDataGenerator().flow(np.zeros((2, 3, 3, 1)), np.zeros(3)), ValueError, "should have the same length"),
    (lambda: I.random_rotation, AttributeError, "has no attribute 'random_rotation'"),
])
def test_refusals(make, exc, message):
    with pytest.raises(exc, match=message):
        make()
