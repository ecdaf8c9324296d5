"""The executor hands gradient buffers out unzeroed: each buffer's first writer overwrites it,
later writers (fan-out) add. Checked by poisoning every buffer of a workspace with NaN between
two identical passes (a layer that read a stale or unwritten value would turn the gradients
NaN or change their bits), and the fused ReLU paths (conv store, conv backward reading the
mask with dy, the GEMM epilogue) against the unfused composition, bit for bit."""
import numpy as np
import pytest

import dlc
from dlc import layers as L
from dlc.models import Model, Sequential


def _poison(ctx):
    for a in ctx._bufs.values():
        if a.dtype.kind == "f":
            a.fill(np.nan)
        else:
            a.fill(255 if a.dtype.kind == "u" else -1)
    for obj in ctx._objects.values():
        for inner in getattr(obj, "ctxs", ()):
            _poison(inner)
        if hasattr(obj, "grads"):
            _poison(obj.grads)


def _pass(model, ws, x, dy, fresh=False):
    """Weight gradients and the input gradient of one forward/backward in workspace `ws`.
    fresh: as a training step does, no zero fill (every weight gradient NaN-poisoned, then
    marked fresh: its first writer overwrites it, the executor zeroes the rest)."""
    arena = model._ensure_arena()
    for layer in model.layers:
        if isinstance(layer, (L.Dropout, L.DropConnect)):
            layer._step = 0  # the same mask in both passes
    tape = model.run_forward(ws, [x], training=True)
    dx = np.zeros_like(x)
    if fresh:
        for v in arena.variables:
            if v.grad is not None:
                v.grad.fill(np.nan)
        arena.begin_gradients()
        model.run_backward(tape, [dy], input_grads=[dx], params=arena)
        arena.settle_gradients()
    else:
        arena.zero_grads()
        model.run_backward(tape, [dy], input_grads=[dx])
    return [tape.outputs[0].copy(), dx] + [v.grad.copy() for v in model.trainable_weights]


def _assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert np.isfinite(u).all()
        assert np.array_equal(u, v)


def _check_poisoned(model, x, seed=0):
    """Two passes in one workspace, every buffer NaN-poisoned before the second: same bits."""
    from dlc.models.functional import Workspace

    model._ensure_arena()
    dy = np.random.default_rng(seed).standard_normal((x.shape[0],) + model.output_shape[1:]).astype(np.float32)
    ws = Workspace(len(model._nodes), model._graph_version)
    first = _pass(model, ws, x, dy)
    for ctx in ws.ctxs:
        _poison(ctx)
    _poison(ws.grads)
    _assert_same(first, _pass(model, ws, x, dy))
    # and without the weight gradients' zero fill (a training step's way): the same bits
    _assert_same(first, _pass(model, ws, x, dy, fresh=True))


def _images(n=3, h=10, w=9, c=3, seed=0):
    return np.random.default_rng(seed).standard_normal((n, h, w, c)).astype(np.float32)


def _branchy():
    """Fan-out, a tensor fed twice to one layer, concatenation, batch norm, pooling, dropout,
    separable and transposed convolutions, dense layers with and without ReLU."""
    inp = L.Input(shape=(10, 9, 3))
    a = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = L.Conv2D(6, 1, use_bias=False)(a)
    b = L.BatchNormalization()(b)
    b = L.Activation("relu")(b)
    c = L.MaxPooling2D(3, strides=1, padding="same")(a)
    c = L.SeparableConv2D(6, 3, padding="same", activation="relu")(c)
    d = L.Add()([a, a])                      # one tensor twice
    d = L.Conv2D(6, 3, padding="same", activation="tanh")(d)
    e = L.Conv2DTranspose(6, 3, padding="same", activation="relu")(a)
    m = L.Concatenate()([b, c, d, e])
    m = L.Add()([m, L.Conv2D(24, 1)(a)])     # a: fan-out to five consumers
    m = L.MaxPooling2D(2)(m)
    m = L.Dropout(0.3)(m)
    f = L.Flatten()(m)
    f = L.Dense(16, activation="relu")(f)
    f = L.Reshape((4, 4))(f)
    f = L.Flatten()(f)
    g = L.Dense(12)(f)
    g = L.Dense(5, activation="softmax")(L.Add()([g, L.Dense(12, activation="relu")(f)]))
    return Model(inp, g)


