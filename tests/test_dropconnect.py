"""DropConnect (dlc/layers/dropconnect.py): a wrapper that drops individual weights of a layer's
kernel per training step with dropout's kernel (Philox keyed by seed and step, inverted
scaling). The masked forward against the plain layer with the masked kernel, the gradient
against finite differences with the mask held fixed and only through kept weights, the mask
statistics, determinism across threads, inference = the plain layer, the fused softmax loss,
freezing, configs, saving and resume."""
import numpy as np
import pytest

import dlc
from dlc import layers as L
from dlc.models import Model, Sequential
import reference as R


def _masked(kernel, rate, seed, step):
    """The kernel DropConnect uses at that step: Dropout's mask for the kernel's shape."""
    w, mask = R.dropout_ref(kernel, rate, seed, step)
    scale = np.float32(1) / (np.float32(1) - np.float32(rate))
    return np.where(mask == 1, kernel * scale, np.float32(0)).astype(np.float32), mask


WRAPPED = [
    (lambda: L.Dense(5, activation="tanh"), (4, 7)),
    (lambda: L.Conv2D(3, 3, padding="same", activation="relu"), (2, 5, 5, 2)),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=2), (2, 5, 5, 3)),
    (lambda: L.Conv2DTranspose(2, 3, strides=2), (2, 3, 3, 2)),
    (lambda: L.LocallyConnected2D(3, 2, activation="elu"), (2, 4, 4, 2)),
]


