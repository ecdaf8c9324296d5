"""Keras 3's formats both ways: dlc's .keras and .weights.h5 files load in Keras 3 with the same
predictions (and Keras resumes dlc's optimizer), and the files Keras 3 writes load in dlc, for
every layer dlc supports, Sequential and functional, nested models."""
import json
import zipfile

import numpy as np
import pytest

import dlc
from conftest import keras, requires_keras

pytestmark = requires_keras


def dlc_models():
    """name -> a function building a dlc model (covering every layer dlc supports)."""
    L = dlc.layers

    def cnn():
        inp = L.Input(shape=(8, 8, 3), name="img")
        x = L.ZeroPadding2D(1)(inp)
        x = L.Conv2D(4, 3, activation="relu", kernel_regularizer="l2")(x)
        x = L.BatchNormalization()(x)
        x = L.Dropout(0.2)(x)
        a = L.SeparableConv2D(4, 3, padding="same", depth_multiplier=2)(x)
        b = L.DepthwiseConv2D(3, padding="same")(x)
        x = L.Add()([a, b])
        x = L.MaxPooling2D()(x)
        x = L.UpSampling2D(2)(x)
        x = L.Conv2DTranspose(3, 3, strides=2, padding="same")(x)
        x = L.AveragePooling2D(2)(x)
        x = L.ReLU()(x)
        g1, g2 = L.GlobalAveragePooling2D()(x), L.GlobalMaxPooling2D()(x)
        x = L.Concatenate()([g1, g2, L.Flatten()(L.MaxPooling2D(4)(x))])
        x = L.Dense(6, activation="tanh")(x)
        x = L.Reshape((2, 3))(x)
        x = L.Flatten()(x)
        y = L.Subtract()([L.Dense(4)(x), L.Dense(4)(x)])
        z = L.Multiply()([L.LeakyReLU()(y), L.ELU()(y)])
        z = L.Average()([z, L.Maximum()([y, z]), L.Minimum()([y, z])])
        out = L.Softmax()(L.Activation("sigmoid")(z))
        return dlc.Model(inp, out)

    def sequential():
        return dlc.Sequential([L.Input(shape=(5,)), L.Dense(8, activation="relu"), L.Dropout(0.1),
                               L.Dense(3, activation="softmax")])

    def nested():
        inner = dlc.Sequential([L.Input(shape=(5,)), L.Dense(4, activation="relu")], name="inner")
        inp = L.Input(shape=(5,))
        block_in = L.Input(shape=(4,))
        block = dlc.Model(block_in, L.Dense(4)(block_in), name="block")
        h = block(inner(inp))
        return dlc.Model(inp, L.Dense(2)(L.Add()([h, inner(inp)])))

    def two_inputs_and_ops():
        a, b = L.Input(shape=(3,), name="a"), L.Input(shape=(3,), name="b")
        x = L.Dense(3)(a) + b
        x = (x * 2.0 - 1.0) / 4.0
        x = 1.0 - (-x)
        return dlc.Model([a, b], [L.Dense(2)(x), x])

    return {"cnn": cnn, "sequential": sequential, "nested": nested, "two_inputs_and_ops": two_inputs_and_ops}


def inputs_for(model, rng):
    shapes = [t.shape for t in model.inputs]
    xs = [rng.standard_normal((4,) + tuple(s[1:])).astype(np.float32) for s in shapes]
    return xs if len(xs) > 1 else xs[0]


