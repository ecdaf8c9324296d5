"""Bad input gets a clear exception, before any work starts, naming the function or layer, the
argument, the expected and the received; valid but unusual input is accepted; nothing is lost
(weights are unchanged after a refused call)."""
import threading

import numpy as np
import pytest

import dlc
from dlc import layers as L


def _model():
    dlc.utils.set_random_seed(0)
    m = dlc.Sequential([L.Input(shape=(4,)), L.Dense(5, activation="relu"), L.Dropout(0.3),
                        L.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


X = np.random.default_rng(0).standard_normal((12, 4)).astype(np.float32)
Y = np.random.default_rng(1).integers(0, 3, 12)

FIT_CASES = [
    (dict(epochs="3"), TypeError, r"^fit: argument `epochs` must be an int >= 0, received '3' \(str\)$"),
    (dict(epochs=None), TypeError, r"^fit: argument `epochs` must be an int >= 0, received None \(NoneType\)$"),
    (dict(epochs=-1), ValueError, r"^fit: argument `epochs` must be an int >= 0, received -1$"),
    (dict(batch_size=0), ValueError, r"^fit: argument `batch_size` must be an int >= 1, received 0$"),
    (dict(batch_size="32"), TypeError, r"^fit: argument `batch_size` must be an int >= 1, received '32' \(str\)$"),
    (dict(initial_epoch=-2), ValueError, r"^fit: argument `initial_epoch` must be an int >= 0, received -2$"),
    (dict(validation_split=1.0), ValueError, r"^fit: argument `validation_split` must be a float in \[0.0, 1.0\), received 1.0$"),
    (dict(validation_split="0.1"), TypeError, r"^fit: argument `validation_split` must be a float in \[0.0, 1.0\), received '0.1' \(str\)$"),
    (dict(validation_freq=0), ValueError, r"^fit: argument `validation_freq` must be an int >= 1, received 0$"),
    (dict(steps_per_epoch=0), ValueError, r"^fit: argument `steps_per_epoch` must be an int >= 1 or None, received 0$"),
    (dict(validation_steps=0), ValueError, r"^fit: argument `validation_steps` must be an int >= 1 or None, received 0$"),
    (dict(validation_batch_size=0), ValueError, r"^fit: argument `validation_batch_size` must be an int >= 1 or None, received 0$"),
    (dict(verbose=5), ValueError, r"^fit: argument `verbose` must be 0, 1, 2 or 'auto', received 5$"),
    (dict(shuffle="yes"), TypeError, r"^fit: argument `shuffle` must be True or False, received 'yes' \(str\)$"),
    (dict(sample_weight=np.ones(3)), ValueError, r"^fit: argument `sample_weight` must hold one weight per sample, shape \(12,\), received shape \(3,\)$"),
    (dict(sample_weight=-np.ones(12)), ValueError, r"^fit: argument `sample_weight` must hold finite weights >= 0$"),
    (dict(class_weight=[1.0, 2.0]), TypeError, r"^fit: argument `class_weight` must be a dict \{class index: weight\}, received list$"),
    (dict(validation_data=(X,)), ValueError, r"^fit: argument `validation_data` must be \(x_val, y_val\) or \(x_val, y_val, sample_weight\), received a sequence of 1$"),
]


@pytest.mark.parametrize("kwargs,exc,message", FIT_CASES, ids=[str(sorted(c[0]))[:40] for c in FIT_CASES])
def test_fit_refusals_leave_the_model_unchanged(kwargs, exc, message):
    m = _model()
    before = m.get_weights()
    with pytest.raises(exc, match=message):
        m.fit(X, Y, **{"verbose": 0, **kwargs})
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_data_refusals():
    m = _model()
    with pytest.raises(ValueError, match=r"^evaluate: the input `x` is empty \(0 samples\)$"):
        m.evaluate(X[:0], Y[:0], verbose=0)
    with pytest.raises(ValueError, match=r"^fit: the input `x` is empty \(0 samples\)$"):
        m.fit(X[:0], Y[:0], verbose=0)
    with pytest.raises(ValueError, match=r"x and y must have the same number of samples, received x: 12, y: 5"):
        m.fit(X, Y[:5], verbose=0)
    with pytest.raises(ValueError, match=r"targets `y` are required"):
        m.fit(X, verbose=0)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4\), found shape=\(12, 5\)"):
        m.predict(np.zeros((12, 5), np.float32), verbose=0)
    with pytest.raises(TypeError, match=r"must be numeric, received dtype <U1"):
        m.predict(np.full((2, 4), "a"), verbose=0)
    with pytest.raises(ValueError, match=r"^predict: argument `steps` must be an int >= 1 or None, received 0$"):
        m.predict(X, steps=0, verbose=0)
    with pytest.raises(ValueError, match=r"argument `y` must be None when `x` is a generator"):
        m.fit(iter([(X, Y)]), Y, verbose=0)


def test_valid_unusual_input_is_accepted():
    m = _model()
    ref = m.predict(X, verbose=0)
    raw = np.zeros(12 * 4 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(12, 4)  # unaligned
    raw[...] = X
    assert not raw.flags.aligned
    np.testing.assert_array_equal(m.predict(raw, verbose=0), ref)
    np.testing.assert_array_equal(m.predict(np.asfortranarray(X), verbose=0), ref)
    np.testing.assert_array_equal(m.predict(X.astype(np.float64), verbose=0), ref)
    np.testing.assert_array_equal(m.predict(X.tolist(), verbose=0), ref)
    assert m.predict(X, batch_size=2 ** 40, verbose=0).shape == (12, 3)
    m.evaluate(raw, Y, verbose=0)
    m.fit(raw[::1], Y.astype(np.float64), verbose=0, batch_size=2 ** 40)
    assert m.test_on_batch(X, Y, sample_weight=np.ones(12)) is not None


def test_regularization_is_the_same_objective_in_training_and_evaluation():
    dlc.utils.set_random_seed(0)
    m = dlc.Sequential([L.Input(shape=(4,)), L.Dense(3, kernel_regularizer=dlc.regularizers.l2(0.1), name="r"),
                        L.Dense(3, activation="softmax", kernel_regularizer="l2", name="frozen")])
    m.get_layer("frozen").trainable = False
    m.compile(optimizer=dlc.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    train = m.train_on_batch(X, Y)
    test = m.test_on_batch(X, Y)
    assert train == pytest.approx(test, rel=1e-6)  # the frozen layer's penalty in neither


@pytest.mark.parametrize("make,exc,message", [
    (lambda: L.Dense("10"), TypeError, r"^Dense: argument `units` must be an int >= 1, received '10' \(str\)$"),
    (lambda: L.Dense(0), ValueError, r"^Dense: argument `units` must be an int >= 1, received 0$"),
    (lambda: L.Dense(3, use_bias="no"), TypeError, r"^Dense: argument `use_bias` must be True or False, received 'no' \(str\)$"),
    (lambda: L.Dense(3, activation="rleu"), ValueError, r"Unknown activation 'rleu'.*Did you mean 'relu'"),
    (lambda: L.Conv2D(8, (3, 3, 3)), ValueError, r"^Conv2D: argument `kernel_size` must be an int or a tuple of 2 ints, received \(3, 3, 3\)$"),
    (lambda: L.Conv2D(8, 3, strides=0), ValueError, r"^Conv2D: argument `strides` must be >= 1, received 0$"),
    (lambda: L.Conv2D(8, 3, padding="full"), ValueError, r"^Conv2D: argument `padding` must be 'valid' or 'same', received 'full'$"),
    (lambda: L.Conv2D(8, 2 ** 40), ValueError, r"^Conv2D: argument `kernel_size` must be < 2\*\*31"),
    (lambda: L.MaxPooling2D(pool_size="2"), TypeError, r"^MaxPooling2D: argument `pool_size` must be an int or a tuple of 2 ints"),
    (lambda: L.Dropout(1.0), ValueError, r"^Dropout: argument `rate` must be a float in \[0.0, 1.0\), received 1.0$"),
    (lambda: L.Dropout(None), TypeError, r"^Dropout: argument `rate` must be a float in \[0.0, 1.0\), received None \(NoneType\)$"),
    (lambda: L.BatchNormalization(momentum="0.9"), TypeError, r"^BatchNormalization: argument `momentum` must be a float in \[0.0, 1.0\], received '0.9' \(str\)$"),
    (lambda: L.BatchNormalization(epsilon=0), ValueError, r"^BatchNormalization: argument `epsilon` must be > 0, received 0.0$"),
    (lambda: L.LeakyReLU("a"), TypeError, r"^LeakyReLU: argument `negative_slope` must be a float"),
    (lambda: L.ReLU(max_value=-1), ValueError, r"^ReLU: argument `max_value` must be a float in \[0.0, inf\), received -1.0$"),
    (lambda: dlc.optimizers.Adam(learning_rate="fast"), TypeError, r"^Adam: argument `learning_rate` must be a number, received 'fast' \(str\)$"),
    (lambda: dlc.optimizers.SGD(momentum=1.5), ValueError, r"^SGD: argument `momentum` must be in \[0, 1.0\], received 1.5$"),
    (lambda: dlc.optimizers.Adam(lr=None), TypeError, r"^Adam: argument `learning_rate` must be a number, received None"),
    (lambda: dlc.optimizers.schedules.ExponentialDecay(0.1, 0, 0.5), ValueError, r"^ExponentialDecay: argument `decay_steps` must be > 0, received 0$"),
    (lambda: dlc.optimizers.schedules.InverseTimeDecay(0.1, 0, 0.5), ValueError, r"^InverseTimeDecay: argument `decay_steps` must be > 0, received 0$"),
])
def test_layer_and_optimizer_hyperparameters(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_sizes_that_would_overflow_raise_naming_the_weight():
    with pytest.raises(MemoryError, match=r"the largest is 'huge/kernel' of shape \(784, 1099511627776\)"):
        dlc.Sequential([L.Input(shape=(784,)), L.Dense(2 ** 40, name="huge")])


def test_compile_refusals():
    m = _model()
    with pytest.raises(ValueError, match=r"Unknown loss 'categorical_crossentropi'.*Did you mean 'categorical_crossentropy'"):
        m.compile(loss="categorical_crossentropi")
    with pytest.raises(ValueError, match=r"^compile: argument `steps_per_execution` must be an int >= 1, received 0$"):
        m.compile(loss="mse", steps_per_execution=0)
    m.compile(loss={"dense_1": "sparse_categorical_crossentropy"} if False else "mse", optimizer="sgd")
    fresh = dlc.Sequential([L.Input(shape=(4,)), L.Dense(2)])
    with pytest.raises(RuntimeError, match=r"You must call `compile\(\)` before using the model \(fit\)"):
        fresh.fit(X, np.zeros((12, 2)), verbose=0)


def test_two_concurrent_seeded_fits_each_equal_their_serial_runs():
    def build(seed):
        dlc.utils.set_random_seed(seed)
        return _model_seeded()

    def _model_seeded():
        m = dlc.Sequential([L.Input(shape=(4,)), L.Dense(16, activation="relu"), L.Dropout(0.3),
                            L.Dense(3, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return m

    rng = np.random.default_rng(3)
    x = rng.standard_normal((256, 4)).astype(np.float32)
    y = rng.integers(0, 3, 256)
    serial = []
    for seed in (1, 2):
        m = build(seed)
        m.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=True)
        serial.append(m.get_weights())
    models = [build(1), build(2)]
    threads = [threading.Thread(target=m.fit, args=(x, y), kwargs=dict(batch_size=16, epochs=3, verbose=0))
               for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for m, want in zip(models, serial):
        for a, b in zip(m.get_weights(), want):
            np.testing.assert_array_equal(a, b)
