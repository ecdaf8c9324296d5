"""Parity with Keras 3 (torch backend): identical weights give identical predictions and
losses, and one training step with each optimizer gives the same weights."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import dlc  # noqa: E402
from dlc import layers as L  # noqa: E402


def build_cnn(lib):
    M, Lk = (lib.models, lib.layers)
    return M.Sequential([
        Lk.Input(shape=(28, 28, 1)),
        Lk.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        Lk.Conv2D(64, (3, 3), activation="relu"),
        Lk.MaxPooling2D(pool_size=(2, 2)),
        Lk.Dropout(0.25),
        Lk.Flatten(),
        Lk.Dense(128, activation="relu"),
        Lk.Dropout(0.5),
        Lk.Dense(10, activation="softmax"),
    ])


def build_inception(lib):
    Lk = lib.layers
    inp = Lk.Input(shape=(28, 28, 1))
    x = Lk.Conv2D(16, 3, activation="relu")(inp)
    x = Lk.BatchNormalization()(x)
    b1 = Lk.Conv2D(8, 1, padding="same", activation="relu")(x)
    b3 = Lk.Conv2D(8, 1, padding="same", activation="relu")(x)
    b3 = Lk.Conv2D(12, 3, padding="same", activation="relu")(b3)
    b5 = Lk.Conv2D(4, 1, padding="same", activation="relu")(x)
    b5 = Lk.Conv2D(6, 5, padding="same", activation="relu")(b5)
    bp = Lk.MaxPooling2D(3, strides=1, padding="same")(x)
    bp = Lk.Conv2D(6, 1, padding="same", activation="relu")(bp)
    x = Lk.Concatenate()([b1, b3, b5, bp])
    x = Lk.MaxPooling2D(2)(x)
    x = Lk.Conv2D(16, 2, strides=2, padding="same", activation="elu")(x)
    x = Lk.GlobalAveragePooling2D()(x)
    out = Lk.Dense(10, activation="softmax")(x)
    return lib.models.Model(inp, out)


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return x, y


@pytest.mark.parametrize("builder", [build_cnn, build_inception])
def test_same_predictions_and_loss_as_keras(builder):
    km, dm = builder(keras), builder(dlc)
    # randomize BN statistics so inference mode is exercised
    weights = km.get_weights()
    rng = np.random.default_rng(1)
    weights = [w + rng.uniform(0.1, 0.5, w.shape).astype(np.float32) if w.ndim == 1 else w for w in weights]
    km.set_weights(weights)
    dm.set_weights(km.get_weights())
    for a, b in zip(km.get_weights(), dm.get_weights()):
        np.testing.assert_array_equal(a, b)
    x, y = _data()
    pk = np.asarray(km.predict(x, verbose=0))
    pd = dm.predict(x, verbose=0)
    assert np.abs(pk - pd).max() <= 1e-5
    km.compile(loss="categorical_crossentropy", optimizer="sgd")
    dm.compile(loss="categorical_crossentropy", optimizer="sgd")
    lk = float(km.evaluate(x, y, verbose=0))
    ld = float(dm.evaluate(x, y, verbose=0))
    assert ld == pytest.approx(lk, rel=1e-5, abs=1e-6)


OPTIMIZERS = [
    ("SGD", dict(learning_rate=0.1)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    ("RMSprop", dict(learning_rate=0.01)),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(learning_rate=0.1)),
    ("Adam", dict(learning_rate=0.01)),
    ("Adam", dict(learning_rate=0.01, amsgrad=True, weight_decay=0.01)),
    ("Adadelta", dict(learning_rate=1.0)),
]


def build_small(lib):
    Lk = lib.layers
    inp = Lk.Input(shape=(10, 10, 2))
    x = Lk.Conv2D(4, 3, activation="relu")(inp)
    x = Lk.MaxPooling2D(2)(x)
    x = Lk.Flatten()(x)
    x = Lk.Dense(8, activation="tanh")(x)
    out = Lk.Dense(3, activation="softmax")(x)
    return lib.models.Model(inp, out)


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS)
def test_training_steps_match_keras(name, kwargs):
    km, dm = build_small(keras), build_small(dlc)
    dm.set_weights(km.get_weights())
    km.compile(loss="categorical_crossentropy", optimizer=getattr(keras.optimizers, name)(**kwargs))
    dm.compile(loss="categorical_crossentropy", optimizer=getattr(dlc.optimizers, name)(**kwargs))
    rng = np.random.default_rng(5)
    for step in range(3):
        x = rng.standard_normal((8, 10, 10, 2)).astype(np.float32)
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
        lk = float(np.asarray(km.train_on_batch(x, y)))
        ld = float(dm.train_on_batch(x, y))
        if step == 0:
            assert ld == pytest.approx(lk, rel=1e-5)
    for a, b in zip(km.get_weights(), dm.get_weights()):
        np.testing.assert_allclose(b, a, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("make", [
    lambda lib: lib.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu"),
    lambda lib: lib.layers.DepthwiseConv2D((3, 2), strides=2),
    lambda lib: lib.layers.SeparableConv2D(7, 3, padding="same", depth_multiplier=2, activation="relu"),
    lambda lib: lib.layers.SeparableConv2D(5, 3, strides=2),
    lambda lib: lib.layers.Conv2DTranspose(4, 3, strides=2),               # 5x5 -> 11x11
    lambda lib: lib.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
    lambda lib: lib.layers.Conv2DTranspose(3, (2, 3), strides=(1, 2), padding="same"),
    lambda lib: lib.layers.ZeroPadding2D(((1, 2), (0, 3))),
    lambda lib: lib.layers.UpSampling2D((2, 3)),
], ids=["depthwise_same_m2", "depthwise_stride2", "separable_same", "separable_stride2",
        "transpose_valid", "transpose_same", "transpose_rect", "zero_padding", "upsampling"])
def test_conv_variants_match_keras(make):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    kl = make(keras)
    yk = keras.ops.convert_to_numpy(kl(x))
    dl = make(dlc)
    dl(L.Input(shape=(5, 5, 3)))  # build
    weights = [w + rng.uniform(0.1, 0.3, w.shape).astype(np.float32) if w.ndim == 1 else w
               for w in kl.get_weights()]
    kl.set_weights(weights)
    yk = keras.ops.convert_to_numpy(kl(x))
    dl.set_weights(weights)
    assert [w.shape for w in dl.get_weights()] == [w.shape for w in weights]
    yd = dl(x)
    assert yd.shape == yk.shape
    np.testing.assert_allclose(yd, yk, rtol=1e-5, atol=1e-5)