def test_branchy_graph_writes_every_gradient_buffer():
    dlc.utils.set_random_seed(1)
    _check_poisoned(_branchy(), _images())


def test_main_job_network_writes_every_gradient_buffer():
    from dlc.examples.mnist_cnn import build_model

    dlc.utils.set_random_seed(2)
    _check_poisoned(build_model((28, 28, 1), 10), _images(4, 28, 28, 1))


def test_nested_model_and_global_pooling():
    dlc.utils.set_random_seed(3)
    inner_in = L.Input(shape=(10, 9, 3))
    inner = Model(inner_in, L.Conv2D(5, 3, activation="relu")(inner_in))
    inp = L.Input(shape=(10, 9, 3))
    h = inner(inp)
    out = L.Dense(3)(L.Concatenate()([L.GlobalAveragePooling2D()(h), L.GlobalMaxPooling2D()(h)]))
    _check_poisoned(Model(inp, out), _images())


def test_weight_gradients_without_zero_fill_shared_frozen_and_wrapped_layers():
    """A layer called twice (its first call overwrites, the second adds), a frozen layer, a
    DropConnect-wrapped Dense and a Conv2DTranspose (layers that only add: the executor zeroes
    the fresh gradients before them), a Dense that nothing reaches: the same gradients as
    after a zero fill."""
    dlc.utils.set_random_seed(5)
    inp = L.Input(shape=(10, 9, 3))
    shared = L.Conv2D(4, 3, padding="same", activation="relu")
    a = shared(inp)
    b = shared(L.Conv2D(3, 1)(inp))
    frozen = L.Conv2D(4, 1, name="frozen")
    frozen.trainable = False
    h = L.Add()([a, b, frozen(inp)])
    h = L.Conv2DTranspose(2, 3, padding="same")(h)
    f = L.Flatten()(h)
    out = L.Dense(4)(L.DropConnect(L.Dense(6, activation="relu"), rate=0.3, seed=3)(f))
    out = L.Add()([out, L.Dense(4)(f)])
    _check_poisoned(Model(inp, out), _images())


def _bn_net():
    inp = L.Input(shape=(28, 28, 1))
    h = L.Conv2D(6, 3, use_bias=False)(inp)
    h = L.Activation("relu")(L.BatchNormalization()(h))
    h = L.Conv2DTranspose(4, 3, padding="same")(h)
    h = L.Flatten()(L.MaxPooling2D(2)(h))
    return Model(inp, L.Dense(10, activation="softmax", kernel_regularizer="l2")(h))


@pytest.mark.parametrize("net", ["main", "bn"])
def test_train_step_skips_the_zero_fill_with_the_same_result(net):
    """train_on_batch (fresh gradients, regularizers added after the backward) gives the bits
    of steps on zero-filled gradients, with layers that opt in (Conv2D, Dense) and layers that
    only add (BatchNormalization, Conv2DTranspose)."""
    from dlc.examples.mnist_cnn import build_model

    x = _images(4, 28, 28, 1)
    y = np.eye(10, dtype=np.float32)[[1, 3, 5, 7]]
    models = []
    for _ in range(2):
        dlc.utils.set_random_seed(6)
        m = build_model((28, 28, 1), 10) if net == "main" else _bn_net()
        if net == "main":
            m.layers[-1].kernel_regularizer = dlc.regularizers.L2(1e-3)
        m.compile(optimizer="adam", loss="categorical_crossentropy")
        models.append(m)
    for _ in range(2):
        models[0].train_on_batch(x, y)
    # the second: the same steps with the gradients zero-filled before every backward and
    # none marked fresh (every layer adds, as before the change)
    m = models[1]

    def zero_then_backward(tape, output_grads, linear_grads=None, input_grads=None, params=None):
        m._arena.settle_gradients()
        m._arena.zero_grads()
        type(m).run_backward(m, tape, output_grads, linear_grads, input_grads)

    m.run_backward = zero_then_backward
    try:
        for _ in range(2):
            m.train_on_batch(x, y)
    finally:
        del m.run_backward
    for u, v in zip(models[0].get_weights(), models[1].get_weights()):
        assert np.array_equal(u, v)


