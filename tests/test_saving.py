"""Saving without an oracle: round trips, to_json / model_from_json, dlc 0.1's files, Keras 2's
legacy .h5 files, safety (no pickle, no code, bounded configs, no HDF5 links) and errors that
name the argument, the expected and the received."""
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import dlc
from dlc import layers as L
from dlc.saving import keras_config

rng0 = np.random.default_rng(5)


def small(name=None):
    inp = L.Input(shape=(6,))
    h = L.Dense(4, activation="relu")(inp)
    return dlc.Model(inp, L.Dense(2, activation="softmax")(L.BatchNormalization()(h)), name=name)


def xy(n=8):
    return rng0.standard_normal((n, 6)).astype(np.float32), np.eye(2, dtype=np.float32)[rng0.integers(0, 2, n)]


# ---------------------------------------------------------------- round trips
def test_save_load_round_trip_restores_compile_and_optimizer(tmp_path):
    model = small()
    model.compile(optimizer=dlc.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                  loss=dlc.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy", dlc.metrics.CategoricalAccuracy(name="acc2")])
    x, y = xy()
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "m.keras"  # a pathlib.Path works
    model.save(path)
    again = dlc.models.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert again.optimizer.get_config() == model.optimizer.get_config()
    state, ref = again.optimizer.get_state(), model.optimizer.get_state()
    assert state["iterations"] == ref["iterations"] == 2
    for name in ref["slots"]:
        np.testing.assert_array_equal(state["slots"][name], ref["slots"][name])


def test_frozen_layer_slots_and_schedules_round_trip(tmp_path):
    model = small()
    lr = dlc.optimizers.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5)
    model.compile(optimizer=dlc.optimizers.Adam(lr, amsgrad=True), loss="categorical_crossentropy")
    x, y = xy()
    model.fit(x, y, epochs=1, verbose=0)
    model.layers[1].trainable = False  # its slots are no longer Keras's, but dlc keeps them
    model.save(tmp_path / "m.keras")
    again = dlc.models.load_model(tmp_path / "m.keras")
    assert not again.layers[1].trainable
    assert isinstance(again.optimizer._learning_rate, dlc.optimizers.schedules.ExponentialDecay)
    for name, slot in model.optimizer.get_state()["slots"].items():
        np.testing.assert_array_equal(again.optimizer.get_state()["slots"][name], slot)


