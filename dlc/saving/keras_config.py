"""Keras 3's JSON layout of a model (`config.json` of a `.keras` file, `model.to_json()`), both
ways.

dlc -> Keras: every layer becomes `{"module", "class_name", "config", "registered_name",
"build_config"}` with Keras's config keys (dtype as a `DTypePolicy`, initializers and
regularizers with their module); a functional model lists its layers with `name` and
`inbound_nodes` (`{"args": [...], "kwargs": {}}` of `__keras_tensor__` references
`[layer name, node index, tensor index]`); a Sequential lists its layers after an
`InputLayer`. Arithmetic on symbolic tensors (`TensorOp`) becomes the Keras operations
(`keras.src.ops.numpy` Add, Subtract, Multiply, TrueDivide, Negative) that Keras records for
the same expressions.

Keras -> dlc: only the classes in `LAYER_CLASSES` (and dlc's own registries of initializers,
regularizers, activations, losses, metrics, optimizers and schedules) are ever instantiated,
looked up by class name; `module` is never imported and nothing in a config runs code. A Keras
argument dlc does not have is accepted when it holds Keras's neutral value (None, False, ...)
and refused otherwise, naming the layer, the argument and the value. Keras 2's layout
(`inbound_nodes` as nested lists, `batch_input_shape`) is read too.
"""
from __future__ import annotations

import inspect
import json
from typing import Any, Callable, Dict, List, Optional, Tuple

from dlc.layers.base import KerasTensor, Layer

#: The largest config (JSON text) dlc parses: a bigger one is refused, never inflated.
MAX_CONFIG_BYTES = 64 * 1024 * 1024

_DTYPE_POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                 "registered_name": None}

# dlc's TensorOp <-> the Keras operation that `a + b`, `a * 2.0`, ... record.
_OPS_TO_KERAS = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply", "divide": "TrueDivide",
                 "negative": "Negative"}
_KERAS_TO_OPS = {v: k for k, v in _OPS_TO_KERAS.items()}
_KERAS_TO_OPS["Divide"] = "divide"

# Keras arguments dlc has no parameter for, and the values of them that change nothing.
_NEUTRAL = {
    "sparse": (False,), "ragged": (False,), "optional": (False,), "autocast": (True,),
    "groups": (1,), "synchronized": (False,), "lora_alpha": (None,), "quantization_config": (None,),
    "input_axes": (None,), "output_axes": (None,), "output_padding": (None,), "renorm": (False,),
    "keepdims": (False,),
}
# Keras arguments that change nothing while another argument holds its neutral value.
_NEUTRAL_IF = {"renorm_momentum": ("renorm", False), "renorm_clipping": ("renorm", False),
               "lora_alpha": ("lora_rank", None)}
# Keras 2's names of arguments Keras 3 renamed.
_RENAMED = {("LeakyReLU", "alpha"): "negative_slope"}
# Keys of a Keras layer config that are read elsewhere (or are Keras bookkeeping).
_IGNORED_KEYS = {"dtype", "shared_object_id", "build_config"}


class UnsupportedLayerError(ValueError):
    """A saved model holds a layer class dlc cannot build."""


def layer_classes() -> Dict[str, type]:
    """Every Keras layer class name dlc builds, with its dlc class."""
    from dlc import layers as L

    classes = {name: getattr(L, name) for name in L.__all__
               if isinstance(getattr(L, name), type) and issubclass(getattr(L, name), Layer)}
    for alias in ("KerasTensor", "Layer", "TensorOp", "Lambda"):  # a Lambda's config would be code
        classes.pop(alias, None)
    return classes


# ====================================================================== dlc -> Keras
def _keras_class_name(layer: Layer) -> str:
    from dlc.models.model import Model
    from dlc.models.sequential import Sequential

    if isinstance(layer, Sequential):
        return "Sequential"
    if isinstance(layer, Model):
        return "Functional"
    return type(layer).__name__


def _as_list(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)):
        return [_as_list(s) for s in shape]
    return shape


