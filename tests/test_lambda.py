"""Lambda (dlc/layers/lambda_layer.py): a NumPy function as a forward-only layer. The forward,
its arguments and training flag, list inputs, output shapes (given, a function, inferred, as
Keras 3's), read-only inputs; training through a Lambda at the model's input (the executor
passes dx=None) and the clear error when a gradient must cross it; configs refused (no code)."""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import keras, requires_keras  # noqa: E402

import dlc  # noqa: E402
from dlc import layers as L  # noqa: E402
from dlc.models import Model, Sequential  # noqa: E402


def test_forward_arguments_training_flag_and_lists(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(L.Lambda(lambda v: v * 2)(x), x * 2)
    np.testing.assert_allclose(L.Lambda(lambda v, a, b: a * v + b, arguments={"a": 3.0, "b": 1.0})(x), 3 * x + 1,
                               rtol=1e-6)
    seen = []
    flag = L.Lambda(lambda v, training=False: seen.append(training) or v)
    flag(x)
    flag(x, training=True)
    assert seen[-2:] == [False, True]
    both = L.Lambda(lambda vs: vs[0] - vs[1])
    np.testing.assert_array_equal(both([x, x * 2]), -x)
    y = L.Lambda(lambda v: v.astype(np.float64)[:, ::2])(x)  # float64 and strided: made float32, contiguous
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_array_equal(y, x[:, ::2])


def test_inputs_are_read_only(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)

    def in_place(v):
        v *= 2
        return v

    with pytest.raises(ValueError, match="read-only"):
        L.Lambda(in_place)(x)


@requires_keras
@pytest.mark.parametrize("fn,kwargs,shape", [
    (lambda v: v * 0.5 + 1.0, {}, (5, 6)),
    (lambda v: v[:, 1:4], {}, (5, 6)),
    (lambda v: v[..., :2], {}, (2, 3, 4, 5)),
    (lambda v: v * 2.0, {"output_shape": (6,)}, (5, 6)),
    (lambda v: v[:, :3], {"output_shape": lambda s: (s[0], 3)}, (5, 6)),
])
def test_matches_keras_lambda(rng, fn, kwargs, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    ours, theirs = L.Lambda(fn, **kwargs), keras.layers.Lambda(fn, **kwargs)
    np.testing.assert_allclose(ours(x), keras.ops.convert_to_numpy(theirs(x)), rtol=1e-6)
    in_shape = (None,) + shape[1:]
    assert tuple(ours.compute_output_shape(in_shape)) == tuple(theirs.compute_output_shape(in_shape))
    inp = L.Input(shape[1:])
    assert Model(inp, ours(inp)).output_shape == tuple(theirs.compute_output_shape(in_shape))


def test_output_shape_errors_and_purity():
    with pytest.raises(ValueError, match="output_shape"):
        L.Lambda(lambda v: v)(L.Input((None, 3)))
    assert L.Lambda(lambda v: v, output_shape=(None, 3))(L.Input((None, 3))).shape == (None, None, 3)
    with pytest.raises(ValueError, match="batch axis"):
        L.Lambda(lambda v: v.sum(axis=0))(L.Input((3,)))
    with pytest.raises(ValueError, match="batch axis"):
        L.Lambda(lambda v: v.sum(axis=0, keepdims=True))(np.ones((4, 3), np.float32))
    with pytest.raises(TypeError, match="callable"):
        L.Lambda("v * 2")
    with pytest.raises(TypeError, match="output_shape"):
        L.Lambda(lambda v: v, output_shape=3)
    with pytest.raises(NotImplementedError, match="mask"):
        L.Lambda(lambda v: v, mask=lambda v, m: m)
    layer = L.Lambda(lambda v: v[:, :2])
    before = dict(vars(layer))
    assert layer.compute_output_shape((None, 5)) == layer.compute_output_shape((None, 5)) == (None, 2)
    assert dict(vars(layer)) == before


def test_training_through_a_lambda_at_the_input(rng):
    """A Lambda right after the input needs no gradient (the executor passes dx=None): the model
    trains, and equals the same model fed the transformed inputs."""
    x = rng.uniform(0, 255, (64, 6)).astype(np.float32)
    y = (x[:, :2] / 255.0 - 0.5).astype(np.float32)

    def build(with_lambda):
        dlc.utils.set_random_seed(4)
        layers = [L.Lambda(lambda v: v / 255.0)] if with_lambda else []
        model = Sequential([L.Input((6,))] + layers + [L.Dense(8, activation="tanh"), L.Dense(2)])
        model.compile(optimizer=dlc.optimizers.SGD(0.1), loss="mse")
        return model

    a, b = build(True), build(False)
    ha = a.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    hb = b.fit(x / np.float32(255.0), y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ha, hb, rtol=1e-6)
    assert ha[-1] < ha[0]
    # also as the first layer of a Sequential, with input_shape, and in the functional API
    s = Sequential([L.Lambda(lambda v: v * 0.01, input_shape=(6,)), L.Dense(2)])
    s.compile(optimizer="sgd", loss="mse")
    s.fit(x, y, epochs=1, verbose=0)
    i = L.Input((6,))
    m = Model(i, L.Dense(2)(L.Lambda(lambda v: np.clip(v, 0, 100))(i)))
    m.compile(optimizer="sgd", loss="mse")
    m.train_on_batch(x, y)


def test_a_gradient_through_a_lambda_is_a_clear_error(rng):
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.standard_normal((8, 2)).astype(np.float32)
    model = Sequential([L.Input((4,)), L.Dense(3), L.Lambda(lambda v: v * 2, name="double"), L.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    with pytest.raises(NotImplementedError, match="'double'.*does not differentiate"):
        model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):  # the failed step changed nothing
        np.testing.assert_array_equal(a, b)
    # inference is fine
    assert model.predict(x, verbose=0).shape == (8, 2)
    assert np.isfinite(model.evaluate(x, y, verbose=0))
    # a Lambda on a nested model's input whose gradient the outer model needs
    inner_in = L.Input((3,))
    inner = Model(inner_in, L.Dense(2)(L.Lambda(lambda v: v + 1, name="shift")(inner_in)))
    outer = Sequential([L.Input((4,)), L.Dense(3), inner])
    outer.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match="'shift'"):
        outer.train_on_batch(x, y)
    # the same Lambda at the outer model's input trains
    alone = Sequential([L.Input((3,)), inner])
    alone.compile(optimizer="sgd", loss="mse")
    alone.train_on_batch(x[:, :3], y)


def test_configs_are_refused_weights_are_kept(rng, tmp_path):
    model = Sequential([L.Input((4,)), L.Lambda(lambda v: v - 1), L.Dense(2)])
    with pytest.raises(NotImplementedError, match="never stores code"):
        model.layers[0].get_config()
    with pytest.raises(NotImplementedError, match="never stores code"):
        model.to_json()
    with pytest.raises(NotImplementedError, match="never stores code"):
        model.save(tmp_path / "m.keras")
    with pytest.raises(NotImplementedError, match="never loads code"):
        L.Lambda.from_config({"function": "lambda v: v"})
    model.save_weights(tmp_path / "w.weights.h5")
    other = Sequential([L.Input((4,)), L.Lambda(lambda v: v - 1), L.Dense(2)])
    other.load_weights(tmp_path / "w.weights.h5")
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    # a saved config naming a Lambda is refused by name, never run
    plain = Sequential([L.Input((4,)), L.Dense(2)])
    entry = json.loads(plain.to_json())
    entry["config"]["layers"][1]["class_name"] = "Lambda"
    with pytest.raises(ValueError, match="'Lambda' is not supported"):
        dlc.models.model_from_json(json.dumps(entry))
