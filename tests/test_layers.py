"""Layers: forward and backward against PyTorch / NumPy references, and finite-difference
gradient checks of whole small models (including a branching functional model)."""
import numpy as np
import pytest

from conftest import F, requires_torch, torch  # noqa: E402

import dlc
from dlc import layers as L
from dlc.models import Model, Sequential
import helpers



@pytest.fixture(autouse=True)
def _float64_torch():
    """The torch references of this module compute in float64 (restored afterwards, so Keras on
    torch in other modules keeps float32)."""
    with helpers.torch_default_dtype("float64"):
        yield


def _t(a):
    return torch.tensor(np.asarray(a, np.float64), requires_grad=True)


def _nchw(a):
    return a.permute(0, 3, 1, 2)


def _nhwc(a):
    return a.permute(0, 2, 3, 1)


def _run(layer, x, dy, training=True):
    """Forward and backward of one layer through a one-layer model's executor."""
    return helpers.forward_backward(helpers.layer_model(layer, x), x, dy, training)


@requires_torch
@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid", "elu", "softmax"])
def test_dense_matches_torch(rng, activation):
    x = rng.standard_normal((5, 7)).astype(np.float32)
    layer = L.Dense(3, activation=activation)
    dy = rng.standard_normal((5, 3)).astype(np.float32)
    y, dx = _run(layer, x, dy)
    xt = _t(x)
    w, b = _t(layer.kernel.value), _t(layer.bias.value)
    z = xt @ w + b
    act = {None: lambda v: v, "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
           "elu": F.elu, "softmax": lambda v: torch.softmax(v, -1)}[activation]
    yt = act(z)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.kernel.grad, w.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.bias.grad, b.grad.numpy(), rtol=1e-4, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("kernel,strides,padding,dilation,groups", [
    ((3, 3), 1, "valid", 1, 1),
    ((3, 3), 2, "same", 1, 1),
    ((2, 2), 1, "same", 1, 1),      # even kernel: extra padding at the bottom/right
    ((4, 3), 2, "same", 1, 1),
    ((3, 3), 1, "same", 2, 1),
    ((3, 1), 1, "valid", 1, 2),
    ((3, 3), 1, "same", 1, 6),      # depthwise
])
def test_conv2d_matches_torch(rng, kernel, strides, padding, dilation, groups):
    x = rng.standard_normal((2, 9, 8, 6)).astype(np.float32)
    layer = L.Conv2D(12, kernel, strides=strides, padding=padding, dilation_rate=dilation,
                     groups=groups, activation="relu")
    inp = L.Input(shape=x.shape[1:])
    out_shape = layer(inp).shape
    dy = rng.standard_normal((2,) + out_shape[1:]).astype(np.float32)
    y, dx = _run(layer, x, dy)
    # torch reference with Keras's 'same' padding (extra at the end)
    from dlc._geometry import pads_2d
    pt, pb, pl, pr = pads_2d(padding, 9, 8, kernel, (strides, strides), (dilation, dilation))
    xt = _t(x)
    w, b = _t(layer.kernel.value), _t(layer.bias.value)
    xp = F.pad(_nchw(xt), (pl, pr, pt, pb))
    z = F.conv2d(xp, w.permute(3, 2, 0, 1), b, stride=strides, dilation=dilation, groups=groups)
    yt = torch.relu(_nhwc(z))
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.kernel.grad, w.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(layer.bias.grad, b.grad.numpy(), rtol=1e-4, atol=1e-4)


