"""Model configs: rebuilding a model from `{'class_name': ..., 'config': model.get_config()}`.

Only classes dlc knows are ever instantiated, by name; nothing in a config runs code.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from dlc.layers.base import KerasTensor, Layer


def layer_classes() -> Dict[str, type]:
    """Every layer class dlc can rebuild, by its Keras class name (models included)."""
    from dlc import layers as L
    from dlc.models.model import Model
    from dlc.models.sequential import Sequential

    classes = {name: getattr(L, name) for name in L.__all__ if isinstance(getattr(L, name), type)}
    classes.update(Sequential=Sequential, Functional=Model, Model=Model)
    return classes


def deserialize_layer(entry: Dict[str, Any]) -> Layer:
    """A layer (or nested model) from its `{'class_name', 'config'}` entry."""
    cls_name = entry["class_name"]
    if cls_name in ("Sequential", "Functional", "Model"):
        return model_from_config(entry)
    cls = layer_classes().get(cls_name)
    if cls is None:
        raise ValueError(f"Unknown layer class {cls_name!r} in the saved model")
    return cls.from_config(dict(entry["config"]))


def model_from_config(config: Dict[str, Any]) -> Any:
    """Rebuilds a model (without weights) from `{'class_name': ..., 'config': model.get_config()}`."""
    from dlc.layers.core import Input, InputLayer
    from dlc.models.model import Model
    from dlc.models.sequential import Sequential

    cls_name, cfg = config["class_name"], config["config"]
    if cls_name == "Sequential":
        model = Sequential(name=cfg["name"])
        for entry in cfg["layers"]:
            if entry["class_name"] == "InputLayer":
                model.add(Input(batch_shape=tuple(entry["config"]["batch_shape"])))
            else:
                model.add(deserialize_layer(entry))
        model.trainable = cfg.get("trainable", True)
        return model
    tensors: Dict[Tuple[str, int], KerasTensor] = {}
    pending: List[Dict[str, Any]] = list(cfg["layers"])
    built: Dict[str, Layer] = {}
    while pending:
        progress = False
        for entry in list(pending):
            name = entry["config"]["name"]
            if entry["class_name"] == "InputLayer":
                layer = InputLayer(**entry["config"])
                tensors[(name, 0)] = layer.output
                built[name] = layer
                pending.remove(entry)
                progress = True
                continue
            refs = entry["inbound_nodes"]
            if all(all(tuple(r) in tensors for r in _refs(nd)) for nd in refs):
                layer = built.get(name) or deserialize_layer(entry)
                built[name] = layer
                for nd in refs:
                    srcs = [tensors[tuple(r)] for r in _refs(nd)]
                    out = layer(srcs if _multi(nd) else srcs[0])
                    tensors[(name, len(layer._inbound_nodes) - 1)] = out
                pending.remove(entry)
                progress = True
        if not progress:
            raise ValueError("The saved model's graph could not be rebuilt (a layer's inputs are missing)")
    ins = [tensors[tuple(r)] for r in cfg["input_layers"]]
    outs = [tensors[tuple(r)] for r in cfg["output_layers"]]
    model = Model(ins if cfg.get("inputs_is_list") else ins[0], outs if cfg.get("outputs_is_list") else outs[0],
                  name=cfg["name"])
    model.trainable = cfg.get("trainable", True)
    return model


def _multi(node_refs: List[Any]) -> bool:
    return bool(node_refs) and node_refs[-1] is True


def _refs(node_refs: List[Any]) -> List[Any]:
    return node_refs[:-1] if _multi(node_refs) else node_refs


def model_to_json(model: Any, **kwargs: Any) -> str:
    """The architecture of `model` as a JSON string in Keras 3's layout (what Keras's
    `model.to_json()` returns): layers, connections, and the compile arguments when the model
    is compiled; no weights.

    Args:
        model: a built dlc model.
        **kwargs: passed to `json.dumps` (e.g. `indent=2`).

    Example:

    >>> text = dlc.saving.model_to_json(model)
    >>> twin = dlc.models.model_from_json(text)
    """
    import json

    from dlc.saving.keras_config import model_to_keras

    from dlc.saving.saving_lib import _json_default

    kwargs.setdefault("default", _json_default)
    return json.dumps(model_to_keras(model), **kwargs)


def model_from_json(json_string: Any, custom_objects: Any = None) -> Any:
    """A new model (freshly initialised weights) from a JSON architecture: Keras 3's layout
    (`model.to_json()` of dlc or Keras 3), Keras 2's, or dlc 0.1's config layout. A model
    saved compiled comes back compiled (without optimizer state), as in Keras.

    Args:
        json_string: the JSON text (at most 64 MB).
        custom_objects: not supported (dlc builds only its own classes); must be None.

    Raises:
        ValueError: invalid or oversized JSON, or a layer class dlc does not support (named).

    Example:

    >>> twin = dlc.models.model_from_json(model.to_json())
    """
    from dlc.saving import keras_config as KC

    if custom_objects:
        raise NotImplementedError("model_from_json: custom_objects are not supported: dlc builds only its "
                                  "own layers and never runs code from a config")
    config = KC.parse_json(json_string, "model_from_json")
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("model_from_json: expected a JSON object with a 'class_name' (a model's config), "
                         f"received {type(config).__name__}")
    if "dlc_version" in config and "module" not in config:
        return model_from_config(config)
    model = KC.model_from_keras(config, "model_from_json")
    cc = config.get("compile_config")
    if cc:
        model.compile(**KC.compile_args_from_keras(cc))
    return model
