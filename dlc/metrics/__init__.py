"""Metrics, with Keras 3's names, arguments and semantics, computed exactly over every sample
seen since the last reset (float64 sums and weighted counts, never averages of batch
averages), `sample_weight` included.

Every metric has `update_state(y_true, y_pred, sample_weight=None)`, `result()`,
`reset_state()`, `name`, `get_config()` / `from_config()`, and calling it updates it and
returns the result. `compile(metrics=[...])` takes them by name ('mae', 'AUC',
'sparse_top_k_categorical_accuracy', ...), by class, as instances, as config dicts, as
functions, or as Keras's own metric classes, instances and functions (matched by name).
`'accuracy'` becomes binary, categorical or sparse categorical accuracy from the loss and
the shapes, as Keras chooses.

The families:

- reductions: `Mean`, `Sum`, `MeanMetricWrapper(fn)`;
- regression: `MeanSquaredError`, `RootMeanSquaredError`, `MeanAbsoluteError`,
  `MeanAbsolutePercentageError`, `MeanSquaredLogarithmicError`, `CosineSimilarity`,
  `LogCoshError`, `R2Score`, `PearsonCorrelation`, `ConcordanceCorrelation`;
- probabilistic and hinge: `BinaryCrossentropy`, `CategoricalCrossentropy`,
  `SparseCategoricalCrossentropy`, `KLDivergence`, `Poisson`, `Hinge`, `SquaredHinge`,
  `CategoricalHinge`;
- accuracy: `Accuracy`, `BinaryAccuracy`, `CategoricalAccuracy`,
  `SparseCategoricalAccuracy`, `TopKCategoricalAccuracy`, `SparseTopKCategoricalAccuracy`;
- confusion-matrix based: `TruePositives`, `TrueNegatives`, `FalsePositives`,
  `FalseNegatives`, `Precision`, `Recall`, `AUC`, `PrecisionAtRecall`,
  `RecallAtPrecision`, `SensitivityAtSpecificity`, `SpecificityAtSensitivity`,
  `FBetaScore`, `F1Score`;
- segmentation: `IoU`, `MeanIoU`, `BinaryIoU`, `OneHotIoU`, `OneHotMeanIoU`;
- per-sample functions (`mean_squared_error`, `binary_accuracy`, ...) and whole-data-set
  reports (`confusion_matrix`, `classification_report`).

Example:

>>> m = dlc.metrics.CategoricalAccuracy()
>>> m.update_state([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]])
>>> m.result()
0.5
>>> model.compile(optimizer="adam", loss="binary_crossentropy",
...               metrics=["accuracy", dlc.metrics.AUC(), "precision"])
"""
from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np

from dlc._registry import Registry
from dlc._registry import serialize as _serialize
from dlc.metrics import functions as _functions
from dlc.metrics.accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                                  SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, _TopK)
from dlc.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from dlc.metrics.confusion import (AUC, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall,
                                   RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity,
                                   TrueNegatives, TruePositives)
from dlc.metrics.fscore import F1Score, FBetaScore
from dlc.metrics.functions import (_in_top_k, accuracy, binary_accuracy, binary_crossentropy,
                                   binary_focal_crossentropy, categorical_accuracy, categorical_crossentropy,
                                   categorical_focal_crossentropy, categorical_hinge, concordance_correlation,
                                   cosine_similarity, hinge, huber, kl_divergence, log_cosh,
                                   mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                                   mean_squared_logarithmic_error, pearson_correlation, poisson,
                                   sparse_categorical_accuracy, sparse_categorical_crossentropy,
                                   sparse_top_k_categorical_accuracy, squared_hinge, top_k_categorical_accuracy)
from dlc.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from dlc.metrics.probabilistic import (BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge, Hinge,
                                       KLDivergence, Poisson, SparseCategoricalCrossentropy, SquaredHinge)
from dlc.metrics.regression import (ConcordanceCorrelation, CosineSimilarity, LogCoshError, MeanAbsoluteError,
                                    MeanAbsolutePercentageError, MeanSquaredError, MeanSquaredLogarithmicError,
                                    PearsonCorrelation, R2Score, RootMeanSquaredError)
from dlc.metrics.report import classification_report, confusion_matrix

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper",
    "MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "CosineSimilarity", "LogCoshError", "R2Score", "PearsonCorrelation",
    "ConcordanceCorrelation",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "KLDivergence",
    "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge",
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
    "TruePositives", "TrueNegatives", "FalsePositives", "FalseNegatives", "Precision", "Recall", "AUC",
    "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity", "SpecificityAtSensitivity",
    "FBetaScore", "F1Score",
    "IoU", "MeanIoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "log_cosh", "huber", "cosine_similarity", "pearson_correlation",
    "concordance_correlation", "binary_crossentropy", "binary_focal_crossentropy",
    "categorical_crossentropy", "categorical_focal_crossentropy", "sparse_categorical_crossentropy",
    "kl_divergence", "poisson", "hinge", "squared_hinge", "categorical_hinge", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "confusion_matrix", "classification_report", "get", "serialize", "deserialize",
]


