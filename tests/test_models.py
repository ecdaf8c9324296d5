"""Models: building, summary, training API, errors, reproducibility, saving, learning."""
import contextlib
import io

import numpy as np
import pytest

import dlc
from dlc import layers as L
from dlc.models import Model, Sequential, load_model

from conftest import data_dir


def cnn_mnist(num_classes=10):
    model = Sequential()
    model.add(L.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(L.Conv2D(64, (3, 3), activation="relu"))
    model.add(L.MaxPooling2D(pool_size=(2, 2)))
    model.add(L.Dropout(0.25))
    model.add(L.Flatten())
    model.add(L.Dense(128, activation="relu"))
    model.add(L.Dropout(0.5))
    model.add(L.Dense(num_classes, activation="softmax"))
    return model


def small_mlp(seed=0):
    dlc.utils.set_random_seed(seed)
    return Sequential([L.Input(shape=(6,)), L.Dense(16, activation="relu"), L.Dropout(0.2),
                       L.Dense(3, activation="softmax")])


def toy_data(rng, n=200):
    x = rng.standard_normal((n, 6)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    return x, dlc.utils.to_categorical(labels, 3), labels


def test_summary_counts_cnn_mnist_parameters():
    model = cnn_mnist()
    assert model.count_params() == 1_199_882
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "1,199,882" in text
    assert "(None, 26, 26, 32)" in text and "(None, 12, 12, 64)" in text
    assert "Conv2D" in text and "Param #" in text and "MACs" in text
    # conv2: 24*24*64*3*3*32 multiply-accumulates per sample
    assert f"{24 * 24 * 64 * 9 * 32:,}" in text


def test_sequential_and_functional_build_the_same_graph(rng):
    dlc.utils.set_random_seed(3)
    seq = small_mlp()
    inp = L.Input(shape=(6,))
    x = L.Dense(16, activation="relu")(inp)
    x = L.Dropout(0.2)(x)
    out = L.Dense(3, activation="softmax")(x)
    fun = Model(inp, out)
    fun.set_weights(seq.get_weights())
    xb = rng.standard_normal((10, 6)).astype(np.float32)
    np.testing.assert_array_equal(seq.predict(xb, verbose=0), fun.predict(xb, verbose=0))


def test_weights_are_views_into_one_arena():
    model = cnn_mnist()
    model.build()
    arena = model._arena
    for layer in model.layers:
        for v in layer.weights:
            if v.trainable:
                assert np.shares_memory(v.value, arena.params)
                assert np.shares_memory(v.grad, arena.grads)
    before = model.layers[0].kernel.value
    model.layers[0].set_weights([np.ones((3, 3, 1, 32)), np.zeros(32)])
    assert model.layers[0].kernel.value is before  # set_weights copies, never rebinds
    assert model.layers[0].kernel.value.sum() == 3 * 3 * 32


def test_get_set_weights_round_trip_and_errors(rng):
    model = small_mlp()
    w = model.get_weights()
    assert [a.shape for a in w] == [(6, 16), (16,), (16, 3), (3,)]
    w2 = [rng.standard_normal(a.shape).astype(np.float32) for a in w]
    model.set_weights(w2)
    for a, b in zip(model.get_weights(), w2):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="dense.*kernel|kernel"):
        model.set_weights([np.zeros((5, 16))] + w2[1:])
    for a, b in zip(model.get_weights(), w2):  # nothing changed by the failed call
        np.testing.assert_array_equal(a, b)


def test_fit_evaluate_predict_api(rng):
    x, y, labels = toy_data(rng)
    model = small_mlp()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.25)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(hist.history["loss"]) == 3
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert d == {"accuracy": acc, "loss": loss}
    probs = model.predict(x, verbose=0)
    assert probs.shape == (200, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    assert acc == pytest.approx((probs.argmax(1) == labels).mean())
    # sparse labels with the sparse loss give the same accuracy metric semantics
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    l2, a2 = model.evaluate(x, labels.astype(np.uint8), verbose=0)
    assert a2 == pytest.approx(acc) and l2 == pytest.approx(loss, rel=1e-5)
    out = model.train_on_batch(x[:8], labels[:8])
    assert len(out) == 2
    np.testing.assert_allclose(model.predict_on_batch(x[:4]), model.predict(x[:4], verbose=0))


def test_loss_is_exact_mean_over_epoch(rng):
    x, y, _ = toy_data(rng, 50)
    model = small_mlp()
    model.compile(optimizer=dlc.optimizers.SGD(learning_rate=0.0), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)  # 16+16+16+2
    # with lr 0 and dropout's mask in training only, evaluate (inference) differs; compare to
    # a direct computation of the training-mode loss is not possible, so compare lr=0 with
    # evaluate on a dropout-free copy
    model2 = Sequential([L.Input(shape=(6,)), L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")])
    model2.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    w = model.get_weights()
    model2.set_weights(w)
    loss, acc = model2.evaluate(x, y, batch_size=7, verbose=0)
    p = model2.predict(x, verbose=0).astype(np.float64)
    assert loss == pytest.approx(float(-(y * np.log(np.clip(p, 1e-7, 1))).sum(1).mean()), rel=1e-5)
    assert hist.history["loss"][0] > 0


def test_reproducible_with_seed_and_threads(rng, threads):
    x, y, _ = toy_data(rng)

    def train(n_threads):
        threads(n_threads)
        model = small_mlp(seed=42)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        return model.get_weights()

    a, b, c = train(1), train(1), train(2)
    for u, v, w in zip(a, b, c):
        np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(u, w)


def test_errors_are_clear(rng):
    x, y, labels = toy_data(rng, 20)
    model = small_mlp()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="Unknown loss 'categorical_crossentropi'"):
        model.compile(optimizer="adam", loss="categorical_crossentropi")
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match=r"expected shape=\(None, 6\), found shape=\(20, 5\)"):
        model.fit(x[:, :5], y, verbose=0)
    with pytest.raises(ValueError, match="to_categorical|sparse_categorical_crossentropy"):
        model.fit(x, labels, verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(x, y[:10], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"class indices must be in \[0, 3\)"):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, labels + 5, verbose=0)
    with pytest.raises(ValueError, match="Conv2D 'bad_conv'.*4-D"):
        Sequential([L.Input(shape=(6,)), L.Conv2D(3, 3, name="bad_conv")])
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(3, 3, padding="full")
    with pytest.raises(ValueError, match="Unknown activation"):
        L.Dense(3, activation="relux")
    with pytest.raises(ValueError, match="not yet been built"):
        Sequential([L.Dense(3)]).summary()


def test_deferred_build_from_data(rng):
    x, y, _ = toy_data(rng, 40)
    model = Sequential([L.Dense(8, activation="relu"), L.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.count_params() == 6 * 8 + 8 + 8 * 3 + 3


def test_frozen_layer_is_not_updated(rng):
    x, y, _ = toy_data(rng, 64)
    model = small_mlp()
    model.layers[0].trainable = False
    before = model.layers[0].get_weights()
    model.compile(optimizer=dlc.optimizers.Adam(weight_decay=0.1), loss="categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.layers[2].get_weights()[0], small_mlp().layers[2].get_weights()[0])


def test_save_and_load(tmp_path, rng):
    inp = L.Input(shape=(8, 8, 1))
    a = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    b = L.MaxPooling2D(2)(a)
    c = L.Concatenate()([L.Conv2D(3, 1)(b), L.AveragePooling2D(1)(b)])
    out = L.Dense(2, activation="softmax")(L.Flatten()(L.BatchNormalization()(c)))
    model = Model(inp, out)
    x = rng.standard_normal((5, 8, 8, 1)).astype(np.float32)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))
    wpath = str(tmp_path / "w.weights.npz")
    model.save_weights(wpath)
    fresh = load_model(path)
    fresh.set_weights([np.zeros_like(w) for w in fresh.get_weights()])
    fresh.load_weights(wpath)
    np.testing.assert_array_equal(model.predict(x, verbose=0), fresh.predict(x, verbose=0))


def test_progress_output_is_bounded_for_10000_steps(rng, monkeypatch):
    """verbose=1 redraws one line in place at a limited rate: a 10,000-step epoch writes a
    bounded amount of output (as it must in Jupyter)."""
    monkeypatch.setenv("DLC_PROGRESS", "dynamic")
    x = rng.standard_normal((10_000, 2)).astype(np.float32)
    y = rng.standard_normal((10_000, 1)).astype(np.float32)
    model = Sequential([L.Input(shape=(2,)), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.fit(x, y, batch_size=1, epochs=1, verbose=1)
    text = out.getvalue()
    assert "10000/10000" in text and "loss:" in text
    assert len(text) < 200_000, len(text)
    out2 = io.StringIO()
    with contextlib.redirect_stdout(out2):
        model.fit(x, y, batch_size=1000, epochs=2, verbose=2)
    assert out2.getvalue().count("\n") <= 4 and "Epoch 2/2" in out2.getvalue()


@pytest.mark.skipif(data_dir() is None, reason="MNIST not available: set DLC_DATA_DIR or put shared/datasets above the repository")
def test_cnn_mnist_learns_on_a_subset(monkeypatch):
    """The CNN-MNIST example's network and optimizer (Adadelta, learning rate 1.0), trained on
    6,000 MNIST images, reaches >= 95% on 1,000 test images.

    Calibration (seeds 0-3, 1,000 test images): one epoch at the example's batch 128 gives
    85-89% with Keras 3 itself and 89-91% with dlc, and about 94% at batch 32 for both, so one
    epoch cannot clear 95% with this network; three epochs at batch 32 (564 steps) do with a
    margin, in a few seconds."""
    monkeypatch.setenv("DLC_DATA_DIR", data_dir())
    (x_train, y_train), (x_test, y_test) = dlc.datasets.mnist.load_data()
    dlc.utils.set_random_seed(0)
    x_train = x_train[:6000].reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = x_test[:1000].reshape(-1, 28, 28, 1).astype("float32") / 255
    y_train = dlc.utils.to_categorical(y_train[:6000], 10)
    y_test = dlc.utils.to_categorical(y_test[:1000], 10)
    model = cnn_mnist()
    model.compile(loss=dlc.losses.categorical_crossentropy,
                  optimizer=dlc.optimizers.Adadelta(learning_rate=1.0), metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=3, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc >= 0.95, (loss, acc)


def test_models_train_concurrently_from_python_threads(rng):
    """Kernels release the GIL: four models trained at once from Python threads end with the
    same weights as when trained one after another."""
    import threading

    x = rng.standard_normal((64, 10, 10, 1)).astype(np.float32)
    y = dlc.utils.to_categorical(rng.integers(0, 3, 64), 3)

    def make(seed):
        dlc.utils.set_random_seed(seed)
        m = Sequential([L.Input(shape=(10, 10, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                        L.Dropout(0.3), L.Flatten(), L.Dense(3, activation="softmax")])
        m.compile(optimizer="adam", loss="categorical_crossentropy")
        return m

    def train(m):
        for i in range(0, 64, 16):
            m.train_on_batch(x[i:i + 16], y[i:i + 16])

    sequential = [make(s) for s in range(4)]
    for m in sequential:
        train(m)
    concurrent = [make(s) for s in range(4)]
    threads = [threading.Thread(target=train, args=(m,)) for m in concurrent]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(sequential, concurrent):
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)