def test_unused_branch_gets_zero_gradient():
    """A node whose output reaches no loss: its gradient is zero, not a stale buffer."""
    dlc.utils.set_random_seed(4)
    inp = L.Input(shape=(6,))
    used = L.Dense(3)(inp)
    unused = L.Dense(2, name="unused")(inp)
    model = Model(inp, [used, unused])
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    from dlc.models.functional import Workspace

    ws = Workspace(len(model._nodes), model._graph_version)
    arena = model._ensure_arena()
    for _ in range(2):
        tape = model.run_forward(ws, [x], training=True)
        arena.zero_grads()
        for ctx in ws.ctxs:
            _poison(ctx)
        _poison(ws.grads)
        model.run_backward(tape, [np.ones((4, 3), np.float32), None])
        k = model.get_layer("unused").kernel.grad
        assert np.array_equal(k, np.zeros_like(k))
    # without the zero fill (a training step's way): a gradient no kernel writes (a frozen
    # layer's) is zeroed by settle_gradients, the others are overwritten
    frozen = model.get_layer("unused")
    frozen.trainable = False
    tape = model.run_forward(ws, [x], training=True)
    for v in arena.variables:
        v.grad.fill(np.nan)
    arena.begin_gradients()
    model.run_backward(tape, [np.ones((4, 3), np.float32), None], params=arena)
    assert np.isnan(k).all()  # nothing wrote it
    arena.settle_gradients()
    assert np.array_equal(k, np.zeros_like(k))
    assert all(np.isfinite(v.grad).all() for v in arena.variables)


@pytest.mark.parametrize("kind", ["conv", "dense", "separable", "depthwise"])
def test_fused_relu_matches_separate_activation_bit_for_bit(kind):
    """activation='relu' (fused into the kernels) against the layer followed by
    Activation('relu') (a separate ReLU pass each way), same weights."""
    def make(fused):
        act = "relu" if fused else None
        if kind == "conv":
            layer = L.Conv2D(7, 3, strides=(1, 2), padding="same", activation=act)
        elif kind == "dense":
            layer = L.Dense(11, activation=act)
        elif kind == "separable":
            layer = L.SeparableConv2D(7, 3, padding="same", activation=act)
        else:
            layer = L.DepthwiseConv2D(3, depth_multiplier=2, activation=act)
        body = [L.Input(shape=(10, 9, 3)), L.Conv2D(4, 1)]
        body += [L.Flatten(), layer] if kind == "dense" else [layer]
        body += [] if fused else [L.Activation("relu")]
        return Sequential(body + [L.Flatten(), L.Dense(3)])

    dlc.utils.set_random_seed(5)
    fused = make(True)
    plain = make(False)
    plain.set_weights(fused.get_weights())
    x = _images()
    dy = np.random.default_rng(1).standard_normal((3, 3)).astype(np.float32)
    from dlc.models.functional import Workspace

    got = [_pass(m, Workspace(len(m._nodes), m._graph_version), x, dy) for m in (fused, plain)]
    _assert_same(got[0], got[1])


