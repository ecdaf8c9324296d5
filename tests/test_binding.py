"""The generic binding (csrc/module.c): docstrings made from the kernel records, argument
binding, scalar conversion and ranges, array validation, exact shapes, overlap, and the shape
faults the kernels' own check functions report. Every refusal asserts the whole message:
function name, argument name, what was expected and what was received."""
import re
import threading

import numpy as np
import pytest

from dlc import _C

F32 = np.float32


def refuses(exc, message, fn, *args, **kw):
    """fn(*args, **kw) raises exc with exactly `message`; the array arguments are unchanged."""
    before = [a.copy() for a in args if isinstance(a, np.ndarray)]
    with pytest.raises(exc) as info:
        fn(*args, **kw)
    assert str(info.value) == message
    for a, b in zip([a for a in args if isinstance(a, np.ndarray)], before):
        np.testing.assert_array_equal(a, b)


def z(*shape, dtype=F32):
    return np.zeros(shape, dtype)


# ---------------------------------------------------------------- docstrings

FUNCTIONS = sorted(n for n in dir(_C) if not n.startswith("_") and callable(getattr(_C, n)))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_doc_starts_with_its_signature(name):
    doc = getattr(_C, name).__doc__
    assert re.match(rf"{name}\([a-z_0-9, *=().'\-A-Za-z]*\): \S", doc), doc


def test_docs_carry_the_defaults_of_the_records():
    assert _C.conv2d_forward.__doc__.startswith(
        "conv2d_forward(x, w, b, y, *, strides=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0), "
        "groups=1): ")
    assert _C.adam_step.__doc__.startswith(
        "adam_step(w, g, m, v, vhat, *, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-07, "
        "amsgrad=False, step, weight_decay=0.0): ")
    assert _C.relu_forward.__doc__.startswith(
        "relu_forward(x, y, *, negative_slope=0.0, threshold=0.0, max_value=None): ")
    assert _C.maxpool2d_forward.__doc__.startswith(
        "maxpool2d_forward(x, y, argmax, *, pool_size=(2, 2), strides=(2, 2), "
        "padding=(0, 0, 0, 0)): ")
    assert _C.philox4x32_10.__doc__.startswith("philox4x32_10(counter, key): ")
    assert _C.get_num_threads.__doc__.startswith("get_num_threads(): ")


def test_the_documented_defaults_are_the_ones_used(rng):
    """batchnorm's default epsilon (1e-3) and momentum (0.99) give what passing them gives."""
    x = rng.standard_normal((6, 3)).astype(F32)
    outs = []
    for kw in ({}, dict(epsilon=1e-3, momentum=0.99)):
        y, mean, inv, mm, mv = z(6, 3), z(3), z(3), z(3), np.ones(3, F32)
        _C.batchnorm_forward_train(x, None, None, y, mean, inv, mm, mv, **kw)
        outs.append((y, mm, mv))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- argument binding

def test_arrays_bind_by_position_or_by_name():
    x, y = np.arange(6, dtype=F32) - 3, z(6)
    _C.relu_forward(y=y, x=x)
    np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_binding_refusals():
    x, y = z(4), z(4)
    refuses(TypeError, "relu_forward: takes at most 2 positional arguments (3 given)",
            _C.relu_forward, x, y, 0.1)
    refuses(TypeError, "relu_forward: 'slope' is an invalid keyword argument",
            _C.relu_forward, x, y, slope=0.1)
    refuses(TypeError, "relu_forward: argument 'x' given twice", _C.relu_forward, x, y, x=x)
    refuses(TypeError, "relu_forward: missing argument 'y' (pos 2)", _C.relu_forward, x)
    refuses(TypeError, "dropout_forward: missing required keyword argument 'rate'",
            _C.dropout_forward, x, y, z(4, dtype=np.uint8), seed=1, step=2)
    refuses(TypeError, "mse_backward: missing required keyword argument 'scale'",
            _C.mse_backward, z(2, 2), z(2, 2), z(2, 2))


# ---------------------------------------------------------------- scalars

