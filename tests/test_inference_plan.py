"""Inference from a recorded plan (Functional.run_inference, _C.plan_*): the first call per
input shape records the forward's kernel calls, later calls replay them in one C call. The
replay must give the bits of the plain forward, see weight changes, and step aside for graphs
it cannot replay."""
import threading

import numpy as np
import pytest

import dlc
from dlc import _C
from dlc import layers as L
from dlc.models import Model, Sequential


def _plain(model, x):
    with model._workspace() as ws:
        return [o.copy() for o in model.run_forward(ws, [x], training=False).outputs]


def _models():
    from dlc.examples import fashion_best as fb
    from dlc.examples.mnist_cnn import build_model

    main = build_model((28, 28, 1), 10)
    aug, fb.augmentation = fb.augmentation, lambda: None
    try:
        inception = fb.build_model()
    finally:
        fb.augmentation = aug
    inp = L.Input((28, 28, 1))
    h = L.SeparableConv2D(4, 3, activation="relu")(inp)
    h = L.DepthwiseConv2D(3, activation="tanh")(h)
    h = L.AveragePooling2D(2)(h)
    h = L.Activation("relu")(L.BatchNormalization()(h))
    h = L.Concatenate()([L.GlobalAveragePooling2D()(h), L.GlobalMaxPooling2D()(h)])
    other = Model(inp, L.Dense(5, activation="sigmoid")(L.Reshape((8,))(h)))
    return {"main": main, "inception": inception, "other": other}


@pytest.mark.parametrize("name", ["main", "inception", "other"])
def test_replay_has_the_bits_of_the_plain_forward(name, rng):
    dlc.utils.set_random_seed(0)
    model = _models()[name]
    for n in (1, 5, 1):  # records a plan per batch size, then replays the first
        x = rng.standard_normal((n, 28, 28, 1)).astype(np.float32)
        for _ in range(2):
            got = model.predict_on_batch(x)
            assert np.array_equal(got, _plain(model, x)[0])
        assert np.array_equal(model(x), got)
    with model._workspace() as ws:
        assert ws.plans and all(p is not False for p in ws.plans.values())


def test_replay_sees_new_weights_and_a_rebuilt_arena(rng):
    dlc.utils.set_random_seed(1)
    model = _models()["main"]
    x = rng.standard_normal((2, 28, 28, 1)).astype(np.float32)
    before = model.predict_on_batch(x)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    after = model.predict_on_batch(x)
    assert not np.array_equal(before, after)
    assert np.array_equal(after, _plain(model, x)[0])
    # the layers shared into a second model move to its arena, then come back
    other = Sequential([L.Input((28, 28, 1))] + model.layers)
    other.predict_on_batch(x)
    assert np.array_equal(model.predict_on_batch(x), _plain(model, x)[0])


def test_graph_with_a_numpy_layer_runs_plainly(rng):
    inp = L.Input((6,))
    out = L.Dense(3)(L.Lambda(lambda t: t * 2.0)(inp))
    model = Model(inp, out)
    assert not model._inference_plan_ok()
    x = rng.standard_normal((4, 6)).astype(np.float32)
    assert np.array_equal(model.predict_on_batch(x), _plain(model, x)[0])
    with model._workspace() as ws:
        assert not ws.plans


def test_a_shape_marked_unplannable_runs_plainly(rng):
    """A forward whose recording failed (plan_end refused it) is not recorded again."""
    dlc.utils.set_random_seed(3)
    model = _models()["main"]
    x = rng.standard_normal((2, 28, 28, 1)).astype(np.float32)
    with model._workspace() as ws:
        ws.plans[(x.shape,)] = False
    for _ in range(2):
        assert np.array_equal(model.predict_on_batch(x), _plain(model, x)[0])
    with model._workspace() as ws:
        assert ws.plans[(x.shape,)] is False


def test_concurrent_predictions_each_get_their_own_workspace(rng):
    dlc.utils.set_random_seed(2)
    model = _models()["main"]
    xs = [rng.standard_normal((3, 28, 28, 1)).astype(np.float32) for _ in range(4)]
    want = [_plain(model, x)[0] for x in xs]
    got, errors = {}, []

    def work(i):
        try:
            for _ in range(5):
                got[i] = model.predict_on_batch(xs[i])
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(4):
        assert np.array_equal(got[i], want[i])


def test_plan_api_refusals():
    with pytest.raises(RuntimeError, match="no plan is being recorded"):
        _C.plan_end()
    _C.plan_begin()
    try:
        with pytest.raises(RuntimeError, match="already being recorded"):
            _C.plan_begin()
        logits = np.zeros((2, 3), np.float32)
        probs = np.empty_like(logits)
        _C.softmax_forward(logits, probs)
    finally:
        plan = _C.plan_end()
    assert _C.plan_steps(plan) == ["softmax_forward"]
    logits[...] = [[0, 0, np.log(2)], [1, 1, 1]]
    _C.plan_run(plan)  # replays on the recorded arrays
    np.testing.assert_allclose(probs, [[0.25, 0.25, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    with pytest.raises((TypeError, ValueError)):
        _C.plan_run(object())
    _C.plan_begin()  # a kernel whose value Python reads cannot be replayed
    _C.philox4x32_10([0, 0, 0, 0], [1, 2])
    with pytest.raises(ValueError, match="philox4x32_10.*cannot be replayed"):
        _C.plan_end()