@pytest.mark.parametrize("make,shape", WRAPPED)
def test_training_forward_is_the_layer_with_the_masked_kernel(rng, make, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    plain = make()
    wrapped = L.DropConnect(make(), rate=0.4, seed=17)
    Model(i := L.Input(shape[1:]), plain(i))._ensure_arena()
    Model(j := L.Input(shape[1:]), wrapped(j))._ensure_arena()
    weights = [w + 0.1 for w in plain.get_weights()]
    wrapped.set_weights(weights)
    assert [w.shape for w in wrapped.get_weights()] == [w.shape for w in weights]
    for step in range(3):
        y = wrapped(x, training=True)
        masked, _ = _masked(weights[0], 0.4, 17, step)
        plain.set_weights([masked] + weights[1:])
        np.testing.assert_array_equal(y, plain(x))
    assert wrapped._step == 3
    plain.set_weights(weights)
    np.testing.assert_array_equal(wrapped(x), plain(x))  # inference: the plain layer
    np.testing.assert_array_equal(wrapped.layer.kernel.value, weights[0])  # the real kernel is untouched


def _grads(model, x, dy):
    arena = model._ensure_arena()
    with model._workspace() as ws:
        tape = model.run_forward(ws, [x], training=True)
        arena.zero_grads()
        dx = np.zeros_like(x)
        model.run_backward(tape, [dy], input_grads=[dx])
        return tape.outputs[0].copy(), dx, arena.grads.copy()


@pytest.mark.parametrize("make,shape", WRAPPED[:2] + WRAPPED[4:])
def test_gradients_only_through_kept_weights_and_scaled(rng, make, shape):
    """dW = mask / (1 - rate) * (the plain layer's gradient at the masked kernel); db and dx are
    the plain layer's at the masked kernel."""
    x = rng.standard_normal(shape).astype(np.float32)
    wrapped = L.DropConnect(make(), rate=0.3, seed=5)
    mw = Model(i := L.Input(shape[1:]), wrapped(i))
    plain = make()
    mp = Model(j := L.Input(shape[1:]), plain(j))
    mw._ensure_arena()
    weights = wrapped.get_weights()
    masked, mask = _masked(weights[0], 0.3, 5, 0)
    mp._ensure_arena()
    plain.set_weights([masked] + weights[1:])
    dy = rng.standard_normal((shape[0],) + mw.output_shape[1:]).astype(np.float32)
    yw, dxw, gw = _grads(mw, x, dy)
    yp, dxp, gp = _grads(mp, x, dy)
    np.testing.assert_array_equal(yw, yp)
    np.testing.assert_array_equal(dxw, dxp)
    kw, kp = wrapped.layer.kernel, plain.kernel
    dk_plain = gp[kp.offset:kp.offset + kp.size].reshape(kp.shape)
    dk = gw[kw.offset:kw.offset + kw.size].reshape(kw.shape)
    assert (dk[mask == 0] == 0).all()
    scale = np.float32(1) / np.float32(0.7)
    np.testing.assert_array_equal(dk, np.where(mask == 1, dk_plain * scale, np.float32(0)))
    if len(weights) > 1:
        b = wrapped.layer.bias
        np.testing.assert_array_equal(gw[b.offset:b.offset + b.size], gp[plain.bias.offset:plain.bias.offset + b.size])


def test_gradient_matches_finite_differences_with_a_fixed_mask(rng):
    """The loss of a DropConnect(Dense) -> Dense model with MSE, its mask held fixed (the same
    step every time): the weight and input gradients against central differences."""
    dlc.utils.set_random_seed(2)
    dc = L.DropConnect(L.Dense(6, activation="tanh"), rate=0.5)
    model = Sequential([L.Input((5,)), dc, L.Dense(2)])
    x = rng.standard_normal((4, 5)).astype(np.float32)
    t = rng.standard_normal((4, 2)).astype(np.float32)
    arena = model._ensure_arena()

    def loss(xx, grad=False):
        dc._step = 3
        with model._workspace() as ws:
            tape = model.run_forward(ws, [xx], training=True)
            out = tape.outputs[0].astype(np.float64)
            dx = None
            if grad:
                arena.zero_grads()
                dx = np.zeros_like(xx)
                model.run_backward(tape, [(2 * (tape.outputs[0] - t) / t.size).astype(np.float32)], input_grads=[dx])
        return float(np.mean((out - t) ** 2)), dx

    _, dx = loss(x, grad=True)
    g = arena.grads.copy()
    h = 1e-3
    d = rng.standard_normal(arena.params.shape).astype(np.float32)
    p0 = arena.params.copy()
    arena.params[...] = p0 + h * d
    lp = loss(x)[0]
    arena.params[...] = p0 - h * d
    lm = loss(x)[0]
    arena.params[...] = p0
    assert float((g * d).sum()) == pytest.approx((lp - lm) / (2 * h), rel=1e-3)
    dxd = rng.standard_normal(x.shape).astype(np.float32)
    fd = (loss(x + h * dxd)[0] - loss(x - h * dxd)[0]) / (2 * h)
    assert float((dx * dxd).sum()) == pytest.approx(fd, rel=1e-3)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_mask_statistics(rate):
    """Over many steps: each weight is dropped with probability `rate`, independently across
    weights and steps; one mask per step, shared by the whole batch."""
    layer = L.DropConnect(L.Dense(40, use_bias=False, kernel_initializer="ones"), rate=rate, seed=99)
    x = np.eye(50, dtype=np.float32)  # row i of the output is row i of the masked kernel
    masks = []
    for _ in range(60):
        masks.append(layer(x, training=True) != 0)
    masks = np.array(masks)  # (steps, 50, 40)
    n = masks.size
    assert abs((1 - masks.mean()) - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    kept = layer(x, training=True)
    np.testing.assert_allclose(kept[kept != 0], 1 / (1 - rate), rtol=1e-6)
    a, b = masks[:-1].reshape(59, -1), masks[1:].reshape(59, -1)
    agree = (a == b).mean()  # consecutive steps independent
    expect = rate ** 2 + (1 - rate) ** 2
    assert abs(agree - expect) < 5 * np.sqrt(expect * (1 - expect) / a.size)
    # the two halves of one batch see the same mask
    y = layer(np.concatenate([x, x]), training=True)
    np.testing.assert_array_equal(y[:50], y[50:])


def test_training_is_deterministic_and_thread_independent(rng, threads):
    x = rng.standard_normal((64, 12)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 64)]
    results = []
    for nt in (1, 2, 1):
        threads(nt)
        dlc.utils.set_random_seed(8)
        model = Sequential([L.Input((12,)), L.DropConnect(L.Dense(300, activation="relu"), rate=0.5),
                            L.DropConnect(L.Dense(3, activation="softmax"), rate=0.2)])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        hist = model.fit(x, y, batch_size=16, epochs=2, verbose=0).history["loss"]
        results.append((hist, model.get_weights()))
    for hist, weights in results[1:]:
        assert hist == results[0][0]
        for a, b in zip(weights, results[0][1]):
            np.testing.assert_array_equal(a, b)


def test_softmax_output_keeps_the_fused_loss_and_its_gradient(rng):
    """DropConnect(Dense(k, softmax)) at the output: the trainer fuses softmax + cross-entropy on
    the wrapper's node, and one SGD step moves the kernel by -lr * mask / (1 - rate) * the
    plain layer's gradient at the masked kernel."""
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    dc = L.DropConnect(L.Dense(3, activation="softmax"), rate=0.5, seed=4)
    model = Sequential([L.Input((4,)), dc])
    model.compile(optimizer=dlc.optimizers.SGD(0.5), loss="categorical_crossentropy")
    model._compile_loss.resolve(model)
    assert model._compile_loss.fused_node(0) is not None
    w, b = model.get_weights()
    masked, mask = _masked(w, 0.5, 4, 0)
    plain = Sequential([L.Input((4,)), L.Dense(3, activation="softmax")])
    plain.compile(optimizer=dlc.optimizers.SGD(0.5), loss="categorical_crossentropy")
    plain.set_weights([masked, b])
    lp = plain.train_on_batch(x, y)
    ld = model.train_on_batch(x, y)
    assert ld == pytest.approx(lp, rel=1e-6)
    gk = (masked - plain.get_weights()[0]) / 0.5  # the plain layer's gradient at the masked kernel
    want = w - 0.5 * np.where(mask == 1, gk * 2, 0)
    np.testing.assert_allclose(model.get_weights()[0], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], plain.get_weights()[1], rtol=1e-6, atol=1e-7)