def test_scalar_type_refusals():
    x, y = z(4), z(4)
    refuses(TypeError, "relu_forward: argument 'negative_slope' must be a float, received 'a'",
            _C.relu_forward, x, y, negative_slope="a")
    refuses(TypeError, "elu_forward: argument 'alpha' must be a float, received None",
            _C.elu_forward, x, y, alpha=None)
    refuses(TypeError, "conv2d_forward: argument 'groups' must be an int, received 1.5",
            _C.conv2d_forward, z(1, 3, 3, 1), z(1, 1, 1, 1), None, z(1, 3, 3, 1), groups=1.5)
    refuses(TypeError, "dropout_forward: argument 'seed' must be an int, received 1.5",
            _C.dropout_forward, x, y, z(4, dtype=np.uint8), rate=0.5, seed=1.5, step=0)
    refuses(TypeError, "avgpool2d_forward: argument 'strides' must be a tuple of 2 ints "
            "(sh, sw), received [1, 1]", _C.avgpool2d_forward, z(1, 4, 4, 1), z(1, 2, 2, 1),
            strides=[1, 1])
    refuses(TypeError, "philox4x32_10: argument 'key' must be a sequence of 2 ints, received "
            "(0, 'a')", _C.philox4x32_10, (1, 2, 3, 4), (0, "a"))


def test_nan_and_range_refusals():
    x, y, e = z(4, 3), z(4, 3), z(4, 3)
    refuses(ValueError, "batchnorm_forward_infer: argument 'epsilon' must be finite and >= 0, "
            "received nan", _C.batchnorm_forward_infer, x, None, None, z(3), z(3), y,
            epsilon=float("nan"))
    refuses(ValueError, "adam_step: argument 'beta_1' must be in [0, 1), received nan",
            _C.adam_step, x, e.copy(), z(4, 3), z(4, 3), None, learning_rate=0.1, step=1,
            beta_1=float("nan"))
    refuses(ValueError, "xent_forward: argument 'epsilon' must be in [0, 0.5), received 0.5",
            _C.xent_forward, x, e, z(4), epsilon=0.5)
    refuses(ValueError, "sgd_step: argument 'momentum' must be in [0, 1], received 1.5",
            _C.sgd_step, x, e.copy(), None, learning_rate=0.1, momentum=1.5)
    refuses(ValueError, "relu_forward: argument 'max_value' must be None or a number (not NaN), "
            "received nan", _C.relu_forward, x, y, max_value=float("nan"))
    refuses(ValueError, "conv2d_forward: argument 'groups' must be an int >= 1, received 0",
            _C.conv2d_forward, z(1, 3, 3, 1), z(1, 1, 1, 1), None, z(1, 3, 3, 1), groups=0)
    refuses(ValueError, "adam_step: argument 'step' must be an int >= 1, received 0",
            _C.adam_step, x, e.copy(), z(4, 3), z(4, 3), None, learning_rate=0.1, step=0)
    refuses(ValueError, "set_num_threads: argument 'n' must be an int in [1, 4096], received 0",
            _C.set_num_threads, 0)
    # A float beyond float32 is refused, not silently turned into inf.
    refuses(ValueError, "elu_forward: argument 'alpha' must be finite, received 1e+300",
            _C.elu_forward, x, y, alpha=1e300)
    # gemm's alpha and beta have no range: NaN is passed through, as ever.
    c = z(2, 2)
    _C.gemm(np.ones((2, 2), F32), np.ones((2, 2), F32), c, alpha=float("nan"))
    assert np.isnan(c).all()


def test_optional_array_needed_by_a_hyperparameter():
    w, g = z(5), z(5)
    refuses(ValueError, "rmsprop_step: argument 'avg' must be a float32 array when centered, "
            "received None", _C.rmsprop_step, w, g, z(5), None, None, learning_rate=0.1,
            centered=True)
    refuses(ValueError, "rmsprop_step: argument 'mom' must be a float32 array when momentum "
            "!= 0, received None", _C.rmsprop_step, w, g, z(5), None, None, learning_rate=0.1,
            momentum=0.5)


# ---------------------------------------------------------------- arrays