def _keras_object(value: Any, module: str) -> Any:
    """dlc's `{'class_name', 'config'}` of an initializer, regularizer or schedule, with
    Keras's `module` and `registered_name`."""
    if isinstance(value, dict) and "class_name" in value:
        config = {k: _keras_object(v, module) for k, v in (value.get("config") or {}).items()}
        return {"module": module, "class_name": value["class_name"], "config": config,
                "registered_name": None}
    return value


def _layer_config_to_keras(layer: Layer) -> Dict[str, Any]:
    config = dict(layer.get_config())
    config.pop("batch_input_shape", None)
    config["dtype"] = dict(_DTYPE_POLICY)
    for key, value in list(config.items()):
        if key.endswith("_initializer"):
            config[key] = _keras_object(value, "keras.initializers")
        elif key.endswith("_regularizer"):
            config[key] = _keras_object(value, "keras.regularizers")
    cls = type(layer).__name__
    if cls == "Conv2DTranspose":
        config.pop("groups", None)
    return config


def _build_config(layer: Layer) -> Optional[Dict[str, Any]]:
    shape = getattr(layer, "_build_shape", None)
    return {"input_shape": _as_list(shape)} if shape is not None else None


def layer_to_keras(layer: Layer) -> Dict[str, Any]:
    """`{'module', 'class_name', 'config', 'registered_name', 'build_config'}` of one layer
    (a nested model too), in Keras 3's layout."""
    from dlc.models.model import Model

    if isinstance(layer, Model):
        return model_to_keras(layer, compile_config=False)
    entry: Dict[str, Any] = {"module": "keras.layers", "class_name": _keras_class_name(layer),
                             "config": _layer_config_to_keras(layer), "registered_name": None}
    build = _build_config(layer)
    if build is not None:
        entry["build_config"] = build
    return entry


def _tensor_history(model: Any) -> Dict[int, Tuple[str, int]]:
    """Every symbolic tensor of `model`'s graph -> (producing layer's name, node index), the
    node index counting only this model's calls of the layer, in the order they were made
    (Keras's reindexing)."""
    refs: Dict[int, Tuple[str, int]] = {}
    for t in model._inputs:
        refs[id(t)] = (t.input_layer.name, 0)
    in_model = {id(nd) for nd in model._nodes}
    for layer in model._all_layers:
        k = 0
        for nd in layer._inbound_nodes:
            if id(nd) in in_model:
                refs[id(nd.output)] = (layer.name, k)
                k += 1
    return refs


def _tensor_ref(t: KerasTensor, refs: Dict[int, Tuple[str, int]]) -> Dict[str, Any]:
    name, node = refs[id(t)]
    return {"class_name": "__keras_tensor__",
            "config": {"shape": _as_list(t.shape), "dtype": "float32", "keras_history": [name, node, 0]}}


def _node_to_keras(node: Any, refs: Dict[int, Tuple[str, int]]) -> Dict[str, Any]:
    from dlc.layers.merge import TensorOp

    layer = node.layer
    tensors = [_tensor_ref(t, refs) for t in node.inputs]
    if isinstance(layer, TensorOp):
        if layer.op == "negative" or layer.scalar is None:
            args: List[Any] = tensors
        else:
            args = [layer.scalar, tensors[0]] if layer.reverse else [tensors[0], layer.scalar]
        return {"args": args, "kwargs": {}}
    return {"args": [tensors] if node.multi else tensors, "kwargs": {}}


