"""dlc.utils.check_gradients: a correct model passes, a layer with a wrong backward is flagged,
and the check changes nothing of the model (weights, batch-norm statistics, dropout counters)."""
import numpy as np
import pytest

import dlc
from dlc import layers as L
from dlc.models import Model, Sequential


class WrongDense(L.Dense):
    """A Dense whose backward doubles its kernel's gradient (a typical student bug)."""

    def backward_linear(self, ctx, dz, dx):
        super().backward_linear(ctx, dz, dx)
        self.kernel.grad *= 2.0


class SignFlippedInputDense(L.Dense):
    """A Dense whose backward sends the input's gradient with the wrong sign."""

    def backward_linear(self, ctx, dz, dx):
        before = None if dx is None else dx.copy()
        super().backward_linear(ctx, dz, dx)
        if dx is not None:
            dx[...] = before - (dx - before)


def data(rng, n=6, shape=(8, 8, 1), classes=4):
    x = rng.random((n,) + shape, dtype=np.float32)
    y = dlc.utils.to_categorical(rng.integers(0, classes, n), classes)
    return x, y


def small_cnn(dense=L.Dense, bn=True, dropout=True):
    dlc.utils.set_random_seed(3)
    model = Sequential([L.Input((8, 8, 1)), L.Conv2D(4, 3, activation="tanh"),
                        *( [L.BatchNormalization()] if bn else []),
                        L.MaxPooling2D(2), *([L.Dropout(0.3)] if dropout else []), L.Flatten(),
                        dense(6, activation="tanh", name="hidden"),
                        L.Dense(4, activation="softmax", name="out")])
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def test_correct_model_passes_and_reports_every_weight_and_the_input(rng):
    model = small_cnn()
    x, y = data(rng)
    lines = []
    result = dlc.utils.check_gradients(model, x, y, print_fn=lines.append)
    assert result.passed, str(result)
    assert result.max_error < 5e-2
    names = [f"{r.layer}/{r.weight}" for r in result.rows]
    expected = [v.path for v in model.trainable_weights] + [model.inputs[0].name + "/x"]
    assert names == expected
    assert set(result.layer_errors) == {v.path.split("/")[0] for v in model.trainable_weights} | {model.inputs[0].name}
    # The printed table: one line per checked tensor, the verdict at the end.
    (text,) = lines
    assert text == str(result)
    assert "Layer (type)" in text and "Rel. error" in text and "hidden (Dense)" in text
    assert "batch_normalization" in text and "gamma" in text
    assert "agree with finite differences" in text
    assert text.count("│ ok") == len(result.rows)


def test_wrong_backward_is_flagged_with_a_large_error(rng):
    model = small_cnn(dense=WrongDense)
    x, y = data(rng)
    result = dlc.utils.check_gradients(model, x, y, verbose=False)
    assert not result.passed
    errors = result.errors
    assert errors["hidden/kernel"] > 0.2  # twice the gradient: about 1/2
    assert [f"{r.layer}/{r.weight}" for r in result.failed] == ["hidden/kernel"]
    assert errors["hidden/bias"] < 5e-2 and errors["out/kernel"] < 5e-2
    text = str(result)
    assert "FAIL" in text and "hidden/kernel" in text.splitlines()[-1]


def test_wrong_input_gradient_is_flagged_upstream_and_at_the_input(rng):
    dlc.utils.set_random_seed(5)
    inputs = L.Input((5,))
    h = SignFlippedInputDense(7, activation="tanh", name="flipped")(inputs)
    out = L.Dense(3, activation="softmax", name="out")(h)
    model = Model(inputs, out)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = dlc.utils.to_categorical([0, 1, 2, 1], 3)
    result = dlc.utils.check_gradients(model, x, y, verbose=False)
    assert result.errors[f"{inputs.name}/x"] > 1.0  # the opposite sign: about 2
    assert result.errors["flipped/kernel"] < 5e-2  # its own weights are right


def test_nothing_of_the_model_changes(rng):
    model = small_cnn()
    x, y = data(rng)
    model.fit(x, y, epochs=1, batch_size=3, verbose=0)  # moving statistics away from their init
    before = [w.copy() for w in model.get_weights()]  # includes moving_mean / moving_variance
    dropout = next(l for l in model.layers if isinstance(l, L.Dropout))
    step = dropout._step
    opt_iterations = int(model.optimizer.iterations)
    predictions = model.predict(x, verbose=0)
    dlc.utils.check_gradients(model, x, y, verbose=False)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert dropout._step == step
    assert int(model.optimizer.iterations) == opt_iterations
    np.testing.assert_array_equal(model.predict(x, verbose=0), predictions)


