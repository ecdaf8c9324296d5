"""Keras 3's weights layout in HDF5 (`model.weights.h5` inside a `.keras` file, and
`.weights.h5`), written and read with h5py.

The layout, as Keras's `_save_state` walks a model:

- `vars/` (attribute `name`): the model's own variables (none);
- `layers/<class in snake case, numbered>/vars/<i>`: each layer's weights in Keras's order,
  the group named after the layer's *class* (`dense`, `dense_1`, `conv2d`, ...) counted in
  the order of `model.layers`, with the layer's own name as the `name` attribute; a nested
  model's layers under `layers/<functional|sequential>/layers/...`;
- `optimizer/vars/<i>` (attribute `name`): `iterations`, `learning_rate` (unless it is a
  schedule), then the slots in the order Keras's optimizer creates them (Adam: momentum and
  velocity interleaved per weight, then velocity_hat; RMSprop: all velocities, then the
  momentums, then the average gradients; ...), one array per trainable weight;
- `dlc/` (dlc's own, never visited by Keras): `state` (JSON bytes: the shuffle generator,
  epochs done, dropout seeds and steps) and `frozen/<i>/<slot>`, the optimizer slots of
  weights whose layer is frozen (Keras's optimizer does not track them).

Reading refuses links (soft, external) and external or virtual datasets, and checks every
dataset's shape against the model before reading it, so a file cannot make dlc allocate more
than the model's own size.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from dlc.layers.base import _snake
from dlc.saving.keras_config import MAX_CONFIG_BYTES, _keras_class_name

try:
    import h5py
except ImportError:  # pragma: no cover - h5py is a dependency; say so if it is missing
    h5py = None


def require_h5py() -> Any:
    if h5py is None:
        raise ImportError("Reading and writing Keras files (.keras, .weights.h5, .h5) needs h5py: "
                          "`pip install h5py`")
    return h5py


# ---------------------------------------------------------------- the walk
def weight_groups(model: Any) -> List[Tuple[str, Any, List[Any]]]:
    """`(group path, layer, weights)` for the model and each of its layers, as Keras visits
    them (a layer met twice is written once, where it is first met)."""
    out: List[Tuple[str, Any, List[Any]]] = []
    _walk(model, "", set(), out)
    return out


def _walk(model: Any, prefix: str, visited: set, out: List[Tuple[str, Any, List[Any]]]) -> None:
    from dlc.layers.merge import TensorOp
    from dlc.models.model import Model

    out.append((prefix, model, []))
    visited.add(id(model))
    used: Dict[str, int] = {}
    for layer in model.layers:
        if isinstance(layer, TensorOp):  # a Keras operation, not a layer: no group
            continue
        base = _snake(_keras_class_name(layer))
        if base in used:
            used[base] += 1
            name = f"{base}_{used[base]}"
        else:
            used[base] = 0
            name = base
        path = f"{prefix}/layers/{name}" if prefix else f"layers/{name}"
        if id(layer) in visited:
            continue
        visited.add(id(layer))
        if isinstance(layer, Model):
            _walk(layer, path, visited, out)
        else:
            out.append((path, layer, list(layer.weights)))


# ---------------------------------------------------------------- optimizer layout
def slot_layout(optimizer: Any) -> List[List[str]]:
    """dlc's slot names grouped as Keras creates its optimizer variables: the names of one
    group are interleaved weight by weight, groups follow each other."""
    cls = type(optimizer).__name__
    names = list(optimizer._state_names)
    if cls in ("Adam", "AdamW"):
        return [["m", "v"]] + ([["vhat"]] if "vhat" in names else [])
    if cls == "Adadelta":
        return [["accumulated_grad", "accumulated_delta"]]
    return [[n] for n in names]


def _optimizer_state(model: Any) -> Dict[str, Any]:
    """`optimizer.get_state()` aligned with the model's arena now; a fresh state (what the
    first step would create) when the optimizer has not run on this arena yet."""
    opt = model.optimizer
    arena = model._ensure_arena()
    state = opt.get_state()
    slots = state["slots"]
    if (opt._arena_id != id(arena.params) or set(slots) != set(opt._state_names)
            or any(s.size != arena.params.size for s in slots.values())):
        fresh = type(opt).from_config(opt.get_config())
        fresh._build(arena.params.size, id(arena.params))
        state = {"iterations": int(opt.iterations), "slots": fresh.get_state()["slots"]}
    return state


def optimizer_arrays(model: Any) -> List[np.ndarray]:
    """The optimizer's variables in Keras's order (see the module docstring)."""
    from dlc.optimizers.schedules import LearningRateSchedule

    opt = model.optimizer
    state = _optimizer_state(model)
    arrays: List[np.ndarray] = [np.asarray(state["iterations"], np.int64)]
    if not isinstance(opt._learning_rate, LearningRateSchedule):
        arrays.append(np.asarray(opt.learning_rate, np.float32))
    variables = model.trainable_weights
    for group in slot_layout(opt):
        for v in variables:
            for name in group:
                arrays.append(state["slots"][name][v.offset:v.offset + v.size].reshape(v.shape))
    return arrays


def _frozen_variables(model: Any) -> List[Any]:
    """Arena weights the optimizer holds slots for but Keras's would not (frozen layers)."""
    tracked = {id(v) for v in model.trainable_weights}
    return [v for v in model._ensure_arena().variables if v.trainable and id(v) not in tracked]