def _functional_config(model: Any) -> Dict[str, Any]:
    from dlc.layers.core import InputLayer
    from dlc.layers.merge import TensorOp

    refs = _tensor_history(model)
    in_model = {id(nd) for nd in model._nodes}
    layers = []
    for layer in model._all_layers:
        if isinstance(layer, InputLayer):
            entry = {"module": "keras.layers", "class_name": "InputLayer",
                     "config": _input_layer_config(layer), "registered_name": None}
        elif isinstance(layer, TensorOp):
            cls = _OPS_TO_KERAS[layer.op]
            entry = {"module": "keras.src.ops.numpy", "class_name": cls, "config": {"name": layer.name},
                     "registered_name": cls}
        else:
            entry = layer_to_keras(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [_node_to_keras(nd, refs) for nd in layer._inbound_nodes if id(nd) in in_model]
        layers.append(entry)

    def ends(tensors: List[KerasTensor], is_list: bool) -> Any:
        out = [list(refs[id(t)]) + [0] for t in tensors]
        return out if is_list else out[0]

    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": ends(model._inputs, model._inputs_is_list),
            "output_layers": ends(model._outputs, model._outputs_is_list)}


def _input_layer_config(layer: Any) -> Dict[str, Any]:
    return {"batch_shape": _as_list(layer.batch_shape), "dtype": "float32", "sparse": False,
            "ragged": False, "name": layer.name}


def _sequential_config(model: Any) -> Dict[str, Any]:
    layers = []
    if model._input_batch_shape is not None:
        name = model._input_layer.name if model._input_layer is not None else "input_layer"
        layers.append({"module": "keras.layers", "class_name": "InputLayer",
                       "config": {"batch_shape": _as_list(model._input_batch_shape), "dtype": "float32",
                                  "sparse": False, "ragged": False, "name": name},
                       "registered_name": None})
    layers.extend(layer_to_keras(layer) for layer in model._seq_layers)
    config = {"name": model.name, "trainable": model.trainable, "dtype": dict(_DTYPE_POLICY), "layers": layers}
    if model._input_batch_shape is not None:
        config["build_input_shape"] = _as_list(model._input_batch_shape)
    return config


def model_to_keras(model: Any, compile_config: bool = True) -> Dict[str, Any]:
    """The Keras 3 serialization of `model` (what Keras writes to `config.json`).

    Args:
        model: a built dlc model.
        compile_config: include `compile_config` when the model is compiled.
    """
    from dlc.models.sequential import Sequential

    model._ensure_graph()
    if isinstance(model, Sequential):
        entry = {"module": "keras", "class_name": "Sequential", "config": _sequential_config(model),
                 "registered_name": None}
        shape = model._input_batch_shape
    else:
        entry = {"module": "keras.src.models.functional", "class_name": "Functional",
                 "config": _functional_config(model), "registered_name": "Functional"}
        shape = None
    entry["build_config"] = {"input_shape": _as_list(shape)}
    if compile_config and getattr(model, "compiled", False) and model._compile_config is not None:
        entry["compile_config"] = compile_config_to_keras(model)
    return entry