def test_sequential_without_input_and_uncompiled(tmp_path):
    model = dlc.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(2)])
    model.save(str(tmp_path / "m.keras"))
    again = dlc.models.load_model(str(tmp_path / "m.keras"))
    assert not again.compiled
    x = rng0.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_to_json_and_model_from_json():
    model = small(name="net")
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    text = model.to_json()
    config = json.loads(text)
    assert config["class_name"] == "Functional" and config["config"]["name"] == "net"
    assert config["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["class_name"] == "__keras_tensor__"
    twin = dlc.models.model_from_json(text)
    assert [type(l).__name__ for l in twin.layers] == [type(l).__name__ for l in model.layers]
    assert [w.shape for w in twin.get_weights()] == [w.shape for w in model.get_weights()]
    assert twin.compiled and isinstance(twin.optimizer, dlc.optimizers.SGD)
    assert json.loads(twin.to_json())["config"] == config["config"]
    seq = dlc.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    assert dlc.models.model_from_json(seq.to_json(indent=1)).layers[0].units == 2
    # dlc 0.1's config layout is still read
    old = json.dumps({"class_name": "Functional", "config": model.get_config(), "dlc_version": "0.1.0"})
    assert len(dlc.models.model_from_json(old).layers) == len(model.layers)


# ---------------------------------------------------------------- dlc 0.1's files
def test_dlc_0_1_files_are_read(tmp_path):
    model = small()
    x, _ = xy()
    model.set_weights([rng0.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    from dlc.saving.saving_lib import weights_bytes

    legacy = tmp_path / "old.keras"  # dlc 0.1's model.save: config.json + model.weights.npz
    with zipfile.ZipFile(legacy, "w") as zf:
        zf.writestr("config.json", json.dumps({"class_name": "Functional", "config": model.get_config(),
                                               "dlc_version": "0.1.0"}))
        zf.writestr("model.weights.npz", weights_bytes(model))
    again = dlc.models.load_model(legacy)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    (tmp_path / "w.npz").write_bytes(weights_bytes(model))
    for source in (tmp_path / "w.npz", legacy):
        fresh = dlc.models.load_model(legacy)
        fresh.set_weights([np.zeros_like(w) for w in fresh.get_weights()])
        fresh.load_weights(source)
        np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save_weights(tmp_path / "again.npz")  # still written on request
    fresh.load_weights(tmp_path / "again.npz")


# ---------------------------------------------------------------- Keras 2 legacy .h5
def keras2_file(path, weights):
    """A whole-model .h5 as Keras 2 (tf.keras 2.x) wrote it."""
    config = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 6], "dtype": "float32",
                                                 "sparse": False, "ragged": False, "name": "input_1"},
         "name": "input_1", "inbound_nodes": []},
        {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 4,
                                           "activation": "relu", "use_bias": True,
                                           "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                                           "bias_initializer": {"class_name": "Zeros", "config": {}},
                                           "kernel_regularizer": None, "bias_regularizer": None,
                                           "activity_regularizer": None, "kernel_constraint": None,
                                           "bias_constraint": None},
         "name": "dense", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {"class_name": "BatchNormalization", "config": {"name": "batch_normalization", "trainable": True,
                                                        "dtype": "float32", "axis": [1], "momentum": 0.99,
                                                        "epsilon": 0.001, "center": True, "scale": True},
         "name": "batch_normalization", "inbound_nodes": [[["dense", 0, 0, {}]]]},
        {"class_name": "LeakyReLU", "config": {"name": "leaky_re_lu", "trainable": True, "dtype": "float32",
                                               "alpha": 0.2},
         "name": "leaky_re_lu", "inbound_nodes": [[["batch_normalization", 0, 0, {}]]]},
        {"class_name": "Dense", "config": {"name": "dense_1", "trainable": True, "dtype": "float32", "units": 2,
                                           "activation": "softmax", "use_bias": True},
         "name": "dense_1", "inbound_nodes": [[["leaky_re_lu", 0, 0, {}]]]}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_1", 0, 0]]},
        "keras_version": "2.13.1", "backend": "tensorflow"}
    training = {"loss": "categorical_crossentropy", "metrics": [[{"class_name": "MeanMetricWrapper",
                                                                  "config": {"name": "accuracy", "dtype": "float32",
                                                                             "fn": "categorical_accuracy"}}]],
                "optimizer_config": {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 0.001,
                                                                      "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999,
                                                                      "epsilon": 1e-07, "amsgrad": False,
                                                                      "jit_compile": False,
                                                                      "is_legacy_optimizer": False}}}
    names = {"dense": ["kernel:0", "bias:0"], "batch_normalization": ["gamma:0", "beta:0", "moving_mean:0",
                                                                      "moving_variance:0"],
             "dense_1": ["kernel:0", "bias:0"]}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["training_config"] = json.dumps(training)
        f.attrs["keras_version"] = "2.13.1"
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [n.encode() for n in ["input_1", "dense", "batch_normalization", "leaky_re_lu",
                                                       "dense_1"]]
        it = iter(weights)
        for layer in ["input_1", "dense", "batch_normalization", "leaky_re_lu", "dense_1"]:
            lg = g.create_group(layer)
            wn = [f"{layer}/{w}".encode() for w in names.get(layer, [])]
            lg.attrs["weight_names"] = wn
            for w in wn:
                lg.create_dataset(w.decode(), data=next(it))


def test_keras2_legacy_h5_model_and_weights(tmp_path):
    ref = dlc.Model(*(lambda i: (i, L.Dense(2, activation="softmax")(L.LeakyReLU(0.2)(L.BatchNormalization()(
        L.Dense(4, activation="relu")(i))))))(L.Input(shape=(6,))))
    weights = [rng0.standard_normal(w.shape).astype(np.float32) for w in ref.get_weights()]
    weights[5] = np.abs(weights[5]) + 0.5  # a moving variance
    ref.set_weights(weights)
    path = str(tmp_path / "keras2.h5")
    keras2_file(path, weights)
    model = dlc.models.load_model(path)
    x, y = xy()
    np.testing.assert_allclose(model.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-6)
    assert model.compiled and isinstance(model.optimizer, dlc.optimizers.Adam)
    model.fit(x, y, epochs=1, verbose=0)
    fresh = dlc.models.load_model(path, compile=False)
    fresh.set_weights([np.zeros_like(w) for w in weights])
    fresh.load_weights(path)  # the weights of a whole-model .h5
    np.testing.assert_allclose(fresh.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-6)


# ---------------------------------------------------------------- safety
def test_loading_never_unpickles_or_runs_code(tmp_path):
    model = small()
    # an .npz holding a pickled object array is refused by np.load(allow_pickle=False)
    np.savez(tmp_path / "evil.npz", manifest=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError):
        model.load_weights(tmp_path / "evil.npz")
    # a config naming a layer dlc does not have (a Lambda would run code): refused by name
    entry = json.loads(model.to_json())
    entry["config"]["layers"][1] = {"module": "keras.layers", "class_name": "Lambda",
                                    "config": {"name": "evil", "function": {"class_name": "__lambda__",
                                                                            "config": {"code": "x"}}},
                                    "registered_name": None, "name": "dense", "inbound_nodes": []}
    with pytest.raises(ValueError, match="layer class 'Lambda' is not supported by dlc"):
        dlc.models.model_from_json(json.dumps(entry))
    entry = json.loads(model.to_json())
    entry["config"]["layers"][1]["registered_name"] = "my_package>MyDense"
    with pytest.raises(ValueError, match="my_package>MyDense"):
        dlc.models.model_from_json(json.dumps(entry))
    with pytest.raises(NotImplementedError, match="custom_objects"):
        dlc.models.load_model(tmp_path / "x.keras", custom_objects={"f": print})