# ---------------------------------------------------------------- writing
def _vars_group(f: Any, path: str, name: str) -> Any:
    group = f.create_group(f"{path}/vars" if path else "vars")
    group.attrs["name"] = name
    return group


def write_weights(f: Any, model: Any, include_optimizer: bool = True,
                  extra: Optional[Dict[str, Any]] = None) -> None:
    """Writes `model`'s weights (and, when compiled, its optimizer variables and dlc's
    training state, with `extra` entries) into the open h5py file `f`, in Keras 3's layout."""
    from dlc import __version__
    from dlc.trainers.trainer import _random_layers

    model._ensure_arena()
    for path, layer, weights in weight_groups(model):
        group = _vars_group(f, path, layer.name)
        for i, v in enumerate(weights):
            group.create_dataset(str(i), data=np.ascontiguousarray(v.value, np.float32).reshape(v.shape))
    opt = getattr(model, "optimizer", None)
    has_opt = include_optimizer and opt is not None
    if has_opt:
        group = _vars_group(f, "optimizer", opt.name)
        for i, a in enumerate(optimizer_arrays(model)):
            group.create_dataset(str(i), data=a)
    # Random layers by position (a model rebuilt in code may name its layers otherwise).
    extras: Dict[str, Any] = {"format": 1, "dlc_version": __version__,
                              "random_layers": [[l.name, int(l._seed), int(l._step)] for l in _random_layers(model)]}
    if getattr(model, "_shuffle_rng", None) is not None:
        extras["training_state"] = model._training_state()
    extras.update(extra or {})
    dlc_group = f.create_group("dlc")
    dlc_group.create_dataset("state", data=np.frombuffer(json.dumps(extras).encode(), np.uint8))
    if has_opt:
        state = _optimizer_state(model)
        for k, v in enumerate(_frozen_variables(model)):
            for name, slot in state["slots"].items():
                dlc_group.create_dataset(f"frozen/{k}/{name}", data=slot[v.offset:v.offset + v.size])


# ---------------------------------------------------------------- reading, safely
def _child(parent: Any, name: str, kind: str, where: str) -> Any:
    """parent[name] if it is a hard-linked Group/Dataset, else None (missing) or ValueError."""
    link = parent.get(name, default=None, getlink=True)
    if link is None:
        return None
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
        raise ValueError(f"{where}: refusing a {type(link).__name__} at {parent.name}/{name}")
    obj = parent[name]
    if kind == "group" and not isinstance(obj, h5py.Group):
        raise ValueError(f"{where}: expected a group at {obj.name}, found a {type(obj).__name__}")
    if kind == "dataset":
        if not isinstance(obj, h5py.Dataset):
            raise ValueError(f"{where}: expected a dataset at {obj.name}, found a {type(obj).__name__}")
        if obj.external or obj.is_virtual:
            raise ValueError(f"{where}: refusing an external or virtual dataset at {obj.name}")
    return obj


def group_at(f: Any, path: str, where: str) -> Optional[Any]:
    """The group at `path` ('a/b/c'), or None when a part is missing."""
    node = f
    for part in [p for p in path.split("/") if p]:
        node = _child(node, part, "group", where)
        if node is None:
            return None
    return node


def read_array(group: Any, key: str, shape: Tuple[int, ...], where: str, what: str,
               kind: str = "f") -> np.ndarray:
    """The dataset `key` of `group`, checked to have `shape` (before reading) and a numeric
    dtype."""
    ds = _child(group, key, "dataset", where)
    if ds is None:
        raise ValueError(f"{where}: the file has no {what} at {group.name}/{key}")
    if tuple(ds.shape) != tuple(shape):
        raise ValueError(f"{where}: {what} at {ds.name} has shape {tuple(ds.shape)} in the file; the "
                         f"model expects {tuple(shape)}")
    if ds.dtype.kind not in ("f", "i", "u"):
        raise ValueError(f"{where}: {what} at {ds.name} has dtype {ds.dtype}, expected a number type")
    return np.asarray(ds[()], np.int64 if kind == "i" else np.float32)


