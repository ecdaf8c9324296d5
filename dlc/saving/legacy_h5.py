"""Keras 2's legacy HDF5 files, read only: a whole model (`model.save("m.h5")`: the
architecture as JSON in the file's `model_config` attribute, the weights under
`model_weights/`, the compile arguments in `training_config`) and weights alone
(`model.save_weights("w.h5")`).

The architecture is read from the attribute as plain JSON and rebuilt from dlc's own classes
(see `keras_config`); weights are matched layer by layer in the order of the `layer_names`
attribute, each layer's in the order of its `weight_names`, as Keras does. Nothing is
unpickled or evaluated. The optimizer's saved variables (`optimizer_weights`) are not read:
the model is compiled fresh.
"""
from __future__ import annotations

import json
import warnings
from typing import Any, List, Tuple

import numpy as np

from dlc.saving import keras_config as KC
from dlc.saving import keras_h5 as KH


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    if not isinstance(value, str):
        raise ValueError(f"expected a string attribute, received {type(value).__name__}")
    return value


def _names(attr: Any) -> List[str]:
    if attr is None:
        return []
    return [_text(n) for n in np.asarray(attr).reshape(-1)] if np.asarray(attr).size else []


def is_legacy_weights(f: Any) -> bool:
    """Whether the open h5py file is in Keras 2's layout (whole model or weights)."""
    return "model_config" in f.attrs or "layer_names" in f.attrs or (
        "model_weights" in f and "layer_names" in f["model_weights"].attrs)


def read_legacy_weights(group: Any, model: Any, where: str) -> List[Tuple[Any, np.ndarray]]:
    """`(variable, value)` pairs for `model` from a Keras 2 weights group, checked first."""
    layer_names = _names(group.attrs.get("layer_names"))
    file_layers = []
    for name in layer_names:
        g = KH._child(group, name, "group", where)
        if g is None:
            raise ValueError(f"{where}: the file lists layer {name!r} but has no group for it")
        weight_names = _names(g.attrs.get("weight_names"))
        if weight_names:
            file_layers.append((name, g, weight_names))
    model_layers = [layer for layer in model.layers if layer.weights]
    if len(file_layers) != len(model_layers):
        raise ValueError(f"{where}: the file holds weights for {len(file_layers)} layers "
                         f"({[n for n, _, _ in file_layers]}), the model has {len(model_layers)} layers with "
                         f"weights ({[l.name for l in model_layers]})")
    pairs = []
    for (name, g, weight_names), layer in zip(file_layers, model_layers):
        weights = layer.weights
        if len(weight_names) != len(weights):
            raise ValueError(f"{where}: layer '{layer.name}' has {len(weights)} weights, the file's layer "
                             f"{name!r} has {len(weight_names)} ({weight_names})")
        for wname, v in zip(weight_names, weights):
            parent, _, leaf = wname.rpartition("/")
            holder = KH.group_at(g, parent, where) if parent else g
            if holder is None:
                raise ValueError(f"{where}: the file has no weight {wname!r} in layer {name!r}")
            pairs.append((v, KH.read_array(holder, leaf, v.shape, where,
                                           f"weight '{v.path}' (file: {name}/{wname})")))
    return pairs


def load_legacy_model(f: Any, compile: bool, where: str) -> Any:
    """A dlc model from an open Keras 2 whole-model `.h5` file."""
    raw = f.attrs.get("model_config")
    if raw is None:
        raise ValueError(f"{where}: this .h5 file holds weights only (no model_config attribute): build "
                         f"the model in code and call model.load_weights(path)")
    config = KC.parse_json(_text(raw), where)
    model = KC.model_from_keras(config, where)
    group = KH._child(f, "model_weights", "group", where)
    if group is None:
        raise ValueError(f"{where}: the file has no model_weights group")
    pairs = read_legacy_weights(group, model, where)
    for v, a in pairs:
        np.copyto(v.value, a)
    raw_tc = f.attrs.get("training_config")
    if compile and raw_tc is not None:
        try:
            tc = KC.parse_json(_text(raw_tc), where)
            cc = {"optimizer": tc.get("optimizer_config"), "loss": tc.get("loss"),
                  "loss_weights": tc.get("loss_weights"), "metrics": _one_output(_legacy_metrics(tc.get("metrics"))),
                  "weighted_metrics": _one_output(_legacy_metrics(tc.get("weighted_metrics")))}
            model.compile(**KC.compile_args_from_keras(cc))
        except (ValueError, TypeError, NotImplementedError, KeyError) as e:
            warnings.warn(f"{where}: the model was loaded but not compiled ({e}); call model.compile(...) "
                          f"before training it", stacklevel=3)
    return model


def _one_output(value: Any) -> Any:
    """Keras 2 listed the metrics per output: [[...]] for one output is [...]."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        return value[0]
    return value


def _legacy_metrics(value: Any) -> Any:
    """Keras 2 wrapped named metrics as MeanMetricWrapper{'fn': name}: back to the name."""
    if isinstance(value, list):
        return [_legacy_metrics(v) for v in value]
    if isinstance(value, dict) and value.get("class_name") == "MeanMetricWrapper":
        cfg = value.get("config") or {}
        return cfg.get("fn") if isinstance(cfg.get("fn"), str) else cfg.get("name")
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _legacy_metrics(v) for k, v in value.items()}
    return value


def json_attr(f: Any, key: str) -> Any:
    return json.loads(_text(f.attrs[key]))