# ---------------------------------------------------------------- compile config
def _keras_loss_or_metric(value: Any, module: str) -> Any:
    """A compile argument (name, function, class, instance, nested lists/dicts) as JSON."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {k: _keras_loss_or_metric(v, module) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_keras_loss_or_metric(v, module) for v in value]
    if isinstance(value, type):
        value = value()
    if hasattr(value, "get_config") and not inspect.isfunction(value):
        return {"module": module, "class_name": type(value).__name__, "config": value.get_config(),
                "registered_name": None}
    name = getattr(value, "__name__", None)
    if name:
        return name
    raise ValueError(f"save: cannot serialize the compile argument {value!r}: pass losses and "
                     f"metrics by name or as dlc objects")


def compile_config_to_keras(model: Any) -> Dict[str, Any]:
    """Keras's `compile_config`: the optimizer (config only; its variables go to the weights
    file), losses, loss weights and metrics."""
    from dlc import optimizers as _optimizers

    cc = model._compile_config
    opt = _optimizers.serialize(model.optimizer)
    opt_config = dict(opt["config"])
    if isinstance(opt_config.get("learning_rate"), dict):
        opt_config["learning_rate"] = _keras_object(opt_config["learning_rate"], "keras.optimizers.schedules")
    return {"optimizer": {"module": "keras.optimizers", "class_name": opt["class_name"], "config": opt_config,
                          "registered_name": None},
            "loss": _keras_loss_or_metric(cc.get("loss"), "keras.losses"),
            "loss_weights": _keras_loss_or_metric(cc.get("loss_weights"), "keras.losses"),
            "metrics": _keras_loss_or_metric(cc.get("metrics"), "keras.metrics"),
            "weighted_metrics": _keras_loss_or_metric(cc.get("weighted_metrics"), "keras.metrics"),
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


# ====================================================================== Keras -> dlc
def parse_json(text: Any, what: str) -> Any:
    """`json.loads` of a config, refusing one over MAX_CONFIG_BYTES and turning any parse
    failure into a ValueError that names `what`."""
    if isinstance(text, (bytes, bytearray)):
        size = len(text)
    else:
        size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else 0
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"{what}: expected a JSON string, received {type(text).__name__}")
    if size > MAX_CONFIG_BYTES:
        raise ValueError(f"{what}: the config is {size} bytes, over the {MAX_CONFIG_BYTES >> 20} MB dlc "
                         f"accepts; refusing to parse it")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{what}: the config is not valid JSON ({e})") from None


def _factory_params(factory: Callable[..., Any]) -> Tuple[set, bool]:
    """The keyword names `factory` takes, and whether it also takes **kwargs."""
    target = factory.__init__ if isinstance(factory, type) else factory
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}
    return names, any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def _layer_params(cls: type) -> set:
    """Keywords a dlc layer class accepts: its own and those of `Layer.__init__`."""
    names: set = set()
    for klass in cls.__mro__:
        if klass is object or "__init__" not in vars(klass):
            continue
        own, _ = _factory_params(klass)
        names |= own
    return names


def _filter_config(config: Dict[str, Any], accepted: set, where: str) -> Dict[str, Any]:
    """The entries of a Keras config that dlc takes; a Keras-only entry must hold a neutral
    value (None, or the value listed in _NEUTRAL), else NotImplementedError naming it."""
    out = {}
    for key, value in config.items():
        if key in accepted:
            out[key] = value
        elif key in _IGNORED_KEYS or value is None or value in _NEUTRAL.get(key, ()) or value == {}:
            continue
        elif key in _NEUTRAL_IF and config.get(_NEUTRAL_IF[key][0], _NEUTRAL_IF[key][1]) == _NEUTRAL_IF[key][1]:
            continue
        else:
            raise NotImplementedError(f"{where}: Keras argument `{key}`={value!r} is not supported by dlc")
    return out


def _object_entry(value: Any, lookup: Callable[[str], Callable[..., Any]], where: str) -> Any:
    """A Keras `{'module', 'class_name', 'config', ...}` of an initializer, regularizer or
    schedule as dlc's `{'class_name', 'config'}` with only the keys dlc's class takes."""
    if not isinstance(value, dict) or "class_name" not in value:
        return value
    factory = lookup(value["class_name"])
    accepted, var_kw = _factory_params(factory)
    config = value.get("config") or {}
    if not isinstance(config, dict):
        raise ValueError(f"{where}: the config of {value['class_name']!r} must be a dict, received {config!r}")
    if not var_kw:
        config = _filter_config(config, accepted, f"{where} ({value['class_name']})")
    return {"class_name": value["class_name"], "config": config}


def _activation_entry(value: Any) -> Any:
    """Keras's activation spellings: a name, or a serialized function."""
    if isinstance(value, dict):
        if value.get("class_name") == "function" and isinstance(value.get("config"), str):
            return value["config"]
        if isinstance(value.get("config"), str):
            return value["config"]
        return value.get("class_name")
    return value


def _check_dtype(value: Any, where: str) -> None:
    name = value
    if isinstance(value, dict):
        name = (value.get("config") or {}).get("name")
    if name not in (None, "float32"):
        raise NotImplementedError(f"{where}: dtype {name!r} is not supported; dlc computes in float32")