def test_oversized_or_deep_configs_are_refused(tmp_path, monkeypatch):
    model = small()
    path = tmp_path / "m.keras"
    model.save(path)
    monkeypatch.setattr(keras_config, "MAX_CONFIG_BYTES", 1000)
    with pytest.raises(ValueError, match="over the 0 MB dlc accepts"):
        dlc.models.load_model(path)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="not valid JSON"):
        dlc.models.model_from_json("[" * 100000 + "]" * 100000)
    bomb = tmp_path / "bomb.keras"  # a config.json that inflates beyond the bound
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", b" " * (65 * 1024 * 1024))
        zf.writestr("model.weights.h5", b"")
    assert os.path.getsize(bomb) < 1024 * 1024
    with pytest.raises(ValueError, match="refusing to inflate"):
        dlc.models.load_model(bomb)


def test_hdf5_links_and_bad_shapes_are_refused(tmp_path):
    model = small()
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink("/etc/passwd", "/x")
    with pytest.raises(ValueError, match="refusing a ExternalLink"):
        model.load_weights(path)
    model.save_weights(path)
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(100000, 100000), dtype="f4")  # declared, not stored
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"has shape \(100000, 100000\) in the file; the model expects \(6, 4\)"):
        model.load_weights(path)
    for a, b in zip(model.get_weights(), before):  # nothing changed
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- errors
def test_errors_name_the_argument_the_expected_and_the_received(tmp_path):
    model = small()
    with pytest.raises(ValueError, match=r"`filepath` must end in `\.keras`.*received filepath='m\.model'"):
        model.save("m.model")
    with pytest.raises(ValueError, match="legacy HDF5 whole-model format is read but not written"):
        model.save("m.h5")
    with pytest.raises(ValueError, match=r"`filepath` must end in `\.weights\.h5`.*received filepath='w\.h5'"):
        model.save_weights("w.h5")
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="exists and overwrite=False"):
        model.save(tmp_path / "m.keras", overwrite=False)
    with pytest.raises(FileNotFoundError, match="No file at"):
        dlc.models.load_model(tmp_path / "missing.keras")
    model.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="is a weights file.*model.load_weights"):
        dlc.models.load_model(tmp_path / "w.weights.h5")  # was a misleading zip/np.load error
    (tmp_path / "junk.keras").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="is not a saved model"):
        dlc.models.load_model(tmp_path / "junk.keras")
    with pytest.raises(ValueError, match="not a weights file"):
        model.load_weights(tmp_path / "junk.keras")
    with pytest.raises(ValueError, match="has not been built"):
        dlc.Sequential([L.Dense(2)]).save(tmp_path / "x.keras")


def test_a_weights_file_for_another_architecture_names_the_first_mismatch(tmp_path):
    model = small()
    model.save_weights(tmp_path / "w.weights.h5")
    inp = L.Input(shape=(6,))
    other = dlc.Model(inp, L.Dense(2)(L.BatchNormalization()(L.Dense(5)(inp))))
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"weight '.*kernel' of layer '.*' \(Dense\) at /layers/dense/vars/0 has "
                                         r"shape \(6, 4\) in the file; the model expects \(6, 5\)"):
        other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(other.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    deeper = dlc.Model(inp, L.Dense(3)(L.Dense(2)(L.BatchNormalization()(L.Dense(4)(inp)))))
    with pytest.raises(ValueError, match=r"no weights for layer '.*' \(Dense\) at 'layers/dense_2'"):
        deeper.load_weights(tmp_path / "w.weights.h5")
    shallow = dlc.Sequential([L.Input(shape=(6,)), L.Dense(4)])
    with pytest.raises(ValueError, match="at 'layers/batch_normalization' that the model does not have"):
        shallow.load_weights(tmp_path / "w.weights.h5")
    model.save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="holds 8 weights, model '.*' has 2"):
        shallow.load_weights(tmp_path / "w.npz")


def test_unsupported_keras_arguments_are_named():
    entry = json.loads(small().to_json())
    entry["config"]["layers"][1]["config"]["kernel_constraint"] = {"class_name": "MaxNorm", "config": {}}
    with pytest.raises(NotImplementedError, match="layer 'dense.*' \\(Dense\\).*kernel_constraint"):
        dlc.models.model_from_json(json.dumps(entry))
    entry = json.loads(small().to_json())
    entry["config"]["layers"][1]["config"]["dtype"] = "mixed_float16"
    with pytest.raises(NotImplementedError, match="dtype 'mixed_float16'"):
        dlc.models.model_from_json(json.dumps(entry))
    entry["config"]["layers"][1]["config"]["dtype"] = "float32"
    entry["config"]["layers"][1]["config"]["brand_new_argument"] = 3
    with pytest.raises(NotImplementedError, match="`brand_new_argument`=3"):
        dlc.models.model_from_json(json.dumps(entry))
