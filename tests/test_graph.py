"""The graph, the executor and the layer contract: frozen weights stay frozen, models nest as
layers (forward, backward, finite differences), backward reads only what forward saved,
compute_output_shape is pure, composite layers own their parts."""
import copy

import numpy as np
import pytest

import dlc
from dlc import layers as L
from dlc.layers.base import Ctx
from dlc.models import Model, Sequential
from dlc.trainers.compile_utils import trainable_runs


# ---------------------------------------------------------------- frozen weights
def _sandwich(seed=0):
    """Dense(16) -> frozen Dense(1, no bias): a 16-float kernel -> Dense(3). The arena holds
    the frozen kernel between a's bias (ending on a 16-float boundary) and c's kernel, with no
    padding on either side: the layout in which runs used to be merged across it."""
    dlc.utils.set_random_seed(seed)
    model = Sequential([L.Input(shape=(4,)), L.Dense(16, activation="tanh", name="a"),
                        L.Dense(1, use_bias=False, name="frozen"), L.Dense(3, name="c")])
    model.get_layer("frozen").trainable = False
    return model


@pytest.mark.parametrize("optimizer", [
    lambda: dlc.optimizers.SGD(0.1, weight_decay=0.5),
    lambda: dlc.optimizers.AdamW(0.01),
    lambda: dlc.optimizers.SGD(0.1, momentum=0.9),
    lambda: dlc.optimizers.RMSprop(0.01),
])
def test_frozen_weight_between_trainable_ones_is_not_updated(rng, optimizer):
    model = _sandwich()
    frozen, a_bias, c_kernel = model.get_layer("frozen").kernel, model.get_layer("a").bias, model.get_layer("c").kernel
    assert frozen.size == 16
    model._ensure_arena()
    assert a_bias.offset + a_bias.size == frozen.offset and frozen.offset + 16 == c_kernel.offset
    before = {l.name: [w.copy() for w in l.get_weights()] for l in model.layers}
    model.compile(optimizer=optimizer(), loss="mse")
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = rng.standard_normal((64, 3)).astype(np.float32)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.get_layer("frozen").kernel.numpy(), before["frozen"][0])
    for name in ("a", "c"):
        assert not np.array_equal(model.get_layer(name).kernel.numpy(), before[name][0])


def test_trainable_runs_never_span_a_frozen_weight():
    model = _sandwich()
    arena = model._ensure_arena()
    frozen = model.get_layer("frozen").kernel
    runs = trainable_runs(arena, {id(v) for v in model.trainable_weights})
    for start, stop in runs:
        assert stop <= frozen.offset or start >= frozen.offset + frozen.size
    covered = sum(stop - start for start, stop in runs)
    assert covered >= sum(v.size for v in model.trainable_weights)


# ---------------------------------------------------------------- models as layers
def _block(name):
    inp = L.Input(shape=(6,))
    h = L.Dense(5, activation="tanh")(inp)
    return Model(inp, L.Dense(4, activation="elu")(h), name=name)


def _nested_model(seed=1):
    dlc.utils.set_random_seed(seed)
    inner_seq = Sequential([L.Input(shape=(4,)), L.Dense(6, activation="sigmoid"), L.BatchNormalization()],
                           name="inner_seq")
    inner_fun = _block("inner_fun")
    inp = L.Input(shape=(4,))
    x = inner_fun(inner_seq(inp))
    skip = L.Dense(4)(inp)
    out = L.Dense(3, activation="softmax")(L.Add()([x, skip]))
    return Model(inp, out)


def _flat_copy(model, x):
    """The same computation with every layer called directly (no nesting)."""
    seq, fun = model.get_layer("inner_seq"), model.get_layer("inner_fun")
    h = x
    for layer in seq.layers:
        h = layer(h)
    for layer in fun.layers[1:]:
        h = layer(h)
    return h


def test_nested_models_forward_like_their_layers(rng):
    model = _nested_model()
    x = rng.standard_normal((7, 4)).astype(np.float32)
    inner = model.get_layer("inner_fun")(model.get_layer("inner_seq")(x))
    np.testing.assert_allclose(inner, _flat_copy(model, x), rtol=1e-6, atol=1e-6)
    assert model.predict(x, verbose=0).shape == (7, 3)
    assert len(model.weights) == 2 + 4 + 4 + 2 + 2  # seq(6 + BN 4), fun(4), dense skip, head
    assert model.count_params() == (4 * 6 + 6 + 4 * 6) + (6 * 5 + 5 + 5 * 4 + 4) + (4 * 4 + 4) + (4 * 3 + 3)


def _loss(model, x, y, params=None):
    with model._workspace() as ws:
        out = model.run_forward(ws, [x], training=True).outputs[0]
        per = np.empty(len(x), np.float32)
        model.loss.per_sample(out, y, per)
    return float(per.astype(np.float64).mean())