def as_list(y):
    return [np.asarray(t) for t in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


@pytest.mark.parametrize("name", sorted(dlc_models()))
def test_dlc_files_load_in_keras_with_the_same_predictions(tmp_path, rng, name):
    model = dlc_models()[name]()
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3 for w in model.get_weights()])
    x = inputs_for(model, rng)
    expected = as_list(model.predict(x, verbose=0))
    path = str(tmp_path / "m.keras")
    model.save(path)
    k = keras.models.load_model(path)
    for a, b in zip(as_list(k.predict(x, verbose=0)), expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    wpath = str(tmp_path / "m.weights.h5")
    model.save_weights(wpath)
    k2 = keras.models.load_model(path, compile=False)
    k2.set_weights([np.zeros_like(w) for w in k2.get_weights()])
    k2.load_weights(wpath)
    for a, b in zip(as_list(k2.predict(x, verbose=0)), expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # and back: Keras's own files of the same model load in dlc
    k.save(str(tmp_path / "k.keras"))
    k.save_weights(str(tmp_path / "k.weights.h5"))
    again = dlc.models.load_model(str(tmp_path / "k.keras"))
    for a, b in zip(as_list(again.predict(x, verbose=0)), expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    fresh = dlc.models.load_model(path)
    fresh.set_weights([np.zeros_like(w) for w in fresh.get_weights()])
    fresh.load_weights(str(tmp_path / "k.weights.h5"))
    for a, b in zip(as_list(fresh.predict(x, verbose=0)), expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def keras_models():
    K = keras.layers

    def functional():
        inp = keras.Input((8, 8, 3))
        x = K.Conv2D(4, 3, padding="same", activation="relu")(inp)
        x = K.BatchNormalization()(x)
        x = K.Dropout(0.3)(x)
        a = K.SeparableConv2D(4, 3, padding="same")(x)
        b = K.DepthwiseConv2D(3, padding="same", depth_multiplier=1)(x)
        x = K.Concatenate()([a, b])
        x = K.Conv2DTranspose(2, 2, strides=2)(x)
        x = K.AveragePooling2D(2)(K.ZeroPadding2D(((1, 0), (0, 1)))(x))
        x = K.UpSampling2D()(K.MaxPooling2D(2)(x))
        x = K.Activation("relu")(x)
        x = K.GlobalAveragePooling2D()(x)
        x = K.Reshape((2, 1))(x)
        x = K.Flatten()(x)
        return keras.Model(inp, K.Dense(3, activation="softmax")(x))

    def sequential():
        return keras.Sequential([keras.Input((6,)), K.Dense(5, activation="relu"), K.Dense(2)])

    def nested():
        inner = keras.Sequential([keras.Input((6,)), K.Dense(4), K.LeakyReLU(0.1)])
        inp = keras.Input((6,))
        h = inner(inp)
        return keras.Model(inp, K.Dense(2)(K.Add()([h, K.ReLU()(h)])))

    return {"functional": functional, "sequential": sequential, "nested": nested}


@pytest.mark.parametrize("name", sorted(keras_models()))
def test_keras_files_load_in_dlc_and_resume_training(tmp_path, rng, name):
    k = keras_models()[name]()
    k.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=None)
    x = rng.standard_normal((8,) + tuple(k.inputs[0].shape[1:])).astype(np.float32)
    y = rng.standard_normal((8,) + tuple(k.outputs[0].shape[1:])).astype(np.float32)
    k.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / "k.keras")
    k.save(path)
    model = dlc.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)), rtol=1e-4, atol=1e-5)
    assert model.compiled and isinstance(model.optimizer, dlc.optimizers.Adam)
    assert model.optimizer.iterations == 2
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0), rtol=1e-4)
    if any(isinstance(layer, keras.layers.Dropout) for layer in k.layers):
        return  # Keras's dropout masks are not dlc's: no step to compare
    # one more step from the restored Adam state matches Keras's step
    k.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-3, atol=1e-5)


def test_keras_resumes_dlc_optimizer(tmp_path, rng):
    L = dlc.layers
    model = dlc.Sequential([L.Input(shape=(4,)), L.Dense(3, activation="relu"), L.Dense(2)])
    model.compile(optimizer=dlc.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.standard_normal((8, 2)).astype(np.float32)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    k = keras.models.load_model(path)
    assert int(k.optimizer.iterations) == 2
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    k.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)


def test_file_layout_is_keras_layout(tmp_path):
    L = dlc.layers
    model = dlc.Sequential([L.Input(shape=(4,)), L.Dense(3), L.Dense(2)], name="seq")
    model.compile(optimizer="adam", loss="mse")
    path = str(tmp_path / "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(zf.read("config.json"))
        import h5py, io
        with h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as f:
            names = []
            f.visit(names.append)
            assert f["layers/dense_1/vars"].attrs["name"] == model.layers[1].name
            assert f["optimizer/vars"].attrs["name"] == "adam"
    assert config["class_name"] == "Sequential" and config["compile_config"]["loss"] == "mse"
    assert {"layers/dense/vars/0", "layers/dense/vars/1", "layers/dense_1/vars/0", "optimizer/vars/0",
            "optimizer/vars/1", "optimizer/vars/2", "dlc/state"} <= set(names)


def test_keras_legacy_h5_loads_in_dlc(tmp_path, rng):
    k = keras_models()["nested"]()
    k.compile(optimizer="sgd", loss="mse")
    path = str(tmp_path / "legacy.h5")
    k.save(path)  # Keras 3's legacy HDF5 writer
    model = dlc.models.load_model(path)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