def test_training_mode_dropout_is_checked_with_one_mask(rng):
    """Dropout at rate 0.5 in training mode: with a new mask per forward pass the finite
    differences would be noise; with the step counter held they agree."""
    dlc.utils.set_random_seed(11)
    model = Sequential([L.Input((6,)), L.Dense(16, activation="tanh"), L.Dropout(0.5),
                        L.Dense(3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x = rng.standard_normal((8, 6)).astype(np.float32)
    y = dlc.utils.to_categorical(rng.integers(0, 3, 8), 3)
    result = dlc.utils.check_gradients(model, x, y, verbose=False)
    assert result.passed, str(result)


def test_regularizers_and_mse_are_part_of_the_loss(rng):
    dlc.utils.set_random_seed(2)
    model = Sequential([L.Input((4,)), L.Dense(5, activation="tanh", kernel_regularizer=dlc.regularizers.L2(0.5)),
                        L.Dense(2)])
    model.compile(loss="mse", optimizer="sgd")
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.standard_normal((5, 2)).astype(np.float32)
    assert dlc.utils.check_gradients(model, x, y, verbose=False).passed


def test_kink_at_zero_biases_on_a_zero_background_is_inconclusive_not_a_failure():
    """A fresh ReLU network on images with a black background: biases at 0, so every unit over
    the background sits exactly at the ReLU's switch and the loss has a kink along the bias."""
    dlc.utils.set_random_seed(4)
    model = Sequential([L.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"),
                        L.Conv2D(4, 3, activation="relu"), L.BatchNormalization(), L.Flatten(),
                        L.Dense(3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    x = np.zeros((4, 8, 8, 1), np.float32)
    x[:, 2:6, 3:5] = 1.0  # a bright stroke on black
    x[1:, 1] = 0.5
    y = dlc.utils.to_categorical([0, 1, 2, 1], 3)
    result = dlc.utils.check_gradients(model, x, y, verbose=False)
    assert result.passed, str(result)
    kinks = {f"{r.layer}/{r.weight}" for r in result.inconclusive}
    # Only what moves the units over the background: the biases, and the input's black pixels.
    assert kinks <= {v.path for v in model.trainable_weights if v.name == "bias"} | {f"{model.inputs[0].name}/x"}
    assert all(r.error <= 5e-2 for r in result.rows if not r.kink)
    if kinks:
        assert "kink (inconclusive)" in str(result)


def test_arguments_are_checked(rng):
    model = small_cnn()
    x, y = data(rng)
    with pytest.raises(ValueError, match="epsilon"):
        dlc.utils.check_gradients(model, x, y, epsilon=0)
    with pytest.raises(ValueError, match="directions"):
        dlc.utils.check_gradients(model, x, y, directions=0)
    fresh = Sequential([L.Input((3,)), L.Dense(2)])
    with pytest.raises(RuntimeError, match="compile"):
        dlc.utils.check_gradients(fresh, np.ones((2, 3), np.float32), np.ones((2, 2), np.float32))


def test_the_course_cnn_passes_on_real_mnist_at_initialisation():
    """The CNN-MNIST network, fresh (zero biases) on real digits (black backgrounds)."""
    from conftest import data_dir

    if data_dir() is None:
        pytest.skip("needs MNIST: set DLC_DATA_DIR or put shared/datasets above the repository")
    from dlc.datasets import mnist

    (x, y), _ = mnist.load_data()
    x = (x[:8, :, :, None] / 255.0).astype(np.float32)
    y = dlc.utils.to_categorical(y[:8], 10)
    dlc.utils.set_random_seed(0)
    model = Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Dropout(0.25),
                        L.Flatten(), L.Dense(128, activation="relu"), L.Dropout(0.5),
                        L.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=dlc.optimizers.Adadelta(learning_rate=1.0))
    result = dlc.utils.check_gradients(model, x, y, verbose=False)
    assert result.passed, str(result)
    assert len(result.rows) == 9
