"""Saving and loading: whole models (config + weights in one zip file) and weights alone.

dlc 0.1's format: `model.save` writes a zip with `config.json` and `model.weights.npz`;
`save_weights` writes the `.npz` alone: plain float32 arrays `w0, w1, ...` in `get_weights()`
order and a JSON manifest of (layer, weight name, shape). Loading never unpickles.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any

import numpy as np

from dlc.saving.serialization import model_from_config


def _version() -> str:
    from dlc import __version__

    return __version__


def weights_bytes(model: Any) -> bytes:
    """The `.npz` archive of `model`'s weights, as bytes."""
    weights = model.weights
    manifest = [{"layer": v.path.split("/")[0], "name": v.name, "shape": list(v.shape)} for v in weights]
    arrays = {f"w{i}": v.value for i, v in enumerate(weights)}
    arrays["manifest"] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_weights_npz(model: Any, data: Any, source: str) -> None:
    """Sets `model`'s weights from an open `.npz` archive written by `weights_bytes`."""
    manifest = json.loads(bytes(data["manifest"]).decode())
    weights = model.weights
    if len(manifest) != len(weights):
        raise ValueError(f"load_weights: {source} holds {len(manifest)} weights, model '{model.name}' has {len(weights)}")
    model.set_weights([data[f"w{i}"] for i in range(len(manifest))])


def save_weights(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Saves all of `model`'s weights to `filepath`."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_weights: {filepath} exists and overwrite=False")
    model._ensure_arena()
    with open(filepath, "wb") as f:
        f.write(weights_bytes(model))


def load_weights(model: Any, filepath: str) -> None:
    """Loads weights saved by `save_weights` (matched by position; shapes checked)."""
    with np.load(filepath, allow_pickle=False) as data:
        load_weights_npz(model, data, filepath)


def save_model(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Saves the architecture (JSON) and weights of `model` in one zip file."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save: {filepath} exists and overwrite=False")
    model._ensure_arena()
    config = {"class_name": type(model).__name__, "config": model.get_config(), "dlc_version": _version()}
    with zipfile.ZipFile(filepath, "w") as zf:
        zf.writestr("config.json", json.dumps(config, indent=1))
        zf.writestr("model.weights.npz", weights_bytes(model))


def load_model(filepath: str, compile: bool = False) -> Any:
    """Loads a model saved with `model.save(filepath)`: architecture and weights. The model is
    not compiled (call `compile()` before training)."""
    with zipfile.ZipFile(filepath) as zf:
        config = json.loads(zf.read("config.json").decode())
        model = model_from_config(config)
        with np.load(io.BytesIO(zf.read("model.weights.npz")), allow_pickle=False) as data:
            load_weights_npz(model, data, filepath)
    return model
