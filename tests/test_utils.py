"""dlc.utils (seeding, to_categorical, normalize) and dlc._random."""
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from dlc import _random, utils


# ---------------------------------------------------------------------------- _random
def test_seed_makes_generator_and_next_seed_reproducible():
    _random.seed(123)
    a = _random.generator().normal(size=5)
    keys_a = [_random.next_seed() for _ in range(4)]
    _random.seed(123)
    b = _random.generator().normal(size=5)
    keys_b = [_random.next_seed() for _ in range(4)]
    np.testing.assert_array_equal(a, b)
    assert keys_a == keys_b
    _random.seed(124)
    assert not np.array_equal(a, _random.generator().normal(size=5))


def test_generator_is_process_global():
    assert _random.generator() is _random.generator()
    _random.seed(5)
    g = _random.generator()
    assert g is _random.generator()
    assert isinstance(g, np.random.Generator)


def test_next_seed_is_a_63_bit_int():
    _random.seed(0)
    keys = [_random.next_seed() for _ in range(2000)]
    assert all(type(k) is int and 0 <= k < 2 ** 63 for k in keys)
    assert len(set(keys)) == len(keys)
    assert max(keys) > 2 ** 62  # the upper half of the range is reached


def test_unseeded_generator_uses_os_entropy(tmp_path):
    # The child imports the same dlc as this test (installed or built in place).
    code = "from dlc import _random; print(_random.next_seed())"
    import dlc
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(dlc.__file__))))
    outs = {subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                           text=True, check=True).stdout for _ in range(2)}
    assert len(outs) == 2


def test_unseeded_in_process(monkeypatch):
    monkeypatch.setattr(_random, "_generator", None)
    g = _random.generator()
    assert isinstance(g, np.random.Generator) and g is _random.generator()


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_seed_rejects_non_int(bad):
    with pytest.raises(TypeError, match="seed"):
        _random.seed(bad)


def test_seed_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        _random.seed(-1)


# ---------------------------------------------------------------------------- set_random_seed
def _draw_all():
    return (_random.generator().random(), random.random(), np.random.rand())


def test_set_random_seed_seeds_all_three_generators():
    utils.set_random_seed(812)
    first = _draw_all()
    utils.set_random_seed(812)
    assert _draw_all() == first
    utils.set_random_seed(813)
    second = _draw_all()
    assert all(a != b for a, b in zip(first, second))


def test_set_random_seed_large_seed():
    utils.set_random_seed(2 ** 40 + 7)  # NumPy's legacy generator takes 32 bits only
    a = _draw_all()
    utils.set_random_seed(2 ** 40 + 7)
    assert _draw_all() == a


@pytest.mark.parametrize("bad", [1.0, "1", None, False, -3])
def test_set_random_seed_rejects(bad):
    with pytest.raises(ValueError, match="seed"):
        utils.set_random_seed(bad)


# ---------------------------------------------------------------------------- to_categorical
def reference_one_hot(labels, num_classes):
    """From the definition: row i of the identity matrix for class i."""
    labels = np.asarray(labels)
    return np.eye(num_classes, dtype=np.float64)[labels.reshape(-1)].reshape(
        labels.shape + (num_classes,))


@pytest.mark.parametrize("shape,expected", [
    ((7,), (7, 4)),
    ((7, 1), (7, 4)),
    ((1,), (1, 4)),
    ((1, 1), (1, 4)),
    ((3, 5), (3, 5, 4)),
    ((3, 5, 1), (3, 5, 4)),
    ((), (4,)),
])
def test_to_categorical_shapes_and_values(rng, shape, expected):
    y = rng.integers(0, 4, size=shape)
    out = utils.to_categorical(y, num_classes=4)
    assert out.shape == expected and out.dtype == np.float32
    squeezed = y.reshape(expected[:-1])
    np.testing.assert_array_equal(out, reference_one_hot(squeezed, 4))


def test_to_categorical_infers_num_classes():
    out = utils.to_categorical([0, 2, 5])
    assert out.shape == (3, 6)
    np.testing.assert_array_equal(out.argmax(-1), [0, 2, 5])


def test_to_categorical_accepts_uint8_labels_and_integral_floats():
    y = np.array([9, 0, 3], dtype=np.uint8)  # as the data sets return them
    np.testing.assert_array_equal(utils.to_categorical(y, 10), reference_one_hot(y, 10))
    np.testing.assert_array_equal(utils.to_categorical(np.array([1.0, 2.0]), 3),
                                  reference_one_hot([1, 2], 3))


def test_to_categorical_does_not_modify_input():
    y = np.array([[1], [2]])
    before = y.copy()
    utils.to_categorical(y, 3)
    np.testing.assert_array_equal(y, before)


def test_to_categorical_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 2\].*received 3"):
        utils.to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="received -1"):
        utils.to_categorical([0, -1], num_classes=3)
    with pytest.raises(ValueError, match="integer"):
        utils.to_categorical([0.5, 1.0])
    with pytest.raises(ValueError, match="empty"):
        utils.to_categorical([])


def test_to_categorical_matches_keras(rng):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    for shape in [(6,), (6, 1), (2, 3), (2, 3, 1), (1, 1)]:
        y = rng.integers(0, 5, size=shape)
        for n in (None, 7):
            ours = utils.to_categorical(y, n)
            theirs = np.asarray(keras.utils.to_categorical(y, n))
            assert ours.shape == theirs.shape
            np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------------- normalize
def test_normalize_l2_and_l1(rng):
    x = rng.normal(size=(4, 6))
    out = utils.normalize(x)
    np.testing.assert_allclose(out, x / np.sqrt((x ** 2).sum(-1, keepdims=True)), rtol=1e-12)
    out1 = utils.normalize(x, axis=0, order=1)
    np.testing.assert_allclose(out1, x / np.abs(x).sum(0, keepdims=True), rtol=1e-12)


def test_normalize_leaves_zero_rows_and_input():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    before = x.copy()
    np.testing.assert_allclose(utils.normalize(x), [[0.0, 0.0], [0.6, 0.8]])
    np.testing.assert_array_equal(x, before)
    assert utils.normalize(np.array([[3, 4]])).dtype.kind == "f"