def test_batchnorm_backward_overwrite_is_zero_plus_accumulate():
    from dlc import _C

    r = np.random.default_rng(7)
    x, dy = (r.standard_normal((37, 19)).astype(np.float32) for _ in range(2))
    gamma = r.standard_normal(19).astype(np.float32)
    y, mean, invstd = np.empty_like(x), np.empty(19, np.float32), np.empty(19, np.float32)
    mm, mv = np.zeros(19, np.float32), np.ones(19, np.float32)
    _C.batchnorm_forward_train(x, gamma, None, y, mean, invstd, mm, mv)
    want, dg1, db1 = np.zeros_like(x), np.zeros(19, np.float32), np.zeros(19, np.float32)
    _C.batchnorm_backward(x, dy, gamma, mean, invstd, want, dg1, db1)
    got, dg2, db2 = np.full_like(x, np.nan), np.zeros(19, np.float32), np.zeros(19, np.float32)
    _C.batchnorm_backward(x, dy, gamma, mean, invstd, got, dg2, db2, accumulate=False)
    assert np.array_equal(want, got) and np.array_equal(dg1, dg2) and np.array_equal(db1, db2)


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_concatenate_by_copy2d_any_axis(axis):
    """Concatenate forward and backward (column blocks of copy2d) against NumPy, overwrite and
    accumulate."""
    a, b = L.Input((4, 5, 3)), L.Input((4, 5, 2 if axis == -1 else 3))
    model = Model([a, b], L.Concatenate(axis=axis)([a, b]))
    r = np.random.default_rng(0)
    x1 = r.standard_normal((2, 4, 5, 3)).astype(np.float32)
    x2 = r.standard_normal((2,) + b.shape[1:]).astype(np.float32)
    y = model([x1, x2])
    assert np.array_equal(y, np.concatenate([x1, x2], axis=axis))
    with model._workspace() as ws:
        tape = model.run_forward(ws, [x1, x2], True)
        dy = r.standard_normal(y.shape).astype(np.float32)
        g1, g2 = np.zeros_like(x1), np.ones_like(x2)
        model.run_backward(tape, [dy], input_grads=[g1, g2])
    s1, s2 = np.split(dy, [x1.shape[axis]], axis=axis)
    assert np.array_equal(g1, s1) and np.array_equal(g2, s2 + 1)


def _fusion_model():
    inp = L.Input(shape=(10, 9, 3))
    a = L.Conv2D(6, 3, padding="same", use_bias=False)(inp)
    a = L.ReLU()(L.BatchNormalization()(a))                   # fused into the batch norm
    b = L.Activation("relu")(L.Conv2D(4, 1)(a))              # fused into the convolution
    t = L.Conv2D(4, 3, padding="same")(a)
    c = L.Add()([L.ReLU()(t), t])                            # t has two consumers: not fused
    d = L.ReLU()(L.Conv2DTranspose(4, 3, padding="same")(a))  # transposed conv: not fused
    e = L.ReLU(max_value=6.0)(L.BatchNormalization()(L.Conv2D(4, 1)(a)))  # not plain: not fused
    m = L.Concatenate()([b, c, d, e])
    m = L.Dropout(0.4)(L.MaxPooling2D(2)(m))                 # fused pair: one pass each way
    m = L.Dropout(0.2)(L.MaxPooling2D(1)(L.Dropout(0.3)(m)))  # the first: no pooling before it
    f = L.Activation("relu")(L.Dense(8)(L.Flatten()(m)))     # fused into the GEMM
    return Model(inp, [L.Dense(3)(f), f])


def test_fusion_plan_picks_the_fusable_relus():
    from dlc.models.functional import DROPOUT_OUT, FUSED_DROPOUT, FUSED_RELU, RELU_OUT

    model = _fusion_model()
    plan = model._fusion_plan()

    def kinds(code):
        return sorted(type(model._nodes[i].layer).__name__ for i, p in enumerate(plan) if p == code)
    assert kinds(FUSED_RELU) == ["Activation", "Activation", "ReLU"]
    assert kinds(RELU_OUT) == ["BatchNormalization", "Conv2D", "Dense"]
    assert kinds(FUSED_DROPOUT) == ["Dropout", "Dropout"]
    assert kinds(DROPOUT_OUT) == ["MaxPooling2D", "MaxPooling2D"]


