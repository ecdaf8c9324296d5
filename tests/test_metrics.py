"""Metrics: every metric against Keras 3 (the oracle) over several batches, with and without
sample_weight; exact accumulation; config round trips; get() by every name Keras accepts and
by Keras's own objects; errors; classification_report against scikit-learn and by hand."""
import doctest
import importlib
import inspect
import re

import numpy as np
import pytest

import dlc
import dlc.metrics as M
from dlc import layers as L
from dlc.models import Sequential

from conftest import keras, requires_keras, torch

try:
    _sk_metrics = importlib.import_module("sklearn.metrics")
except ImportError:
    _sk_metrics = None
requires_sklearn = pytest.mark.skipif(
    _sk_metrics is None, reason="needs scikit-learn, an optional oracle of classification_report")

N, BATCHES = 32, 3


@pytest.fixture(autouse=True)
def _torch_float32():
    """Keras's torch backend needs torch's default dtype float32 (its segment sums allocate in
    it), but another test module sets float64 when imported: restore float32 around each test."""
    if torch is None:
        yield
        return
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


# ---- data ------------------------------------------------------------------------------

def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _one_hot(labels, k):
    return np.eye(k, dtype=np.float32)[labels]


def _batch(rng, kind):
    """One (y_true, y_pred) batch of `kind`, as float32 (int labels where Keras wants them)."""
    f = np.float32
    if kind == "reg":
        return rng.normal(size=(N, 4)).astype(f), rng.normal(size=(N, 4)).astype(f)
    if kind == "reg1":  # (n,) targets with (n, 1) predictions: Keras's rank alignment
        return rng.normal(size=N).astype(f), rng.normal(size=(N, 1)).astype(f)
    if kind == "pos":
        return rng.uniform(0, 3, (N, 4)).astype(f), rng.uniform(0.01, 3, (N, 4)).astype(f)
    if kind == "bin":
        return rng.integers(0, 2, (N, 3)).astype(f), rng.uniform(0, 1, (N, 3)).astype(f)
    if kind == "bin1":
        t = rng.integers(0, 2, N).astype(f)
        p = np.clip(0.35 * t + rng.uniform(0, 0.65, N), 0, 1).astype(f)
        p[:3] = [0.0, 1.0, 0.5]  # the edges of the threshold buckets
        return t, p[:, None]
    if kind == "logit":
        return rng.integers(0, 2, (N, 3)).astype(f), (3 * rng.normal(size=(N, 3))).astype(f)
    if kind == "soft":
        return rng.uniform(0, 1, (N, 3)).astype(f), rng.uniform(0, 1, (N, 3)).astype(f)
    if kind == "pm1":
        return (2 * rng.integers(0, 2, (N, 3)) - 1).astype(f), rng.normal(size=(N, 3)).astype(f)
    if kind == "onehot":
        return _one_hot(rng.integers(0, 5, N), 5), _softmax(rng.normal(size=(N, 5))).astype(f)
    if kind == "onehot_logits":
        return _one_hot(rng.integers(0, 5, N), 5), (2 * rng.normal(size=(N, 5))).astype(f)
    if kind == "dist":
        return _softmax(rng.normal(size=(N, 5))).astype(f), _softmax(rng.normal(size=(N, 5))).astype(f)
    if kind == "sparse":
        return rng.integers(0, 5, N), _softmax(rng.normal(size=(N, 5))).astype(f)
    if kind == "sparse_col":
        return rng.integers(0, 5, (N, 1)), _softmax(rng.normal(size=(N, 5))).astype(f)
    if kind == "sparse_logits":
        return rng.integers(0, 5, N), (2 * rng.normal(size=(N, 5))).astype(f)
    if kind == "sorted_ids":
        scores = rng.normal(size=(N, 5))
        return rng.integers(0, 5, N), np.argsort(-scores, axis=1)[:, :3].astype(f)
    if kind == "exact":
        return rng.integers(0, 3, (N, 2)).astype(f), rng.integers(0, 3, (N, 2)).astype(f)
    if kind == "classes":
        return rng.integers(0, 4, N), rng.integers(0, 4, N)
    if kind == "multilabel":
        t = rng.integers(0, 2, (N, 4)).astype(f)
        return t, np.clip(0.3 * t + rng.uniform(0, 0.7, (N, 4)), 0, 1).astype(f)
    raise KeyError(kind)