def _layer_config_from_keras(cls: type, config: Dict[str, Any], where: str) -> Dict[str, Any]:
    from dlc import initializers as _initializers
    from dlc import regularizers as _regularizers

    if not isinstance(config, dict):
        raise ValueError(f"{where}: a layer config must be a dict, received {type(config).__name__}")
    _check_dtype(config.get("dtype"), where)
    config = dict(config)
    for (klass, old_key), new_key in _RENAMED.items():  # Keras 2's spellings
        if cls.__name__ == klass and old_key in config and new_key not in config:
            config[new_key] = config.pop(old_key)
    if cls.__name__ == "BatchNormalization" and isinstance(config.get("axis"), list) and len(config["axis"]) == 1:
        config["axis"] = config["axis"][0]  # Keras 2 saved the normalized axes as a list
    out = _filter_config(config, _layer_params(cls), where)
    out.pop("dtype", None)
    for key, value in list(out.items()):
        if key.endswith("_initializer"):
            out[key] = _object_entry(value, _initializers._REGISTRY.lookup, f"{where}: argument `{key}`")
        elif key.endswith("_regularizer"):
            out[key] = _object_entry(value, _regularizers._REGISTRY.lookup, f"{where}: argument `{key}`")
        elif key == "activation":
            out[key] = _activation_entry(value)
        elif isinstance(value, list) and key != "layers":
            out[key] = _tuples(value)
    if "batch_input_shape" in out and out["batch_input_shape"] is not None:
        out["batch_input_shape"] = tuple(out["batch_input_shape"])
    return out


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _unsupported(class_name: str, where: str) -> UnsupportedLayerError:
    from dlc._registry import closest

    known = sorted(layer_classes()) + ["Functional", "Sequential"]
    return UnsupportedLayerError(
        f"{where}: layer class {class_name!r} is not supported by dlc (dlc builds {', '.join(known)})."
        + closest(str(class_name), known))


def layer_from_keras(entry: Dict[str, Any], where: str = "load_model") -> Layer:
    """A dlc layer (or nested model) from its Keras `{'class_name', 'config', ...}` entry."""
    if not isinstance(entry, dict) or "class_name" not in entry:
        raise ValueError(f"{where}: a layer entry must be a dict with a 'class_name', received {entry!r:.200}")
    cls_name = entry["class_name"]
    registered = entry.get("registered_name")
    if registered not in (None, cls_name) and not (cls_name in ("Functional", "Sequential", "Model")
                                                   and registered in ("Functional", "Sequential", "Model")):
        raise _unsupported(registered, where)
    if cls_name in ("Functional", "Model", "Sequential"):
        return model_from_keras(entry, where=where)
    cls = layer_classes().get(cls_name)
    if cls is None:
        raise _unsupported(cls_name, where)
    config = entry.get("config") or {}
    layer_where = f"{where}: layer {config.get('name', '?')!r} ({cls_name})"
    kwargs = _layer_config_from_keras(cls, config, layer_where)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, NotImplementedError) as e:
        raise type(e)(f"{layer_where}: {e}") from None


def _keras_tensor_ref(arg: Any, where: str) -> Optional[Tuple[str, int, int]]:
    """(layer name, node index, tensor index) of a serialized tensor, or None for a constant."""
    if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
        history = (arg.get("config") or {}).get("keras_history")
        if not isinstance(history, (list, tuple)) or len(history) != 3:
            raise ValueError(f"{where}: malformed tensor reference {arg!r:.200}")
        return str(history[0]), int(history[1]), int(history[2])
    if isinstance(arg, (list, tuple)) and len(arg) in (3, 4) and isinstance(arg[0], str):  # Keras 2
        return arg[0], int(arg[1]), int(arg[2])
    return None