@requires_torch
@pytest.mark.parametrize("cls,pool,strides,padding", [
    (L.MaxPooling2D, (2, 2), None, "valid"),
    (L.MaxPooling2D, (3, 3), (2, 2), "same"),
    (L.AveragePooling2D, (2, 2), None, "valid"),
    (L.AveragePooling2D, (3, 3), (2, 2), "same"),
])
def test_pooling_matches_torch(rng, cls, pool, strides, padding):
    x = rng.permutation(2 * 7 * 6 * 5).reshape(2, 7, 6, 5).astype(np.float32) / 10.0  # no ties
    layer = cls(pool_size=pool, strides=strides, padding=padding)
    out_shape = layer.compute_output_shape((None,) + x.shape[1:])
    dy = rng.standard_normal((2,) + out_shape[1:]).astype(np.float32)
    y, dx = _run(layer, x, dy)
    from dlc._geometry import pads_2d
    st = strides or pool
    pt, pb, pl, pr = pads_2d(padding, 7, 6, pool, st)
    xt = _t(x)
    if cls is L.MaxPooling2D:
        xp = F.pad(_nchw(xt), (pl, pr, pt, pb), value=-np.inf)
        yt = _nhwc(F.max_pool2d(xp, pool, st))
    else:
        xp = F.pad(_nchw(xt), (pl, pr, pt, pb))
        ones = F.pad(torch.ones_like(_nchw(xt)), (pl, pr, pt, pb))
        yt = _nhwc(F.avg_pool2d(xp, pool, st) / F.avg_pool2d(ones, pool, st))
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("cls", [L.GlobalMaxPooling2D, L.GlobalAveragePooling2D])
def test_global_pooling(rng, cls):
    x = rng.permutation(2 * 4 * 5 * 3).reshape(2, 4, 5, 3).astype(np.float32)
    dy = rng.standard_normal((2, 3)).astype(np.float32)
    y, dx = _run(cls(), x, dy)
    xt = _t(x)
    yt = xt.amax(dim=(1, 2)) if cls is L.GlobalMaxPooling2D else xt.mean(dim=(1, 2))
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-5)


@requires_torch
def test_batchnorm_training_and_inference(rng):
    x = (rng.standard_normal((4, 5, 3, 6)) * 3 + 2).astype(np.float32)
    layer = L.BatchNormalization(momentum=0.9, epsilon=1e-3)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    inp = L.Input(shape=x.shape[1:])
    model = Model(inp, layer(inp))
    gamma = rng.uniform(0.5, 1.5, 6).astype(np.float32)
    beta = rng.standard_normal(6).astype(np.float32)
    layer.set_weights([gamma, beta, np.zeros(6, np.float32), np.ones(6, np.float32)])
    y, dx = _run(layer, x, dy, training=True)
    xt = _t(x)
    mu = xt.mean(dim=(0, 1, 2))
    var = xt.var(dim=(0, 1, 2), unbiased=False)
    yt = (xt - mu) / torch.sqrt(var + 1e-3) * torch.tensor(gamma, dtype=torch.float64) + torch.tensor(beta, dtype=torch.float64)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-3, atol=1e-4)
    # moving statistics: Keras's momentum convention with the biased variance
    np.testing.assert_allclose(layer.moving_mean.value, 0.1 * mu.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.value, 0.9 + 0.1 * var.detach().numpy(), rtol=1e-4)
    # inference uses the moving statistics
    y_inf = model.predict(x, verbose=0)
    mm, mv = layer.moving_mean.value, layer.moving_variance.value
    np.testing.assert_allclose(y_inf, (x - mm) / np.sqrt(mv + 1e-3) * gamma + beta, rtol=1e-4, atol=1e-4)
    assert [w.shape for w in layer.get_weights()] == [(6,)] * 4


def test_dropout_training_and_inference(rng):
    dlc.utils.set_random_seed(7)
    x = rng.standard_normal((64, 100)).astype(np.float32)
    layer = L.Dropout(0.3)
    dy = np.ones_like(x)
    y, dx = _run(layer, x, dy, training=True)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-6)
    np.testing.assert_allclose(dx, kept / np.float32(0.7), rtol=1e-6)
    np.testing.assert_array_equal(layer(x), x)  # inference: identity
    with pytest.raises(ValueError, match="rate"):
        L.Dropout(1.0)


