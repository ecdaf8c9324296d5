"""The Keras surface real programs use: the top-level namespace, arithmetic on symbolic
tensors and the lowercase merge functions, models nested as layers, several outputs with loss
lists/dicts and loss_weights, sample and class weights, generators and PyDatasets; Keras 3
(torch backend) is the oracle where the behaviour is observable."""
import warnings

import numpy as np
import pytest

import dlc
from conftest import keras, requires_keras
from dlc import layers as L


# ---------------------------------------------------------------- namespace
def test_top_level_names_and_nearest_suggestions():
    assert dlc.Sequential is dlc.models.Sequential and dlc.Model is dlc.models.Model
    assert dlc.Input is dlc.layers.Input
    for name in ("layers", "models", "optimizers", "losses", "metrics", "callbacks", "utils",
                 "datasets", "regularizers", "initializers", "activations", "config", "backend",
                 "preprocessing", "saving"):
        assert getattr(dlc, name).__name__ == f"dlc.{name}"
    with pytest.raises(AttributeError, match=r"module 'dlc' has no attribute 'Sequentail'.*'Sequential'"):
        dlc.Sequentail
    with pytest.raises(AttributeError, match=r"'dlc.layers' has no attribute 'Conv1D'.*'Conv2D'"):
        dlc.layers.Conv1D
    with pytest.raises(AttributeError, match=r"'dlc.callbacks' has no attribute 'EarlyStoping'.*'EarlyStopping'"):
        dlc.callbacks.EarlyStoping
    assert not any(n in dir(dlc) for n in ("Any", "Dict", "annotations", "importlib"))


@pytest.mark.parametrize("name", ["layers", "losses", "metrics", "optimizers", "callbacks", "utils",
                                  "initializers", "regularizers", "activations", "models", "config",
                                  "backend", "preprocessing"])
def test_submodules_dir_lists_only_what_a_user_can_use(name):
    module = getattr(dlc, name)
    names = dir(module)
    leaked = {"Any", "Dict", "List", "Optional", "Tuple", "Union", "Callable", "annotations",
              "np", "numpy", "importlib", "Registry", "Configurable", "types"} & set(names)
    assert not leaked, f"dir(dlc.{name}) lists {sorted(leaked)}"
    assert all(not n.startswith("_") for n in names)
    for n in names:  # everything listed is there
        getattr(module, n)
    expected = {"layers": "Conv2D", "losses": "Huber", "metrics": "F1Score", "optimizers": "Adam",
                "callbacks": "EarlyStopping", "utils": "plot_history", "initializers": "HeNormal",
                "regularizers": "l2", "activations": "relu", "models": "load_model",
                "config": "floatx", "backend": "epsilon", "preprocessing": "image"}[name]
    assert expected in names


def test_rmse_is_a_metric_name():
    assert isinstance(dlc.metrics.get("rmse"), dlc.metrics.RootMeanSquaredError)


def test_config_and_regularizer_spellings():
    assert dlc.config.image_data_format() == "channels_last" and dlc.config.floatx() == "float32"
    with pytest.raises(ValueError, match="channels-last"):
        dlc.config.set_image_data_format("channels_first")
    reg = dlc.regularizers.l2(1e-4)
    assert isinstance(reg, dlc.regularizers.L2) and reg.l2 == 1e-4
    assert dlc.regularizers.l1_l2(l1=0.1, l2=0.2).get_config() == {"l1": 0.1, "l2": 0.2}
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'.*Did you mean 'adam'"):
        dlc.optimizers.get("adamm")


# ---------------------------------------------------------------- operators and merges
def _ops_model(lib):
    Lk = lib.layers
    inp = Lk.Input(shape=(5,))
    h = Lk.Dense(5, activation="tanh")(inp)
    h += inp
    h = (h - 0.5) * 2.0
    h = h / (h * h + 1.0) - Lk.Dense(5)(inp) * 0.25
    h = Lk.concatenate([-h, 3.0 - h])
    out = Lk.Dense(3, activation="softmax")(Lk.add([h, Lk.multiply([h, h])]))
    return lib.Model(inp, out)