def _weights(rng, integer=False):
    w = rng.integers(0, 3, N).astype(np.float32) if integer else rng.uniform(0, 2, N).astype(np.float32)
    w[rng.random(N) < 0.2] = 0
    return w


# (dlc class, constructor kwargs, data kind, options); Keras's class has the same name.
CASES = [
    (M.MeanSquaredError, {}, "reg", {}),
    (M.MeanSquaredError, {}, "reg1", {}),
    (M.RootMeanSquaredError, {}, "reg", {}),
    (M.RootMeanSquaredError, {}, "reg1", {}),
    (M.MeanAbsoluteError, {}, "reg", {}),
    (M.MeanAbsolutePercentageError, {}, "pos", {}),
    (M.MeanSquaredLogarithmicError, {}, "pos", {}),
    (M.CosineSimilarity, {}, "reg", {}),
    (M.CosineSimilarity, {"axis": 0}, "reg", {"per_feature": True}),
    (M.LogCoshError, {}, "reg", {}),
    (M.R2Score, {}, "reg", {"rtol": 1e-4}),
    (M.R2Score, {}, "reg1", {"rtol": 1e-4}),
    (M.R2Score, {"class_aggregation": None}, "reg", {"rtol": 1e-4}),
    (M.R2Score, {"class_aggregation": "variance_weighted_average"}, "reg", {"rtol": 1e-4}),
    (M.R2Score, {"num_regressors": 3}, "reg", {"rtol": 1e-4}),
    (M.PearsonCorrelation, {}, "reg", {}),
    (M.ConcordanceCorrelation, {}, "reg", {}),
    (M.BinaryCrossentropy, {}, "bin", {}),
    (M.BinaryCrossentropy, {"from_logits": True}, "logit", {}),
    (M.BinaryCrossentropy, {"label_smoothing": 0.2}, "bin", {}),
    (M.CategoricalCrossentropy, {}, "onehot", {}),
    (M.CategoricalCrossentropy, {"from_logits": True}, "onehot_logits", {}),
    (M.CategoricalCrossentropy, {"label_smoothing": 0.1}, "onehot", {}),
    (M.SparseCategoricalCrossentropy, {}, "sparse", {}),
    (M.SparseCategoricalCrossentropy, {}, "sparse_col", {}),
    (M.SparseCategoricalCrossentropy, {"from_logits": True}, "sparse_logits", {}),
    # Keras's torch path drops the ignore_class mask when sample_weight is None (the ignored
    # samples then count in the mean's denominator) but applies it when weights are given;
    # dlc always leaves them out, which is Keras's result with unit weights.
    (M.SparseCategoricalCrossentropy, {"ignore_class": 0}, "sparse", {"keras_unit_weights": True}),
    (M.KLDivergence, {}, "dist", {}),
    (M.Poisson, {}, "pos", {}),
    (M.Hinge, {}, "bin", {}),
    (M.Hinge, {}, "pm1", {}),
    (M.SquaredHinge, {}, "bin", {}),
    (M.SquaredHinge, {}, "pm1", {}),
    (M.CategoricalHinge, {}, "onehot", {}),
    (M.Accuracy, {}, "exact", {}),
    (M.BinaryAccuracy, {}, "bin", {}),
    (M.BinaryAccuracy, {"threshold": 0.7}, "bin", {}),
    (M.BinaryAccuracy, {}, "bin1", {}),
    (M.CategoricalAccuracy, {}, "onehot", {}),
    (M.SparseCategoricalAccuracy, {}, "sparse", {}),
    (M.SparseCategoricalAccuracy, {}, "sparse_col", {}),
    (M.TopKCategoricalAccuracy, {"k": 2}, "onehot", {}),
    (M.TopKCategoricalAccuracy, {}, "onehot", {}),
    (M.SparseTopKCategoricalAccuracy, {"k": 2}, "sparse", {}),
    (M.SparseTopKCategoricalAccuracy, {"k": 2, "from_sorted_ids": True}, "sorted_ids", {}),
    (M.TruePositives, {}, "bin", {}),
    (M.TrueNegatives, {}, "bin", {}),
    (M.FalsePositives, {"thresholds": [0.15, 0.5, 0.85]}, "bin", {}),
    (M.FalseNegatives, {"thresholds": [0.0, 0.5, 1.0]}, "bin", {}),
    (M.Precision, {}, "bin", {}),
    (M.Precision, {"thresholds": [0.3, 0.5, 0.8]}, "bin1", {}),
    (M.Precision, {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "bin", {}),
    (M.Precision, {"top_k": 2}, "onehot", {}),
    (M.Precision, {"class_id": 1}, "onehot", {}),
    (M.Precision, {"top_k": 2, "class_id": 3}, "onehot", {}),
    (M.Recall, {}, "bin", {}),
    (M.Recall, {"thresholds": [0.8, 0.3]}, "bin1", {}),
    (M.Recall, {"top_k": 1}, "onehot", {}),
    (M.Recall, {"class_id": 2}, "multilabel", {}),
    (M.AUC, {}, "bin1", {}),
    (M.AUC, {}, "bin", {}),
    (M.AUC, {"num_thresholds": 50}, "bin1", {}),
    (M.AUC, {"curve": "PR"}, "bin1", {}),
    (M.AUC, {"curve": "PR", "summation_method": "minoring"}, "bin1", {}),
    (M.AUC, {"summation_method": "majoring"}, "bin1", {}),
    (M.AUC, {"curve": "PRGAIN"}, "bin1", {}),
    (M.AUC, {"thresholds": [0.2, 0.5, 0.7]}, "bin1", {}),
    (M.AUC, {"thresholds": [0.25, 0.5, 0.75]}, "bin1", {}),
    (M.AUC, {"multi_label": True}, "multilabel", {}),
    (M.AUC, {"multi_label": True, "num_labels": 4, "label_weights": [1.0, 0.5, 0.0, 2.0]}, "multilabel", {}),
    (M.AUC, {"label_weights": [1.0, 0.5, 0.0, 2.0]}, "multilabel", {}),
    (M.AUC, {"from_logits": True}, "logit", {}),
    (M.SensitivityAtSpecificity, {"specificity": 0.6}, "bin1", {}),
    (M.SpecificityAtSensitivity, {"sensitivity": 0.7}, "bin1", {}),
    (M.PrecisionAtRecall, {"recall": 0.8}, "bin1", {}),
    (M.RecallAtPrecision, {"precision": 0.7, "num_thresholds": 50}, "bin1", {}),
    (M.SensitivityAtSpecificity, {"specificity": 0.5, "class_id": 1}, "multilabel", {}),
    (M.F1Score, {}, "onehot", {}),
    (M.F1Score, {"average": "micro"}, "onehot", {}),
    (M.F1Score, {"average": "macro"}, "onehot", {}),
    (M.F1Score, {"average": "weighted"}, "onehot", {}),
    (M.F1Score, {"average": "macro", "threshold": 0.5}, "multilabel", {}),
    (M.F1Score, {"average": "weighted", "threshold": 0.4}, "soft", {}),
    (M.FBetaScore, {"beta": 2.0}, "onehot", {}),
    (M.FBetaScore, {"average": "macro", "beta": 0.5, "threshold": 0.5}, "multilabel", {}),
    (M.IoU, {"num_classes": 4, "target_class_ids": [0, 2]}, "classes", {"int_weights": True}),
    (M.MeanIoU, {"num_classes": 4}, "classes", {"int_weights": True}),
    (M.MeanIoU, {"num_classes": 4, "ignore_class": 1}, "classes", {"int_weights": True}),
    (M.BinaryIoU, {"threshold": 0.3}, "bin1", {"int_weights": True}),
    (M.BinaryIoU, {"target_class_ids": [1]}, "bin1", {"int_weights": True}),
    (M.OneHotIoU, {"num_classes": 5, "target_class_ids": [1, 3]}, "onehot", {"int_weights": True}),
    (M.OneHotMeanIoU, {"num_classes": 5}, "onehot", {"int_weights": True}),
]


def _case_id(case):
    cls, kwargs, kind, _ = case
    args = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{cls.__name__}({args})-{kind}"


def _data(seed, kind, weighted, integer_weights):
    rng = np.random.default_rng(seed)
    return [(*_batch(rng, kind), _weights(rng, integer_weights) if weighted else None)
            for _ in range(BATCHES)]


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


@requires_keras
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_keras_over_batches(case, weighted):
    cls, kwargs, kind, options = case
    if weighted and options.get("per_feature"):
        pytest.skip("axis=0 gives one value per feature, not per sample: there is nothing to weigh")
    batches = _data(7, kind, weighted, options.get("int_weights", False))
    ours, theirs = cls(**kwargs), getattr(keras.metrics, cls.__name__)(**kwargs)
    for t, p, w in batches:
        ours.update_state(t, p, sample_weight=w)
        if w is None and options.get("keras_unit_weights"):
            w = np.ones(len(t), np.float32)
        theirs.update_state(t, p, sample_weight=w)
    got, want = np.asarray(ours.result(), np.float64), _np(theirs.result())
    assert got.shape == want.shape
    # Keras sums in float32: allow its rounding, relative to the size of the sums
    atol = 2e-6 * max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=options.get("rtol", 2e-5), atol=atol)
    assert ours.name == re.sub(r"_\d+$", "", theirs.name)  # Keras numbers repeated default names
    ours.reset_state()
    t, p, w = batches[0]
    fresh = cls(**kwargs)
    np.testing.assert_allclose(np.asarray(ours(t, p, sample_weight=w)), np.asarray(fresh(t, p, sample_weight=w)))


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_accumulation_is_exact_over_every_sample(case):
    """Batches one at a time give what one update with all of them gives (no mean of means)."""
    cls, kwargs, kind, options = case
    if options.get("per_feature"):
        pytest.skip("axis=0 reduces across the samples of a batch, so batches are not separable")
    batches = _data(3, kind, True, options.get("int_weights", False))
    # uneven batches: the samples of a batch are not equally many across batches
    batches[1] = tuple(a[:5] for a in batches[1])
    split, whole = cls(**kwargs), cls(**kwargs)
    for t, p, w in batches:
        split.update_state(t, p, sample_weight=w)
    whole.update_state(*(np.concatenate([b[i] for b in batches]) for i in range(2)),
                       sample_weight=np.concatenate([b[2] for b in batches]))
    np.testing.assert_allclose(np.asarray(split.result()), np.asarray(whole.result()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_config_round_trip(case):
    cls, kwargs, kind, options = case
    m = cls(name="custom", **kwargs)
    config = m.get_config()
    again = cls.from_config(config)
    assert type(again) is cls and again.get_config() == config and again.name == "custom"
    by_get = M.get(M.serialize(m))
    assert type(by_get) is cls and by_get.get_config() == config
    t, p, w = _data(5, kind, not options.get("per_feature"), options.get("int_weights", False))[0]
    for metric in (m, again, by_get):
        metric.update_state(t, p, sample_weight=w)
    np.testing.assert_array_equal(np.asarray(m.result()), np.asarray(again.result()))
    np.testing.assert_array_equal(np.asarray(m.result()), np.asarray(by_get.result()))


def test_zero_weights_ignore_samples():
    t = np.array([[0.0], [1.0], [2.0]])
    p = np.array([[0.0], [np.nan], [4.0]])
    m = M.MeanSquaredError()
    m.update_state(t, p, sample_weight=[1.0, 0.0, 1.0])
    assert m.result() == 2.0
    acc = M.SparseCategoricalAccuracy()
    acc.update_state([0, 1, 1], [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], sample_weight=[1, 0, 3])
    assert acc.result() == 1.0
    tp = M.TruePositives()
    tp.update_state([1, 1, 1], [0.9, 0.9, 0.1], sample_weight=[2.0, 0.0, 5.0])
    assert tp.result() == 2.0


def test_weighted_mean_and_sum_as_keras():
    m = M.Mean()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 2.0
    m.update_state([[1.0, 3.0], [5.0, 7.0]], sample_weight=[1, 3])  # per-sample means 2 and 6
    assert m.result() == pytest.approx((1 + 3 + 2 + 18) / 6)
    s = M.Sum()
    s.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert s.result() == 4.0
    assert M.Mean().result() == 0.0


@requires_keras
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("cls", ["Mean", "Sum"])
def test_reductions_match_keras(cls, weighted):
    rng = np.random.default_rng(11)
    ours, theirs = getattr(M, cls)(), getattr(keras.metrics, cls)()
    for shape in [(N,), (N, 3), (N, 2, 2)]:
        v = rng.normal(size=shape).astype(np.float32)
        w = _weights(rng) if weighted else None
        ours.update_state(v, sample_weight=w)
        theirs.update_state(v, sample_weight=w)
    np.testing.assert_allclose(ours.result(), _np(theirs.result()), rtol=2e-5, atol=2e-6)


@requires_keras
@pytest.mark.parametrize("fn, kwargs, kind", [
    ("huber", {"delta": 0.5}, "reg"),
    ("log_cosh", {}, "reg"),
    ("binary_focal_crossentropy", {"gamma": 1.5, "apply_class_balancing": True}, "bin"),
    ("binary_focal_crossentropy", {"from_logits": True}, "logit"),
    ("categorical_focal_crossentropy", {}, "onehot"),
    ("top_k_categorical_accuracy", {"k": 3}, "onehot"),
    ("mean_squared_error", {}, "reg"),
])
def test_mean_metric_wrapper_matches_keras(fn, kwargs, kind):
    batches = _data(2, kind, True, False)
    ours = M.MeanMetricWrapper(getattr(M, fn), **kwargs)
    theirs = keras.metrics.MeanMetricWrapper(getattr(keras.metrics, fn), **kwargs)
    for t, p, w in batches:
        ours.update_state(t, p, sample_weight=w)
        theirs.update_state(t, p, sample_weight=w)
    np.testing.assert_allclose(ours.result(), _np(theirs.result()), rtol=2e-5, atol=2e-6)
    assert ours.name == "mean_metric_wrapper"
    again = M.MeanMetricWrapper.from_config(ours.get_config())
    assert again.get_config() == ours.get_config() and again.get_config()["fn"] == fn


def test_mean_metric_wrapper_of_a_user_function():
    def abs_error(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred))

    m = M.MeanMetricWrapper(abs_error, name="abs_error")
    m.update_state([[0.0], [1.0]], [[0.5], [0.5]], sample_weight=[3.0, 1.0])
    assert m.result() == 0.5
    assert M.MeanMetricWrapper.from_config(m.get_config()).get_config() == m.get_config()
    wrapped = M.get(abs_error)
    assert isinstance(wrapped, M.MeanMetricWrapper) and wrapped.name == "abs_error"


def test_results_by_hand():
    auc = M.AUC(num_thresholds=3)
    auc.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert auc.result() == 0.75
    p = M.Precision(thresholds=[0.0, 0.5])
    p.update_state([0, 1, 1, 1], [1, 0, 0.6, 0.4])
    np.testing.assert_allclose(p.result(), [2 / 3, 1 / 2])
    r = M.Recall(top_k=1)
    r.update_state([[0, 1, 1], [1, 0, 0]], [[0.1, 0.7, 0.2], [0.2, 0.5, 0.3]])
    assert r.result() == pytest.approx(1 / 3)
    f1 = M.F1Score()
    f1.update_state([[0, 1], [1, 0], [0, 1]], [[0.2, 0.8], [0.3, 0.7], [0.9, 0.1]])
    np.testing.assert_allclose(f1.result(), [0.0, 0.5], atol=1e-6)  # class 1: P 1/2, R 1/2
    top = M.SparseTopKCategoricalAccuracy(k=1)
    top.update_state([1, 0], [[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])  # a tie with the k-th counts
    assert top.result() == 0.5
    cm = M.confusion_matrix([0, 1, 1], [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    np.testing.assert_array_equal(cm, [[1, 0], [1, 1]])
    r2 = M.R2Score()
    r2.update_state([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]])
    assert r2.result() == pytest.approx(1 - 2 / (26 - 64 / 3))


def test_f1_array_and_accuracy_variants_kept():
    """The names and the result types the trainer and the examples rely on."""
    f1 = M.F1Score(average=None)
    f1.update_state(_one_hot([0, 1, 2], 3), _one_hot([0, 1, 1], 3))
    assert isinstance(f1.result(), np.ndarray) and f1.result().shape == (3,)
    assert isinstance(M.F1Score(average="macro")([[0, 1]], [[0.2, 0.8]]), float)
    assert M._in_top_k(np.array([[0.1, 0.5, 0.5]]), np.array([1]), 1).tolist() == [True]
    bce = dlc.losses.get("binary_crossentropy")
    scce = dlc.losses.get("sparse_categorical_crossentropy")
    cce = dlc.losses.get("categorical_crossentropy")
    assert type(M.get("accuracy", bce)) is M.BinaryAccuracy
    assert type(M.get("acc", scce)) is M.SparseCategoricalAccuracy
    assert type(M.get("accuracy", cce, (None, 3), (None, 3))) is M.CategoricalAccuracy
    assert type(M.get("accuracy", None, (None, 3), (None,))) is M.SparseCategoricalAccuracy
    assert type(M.get("accuracy", None, (None, 1), (None, 1))) is M.BinaryAccuracy
    assert M.get("acc", cce).name == "acc" and M.get("Accuracy", cce).name == "Accuracy"


# ---- get() -----------------------------------------------------------------------------

NEEDS_ARGS = {"SensitivityAtSpecificity", "SpecificityAtSensitivity", "PrecisionAtRecall",
              "RecallAtPrecision", "IoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU"}


@pytest.mark.parametrize("name", sorted(k for k in M._REGISTRY.names if k not in ("Metric", "MeanMetricWrapper")))
def test_get_by_every_name(name):
    factory = M._REGISTRY.names[name]
    cls = factory if isinstance(factory, type) else M.MeanMetricWrapper
    if cls.__name__ in NEEDS_ARGS:
        with pytest.raises(ValueError, match="needs arguments"):
            M.get(name)
        return
    m = M.get(name)
    if name.lower() in ("accuracy", "acc"):  # compile's choice of binary / categorical / sparse
        assert isinstance(m, (M.BinaryAccuracy, M.CategoricalAccuracy, M.SparseCategoricalAccuracy))
    else:
        assert isinstance(m, cls) and m.name == name  # a metric asked for by string logs under that string, as in Keras


@requires_keras
def test_get_accepts_every_name_keras_accepts():
    from keras.src.metrics import ALL_OBJECTS_DICT

    for name, kcls in ALL_OBJECTS_DICT.items():
        if kcls.__name__ in ("Metric", "MeanMetricWrapper"):
            continue
        if name.lower() in ("accuracy", "acc"):  # compile's automatic choice
            continue
        if kcls.__name__ in NEEDS_ARGS:
            with pytest.raises(ValueError, match="needs arguments"):
                M.get(name)
            continue
        m = M.get(name)
        assert type(m).__name__ == kcls.__name__, name


@requires_keras
def test_get_keras_objects():
    # classes: matched by name
    for kname in ("AUC", "Precision", "MeanSquaredError", "F1Score", "SparseTopKCategoricalAccuracy"):
        assert type(M.get(getattr(keras.metrics, kname))) is getattr(M, kname)
    # instances: their config comes along
    auc = M.get(keras.metrics.AUC(num_thresholds=50, curve="PR", name="pr_auc", multi_label=True))
    assert (type(auc), auc.num_thresholds, auc.curve, auc.name, auc.multi_label) == (M.AUC, 50, "PR", "pr_auc", True)
    prec = M.get(keras.metrics.Precision(thresholds=[0.3, 0.6], class_id=2))
    assert prec.thresholds == pytest.approx([0.3, 0.6]) and prec.class_id == 2
    cos = M.get(keras.metrics.CosineSimilarity(axis=0))
    assert cos.axis == 0
    top = M.get(keras.metrics.SparseTopKCategoricalAccuracy(k=3))
    assert top.k == 3
    fb = M.get(keras.metrics.FBetaScore(beta=2.0, average="macro"))
    assert (fb.beta, fb.average) == (2.0, "macro")
    wrapper = M.get(keras.metrics.MeanMetricWrapper(keras.metrics.huber, name="hub", delta=2.0))
    assert isinstance(wrapper, M.MeanMetricWrapper) and wrapper._fn_kwargs == {"delta": 2.0}
    # Keras's loss objects used as metrics: the metric of the same name
    bce = M.get(keras.losses.BinaryCrossentropy(from_logits=True))
    assert type(bce) is M.BinaryCrossentropy and bce.from_logits
    # functions: matched by __name__, named as Keras names them
    for fname in [n for n in dir(keras.metrics) if inspect.isfunction(getattr(keras.metrics, n))]:
        if fname in ("get", "serialize", "deserialize"):
            continue
        m = M.get(getattr(keras.metrics, fname))
        assert isinstance(m, M.Metric) and m.name == fname, fname
    assert type(M.get(keras.metrics.binary_accuracy)) is M.BinaryAccuracy
    assert type(M.get(keras.metrics.log_cosh)) is M.LogCoshError


def test_get_dlc_objects():
    m = M.AUC()
    assert M.get(m) is m
    assert type(M.get(M.Recall)) is M.Recall
    assert type(M.get(M.mean_absolute_error)) is M.MeanAbsoluteError
    assert M.get(M.huber).name == "huber"
    assert type(M.get(dlc.losses.CategoricalCrossentropy(label_smoothing=0.1))) is M.CategoricalCrossentropy
    d = M.get({"class_name": "BinaryAccuracy", "config": {"threshold": 0.3}})
    assert d.threshold == 0.3
    assert M.get({"class_name": "MeanMetricWrapper", "config": {"fn": "hinge"}})._fn is M.hinge


def test_trainer_uses_new_metrics(rng):
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    dlc.utils.set_random_seed(0)
    model = Sequential([L.Input(shape=(5,)), L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["accuracy", "mae", "AUC", M.Precision(name="prec"), M.Recall(thresholds=0.3),
                           "binary_crossentropy"])
    hist = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "mae", "AUC", "prec", "recall", "binary_crossentropy"}
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    assert logs["mae"] == pytest.approx(float(np.abs(p - y).mean()), rel=1e-5)
    ref = M.AUC()
    ref.update_state(y, p)
    assert logs["AUC"] == pytest.approx(ref.result(), rel=1e-6)
    assert logs["binary_crossentropy"] == pytest.approx(logs["loss"], rel=1e-4)


# ---- errors ----------------------------------------------------------------------------

def test_errors_name_the_argument_and_what_was_received():
    with pytest.raises(ValueError, match=r"y_true\.shape=\(4, 3\) and y_pred\.shape=\(4, 2\)"):
        M.MeanSquaredError().update_state(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"`sample_weight` of shape \(3,\)"):
        M.MeanAbsoluteError().update_state(np.zeros((4, 2)), np.zeros((4, 2)), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"`thresholds`.*1\.5"):
        M.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="`threshold`.*received threshold='high'"):
        M.BinaryAccuracy(threshold="high")
    with pytest.raises(ValueError, match=r"`threshold` must be None or a number in \(0, 1\]"):
        M.F1Score(threshold=0.0)
    with pytest.raises(ValueError, match="`average`.*received average='mean'"):
        M.F1Score(average="mean")
    with pytest.raises(ValueError, match="`curve`.*received curve='roc_curve'"):
        M.AUC(curve="roc_curve")
    with pytest.raises(ValueError, match="`summation_method`"):
        M.AUC(summation_method="trapezoid")
    with pytest.raises(ValueError, match="`num_thresholds` must be an int >= 2"):
        M.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="`specificity` must be in"):
        M.SensitivityAtSpecificity(1.2)
    with pytest.raises(ValueError, match="`k` must be an int >= 1"):
        M.TopKCategoricalAccuracy(k=0)
    with pytest.raises(ValueError, match="`class_id` must be an int in"):
        M.Precision(class_id=7).update_state(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        M.SparseCategoricalCrossentropy().update_state([0, 3], np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="2D inputs"):
        M.F1Score().update_state([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'.*Did you mean"):
        M.get("acuracy")
    with pytest.raises(ValueError, match="'precision_at_recall' needs arguments"):
        M.get("precision_at_recall")
    with pytest.raises(TypeError, match="`y_pred` must be an array of numbers"):
        M.MeanSquaredError().update_state([1.0], ["a"])
    with pytest.raises(AttributeError, match="has no attribute 'MeanSquareError'.*MeanSquaredError"):
        M.MeanSquareError


# ---- classification_report -------------------------------------------------------------

REPORT = """\
              precision    recall  f1-score   support

         cat       1.00      1.00      1.00         1
         dog       1.00      0.50      0.67         2
        bird       0.67      1.00      0.80         2

    accuracy                           0.80         5
   macro avg       0.89      0.83      0.82         5
weighted avg       0.87      0.80      0.79         5
"""


def test_classification_report_by_hand():
    y_true, y_pred = [0, 1, 2, 2, 1], [0, 2, 2, 2, 1]
    names = ["cat", "dog", "bird"]
    assert M.classification_report(y_true, y_pred, target_names=names) == REPORT
    # one-hot labels and scores give the same report
    scores = _one_hot(np.array(y_pred), 3) * 0.6 + 0.1
    assert M.classification_report(_one_hot(np.array(y_true), 3), scores, target_names=names) == REPORT
    four = M.classification_report(y_true, y_pred, digits=4)
    assert "           1     1.0000    0.5000    0.6667         2\n" in four
    assert "    accuracy                         0.8000         5\n" in four
    # a class never predicted (and one never true) reports zeros, as scikit-learn does
    text = M.classification_report([0, 1, 2, 2, 1], [0, 2, 2, 2, 3])
    assert "           1       0.00      0.00      0.00         2\n" in text
    assert "           3       0.00      0.00      0.00         0\n" in text
    assert "   macro avg       0.42      0.50      0.45         5\n" in text
    # scores of 4 classes list every class, including one absent from both
    text = M.classification_report([0, 1], np.array([[0.9, 0.1, 0, 0], [0.2, 0.8, 0, 0]]))
    assert text.count("0.00         0\n") == 2
    # string labels and a binary probability column
    assert "         yes       1.00      0.50      0.67         2\n" in M.classification_report(
        ["yes", "no", "yes"], ["yes", "no", "no"])
    assert "accuracy                           0.67         3" in M.classification_report(
        [1, 0, 1], np.array([[0.9], [0.2], [0.3]]))


def test_classification_report_errors():
    with pytest.raises(ValueError, match="one name per class.*received 2 names"):
        M.classification_report([0, 1, 2], [0, 1, 1], target_names=["a", "b"])
    with pytest.raises(ValueError, match="received 3 labels and 2 predictions"):
        M.classification_report([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="non-integer"):
        M.classification_report([0, 1], [0.2, 0.7])


@requires_sklearn
@pytest.mark.parametrize("seed", range(6))
def test_classification_report_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    n = int(rng.integers(5, 200))
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    labels = np.union1d(y_true, y_pred)
    digits = int(rng.integers(1, 5))
    names = [f"class_{'x' * int(rng.integers(0, 12))}{i}" for i in labels] if seed % 2 else None
    want = _sk_metrics.classification_report(y_true, y_pred, target_names=names, digits=digits, zero_division=0)
    assert M.classification_report(y_true, y_pred, target_names=names, digits=digits) == want


# ---- docstring examples ----------------------------------------------------------------

def _examples():
    finder = doctest.DocTestFinder()
    modules = [importlib.import_module(f"dlc.metrics.{m}") for m in
               ("base", "functions", "regression", "probabilistic", "accuracy", "confusion", "fscore", "iou",
                "report")] + [M]
    for module in modules:
        for test in finder.find(module, globs={"dlc": dlc, "np": np}):
            # examples that need a trained model or define a class stay illustrations
            if test.examples and not any("model" in e.source or "class " in e.source for e in test.examples):
                yield test


@pytest.mark.parametrize("example", list(_examples()), ids=lambda t: t.name)
def test_docstring_example(example):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(example)  # prints the failing example, which pytest shows
    assert runner.summarize(verbose=False).failed == 0, f"the example in {example.name} is wrong"