def _rows(a: Any) -> np.ndarray:
    """(n, ..., k) -> (m, k) view."""
    a = np.asarray(a)
    return a.reshape(-1, a.shape[-1])


def _wrapped(fn, name):
    """A factory of `MeanMetricWrapper(fn)` named `name` (for functions without a class)."""
    return functools.partial(MeanMetricWrapper, fn, name=name)


_CLASSES = [
    Mean, Sum, MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, R2Score, PearsonCorrelation,
    ConcordanceCorrelation, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
    KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, Accuracy, BinaryAccuracy,
    CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    TruePositives, TrueNegatives, FalsePositives, FalseNegatives, Precision, Recall, AUC, PrecisionAtRecall,
    RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, FBetaScore, F1Score, IoU, MeanIoU,
    BinaryIoU, OneHotIoU, OneHotMeanIoU,
]

_NAMES = {cls.name: cls for cls in _CLASSES}  # each default name ('logcosh', 'fbeta_score', ...)
_NAMES.update({
    # Keras's snake-case class names where they differ from the default names
    "log_cosh_error": LogCoshError, "f_beta_score": FBetaScore, "io_u": IoU, "mean_io_u": MeanIoU,
    "binary_io_u": BinaryIoU, "one_hot_io_u": OneHotIoU, "one_hot_mean_io_u": OneHotMeanIoU,
    # Keras's short aliases
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    # dlc's own: Keras 3 has no short name for RMSE, though regression tutorials write 'rmse'
    "rmse": RootMeanSquaredError,
    # the names of Keras's metric functions (and Keras 2's aliases) that have a class
    "log_cosh": LogCoshError, "kld": KLDivergence, "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "iou": IoU, "mean_iou": MeanIoU, "binary_iou": BinaryIoU, "one_hot_iou": OneHotIoU,
    "one_hot_mean_iou": OneHotMeanIoU,
    # Keras's metric functions without a class: the mean of the function
    "huber": _wrapped(huber, "huber"),
    "binary_focal_crossentropy": _wrapped(binary_focal_crossentropy, "binary_focal_crossentropy"),
    "categorical_focal_crossentropy": _wrapped(categorical_focal_crossentropy, "categorical_focal_crossentropy"),
})
_NAMES["MeanMetricWrapper"] = MeanMetricWrapper  # for config dicts {'class_name': 'MeanMetricWrapper', ...}

_REGISTRY = Registry("metric", Metric, _NAMES)


def _accuracy(name: str, loss: Any, output_shape: Any, target_shape: Any) -> Metric:
    """'accuracy' / 'acc' as the variant Keras picks for this loss and these shapes."""
    lname = getattr(loss, "name", "")
    if lname == "binary_crossentropy" or (output_shape is not None and output_shape[-1] == 1):
        cls = BinaryAccuracy
    elif lname == "sparse_categorical_crossentropy" or (
            target_shape is not None and output_shape is not None
            and (len(target_shape) < len(output_shape) or target_shape[-1] == 1)):
        cls = SparseCategoricalAccuracy
    else:
        cls = CategoricalAccuracy
    return cls(name=name)


def _construct(label: str, factory: Any, **kwargs: Any) -> Metric:
    """factory(**kwargs), turning a missing required argument into an error that says how
    to create the metric."""
    try:
        return factory(**kwargs)
    except TypeError as e:
        if "required" not in str(e) and "missing" not in str(e):
            raise
        cls = factory if isinstance(factory, type) else type(None)
        raise ValueError(f"metric {label!r} needs arguments ({e}): create it yourself, e.g. "
                         f"dlc.metrics.{getattr(cls, '__name__', label)}(...), and pass the instance") from None


def _foreign(obj: Any) -> bool:
    """Whether obj (a class or function) comes from Keras (or tf.keras) or from dlc."""
    module = getattr(obj, "__module__", "") or ""
    return module.split(".")[0] in ("keras", "tf_keras", "tensorflow", "dlc")


def _plain(value: Any) -> Any:
    """A config value from Keras as plain Python (tensors and arrays to lists, enums to values)."""
    if hasattr(value, "value") and type(value).__module__.startswith("keras"):
        return value.value
    if hasattr(value, "shape") and not isinstance(value, (str, bytes)):
        return np.asarray(value).tolist()
    return value