def test_flatten_reshape_concat_add(rng):
    a = rng.standard_normal((3, 4, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(L.Flatten()(a), a.reshape(3, -1))
    np.testing.assert_array_equal(L.Reshape((8, -1))(a), a.reshape(3, 8, 4))
    b = rng.standard_normal((3, 4, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(L.Concatenate()([a, b]), np.concatenate([a, b], -1))
    c = rng.standard_normal((3, 4, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(L.Add()([a, c]), a + c)
    with pytest.raises(ValueError, match="Reshape"):
        L.Reshape((7, 7)).compute_output_shape((None, 4, 4, 2))
    with pytest.raises(ValueError, match="same shape"):
        L.Add()([L.Input((3,)), L.Input((4,))])


@pytest.mark.parametrize("cls,kw,ref", [
    (L.ReLU, {}, lambda x: np.maximum(x, 0)),
    (L.ReLU, {"max_value": 1.0}, lambda x: np.clip(x, 0, 1)),
    (L.LeakyReLU, {"negative_slope": 0.1}, lambda x: np.where(x >= 0, x, 0.1 * x)),
    (L.ELU, {}, lambda x: np.where(x > 0, x, np.expm1(x))),
    (L.Softmax, {}, lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)),
])
def test_activation_layers(rng, cls, kw, ref):
    x = rng.standard_normal((4, 9)).astype(np.float32) * 2
    np.testing.assert_allclose(cls(**kw)(x), ref(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- whole-model gradient checks
def _loss_and_grad(model, x, y):
    """The loss and the arena's gradient through the executor, unfused (the loss's own
    backward), so the check covers every layer's full backward."""
    arena = model._ensure_arena()
    with model._workspace() as ws:
        tape = model.run_forward(ws, [x], training=True)
        (y_pred,) = tape.outputs
        per = np.empty(len(x), np.float32)
        dy = np.zeros_like(y_pred)
        model.loss.per_sample(y_pred, y, per)
        model.loss.backward(y_pred, y, 1.0 / len(x), dy)
        arena.zero_grads()
        model.run_backward(tape, [dy])
    return float(per.astype(np.float64).mean()), arena.grads.copy()


def _loss_only(model, x, y):
    with model._workspace() as ws:
        (y_pred,) = model.run_forward(ws, [x], training=True).outputs
        per = np.empty(len(x), np.float32)
        model.loss.per_sample(y_pred, y, per)
    return float(per.astype(np.float64).mean())


def _gradcheck(model, x, y, rng, h=1e-2, rtol=2e-2):
    model.compile(optimizer="sgd", loss=model.loss if isinstance(model.loss, dlc.losses.Loss) else "mse")
    _, g = _loss_and_grad(model, x, y)
    params = model._arena.params
    base = params.copy()
    for _ in range(3):
        d = rng.standard_normal(params.shape).astype(np.float32)
        d /= np.linalg.norm(d)
        params[:] = base + h * d
        lp = _loss_only(model, x, y)
        params[:] = base - h * d
        lm = _loss_only(model, x, y)
        params[:] = base
        fd = (lp - lm) / (2 * h)
        an = float(np.dot(g.astype(np.float64), d))
        assert abs(fd - an) <= rtol * max(abs(fd), abs(an)) + 1e-5, (fd, an)


def test_gradcheck_sequential_cnn(rng):
    dlc.utils.set_random_seed(1)
    model = Sequential([
        L.Input(shape=(8, 8, 2)),
        L.Conv2D(4, 3, padding="same", activation="tanh"),
        L.AveragePooling2D(2),
        L.BatchNormalization(),
        L.Conv2D(5, 2, strides=2, activation="elu"),
        L.Flatten(),
        L.Dense(6, activation="sigmoid"),
        L.Dense(3, activation="softmax"),
    ])
    model.loss = dlc.losses.CategoricalCrossentropy()
    x = rng.standard_normal((4, 8, 8, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 4)]
    _gradcheck(model, x, y, rng)


def test_gradcheck_branching_functional(rng):
    """Fan-out (one tensor feeding three branches), Concatenate and Add."""
    dlc.utils.set_random_seed(2)
    inp = L.Input(shape=(6, 6, 3))
    a = L.Conv2D(4, 1, padding="same", activation="tanh")(inp)
    b = L.Conv2D(4, 3, padding="same", activation="tanh")(inp)
    c = L.Conv2D(4, 5, padding="same", activation="tanh")(inp)
    p = L.AveragePooling2D(3, strides=1, padding="same")(inp)
    p = L.Conv2D(4, 1, activation="tanh")(p)
    cat = L.Concatenate()([a, b, c, p])
    res = L.Add()([L.Conv2D(16, 1)(inp), cat])
    out = L.Dense(2)(L.GlobalAveragePooling2D()(res))
    model = Model(inp, out)
    model.loss = dlc.losses.MeanSquaredError()
    x = rng.standard_normal((3, 6, 6, 3)).astype(np.float32)
    y = rng.standard_normal((3, 2)).astype(np.float32)
    _gradcheck(model, x, y, rng)


def test_shared_layer_accumulates_both_calls(rng):
    """A layer called twice contributes the sum of both calls' gradients."""
    inp = L.Input(shape=(4,))
    shared = L.Dense(4, activation="tanh")
    out = L.Dense(1)(shared(shared(inp)))
    model = Model(inp, out)
    model.loss = dlc.losses.MeanSquaredError()
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.standard_normal((5, 1)).astype(np.float32)
    _gradcheck(model, x, y, rng)


def test_relu_gradient_is_zero_at_exact_zero():
    """Zero pre-activations (e.g. a zero bias over black MNIST pixels) get no gradient through
    ReLU, as in torch and TensorFlow; the in-place ReLU of Dense/Conv2D agrees."""
    x = np.zeros((2, 3), np.float32)
    dy = np.ones((2, 3), np.float32)
    layer = L.Dense(3, activation="relu", kernel_initializer="zeros")
    y, dx = _run(layer, x, dy)
    assert not y.any()
    np.testing.assert_array_equal(layer.bias.grad, np.zeros(3, np.float32))
    act = L.ReLU()
    _, dx2 = _run(act, x, dy)
    np.testing.assert_array_equal(dx2, np.zeros_like(x))


def test_gradcheck_conv_variants(rng):
    """Depthwise, separable and transposed convolutions: backward by finite differences."""
    dlc.utils.set_random_seed(4)
    inp = L.Input(shape=(5, 5, 2))
    x = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="tanh")(inp)
    x = L.SeparableConv2D(3, 3, strides=2, activation="tanh")(x)
    x = L.Conv2DTranspose(2, 3, strides=2, activation="tanh")(x)
    x = L.UpSampling2D(2)(L.ZeroPadding2D(((1, 0), (0, 2)))(x))
    out = L.Dense(2)(L.Flatten()(x))
    model = Model(inp, out)
    model.loss = dlc.losses.MeanSquaredError()
    xb = rng.standard_normal((3, 5, 5, 2)).astype(np.float32)
    y = rng.standard_normal((3, 2)).astype(np.float32)
    _gradcheck(model, xb, y, rng)


def test_depthwise_separable_parameter_counts():
    """The lecture's example: 3x3 depthwise + 1x1 pointwise over 6 channels into 10 filters has
    54 + 60 weights (+10 biases) instead of Conv2D's 540 (+10)."""
    inp = L.Input(shape=(8, 8, 6))
    sep = L.SeparableConv2D(10, 3, use_bias=False)
    sep(inp)
    conv = L.Conv2D(10, 3, use_bias=False)
    conv(inp)
    assert sep.count_params() == 3 * 3 * 6 + 6 * 10
    assert conv.count_params() == 3 * 3 * 6 * 10
    assert L.Conv2DTranspose(4, 3, strides=2).compute_output_shape((None, 2, 2, 1)) == (None, 5, 5, 4)