@pytest.mark.parametrize("training", [True, False])
def test_fused_relu_layers_match_the_unfused_graph_bit_for_bit(training):
    """The same model run with its fusion plan and with every node run on its own."""
    from dlc.models.functional import Workspace

    dlc.utils.set_random_seed(8)
    model = _fusion_model()
    model._ensure_arena()
    x = _images()
    r = np.random.default_rng(2)
    dys = [r.standard_normal((3, 3)).astype(np.float32), r.standard_normal((3, 8)).astype(np.float32)]
    moving = [v.value.copy() for v in model.non_trainable_weights]

    def run(plain):
        for v, m in zip(model.non_trainable_weights, moving):
            v.value[...] = m
        for layer in model.layers:
            if isinstance(layer, L.Dropout):
                layer._step = 0
        if plain:
            model._fusion = (model._graph_version, [0] * len(model._nodes))
        else:
            model._fusion = None
        ws = Workspace(len(model._nodes), model._graph_version)
        tape = model.run_forward(ws, [x], training=training)
        model._arena.zero_grads()
        dx = np.zeros_like(x)
        model.run_backward(tape, dys, input_grads=[dx])
        return ([o.copy() for o in tape.outputs] + [dx] + [v.grad.copy() for v in model.trainable_weights]
                + [v.value.copy() for v in model.non_trainable_weights])

    plain, fused = run(True), run(False)
    model._fusion = None
    _assert_same(plain, fused)
    _check_poisoned(Model(model.inputs, model.outputs[0]), x)


def test_batchnorm_fused_relu_kernels_match_relu_after(rng):
    """batchnorm_forward_train/infer(relu=True) and batchnorm_backward(dy_mask=y) against the
    batch norm followed by relu_forward / relu_backward, bit for bit."""
    from dlc import _C

    x, dy = (rng.standard_normal((41, 13)).astype(np.float32) for _ in range(2))
    g, b = rng.standard_normal(13).astype(np.float32), rng.standard_normal(13).astype(np.float32)
    outs = []
    for relu in (False, True):
        y, mean, inv = np.empty_like(x), np.empty(13, np.float32), np.empty(13, np.float32)
        mm, mv = np.zeros(13, np.float32), np.ones(13, np.float32)
        _C.batchnorm_forward_train(x, g, b, y, mean, inv, mm, mv, relu=relu)
        yi = np.empty_like(x)
        _C.batchnorm_forward_infer(x, g, b, mm, mv, yi, relu=relu)
        outs.append((y, yi, mean, inv))
    (y0, yi0, mean, inv), (y1, yi1, _, _) = outs
    r0, ri0 = np.empty_like(y0), np.empty_like(yi0)
    _C.relu_forward(y0, r0)
    _C.relu_forward(yi0, ri0)
    assert np.array_equal(r0, y1) and np.array_equal(ri0, yi1)
    dz = np.empty_like(dy)
    _C.relu_backward(y1, dy, dz, accumulate=False)
    want = [np.zeros_like(x), np.zeros(13, np.float32), np.zeros(13, np.float32)]
    _C.batchnorm_backward(x, dz, g, mean, inv, *want)
    got = [np.full_like(x, np.nan), np.zeros(13, np.float32), np.zeros(13, np.float32)]
    _C.batchnorm_backward(x, dy, g, mean, inv, *got, dy_mask=y1, accumulate=False)
    for a, c in zip(want, got):
        assert np.array_equal(a, c)


@pytest.mark.parametrize("net", ["main", "inception"])
def test_fused_training_is_bit_identical_at_1_and_2_threads(net, threads):
    """Two Adam steps and a prediction of the main job's network (max-pool + dropout fused) and
    of the homework's Inception network (batch norm + ReLU fused, concatenations): the same
    bits on one thread and on two."""
    from dlc.examples import fashion_best as fb
    from dlc.examples.mnist_cnn import build_model

    r = np.random.default_rng(9)
    x = r.standard_normal((16, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[r.integers(0, 10, 16)]

    def train(n):
        threads(n)
        dlc.utils.set_random_seed(11)
        if net == "main":
            model = build_model((28, 28, 1), 10)
        else:
            aug, fb.augmentation = fb.augmentation, lambda: None
            try:
                model = fb.build_model()
            finally:
                fb.augmentation = aug
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        for _ in range(2):
            model.train_on_batch(x, y)
        return model.get_weights() + [model.predict_on_batch(x)]

    one, two = train(1), train(2)
    _assert_same(one, two)