def _from_instance(obj: Any) -> Metric:
    """The dlc metric equal to an instance of a Keras metric (or of a Keras / dlc loss),
    rebuilt from its config."""
    class_name = type(obj).__name__
    cls = _REGISTRY.lookup(class_name)
    config = {k: _plain(v) for k, v in dict(obj.get_config()).items() if k != "reduction"}
    fn = getattr(obj, "_fn", None)
    fn_kwargs = dict(getattr(obj, "_fn_kwargs", None) or {})
    if cls is MeanMetricWrapper:
        fn_name = getattr(fn, "__name__", None)
        if fn_name not in _functions.FUNCTIONS:
            raise ValueError(f"Keras's MeanMetricWrapper of {fn!r} has no dlc equivalent: wrap a NumPy "
                             "function in dlc.metrics.MeanMetricWrapper instead")
        return MeanMetricWrapper(_functions.FUNCTIONS[fn_name], name=obj.name, **fn_kwargs)
    accepted = inspect.signature(cls).parameters
    if "losses" in type(obj).__module__.split("."):  # a loss used as a metric: drop loss-only keys
        config = {k: v for k, v in config.items() if k in accepted}
    for key, value in fn_kwargs.items():  # e.g. CosineSimilarity's axis, missing from Keras's config
        if key in accepted and key not in config:
            config[key] = _plain(value)
    config.pop("fn", None)
    try:
        return cls(**config)
    except TypeError as e:
        raise ValueError(f"Could not rebuild the Keras metric {class_name} from its config {config}: {e}") from None


def get(identifier: Any, loss: Any = None, output_shape: Any = None, target_shape: Any = None) -> Metric:
    """A metric from a name, class, config dict, instance or function, as `compile` resolves
    `metrics=[...]`.

    Args:
        identifier: a name ('mae', 'mean_squared_error', 'AUC', 'precision', ...), a dlc
            metric class or instance, a `{'class_name': ..., 'config': {...}}` dict, a
            function `fn(y_true, y_pred)` (wrapped in `MeanMetricWrapper`), or one of
            Keras's metric classes, instances or functions (matched by name; instances keep
            their config). `'accuracy'` / `'acc'` (any case) pick binary, categorical or
            sparse categorical accuracy from `loss` and the shapes, as Keras does.
        loss: the compiled loss (its `name` is read), for 'accuracy'.
        output_shape: the model's output shape, for 'accuracy'.
        target_shape: the targets' shape, for 'accuracy'.

    Returns:
        A `Metric`. A metric asked for by a string is named by that string, as in Keras's
        training logs ('mae' logs as 'mae').

    Raises:
        ValueError: for an unknown name (naming the nearest known ones), or a metric that
            needs arguments (such as 'precision_at_recall') asked for by name.

    Example:

    >>> dlc.metrics.get("mae")
    <MeanAbsoluteError name=mae>
    """
    if identifier is None:
        raise ValueError("metrics.get: expected a metric, received None")
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _accuracy(identifier, loss, output_shape, target_shape)
        if identifier in ("Metric", "MeanMetricWrapper"):
            raise ValueError(f"metric {identifier!r} is a base class: pass a metric name such as 'mae', "
                             "or MeanMetricWrapper(fn) for a function")
        metric = _construct(identifier, _REGISTRY.lookup(identifier))
        metric.name = identifier
        return metric
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        if "class_name" not in identifier:
            raise ValueError(f"metrics.get: a config dict needs the keys 'class_name' and 'config', "
                             f"received keys {sorted(identifier)}")
        name = identifier["class_name"]
        return _construct(name, _REGISTRY.lookup(name), **dict(identifier.get("config") or {}))
    if isinstance(identifier, type):
        if issubclass(identifier, Metric):
            return _construct(identifier.__name__, identifier)
        if _foreign(identifier):
            return _construct(identifier.__name__, _REGISTRY.lookup(identifier.__name__))
        raise TypeError(f"Could not interpret metric {identifier!r}: a class must be a dlc.metrics.Metric "
                        "subclass or one of Keras's metric classes")
    if _foreign(type(identifier)) and hasattr(identifier, "get_config") and not inspect.isfunction(identifier):
        return _from_instance(identifier)
    if callable(identifier):
        fname = getattr(identifier, "__name__", None)
        if fname and _foreign(identifier):
            if fname in _REGISTRY.names and fname not in ("Metric", "MeanMetricWrapper"):
                metric = _construct(fname, _REGISTRY.names[fname])
                metric.name = fname
                return metric
            raise ValueError(f"dlc.metrics has no metric function {fname!r}; expected one of "
                             f"{sorted(_functions.FUNCTIONS)}")
        return MeanMetricWrapper(identifier, name=fname or "mean_metric_wrapper")
    raise TypeError(f"Could not interpret metric {identifier!r}: pass a name such as 'accuracy' or 'mae', "
                    "a config dict, a function fn(y_true, y_pred) or a dlc.metrics.Metric")


def serialize(metric: Metric) -> dict:
    """`{'class_name': ..., 'config': metric.get_config()}`, which `deserialize` (or `get`)
    turns back into an equal metric.

    Example:

    >>> dlc.metrics.serialize(dlc.metrics.BinaryAccuracy(threshold=0.7))["config"]["threshold"]
    0.7
    """
    return _serialize(metric)


def deserialize(config: dict) -> Metric:
    """The metric described by a `serialize` dict (or Keras's own serialized form)."""
    return get(config)


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
