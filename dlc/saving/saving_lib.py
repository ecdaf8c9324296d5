"""Saving and loading whole models and weights, in Keras 3's formats.

The file name picks the format, as in Keras:

- `model.save("m.keras")`: a zip of `metadata.json`, `config.json` (the architecture and the
  compile arguments, Keras 3's JSON layout) and `model.weights.h5` (the weights, the
  optimizer's variables and dlc's training state, Keras 3's HDF5 layout). Keras 3's
  `keras.models.load_model` reads it, and `dlc.models.load_model` reads the files Keras 3
  writes.
- `model.save_weights("w.weights.h5")`: the same HDF5 weights file alone; Keras's
  `load_weights` reads it.
- `.h5`: Keras 2's legacy whole-model and weights files are read (not written).
- dlc 0.1's files (a zip of `config.json` + `model.weights.npz`; `.npz` weights) are
  recognised by their content and still read; `save_weights("w.npz")` still writes one.

Every file is written atomically (`dlc.saving.atomic`): a crash leaves the old file or the
new one. Loading never unpickles (`allow_pickle=False`), never evaluates code, instantiates
only dlc's registered classes and refuses a config larger than 64 MB.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import warnings
import zipfile
from typing import Any, BinaryIO, Dict, Optional

import numpy as np

from dlc.saving import keras_config as KC
from dlc.saving import keras_h5 as KH
from dlc.saving import legacy_h5 as LH
from dlc.saving.atomic import atomic_write
from dlc.saving.serialization import model_from_config

CONFIG_NAME, METADATA_NAME, WEIGHTS_NAME = "config.json", "metadata.json", "model.weights.h5"
LEGACY_WEIGHTS_NAME = "model.weights.npz"  # dlc 0.1
#: The most bytes a `model.weights.h5` member may inflate to per stored byte (beyond 4 GB).
_MAX_ZIP_EXPANSION = 100

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _version() -> str:
    from dlc import __version__

    return __version__


def _path(fn: str, filepath: Any) -> str:
    if hasattr(filepath, "read") or hasattr(filepath, "write"):
        raise TypeError(f"{fn}: argument `filepath` must be a path (str or os.PathLike); dlc writes files "
                        f"atomically by path, received a file object {filepath!r}")
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(f"{fn}: argument `filepath` must be a str or os.PathLike, received "
                        f"{type(filepath).__name__} {filepath!r}") from None


def _check_overwrite(fn: str, path: str, overwrite: bool) -> None:
    if not isinstance(overwrite, bool):
        raise TypeError(f"{fn}: argument `overwrite` must be True or False, received {overwrite!r}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{fn}: {path!r} exists and overwrite=False; pass overwrite=True to replace it")


def _require_built(fn: str, model: Any) -> None:
    if not getattr(model, "_graph_ready", False):
        raise ValueError(f"{fn}: model '{model.name}' has not been built yet, so it has no weights to "
                         f"save. Build it first (start it with dlc.layers.Input, call build(input_shape), "
                         f"or fit/predict on data)")


def sniff(path: str) -> str:
    """'zip', 'hdf5' or 'unknown', from the file's first bytes.

    Raises:
        FileNotFoundError / IsADirectoryError: naming the path.
    """
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory, not a saved model or weights file")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No file at {path!r}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head == _HDF5_MAGIC:
        return "hdf5"
    return "unknown"


def _read_member(zf: zipfile.ZipFile, name: str, limit: Optional[int], what: str) -> bytes:
    """A zip member's bytes, refusing one that declares (or inflates to) more than `limit`, or
    a decompression bomb."""
    info = zf.getinfo(name)
    if limit is not None and info.file_size > limit:
        raise ValueError(f"{what}: {name} declares {info.file_size} bytes, over the {limit >> 20} MB dlc "
                         f"accepts; refusing to inflate it")
    if info.file_size > (1 << 32) and info.file_size > _MAX_ZIP_EXPANSION * max(1, info.compress_size):
        raise ValueError(f"{what}: {name} declares {info.file_size} bytes but stores {info.compress_size}: "
                         f"refusing a potential decompression bomb")
    with zf.open(name) as f:
        data = f.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise ValueError(f"{what}: {name} inflates beyond its declared size; the archive is corrupt")
    return data


# ====================================================================== dlc 0.1's format
def weights_bytes(model: Any) -> bytes:
    """The dlc 0.1 `.npz` archive of `model`'s weights, as bytes."""
    weights = model.weights
    manifest = [{"layer": v.path.split("/")[0], "name": v.name, "shape": list(v.shape)} for v in weights]
    arrays = {f"w{i}": v.value for i, v in enumerate(weights)}
    arrays["manifest"] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_weights_npz(model: Any, data: Any, source: str) -> None:
    """Sets `model`'s weights from an open dlc 0.1 `.npz` archive (matched by position;
    shapes checked, the first mismatch named; nothing changes on an error)."""
    if "manifest" not in data.files:
        raise ValueError(f"load_weights: {source} is a .npz archive without dlc's manifest; it was not "
                         f"written by dlc's save_weights")
    manifest = json.loads(bytes(data["manifest"]).decode())
    weights = model.weights
    if len(manifest) != len(weights):
        raise ValueError(f"load_weights: {source} holds {len(manifest)} weights, model '{model.name}' has "
                         f"{len(weights)}; the file was saved from a different architecture")
    arrays = []
    for i, (entry, v) in enumerate(zip(manifest, weights)):
        a = data[f"w{i}"]
        if tuple(a.shape) != v.shape:
            raise ValueError(f"load_weights: weight {i} of {source} ({entry.get('layer')}/{entry.get('name')}) has "
                             f"shape {tuple(a.shape)}, the model's weight '{v.path}' has shape {v.shape}")
        arrays.append(a)
    for v, a in zip(weights, arrays):
        np.copyto(v.value, np.asarray(a, np.float32))