def _parse_node(node: Any, where: str) -> Tuple[List[Any], bool]:
    """A node as (inputs, multi): inputs are tensor refs or constants; multi means the layer was
    called with a list."""
    if isinstance(node, dict):  # Keras 3
        args = node.get("args") or []
        kwargs = node.get("kwargs") or {}
        for key, value in kwargs.items():
            if key not in ("training", "mask") or (key == "mask" and value is not None):
                raise NotImplementedError(f"{where}: call argument `{key}`={value!r:.80} is not supported by dlc")
        if len(args) == 1 and isinstance(args[0], (list, tuple)) and _keras_tensor_ref(args[0], where) is None:
            return [_keras_tensor_ref(a, where) or a for a in args[0]], True
        return [_keras_tensor_ref(a, where) if _keras_tensor_ref(a, where) is not None else ("const", a)
                for a in args], False
    if isinstance(node, (list, tuple)):  # Keras 2: [[name, node, tensor, kwargs], ...]
        refs = [_keras_tensor_ref(a, where) for a in node]
        if any(r is None for r in refs):
            raise ValueError(f"{where}: malformed inbound node {node!r:.200}")
        return refs, len(refs) > 1
    raise ValueError(f"{where}: malformed inbound node {node!r:.200}")


def _end_refs(value: Any, where: str) -> Tuple[List[Tuple[str, int, int]], bool]:
    """`input_layers` / `output_layers`: one ref (a single tensor), a list of refs, or a dict."""
    if isinstance(value, dict):
        value = list(value.values())
        return [_keras_tensor_ref(v, where) for v in value], True
    single = _keras_tensor_ref(value, where) if isinstance(value, (list, tuple)) and value and isinstance(value[0], str) else None
    if single is not None:
        return [single], False
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: malformed input_layers/output_layers {value!r:.200}")
    refs = [_keras_tensor_ref(v, where) for v in value]
    if any(r is None for r in refs):
        raise ValueError(f"{where}: malformed input_layers/output_layers {value!r:.200}")
    return refs, len(refs) > 1  # a list of one is one tensor, as Keras reads it


def _tensor_op_from_keras(entry: Dict[str, Any], inputs: List[Any], where: str) -> Tuple[Layer, List[Any]]:
    """The TensorOp for a Keras numpy operation node, and its tensor inputs."""
    from dlc.layers.merge import TensorOp

    op = _KERAS_TO_OPS[entry["class_name"]]
    name = (entry.get("config") or {}).get("name") or entry.get("name")
    tensors = [a for a in inputs if not (isinstance(a, tuple) and a and a[0] == "const")]
    consts = [a[1] for a in inputs if isinstance(a, tuple) and a and a[0] == "const"]
    if op == "negative" or not consts:
        return TensorOp(op, name=name), tensors
    if len(tensors) != 1 or len(consts) != 1:
        raise NotImplementedError(f"{where}: operation {entry['class_name']} with arguments {inputs!r:.200}")
    reverse = isinstance(inputs[0], tuple) and inputs[0][0] == "const"
    return TensorOp(op, scalar=consts[0], reverse=reverse, name=name), tensors