def read_weights(f: Any, model: Any, where: str) -> List[Tuple[Any, np.ndarray]]:
    """`(variable, value)` for every weight of `model` from the open file `f` (Keras 3's
    layout), all checked before anything is assigned.

    Raises:
        ValueError: naming the first weight that is missing or mismatched, or a layer of the
            file the model does not have.
    """
    pairs: List[Tuple[Any, np.ndarray]] = []
    for path, layer, weights in weight_groups(model):
        vars_group = group_at(f, f"{path}/vars" if path else "vars", where)
        cls = _keras_class_name(layer)
        if vars_group is None:
            if weights:
                raise ValueError(f"{where}: the file has no weights for layer '{layer.name}' ({cls}) at "
                                 f"'{path}'; the file was saved from a different architecture")
            continue
        n = len(vars_group.keys())
        if n != len(weights):
            raise ValueError(f"{where}: layer '{layer.name}' ({cls}) has {len(weights)} weights "
                             f"({', '.join(v.name for v in weights) or 'none'}), the file holds {n} at '{path}'; "
                             f"the file was saved from a different architecture")
        for i, v in enumerate(weights):
            pairs.append((v, read_array(vars_group, str(i), v.shape, where,
                                        f"weight '{v.path}' of layer '{layer.name}' ({cls})")))
    known = {p for p, _, _ in weight_groups(model)}
    top = group_at(f, "layers", where)
    if top is not None:
        for key in top.keys():
            if f"layers/{key}" not in known:
                raise ValueError(f"{where}: the file holds weights for a layer at 'layers/{key}' that the model "
                                 f"does not have; the file was saved from a different architecture")
    return pairs


def read_extras(f: Any, where: str) -> Optional[Dict[str, Any]]:
    """dlc's own state (`dlc/state`), or None for a file Keras wrote."""
    group = group_at(f, "dlc", where)
    if group is None:
        return None
    ds = _child(group, "state", "dataset", where)
    if ds is None:
        return None
    if ds.dtype != np.uint8 or ds.ndim != 1 or ds.shape[0] > MAX_CONFIG_BYTES:
        raise ValueError(f"{where}: dlc/state must be JSON bytes of at most {MAX_CONFIG_BYTES >> 20} MB")
    try:
        extras = json.loads(bytes(ds[()]).decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{where}: dlc/state is not valid JSON ({e})") from None
    if not isinstance(extras, dict):
        raise ValueError(f"{where}: dlc/state must hold a JSON object")
    return extras


def restore_optimizer(f: Any, model: Any, where: str, warn: Any) -> bool:
    """Sets the compiled model's optimizer state from `optimizer/vars` (and `dlc/frozen`).
    When the file's optimizer does not match (another optimizer or architecture), warns
    through `warn(message)` and leaves the optimizer fresh, as Keras does. Returns whether
    the state was restored."""
    from dlc.optimizers.schedules import LearningRateSchedule

    opt = model.optimizer
    group = group_at(f, "optimizer/vars", where)
    if opt is None or group is None:
        return False
    arena = model._ensure_arena()
    variables = model.trainable_weights
    layout = slot_layout(opt)
    has_lr = not isinstance(opt._learning_rate, LearningRateSchedule)
    expected = 1 + int(has_lr) + sum(len(g) for g in layout) * len(variables)
    n = len(group.keys())
    if n != expected:
        warn(f"{where}: skipping the optimizer state: the model's {type(opt).__name__} has {expected} "
             f"variables, the file's optimizer '{group.attrs.get('name', '?')}' has {n}")
        return False
    fresh = type(opt).from_config(opt.get_config())
    fresh._build(arena.params.size, id(arena.params))
    slots = fresh.get_state()["slots"]
    iterations = int(read_array(group, "0", (), where, "the optimizer's iterations", kind="i"))
    i = 1 + int(has_lr)
    for names in layout:
        for v in variables:
            for name in names:
                slots[name][v.offset:v.offset + v.size] = read_array(
                    group, str(i), v.shape, where, f"optimizer slot '{name}' of weight '{v.path}'").reshape(-1)
                i += 1
    frozen = group_at(f, "dlc/frozen", where)
    if frozen is not None:
        for k, v in enumerate(_frozen_variables(model)):
            part = group_at(frozen, str(k), where)
            if part is None:
                continue
            for name in slots:
                if name in part:
                    slots[name][v.offset:v.offset + v.size] = read_array(
                        part, name, (v.size,), where, f"optimizer slot '{name}' of frozen weight '{v.path}'")
    opt.set_state(arena.params, {"iterations": iterations, "slots": slots})
    return True


def restore_extras(model: Any, extras: Optional[Dict[str, Any]], training: bool) -> None:
    """Dropout seeds (always) and, when `training`, the training state (the shuffle
    generator, epochs done, dropout steps)."""
    from dlc.trainers.trainer import _random_layers

    if not extras:
        return
    layers = _random_layers(model)
    saved = extras.get("random_layers")
    steps: Dict[str, int] = {}
    if isinstance(saved, list) and len(saved) == len(layers):
        for layer, entry in zip(layers, saved):
            if isinstance(entry, list) and len(entry) == 3 and all(isinstance(e, int) for e in entry[1:]):
                layer._seed = entry[1]
                steps[layer.name] = entry[2]
    state = extras.get("training_state")
    if training and isinstance(state, dict):
        rng = state.get("shuffle_rng")
        if rng is not None and not (isinstance(rng, dict) and rng.get("bit_generator") == "PCG64"):
            raise ValueError("load: the saved shuffle generator state is not a PCG64 state")
        state = dict(state)
        if steps:  # the saved steps, keyed by this model's layer names
            state["random_layers"] = steps
        model._set_training_state(state)