def test_nested_models_gradient_check(rng):
    model = _nested_model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = rng.standard_normal((9, 4)).astype(np.float32)
    y = dlc.utils.to_categorical(rng.integers(0, 3, 9), 3)
    arena = model._ensure_arena()
    with model._workspace() as ws:
        tape = model.run_forward(ws, [x], training=True)
        dy = np.zeros_like(tape.outputs[0])
        model.loss.backward(tape.outputs[0], y, 1.0 / len(x), dy)
        arena.zero_grads()
        dx = np.zeros_like(x)
        model.run_backward(tape, [dy], input_grads=[dx])
    g = arena.grads.copy()
    base = arena.params.copy()
    h = 1e-2
    for _ in range(3):
        d = rng.standard_normal(base.shape).astype(np.float32)
        d /= np.linalg.norm(d)
        arena.params[:] = base + h * d
        lp = _loss(model, x, y)
        arena.params[:] = base - h * d
        lm = _loss(model, x, y)
        arena.params[:] = base
        fd, an = (lp - lm) / (2 * h), float(np.dot(g.astype(np.float64), d))
        assert abs(fd - an) <= 2e-2 * max(abs(fd), abs(an)) + 1e-5, (fd, an)
    # the input's gradient, through both nested models and the skip connection
    dxd = rng.standard_normal(x.shape).astype(np.float32)
    dxd /= np.linalg.norm(dxd)
    fd = (_loss(model, x + h * dxd, y) - _loss(model, x - h * dxd, y)) / (2 * h)
    an = float(np.sum(dx.astype(np.float64) * dxd))
    assert abs(fd - an) <= 2e-2 * max(abs(fd), abs(an)) + 1e-5, (fd, an)


def test_nested_model_frozen_by_its_trainable_flag(rng):
    model = _nested_model()
    base = model.get_layer("inner_seq")
    base.trainable = False
    assert all(not l.trainable for l in base.layers)
    frozen = [w.copy() for w in base.get_weights()]
    model.compile(optimizer=dlc.optimizers.SGD(0.1, weight_decay=0.1), loss="categorical_crossentropy")
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = dlc.utils.to_categorical(rng.integers(0, 3, 32), 3)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for a, b in zip(base.get_weights(), frozen):  # moving statistics too: a frozen BN infers
        np.testing.assert_array_equal(a, b)
    assert len(model.trainable_weights) == len(model.weights) - len(base.weights)


def test_sequential_holds_a_model(rng):
    dlc.utils.set_random_seed(4)
    base = _block("base")
    model = Sequential([base, L.Dense(2, activation="softmax")])
    assert model.output_shape == (None, 2)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = rng.standard_normal((16, 6)).astype(np.float32)
    model.fit(x, dlc.utils.to_categorical(rng.integers(0, 2, 16), 2), epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               model.layers[1](base(x)), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- the layer contract
def _layers_under_test():
    return [
        (L.Dense(3, activation="relu"), (5, 4)),
        (L.Conv2D(3, 3, padding="same", activation="tanh"), (2, 5, 5, 2)),
        (L.DepthwiseConv2D(3, depth_multiplier=2, activation="elu"), (2, 5, 5, 2)),
        (L.SeparableConv2D(4, 3, activation="sigmoid"), (2, 6, 6, 3)),
        (L.Conv2DTranspose(2, 3, strides=2), (2, 3, 3, 2)),
        (L.MaxPooling2D(2), (2, 4, 4, 3)),
        (L.AveragePooling2D(2, padding="same"), (2, 5, 5, 3)),
        (L.GlobalMaxPooling2D(), (2, 4, 4, 3)),
        (L.GlobalAveragePooling2D(), (2, 4, 4, 3)),
        (L.BatchNormalization(), (6, 3)),
        (L.Dropout(0.5), (4, 8)),
        (L.Activation("softmax"), (3, 5)),
        (L.Dense(4, activation="gelu"), (3, 5)),
        (L.ZeroPadding2D(1), (2, 3, 3, 2)),
        (L.UpSampling2D(2), (2, 3, 3, 2)),
        (L.RandomRotation(0.2, seed=1), (2, 5, 6, 2)),
        (L.RandomZoom(0.2, fill_mode="constant", seed=2), (2, 5, 6, 2)),
        (L.RandomTranslation(0.2, 0.2, seed=3), (2, 5, 6, 2)),
        (L.RandomFlip(seed=4), (3, 4, 5, 1)),
        (L.RandomCrop(3, 4, seed=5), (2, 5, 6, 2)),
        (L.RandomContrast(0.3, value_range=(-1, 1), seed=6), (2, 4, 5, 3)),
        (L.RandomBrightness(0.3, value_range=(-1, 1), seed=7), (2, 4, 5, 3)),
        (L.Resizing(4, 7, crop_to_aspect_ratio=True), (2, 5, 6, 2)),
        (L.CenterCrop(3, 8), (2, 5, 6, 2)),
        (L.Rescaling(0.5, 1.0), (2, 3, 3, 2)),
        (L.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0]), (2, 3, 3, 2)),
        (L.LocallyConnected2D(3, 2, strides=(1, 2), activation="relu"), (2, 4, 5, 2)),
        (L.LayerNormalization(), (3, 5)),
        (L.LayerNormalization(axis=[1, 2], center=False), (2, 3, 4)),
        (L.SpatialDropout2D(0.5), (3, 2, 2, 6)),
        (L.GaussianNoise(0.3), (4, 5)),
        (L.GaussianDropout(0.3), (4, 5)),
        (L.DropConnect(L.Dense(4, activation="relu"), rate=0.5), (3, 5)),
        (L.DropConnect(L.Conv2D(2, 3, padding="same"), rate=0.3), (2, 4, 4, 3)),
        (L.Lambda(lambda v: v[:, :3] * 2.0), (3, 5)),
    ]