def _zip_kind(zf: zipfile.ZipFile) -> str:
    names = set(zf.namelist())
    if CONFIG_NAME in names and WEIGHTS_NAME in names:
        return "keras"
    if CONFIG_NAME in names and LEGACY_WEIGHTS_NAME in names:
        return "dlc0.1"
    if "manifest.npy" in names:
        return "npz"
    return "unknown"


# ====================================================================== writing
def _json_default(value: Any) -> Any:
    """NumPy scalars and arrays in a config (e.g. loss_weights=np.float32(0.5)) as JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"save: cannot write {value!r} ({type(value).__name__}) in the model's config")


def _metadata() -> str:
    return json.dumps({"keras_version": "3.0.0", "saved_by": f"dlc {_version()}",
                       "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})


def _h5_bytes(model: Any, include_optimizer: bool = True, extra: Optional[Dict[str, Any]] = None) -> bytes:
    h5py = KH.require_h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        KH.write_weights(f, model, include_optimizer, extra)
    return buf.getvalue()


def _write_keras(f: BinaryIO, model: Any, config: str, weights: bytes) -> None:
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr(METADATA_NAME, _metadata())
        zf.writestr(CONFIG_NAME, config)
        zf.writestr(WEIGHTS_NAME, weights)


def save_model(model: Any, filepath: Any, overwrite: bool = True, zipped: Optional[bool] = None,
               **kwargs: Any) -> None:
    """Saves `model` to a `.keras` file: architecture, weights, compile arguments, optimizer
    state and training state, written atomically.

    Args:
        model: a built dlc model.
        filepath: a path ending in `.keras`.
        overwrite: whether to replace an existing file (else FileExistsError).
        zipped: accepted for Keras; only the zipped `.keras` file is written.

    Raises:
        ValueError: another extension, or a model that is not built.
        FileExistsError: `overwrite=False` and the file exists.

    Example:

    >>> dlc.saving.save_model(model, "mnist.keras")
    """
    path = _path("save", filepath)
    if kwargs:
        raise TypeError(f"save: unrecognized keyword argument(s) {sorted(kwargs)}")
    if zipped is False:
        raise NotImplementedError("save: zipped=False (a folder instead of a .keras file) is not supported")
    if path.endswith((".h5", ".hdf5")):
        raise ValueError(f"save: dlc writes Keras 3's native format; the legacy HDF5 whole-model format is "
                         f"read but not written. Use a `.keras` extension (received filepath={path!r}), or "
                         f"`save_weights` with a `.weights.h5` extension for the weights alone")
    if not path.endswith(".keras"):
        raise ValueError(f"save: argument `filepath` must end in `.keras` (Keras 3's format), received "
                         f"filepath={path!r}")
    _check_overwrite("save", path, overwrite)
    _require_built("save", model)
    model._ensure_arena()
    config = json.dumps(KC.model_to_keras(model), default=_json_default)
    weights = _h5_bytes(model)
    atomic_write(path, lambda f: _write_keras(f, model, config, weights), overwrite=overwrite)


def save_weights(model: Any, filepath: Any, overwrite: bool = True, max_shard_size: Any = None,
                 _extra: Optional[Dict[str, Any]] = None) -> None:
    """Saves `model`'s weights (with the optimizer's variables and dlc's training state when
    compiled) to a `.weights.h5` file in Keras 3's layout, written atomically. A path
    ending in `.npz` writes dlc 0.1's format instead.

    Raises:
        ValueError: another extension, or a model that is not built.
        FileExistsError: `overwrite=False` and the file exists.
    """
    path = _path("save_weights", filepath)
    if max_shard_size is not None:
        raise NotImplementedError("save_weights: max_shard_size (sharded weights) is not supported")
    if not path.endswith((".weights.h5", ".npz")):
        raise ValueError(f"save_weights: argument `filepath` must end in `.weights.h5` (Keras 3's weights "
                         f"format), received filepath={path!r}")
    _check_overwrite("save_weights", path, overwrite)
    _require_built("save_weights", model)
    model._ensure_arena()
    data = weights_bytes(model) if path.endswith(".npz") else _h5_bytes(model, extra=_extra)
    atomic_write(path, lambda f: f.write(data), overwrite=overwrite)


# ====================================================================== reading
def _assign(pairs: Any) -> None:
    for v, a in pairs:
        np.copyto(v.value, a)


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=4)


def _load_keras_zip(zf: zipfile.ZipFile, path: str, compile: bool) -> Any:
    h5py = KH.require_h5py()
    where = f"load_model({path!r})"
    config = KC.parse_json(_read_member(zf, CONFIG_NAME, KC.MAX_CONFIG_BYTES, where), where)
    model = KC.model_from_keras(config, where)
    data = _read_member(zf, WEIGHTS_NAME, None, where)
    with h5py.File(io.BytesIO(data), "r") as f:
        _assign(KH.read_weights(f, model, where))
        extras = KH.read_extras(f, where)
        compiled = False
        cc = config.get("compile_config")
        if compile and cc:
            try:
                args = KC.compile_args_from_keras(cc)
            except (ValueError, TypeError, NotImplementedError, KeyError) as e:
                _warn(f"{where}: the model was loaded but not compiled ({e}); call model.compile(...) before "
                      f"training it")
            else:
                model.compile(**args)
                compiled = True
                KH.restore_optimizer(f, model, where, _warn)
        KH.restore_extras(model, extras, training=compiled)
    return model


def load_model(filepath: Any, custom_objects: Any = None, compile: bool = True, safe_mode: bool = True) -> Any:
    """Loads a model saved with `model.save` (by dlc or by Keras 3), or a Keras 2 `.h5`.

    Args:
        filepath: a `.keras` file (or dlc 0.1's zip, recognised by its content), or a legacy
            Keras `.h5` whole-model file.
        custom_objects: not supported (dlc only builds its own classes); must be None.
        compile: compile the model as it was saved (optimizer with its state, losses,
            metrics) and restore the training state, so that `fit` goes on exactly where it
            stopped. `compile=False` returns the model uncompiled.
        safe_mode: accepted for Keras; dlc always loads safely (no code runs).

    Returns:
        The model.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a saved model (a weights file: the message says to use load_weights),
            a corrupt or oversized config, or a layer class dlc does not support (named).

    Example:

    >>> model = dlc.models.load_model("mnist.keras")
    >>> model.fit(x, y, epochs=5, initial_epoch=2)   # goes on training where it stopped
    """
    path = _path("load_model", filepath)
    if custom_objects:
        raise NotImplementedError("load_model: custom_objects are not supported: dlc builds only its own "
                                  "layers and never runs code from a file")
    kind = sniff(path)
    if kind == "zip":
        with zipfile.ZipFile(path) as zf:
            zkind = _zip_kind(zf)
            if zkind == "keras":
                return _load_keras_zip(zf, path, compile)
            if zkind == "dlc0.1":
                where = f"load_model({path!r})"
                config = KC.parse_json(_read_member(zf, CONFIG_NAME, KC.MAX_CONFIG_BYTES, where), where)
                model = model_from_config(config)
                with np.load(io.BytesIO(_read_member(zf, LEGACY_WEIGHTS_NAME, None, where)),
                             allow_pickle=False) as data:
                    load_weights_npz(model, data, path)
                return model
            if zkind == "npz":
                raise ValueError(f"load_model: {path!r} is a dlc weights file (.npz), not a saved model: build the "
                                 f"model in code and call model.load_weights({path!r})")
        raise ValueError(f"load_model: {path!r} is a zip archive but not a saved model (a .keras file holds "
                         f"{CONFIG_NAME} and {WEIGHTS_NAME})")
    if kind == "hdf5":
        h5py = KH.require_h5py()
        where = f"load_model({path!r})"
        with h5py.File(path, "r") as f:
            if "model_config" in f.attrs:
                return LH.load_legacy_model(f, compile, where)
        raise ValueError(f"load_model: {path!r} is a weights file (HDF5 without a model config), not a saved "
                         f"model: build the model in code and call model.load_weights({path!r})")
    raise ValueError(f"load_model: {path!r} is not a saved model: expected a .keras file (a zip archive) or a "
                     f"legacy Keras .h5 file (HDF5)")


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False) -> None:
    """Loads weights into `model` from a `.weights.h5` or `.keras` file (dlc's or Keras 3's),
    a legacy Keras `.h5` file, or a dlc 0.1 `.npz` file. When the model is compiled and the
    file holds optimizer variables (and dlc's training state), those are restored too, so
    that training resumes exactly.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file for another architecture, naming the first mismatching weight;
            nothing is changed then.
    """
    path = _path("load_weights", filepath)
    if skip_mismatch:
        raise NotImplementedError("load_weights: skip_mismatch=True is not supported")
    _require_built("load_weights", model)
    model._ensure_arena()
    where = f"load_weights({path!r})"
    kind = sniff(path)
    if kind == "zip":
        with zipfile.ZipFile(path) as zf:
            zkind = _zip_kind(zf)
            if zkind == "npz":
                pass
            elif zkind == "keras":
                data = _read_member(zf, WEIGHTS_NAME, None, where)
                return _load_h5_weights(io.BytesIO(data), model, where)
            elif zkind == "dlc0.1":
                with np.load(io.BytesIO(_read_member(zf, LEGACY_WEIGHTS_NAME, None, where)),
                             allow_pickle=False) as data:
                    return load_weights_npz(model, data, path)
            else:
                raise ValueError(f"{where}: the file is a zip archive but neither a .keras file nor dlc's .npz "
                                 f"weights")
        with np.load(path, allow_pickle=False) as data:
            return load_weights_npz(model, data, path)
    if kind == "hdf5":
        return _load_h5_weights(path, model, where)
    raise ValueError(f"{where}: not a weights file: expected a .weights.h5 / .h5 file (HDF5), a .keras file "
                     f"or dlc's .npz weights")


def _load_h5_weights(source: Any, model: Any, where: str) -> None:
    h5py = KH.require_h5py()
    with h5py.File(source, "r") as f:
        if LH.is_legacy_weights(f):
            group = f["model_weights"] if "model_weights" in f else f
            _assign(LH.read_legacy_weights(group, model, where))
            return
        _assign(KH.read_weights(f, model, where))
        training = getattr(model, "optimizer", None) is not None
        if training:
            KH.restore_optimizer(f, model, where, _warn)
        KH.restore_extras(model, KH.read_extras(f, where), training=training and model._shuffle_rng is not None)


def read_backup_epoch(filepath: str) -> Optional[Dict[str, Any]]:
    """The `backup` record dlc's BackupAndRestore keeps inside a weights file, if any."""
    h5py = KH.require_h5py()
    with h5py.File(filepath, "r") as f:
        extras = KH.read_extras(f, f"BackupAndRestore({filepath!r})")
    return (extras or {}).get("backup")
