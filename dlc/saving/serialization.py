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