def _functional_from_keras(cfg: Dict[str, Any], where: str) -> Any:
    from dlc.layers.core import InputLayer
    from dlc.models.model import Model

    entries = cfg.get("layers")
    if not isinstance(entries, list):
        raise ValueError(f"{where}: a functional config needs a 'layers' list")
    built: Dict[str, Any] = {}
    pending: Dict[str, List[Tuple[List[Any], bool]]] = {}
    done: Dict[str, int] = {}
    outputs: Dict[Tuple[str, int], KerasTensor] = {}
    order: List[str] = []
    ops: Dict[str, Dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: a layer entry must be a dict, received {entry!r:.200}")
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        if not isinstance(name, str):
            raise ValueError(f"{where}: a layer entry has no name: {entry!r:.200}")
        if name in built or name in ops:
            raise ValueError(f"{where}: two layers are named {name!r}")
        order.append(name)
        nodes = [_parse_node(nd, f"{where}: layer {name!r}") for nd in entry.get("inbound_nodes") or []]
        pending[name], done[name] = nodes, 0
        if entry.get("class_name") == "InputLayer":
            config = dict(entry.get("config") or {})
            shape = config.get("batch_shape") or config.get("batch_input_shape")
            if shape is None:
                raise ValueError(f"{where}: InputLayer {name!r} has no batch_shape")
            _check_dtype(config.get("dtype"), f"{where}: InputLayer {name!r}")
            layer = InputLayer(batch_shape=tuple(shape), name=name)
            built[name] = layer
            outputs[(name, 0)] = layer.output
        elif entry.get("class_name") in _KERAS_TO_OPS and str(entry.get("module", "")).startswith("keras.src.ops"):
            ops[name] = entry
        else:
            built[name] = layer_from_keras(entry, where)
    progress = True
    while progress:
        progress = False
        for name in order:
            while pending[name]:
                inputs, multi = pending[name][0]
                refs = [a for a in inputs if not (isinstance(a, tuple) and a and a[0] == "const")]
                if not all((r[0], r[1]) in outputs for r in refs):
                    break
                for r in refs:
                    if r[2] != 0:
                        raise NotImplementedError(f"{where}: layer {name!r} reads output {r[2]} of layer "
                                                  f"{r[0]!r}; dlc's layers have one output")
                if name in ops:  # one TensorOp per call of a Keras operation
                    layer, refs = _tensor_op_from_keras(ops[name], inputs, f"{where}: layer {name!r}")
                    if done[name]:
                        layer.name = f"{name}_{done[name]}"
                    multi = len(refs) > 1
                else:
                    layer = built[name]
                tensors = [outputs[(r[0], r[1])] for r in refs]
                try:
                    out = layer(tensors if multi else tensors[0])
                except (ValueError, TypeError, NotImplementedError) as e:
                    raise type(e)(f"{where}: layer {name!r}: {e}") from None
                outputs[(name, done[name])] = out
                done[name] += 1
                pending[name].pop(0)
                progress = True
    stuck = [n for n in order if pending[n]]
    if stuck:
        raise ValueError(f"{where}: the model's graph could not be rebuilt: the inputs of layer "
                         f"{stuck[0]!r} are never computed")
    ins, ins_list = _end_refs(cfg.get("input_layers"), where)
    outs, outs_list = _end_refs(cfg.get("output_layers"), where)
    try:
        in_t = [outputs[(r[0], r[1])] for r in ins]
        out_t = [outputs[(r[0], r[1])] for r in outs]
    except KeyError as e:
        raise ValueError(f"{where}: the model's inputs or outputs name an unknown layer {e}") from None
    model = Model(in_t if ins_list else in_t[0], out_t if outs_list else out_t[0], name=cfg.get("name"))
    if cfg.get("trainable") is False:
        model.trainable = False
    return model


def _sequential_from_keras(cfg: Any, where: str) -> Any:
    from dlc.layers.core import Input
    from dlc.models.sequential import Sequential

    if isinstance(cfg, list):  # Keras 1/2's bare list of layers
        cfg = {"layers": cfg}
    entries = cfg.get("layers")
    if not isinstance(entries, list):
        raise ValueError(f"{where}: a Sequential config needs a 'layers' list")
    model = Sequential(name=cfg.get("name"))
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
            if i:
                raise ValueError(f"{where}: an InputLayer can only be the first layer of a Sequential")
            config = entry.get("config") or {}
            shape = config.get("batch_shape") or config.get("batch_input_shape")
            _check_dtype(config.get("dtype"), f"{where}: InputLayer")
            model.add(Input(batch_shape=tuple(shape), name=config.get("name")))
        else:
            try:
                model.add(layer_from_keras(entry, where))
            except (ValueError, TypeError) as e:
                if isinstance(e, UnsupportedLayerError) or where in str(e):
                    raise
                raise type(e)(f"{where}: {e}") from None
    shape = cfg.get("build_input_shape")
    if not model._graph_ready and shape:
        model.build(tuple(shape))
    if cfg.get("trainable") is False:
        model.trainable = False
    return model


def model_from_keras(entry: Dict[str, Any], where: str = "load_model") -> Any:
    """A dlc model (without weights) from Keras's serialization of a model: Keras 3's layout
    (`config.json`, `to_json()`), or Keras 2's (the `model_config` of a legacy `.h5`).

    Raises:
        UnsupportedLayerError: naming the first layer class dlc cannot build.
        ValueError: a malformed config.
    """
    if not isinstance(entry, dict) or "class_name" not in entry:
        raise ValueError(f"{where}: expected a model config with a 'class_name', received {type(entry).__name__}")
    cls_name = entry["class_name"]
    cfg = entry.get("config")
    if cls_name == "Sequential":
        return _sequential_from_keras(cfg, where)
    if cls_name in ("Functional", "Model"):
        if not isinstance(cfg, dict):
            raise ValueError(f"{where}: a functional config must be a dict")
        return _functional_from_keras(cfg, where)
    raise _unsupported(cls_name, where)


# ---------------------------------------------------------------- compile config
def _dlc_loss_or_metric(value: Any, kind: str) -> Any:
    from dlc import losses as _losses
    from dlc import metrics as _metrics

    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, list):
        return [_dlc_loss_or_metric(v, kind) for v in value]
    if isinstance(value, dict) and "class_name" in value:
        registry = _losses._REGISTRY if kind == "loss" else _metrics._REGISTRY
        if value["class_name"] == "function" and isinstance(value.get("config"), str):
            return value["config"]
        return registry.get(_object_entry(value, registry.lookup, f"compile: {kind}"))
    if isinstance(value, dict):
        return {k: _dlc_loss_or_metric(v, kind) for k, v in value.items()}
    raise ValueError(f"compile: cannot read the saved {kind} {value!r:.200}")