N_CONTRACT = len(_layers_under_test())


@pytest.mark.parametrize("index", range(N_CONTRACT))
def test_backward_reads_only_what_forward_saved(rng, index):
    layer, shape = _layers_under_test()[index]
    x = rng.standard_normal(shape).astype(np.float32)
    model = Model(inp := L.Input(shape=shape[1:]), layer(inp))
    model._ensure_arena()
    dy_shape = (shape[0],) + model.output_shape[1:]
    dy = rng.standard_normal(dy_shape).astype(np.float32)

    def grads(forget_buffers):
        ctx = Ctx()
        layer.forward(ctx, x, True)
        if forget_buffers:  # backward must not fetch forward's arrays again by key
            ctx._bufs = {k: np.full(v.shape, np.nan, v.dtype) if v.dtype.kind == "f" else v * 0 - 7
                         for k, v in ctx._bufs.items()}
        model._arena.zero_grads()
        dx = np.zeros_like(x)
        layer.backward(ctx, dy, None if isinstance(layer, L.Lambda) else dx)  # a Lambda takes no gradient
        return dx, model._arena.grads.copy()

    dlc.utils.set_random_seed(0)
    a = grads(False)
    dlc.utils.set_random_seed(0)
    if hasattr(layer, "_step"):
        layer._step -= 1  # the same mask (the same random transforms) again
    b = grads(True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("index", range(N_CONTRACT))
def test_compute_output_shape_is_pure(index):
    layer, shape = _layers_under_test()[index]
    in_shape = (None,) + shape[1:]
    for built in (False, True):
        if built:
            layer._maybe_build(in_shape)
        before = dict(vars(layer))
        snapshot = {k: list(v) if isinstance(v, list) else copy.deepcopy(v)
                    for k, v in before.items() if isinstance(v, (int, float, str, tuple, list))}
        out1 = layer.compute_output_shape(in_shape)
        out2 = layer.compute_output_shape(in_shape)
        after = dict(vars(layer))
        assert out1 == out2
        assert before.keys() == after.keys()
        for k in before:  # nothing rebound, no plain value changed in place
            assert after[k] is before[k], k
            if k in snapshot:
                assert len(after[k]) == len(snapshot[k]) if isinstance(after[k], list) else after[k] == snapshot[k], k
                if isinstance(after[k], list):
                    assert all(a is b for a, b in zip(after[k], snapshot[k])), k


def test_depthwise_conv_reuses_conv2d():
    assert L.DepthwiseConv2D.forward is L.Conv2D.forward
    assert L.DepthwiseConv2D.backward is L.Conv2D.backward
    assert L.DepthwiseConv2D.backward_linear is L.Conv2D.backward_linear
    layer = L.DepthwiseConv2D(3, depth_multiplier=2)
    assert layer.compute_output_shape((None, 8, 8, 5)) == (None, 6, 6, 10)
    assert layer.compute_output_shape((None, 8, 8, 3)) == (None, 6, 6, 6)  # unbuilt: no state kept


def test_separable_conv_owns_its_parts_without_rewriting_them(rng):
    layer = L.SeparableConv2D(4, 3, trainable=False)
    assert not layer._dw.trainable and not layer._pw.trainable
    layer.trainable = True
    assert layer._dw.trainable and layer._pw.trainable
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    Model(inp := L.Input(shape=(6, 6, 3)), layer(inp))._ensure_arena()
    layer._pw._trainable = False  # a forward/backward pass must leave the parts' flags alone
    ctx = Ctx()
    y = layer.forward(ctx, x, True)
    layer.backward(ctx, np.ones_like(y), np.zeros_like(x))
    assert layer._pw._trainable is False and layer._dw._trainable is True


def test_concurrent_predicts_on_one_model_match_serial(rng):
    import threading

    model = _nested_model()
    xs = [rng.standard_normal((int(n), 4)).astype(np.float32) for n in rng.integers(1, 40, 12)]
    expected = [model.predict(x, verbose=0, batch_size=8) for x in xs]
    got = [None] * len(xs)

    def run(i):
        for _ in range(5):
            got[i] = model.predict(xs[i], verbose=0, batch_size=8)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