def test_array_refusals():
    x = z(6, 4)
    refuses(TypeError, "tanh_forward: argument 'x' must be a numpy.ndarray of float32, received "
            "list", _C.tanh_forward, [0.0] * 4, z(4))
    refuses(TypeError, "tanh_forward: argument 'y' must have dtype float32, received float64",
            _C.tanh_forward, x, z(6, 4, dtype=np.float64))
    refuses(TypeError, "tanh_forward: argument 'x' must be in native byte order, received a "
            "byte-swapped array", _C.tanh_forward, x.astype(x.dtype.newbyteorder()), z(6, 4))
    unaligned = np.frombuffer(bytearray(6 * 4 * 4 + 1), np.uint8)[1:].view(F32).reshape(6, 4)
    refuses(ValueError, "tanh_forward: argument 'x' must be aligned to its dtype, received an "
            "unaligned array", _C.tanh_forward, unaligned, z(6, 4))


def test_output_refusals():
    x = z(6, 4)
    strided = z(6, 8)[:, ::2]
    refuses(ValueError, "sigmoid_forward: argument 'y' must be C-contiguous, received a strided "
            "view (use numpy.ascontiguousarray)", _C.sigmoid_forward, x, strided)
    ro = z(6, 4)
    ro.flags.writeable = False
    refuses(ValueError, "sigmoid_forward: argument 'y' is an output and must be writeable, "
            "received a read-only array", _C.sigmoid_forward, x, ro)
    # Two outputs sharing memory: y and the uint8 mask over the same bytes.
    buf = np.zeros(24 * 4, np.uint8)
    y, mask = buf.view(F32).reshape(6, 4), buf[:24].reshape(6, 4)
    refuses(ValueError, "dropout_forward: output 'y' must not share memory with argument "
            "'mask', received overlapping arrays", _C.dropout_forward, x, y, mask, rate=0.5,
            seed=1, step=1)
    mean = z(4)
    refuses(ValueError, "batchnorm_forward_train: output 'mean' must not share memory with "
            "argument 'invstd', received overlapping arrays", _C.batchnorm_forward_train, x,
            None, None, z(6, 4), mean, mean, z(4), np.ones(4, F32))


def test_in_place_is_exactly_the_input(rng):
    x = rng.standard_normal((3, 5)).astype(F32)
    want = np.tanh(x.astype(np.float64))
    _C.tanh_forward(x, x)
    np.testing.assert_allclose(x, want, rtol=1e-6, atol=1e-6)
    buf = z(16)
    refuses(ValueError, "tanh_forward: output 'y' must not share memory with argument 'x', "
            "received overlapping arrays", _C.tanh_forward, buf[:15], buf[1:])
    # In-place is a forward rule only: a gradient output may not be its input.
    refuses(ValueError, "tanh_backward: output 'dx' must not share memory with argument 'y', "
            "received overlapping arrays", _C.tanh_backward, x, z(3, 5), x)


def test_exact_shape_messages_name_the_layout():
    refuses(ValueError, "conv2d_forward: argument 'y' must have shape (1, 2, 2, 3) = "
            "(n, oh, ow, oc), received (1, 3, 3, 3)", _C.conv2d_forward, z(1, 4, 4, 2),
            z(3, 3, 2, 3), None, z(1, 3, 3, 3))
    refuses(ValueError, "conv2d_forward: argument 'w' must have shape (3, 3, 1, 4) = "
            "(kh, kw, c/groups, oc), received (3, 3, 2, 4)", _C.conv2d_forward, z(1, 4, 4, 2),
            z(3, 3, 2, 4), None, z(1, 2, 2, 4), groups=2)
    refuses(ValueError, "elu_backward: argument 'dy' must have shape (2, 3) = the shape of 'y', "
            "received (3, 2)", _C.elu_backward, z(2, 3), z(2, 3), z(3, 2), z(2, 3))
    refuses(ValueError, "softmax_xent_sparse_forward: argument 'labels' must have shape (4,) = "
            "(m,), received (5,)", _C.softmax_xent_sparse_forward, z(4, 3),
            z(5, dtype=np.int32), z(4, 3), z(4))
    refuses(ValueError, "global_avgpool2d_forward: argument 'x' (n, h, w, c) must be 4-D, "
            "received shape (2, 3)", _C.global_avgpool2d_forward, z(2, 3), z(2, 3))