def test_frozen_wrapper_and_inference_modes(rng):
    x = rng.standard_normal((16, 5)).astype(np.float32)
    t = rng.standard_normal((16, 2)).astype(np.float32)
    dc = L.DropConnect(L.Dense(2), rate=0.5, trainable=False)
    assert dc.trainable is False and dc.layer.trainable is False
    model = Sequential([L.Input((5,)), dc])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    model.fit(x, t, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    dc.trainable = True
    assert dc.layer.trainable and len(model.trainable_weights) == 2
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, t, epochs=1, verbose=0)
    assert not np.array_equal(before[0], model.get_weights()[0])
    plain = Sequential([L.Input((5,)), L.Dense(2)])
    plain.compile(optimizer="sgd", loss="mse")
    plain.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), plain.predict(x, verbose=0))
    assert model.evaluate(x, t, verbose=0) == pytest.approx(plain.evaluate(x, t, verbose=0))


def test_refusals():
    with pytest.raises(TypeError, match="kernel"):
        L.DropConnect(L.Flatten())(L.Input((3, 4)))
    with pytest.raises(TypeError, match="kernel"):
        L.DropConnect(L.BatchNormalization())(L.Input((4,)))
    with pytest.raises(TypeError, match="kernel"):
        L.DropConnect(L.SeparableConv2D(4, 3))(L.Input((5, 5, 2)))
    with pytest.raises(TypeError, match="dlc layer"):
        L.DropConnect("dense")
    with pytest.raises(ValueError, match="rate"):
        L.DropConnect(L.Dense(3), rate=1.0)
    with pytest.raises(ValueError, match="seed"):
        L.DropConnect(L.Dense(3), seed=-2)


def test_config_saving_and_resume(rng, tmp_path):
    dlc.utils.set_random_seed(1)
    model = Sequential([L.Input((6, 6, 1)), L.DropConnect(L.Conv2D(2, 3, activation="relu"), rate=0.25, seed=3,
                                                         name="dc_conv"),
                        L.Flatten(), L.DropConnect(L.Dense(2), rate=0.5, name="dc_dense")])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.standard_normal((8, 6, 6, 1)).astype(np.float32)
    t = rng.standard_normal((8, 2)).astype(np.float32)
    model.fit(x, t, batch_size=4, epochs=1, verbose=0)
    assert model._training_state()["random_layers"] == {"dc_conv": 2, "dc_dense": 2}
    config = model.layers[0].get_config()
    assert config["rate"] == 0.25 and config["seed"] == 3 and config["layer"]["class_name"] == "Conv2D"
    again = L.DropConnect.from_config(config)
    assert again.get_config()["layer"]["config"] == config["layer"]["config"]
    for path in (tmp_path / "m.keras",):
        model.save(path)
        loaded = dlc.models.load_model(path)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        assert type(loaded.layers[0]) is L.DropConnect and loaded.layers[0].rate == 0.25
        assert loaded._training_state()["random_layers"] == {"dc_conv": 2, "dc_dense": 2}
    from_json = dlc.models.model_from_json(model.to_json())
    from_json.set_weights(model.get_weights())
    np.testing.assert_array_equal(from_json.predict(x, verbose=0), model.predict(x, verbose=0))