def optimizer_from_keras(value: Dict[str, Any]) -> Any:
    """A dlc optimizer from Keras's (or dlc's) serialization of one."""
    from dlc import optimizers as _optimizers
    from dlc.optimizers import schedules as _schedules

    if isinstance(value, str):
        return _optimizers.get(value)
    if not isinstance(value, dict) or "class_name" not in value:
        raise ValueError(f"compile: cannot read the saved optimizer {value!r:.200}")
    cls = _optimizers._REGISTRY.lookup(value["class_name"])
    config = dict(value.get("config") or {})
    lr = config.get("learning_rate")
    if isinstance(lr, dict):
        config["learning_rate"] = _object_entry(lr, _schedules._REGISTRY.lookup, "compile: learning_rate")
    accepted = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass is not object:
            accepted |= _factory_params(klass)[0]
    accepted |= {"decay"}  # Keras 2's decay, which dlc's optimizers take (as a schedule)
    neutral = {"use_ema": (False,), "ema_momentum": (0.99,)}
    keras_only = {"jit_compile", "is_legacy_optimizer"}  # Keras's bookkeeping, no effect here
    out = {}
    for key, v in config.items():
        if key in keras_only or (key == "decay" and not v):
            continue
        if key in accepted and (key not in neutral or v not in neutral[key]):
            out[key] = v
        elif key in accepted or v is None or v in neutral.get(key, ()):
            continue
        else:
            raise NotImplementedError(f"compile: optimizer {value['class_name']}: argument `{key}`={v!r} "
                                      f"is not supported by dlc")
    return cls.from_config(out)


def compile_args_from_keras(cc: Dict[str, Any]) -> Dict[str, Any]:
    """`model.compile` keyword arguments from a Keras `compile_config`."""
    if not isinstance(cc, dict):
        raise ValueError(f"compile: the saved compile config must be a dict, received {type(cc).__name__}")
    args: Dict[str, Any] = {}
    if cc.get("optimizer") is not None:
        args["optimizer"] = optimizer_from_keras(cc["optimizer"])
    args["loss"] = _dlc_loss_or_metric(cc.get("loss"), "loss")
    args["loss_weights"] = cc.get("loss_weights")
    args["metrics"] = _dlc_loss_or_metric(cc.get("metrics"), "metric")
    args["weighted_metrics"] = _dlc_loss_or_metric(cc.get("weighted_metrics"), "metric")
    return args