# ---------------------------------------------------------------- the kernels' shape faults

def test_conv_faults_from_the_kernel_check():
    x, y = z(1, 2, 2, 1), z(1, 1, 1, 1)
    refuses(ValueError, "conv2d_forward: the dilated kernel (3 x 3) must fit in the padded "
            "input (2 x 2), received a larger kernel (output would be empty)",
            _C.conv2d_forward, x, z(3, 3, 1, 1), None, y)
    refuses(ValueError, "conv2d_forward: the dilated kernel (1 x 5) must fit in the padded "
            "input (2 x 4), received a larger kernel (output would be empty)",
            _C.conv2d_forward, x, z(1, 3, 1, 1), None, y, dilation=(1, 2), padding=(0, 0, 1, 1))
    refuses(ValueError, "conv2d_backward_data: input channels (4) and output channels (3) must "
            "be divisible by groups, received groups=2", _C.conv2d_backward_data, z(1, 2, 2, 3),
            z(1, 1, 2, 3), z(1, 2, 2, 4), groups=2)
    refuses(ValueError, "conv2d_backward_weights: argument 'dw' (kh, kw, c/groups, oc) must have "
            "positive sizes, received shape (1, 0, 1, 1)", _C.conv2d_backward_weights, x, y,
            z(1, 0, 1, 1), None)
    refuses(ValueError, "conv2d_backward_data: argument 'dx' (n, h, w, c) must have positive "
            "sizes, received shape (1, 0, 2, 1)", _C.conv2d_backward_data, y, z(1, 1, 1, 1),
            z(1, 0, 2, 1))
    refuses(ValueError, "conv2d_forward: invalid shape: a size is beyond the kernel's index "
            "range", _C.conv2d_forward, x, z(1, 1, 1, 1), None, y, padding=(2**40, 0, 0, 0))


def test_pool_faults_from_the_kernel_check():
    x, y = z(1, 4, 4, 1), z(1, 2, 2, 1)
    refuses(ValueError, "avgpool2d_forward: argument 'padding' must be >= 0 and smaller than "
            "pool_size (2, 2) on each side, received (0, 0, 0, 2)", _C.avgpool2d_forward, x, y,
            padding=(0, 0, 0, 2))
    refuses(ValueError, "maxpool2d_backward: argument 'pool_size' (5, 1) must fit the padded "
            "input (4, 4)", _C.maxpool2d_backward, y, z(1, 2, 2, 1, dtype=np.int32), x,
            pool_size=(5, 1))
    refuses(ValueError, "avgpool2d_forward: h * w (4 * 4), pool_size (2, 4294967296) and "
            "strides (2, 2) must each be below 2**31 (argmax is int32)", _C.avgpool2d_forward,
            x, y, pool_size=(2, 2**32))
    refuses(ValueError, "global_maxpool2d_forward: argument 'x' (n, h, w, c) must have positive "
            "sizes, received shape (0, 2, 2, 1)", _C.global_maxpool2d_forward, z(0, 2, 2, 1),
            z(0, 1), z(0, 1, dtype=np.int32))


def test_data_dependent_einval_names_the_argument():
    refuses(ValueError, "softmax_xent_sparse_backward: argument 'labels' must hold class indices "
            "in [0, 3), received a label out of range", _C.softmax_xent_sparse_backward,
            z(2, 3), np.array([0, 3], np.int32), z(2, 3), scale=1.0)


# ---------------------------------------------------------------- threads

def test_calls_from_several_python_threads(rng):
    """The GIL is released around the kernel only: concurrent calls give the serial results."""
    xs = [rng.standard_normal((64, 33)).astype(F32) for _ in range(8)]
    want = []
    for x in xs:
        y = z(64, 33)
        _C.softmax_forward(x, y)
        want.append(y)
    got = [z(64, 33) for _ in xs]

    def work(i):
        for _ in range(20):
            _C.softmax_forward(xs[i], got[i])

    ts = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