@requires_keras
def test_symbolic_arithmetic_matches_keras(rng):
    km, dm = _ops_model(keras), _ops_model(dlc)
    # moderate logits: Keras on torch clips probabilities at 1e-7, dlc (like Keras on
    # TensorFlow) takes the softmax's logits, so the two differ only for extreme outputs
    weights = km.get_weights()
    weights[-2] *= 0.1
    km.set_weights(weights)
    dm.set_weights(weights)
    x = 0.3 * rng.standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_allclose(dm.predict(x, verbose=0), np.asarray(km.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    km.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")
    dm.compile(optimizer=dlc.optimizers.SGD(0.01), loss="categorical_crossentropy")
    for _ in range(2):
        lk, ld = float(np.asarray(km.train_on_batch(x, y))), float(dm.train_on_batch(x, y))
    assert ld == pytest.approx(lk, rel=1e-4)
    for a, b in zip(km.get_weights(), dm.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_symbolic_arithmetic_gradients_and_config(rng):
    model = _ops_model(dlc)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = rng.standard_normal((7, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 7)]
    arena = model._ensure_arena()

    def loss():
        return float(model.evaluate(x, y, verbose=0, batch_size=7))

    with model._workspace() as ws:
        tape = model.run_forward(ws, [x], training=True)
        dy = np.zeros_like(tape.outputs[0])
        model.loss.backward(tape.outputs[0], y, 1.0 / 7, dy)
        arena.zero_grads()
        model.run_backward(tape, [dy])
    g, base = arena.grads.copy(), arena.params.copy()
    d = rng.standard_normal(base.shape).astype(np.float32)
    d /= np.linalg.norm(d)
    h = 1e-2
    arena.params[:] = base + h * d
    lp = loss()
    arena.params[:] = base - h * d
    lm = loss()
    arena.params[:] = base
    fd, an = (lp - lm) / (2 * h), float(np.dot(g.astype(np.float64), d))
    assert abs(fd - an) <= 2e-2 * max(abs(fd), abs(an)) + 1e-5
    again = dlc.models.model_from_config({"class_name": "Model", "config": model.get_config()})
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_broadcasting_operator_reduces_its_gradient(rng):
    a, b = L.Input(shape=(4, 3)), L.Input(shape=(1, 3))
    model = dlc.Model([a, b], a * b)
    xa, xb = rng.standard_normal((2, 4, 3)).astype(np.float32), rng.standard_normal((2, 1, 3)).astype(np.float32)
    with model._workspace() as ws:
        tape = model.run_forward(ws, [xa, xb], training=True)
        np.testing.assert_allclose(tape.outputs[0], xa * xb, rtol=1e-6)
        da, db = np.zeros_like(xa), np.zeros_like(xb)
        dy = np.ones_like(tape.outputs[0])
        model.run_backward(tape, [dy], input_grads=[da, db])
    np.testing.assert_allclose(da, np.broadcast_to(xb, xa.shape), rtol=1e-6)
    np.testing.assert_allclose(db, xa.sum(axis=1, keepdims=True), rtol=1e-5)


# ---------------------------------------------------------------- nested models
def _transfer(lib):
    base = lib.Sequential([lib.layers.Input(shape=(6,)), lib.layers.Dense(8, activation="relu"),
                           lib.layers.Dense(4, activation="relu")], name="base")
    base.trainable = False
    inp = lib.layers.Input(shape=(6,))
    return lib.Model(inp, lib.layers.Dense(3, activation="softmax")(base(inp))), base


@requires_keras
def test_transfer_learning_with_a_frozen_base_matches_keras(rng):
    (km, kbase), (dm, dbase) = _transfer(keras), _transfer(dlc)
    dm.set_weights(km.get_weights())
    assert len(dm.trainable_weights) == len(km.trainable_weights) == 2
    x = rng.standard_normal((16, 6)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    for m, lib in ((km, keras), (dm, dlc)):
        m.compile(optimizer=lib.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        m.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    for a, b in zip(km.get_weights(), dm.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    for a, b in zip(kbase.get_weights(), dbase.get_weights()):
        np.testing.assert_array_equal(b, a)


# ---------------------------------------------------------------- several outputs
def _two_outputs(lib):
    inp = lib.layers.Input(shape=(4,))
    h = lib.layers.Dense(6, activation="tanh")(inp)
    cls = lib.layers.Dense(3, activation="softmax", name="cls")(h)
    reg = lib.layers.Dense(1, name="reg")(h)
    return lib.Model(inp, [cls, reg])


@requires_keras
@pytest.mark.parametrize("structure", ["dict", "list"])
def test_two_outputs_match_keras(rng, structure):
    km, dm = _two_outputs(keras), _two_outputs(dlc)
    dm.set_weights(km.get_weights())
    x = rng.standard_normal((24, 4)).astype(np.float32)
    y1, y2 = rng.integers(0, 3, 24), rng.standard_normal((24, 1)).astype(np.float32)
    if structure == "dict":
        kw = dict(loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"}, loss_weights={"cls": 1.0, "reg": 0.5},
                  metrics={"cls": ["accuracy"], "reg": ["mse"]})
        ys = {"cls": y1, "reg": y2}
    else:
        kw = dict(loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics=[["accuracy"], ["mse"]])
        ys = [y1, y2]
    km.compile(optimizer=keras.optimizers.SGD(0.05), **kw)
    dm.compile(optimizer=dlc.optimizers.SGD(0.05), **kw)
    hk = km.fit(x, ys, batch_size=8, epochs=2, verbose=0, shuffle=False).history
    hd = dm.fit(x, ys, batch_size=8, epochs=2, verbose=0, shuffle=False).history
    assert sorted(hd) == sorted(hk)
    for key in hk:
        np.testing.assert_allclose(hd[key], hk[key], rtol=1e-4, atol=1e-6, err_msg=key)
    ek, ed = km.evaluate(x, ys, verbose=0), dm.evaluate(x, ys, verbose=0)
    np.testing.assert_allclose(ed, ek, rtol=1e-4, atol=1e-6)
    rk, rd = km.evaluate(x, ys, verbose=0, return_dict=True), dm.evaluate(x, ys, verbose=0, return_dict=True)
    assert sorted(rd) == sorted(rk)


# ---------------------------------------------------------------- sample and class weights
def _clf(lib):
    return lib.Sequential([lib.layers.Input(shape=(4,)), lib.layers.Dense(5, activation="relu"),
                           lib.layers.Dense(3, activation="softmax")])


@requires_keras
def test_sample_and_class_weights_match_keras(rng):
    km, dm = _clf(keras), _clf(dlc)
    dm.set_weights(km.get_weights())
    x = rng.standard_normal((30, 4)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    w = rng.uniform(0, 2, 30).astype(np.float32)
    w[:4] = 0
    for m, lib in ((km, keras), (dm, dlc)):
        m.compile(optimizer=lib.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], weighted_metrics=["accuracy"])
    ek = km.evaluate(x, y, sample_weight=w, batch_size=7, verbose=0, return_dict=True)
    ed = dm.evaluate(x, y, sample_weight=w, batch_size=7, verbose=0, return_dict=True)
    assert sorted(ed) == sorted(ek)
    for k in ek:
        assert ed[k] == pytest.approx(ek[k], rel=1e-5, abs=1e-6), k
    hk = km.fit(x, y, class_weight={0: 1.0, 1: 3.0, 2: 0.5}, batch_size=10, epochs=2, verbose=0, shuffle=False).history
    hd = dm.fit(x, y, class_weight={0: 1.0, 1: 3.0, 2: 0.5}, batch_size=10, epochs=2, verbose=0, shuffle=False).history
    for k in hk:
        np.testing.assert_allclose(hd[k], hk[k], rtol=1e-4, atol=1e-6, err_msg=k)
    km.fit(x, y, sample_weight=w, batch_size=10, epochs=1, verbose=0, shuffle=False)
    dm.fit(x, y, sample_weight=w, batch_size=10, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(km.get_weights(), dm.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    lk = float(np.asarray(km.train_on_batch(x[:8], y[:8], sample_weight=w[:8])[0]))
    ld = dm.train_on_batch(x[:8], y[:8], sample_weight=w[:8])[0]
    assert ld == pytest.approx(lk, rel=1e-4)


def test_zero_sample_weight_is_the_same_as_leaving_the_sample_out(rng):
    x = rng.standard_normal((20, 4)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    w = np.ones(20, np.float32)
    w[10:] = 0
    model = _clf(dlc)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    full = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    half = model.evaluate(x[:10], y[:10], verbose=0, return_dict=True)
    assert full["loss"] == pytest.approx(half["loss"] / 2, rel=1e-6)  # sum(w l) / n, n = 20
    assert full["accuracy"] == pytest.approx(half["accuracy"])


# ---------------------------------------------------------------- generators and PyDatasets
class _Batches(dlc.utils.PyDataset):
    def __init__(self, x, y, bs):
        super().__init__()
        self.x, self.y, self.bs, self.ends = x, y, bs, 0

    def __len__(self):
        return -(-len(self.x) // self.bs)

    def __getitem__(self, i):
        return self.x[i * self.bs:(i + 1) * self.bs], self.y[i * self.bs:(i + 1) * self.bs]

    def on_epoch_end(self):
        self.ends += 1


def test_generators_and_pydatasets_train_like_arrays(rng):
    x = rng.standard_normal((40, 4)).astype(np.float32)
    y = rng.integers(0, 3, 40)

    def run(data, **kw):
        dlc.utils.set_random_seed(0)
        m = _clf(dlc)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        h = m.fit(data, epochs=3, verbose=0, shuffle=False, **kw).history
        return h, m.get_weights(), m

    def gen():
        while True:
            for i in range(0, 40, 8):
                yield x[i:i + 8], y[i:i + 8]

    ha, wa, ma = run(x, y=y, batch_size=8)
    ds = _Batches(x, y, 8)
    hb, wb, _ = run(ds)
    hc, wc, _ = run(gen(), steps_per_epoch=5)
    for h, w in ((hb, wb), (hc, wc)):
        assert h == ha
        for a, b in zip(w, wa):
            np.testing.assert_array_equal(a, b)
    assert ds.ends == 3
    np.testing.assert_array_equal(ma.predict(gen(), steps=5, verbose=0), ma.predict(x, verbose=0))
    assert ma.evaluate(_Batches(x, y, 8), verbose=0) == ma.evaluate(x, y, batch_size=8, verbose=0)


def test_finite_generator_runs_out_with_a_warning(rng):
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    m = _clf(dlc)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    batches = ((x[i:i + 4], y[i:i + 4]) for i in range(0, 16, 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = m.fit(batches, steps_per_epoch=4, epochs=3, verbose=0)
    assert len(h.epoch) == 2 and any("ran out of data" in str(c.message) for c in caught)


def test_fit_argument_refusals_name_the_argument(rng):
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    m = _clf(dlc)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    cases = [
        (dict(epochs="2"), TypeError, r"fit: argument `epochs` must be an int >= 0, received '2' \(str\)"),
        (dict(batch_size=0), ValueError, r"fit: argument `batch_size` must be an int >= 1, received 0"),
        (dict(validation_split=1.5), ValueError, r"fit: argument `validation_split` must be a float in \[0.0, 1.0\), received 1.5"),
        (dict(validation_freq=0), ValueError, r"fit: argument `validation_freq` must be an int >= 1, received 0"),
        (dict(sample_weight=np.ones(5)), ValueError, r"fit: argument `sample_weight` must hold one weight per sample, shape \(8,\), received shape \(5,\)"),
        (dict(class_weight=[1, 2]), TypeError, r"fit: argument `class_weight` must be a dict"),
        (dict(verbose=3), ValueError, r"fit: argument `verbose` must be 0, 1, 2 or 'auto', received 3"),
    ]
    for kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            m.fit(x, y, **kw)
    with pytest.raises(ValueError, match=r"evaluate: the input `x` is empty \(0 samples\)"):
        m.evaluate(x[:0], y[:0], verbose=0)
    assert m.predict(x, batch_size=1 << 40, verbose=0).shape == (8, 3)  # clamped, not allocated
