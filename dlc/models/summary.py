"""`model.summary()`: Keras's table of layers, output shapes and parameter counts, with what the
lectures ask students to compute beside them: multiply-accumulates, neurons and activation
memory per sample, and the memory of one training step at a given batch size.

Per layer (one row):
- Param #: the scalars of its weights (Keras's column);
- MACs: multiply-accumulates per sample;
- Neurons: the elements of its output per sample (the product of the output shape without the
  batch axis; a layer called twice counts both outputs);
- Act. memory: the bytes of that output per sample (neurons x 4, float32).

Totals of a training step at batch size B (float32, 4 bytes a value):
- activations kept for backward: the model's inputs and the output of every layer (the layers of
  nested models, not the nested model's own output a second time), times B;
- their gradients: every layer's output, times B (no gradient is computed for the inputs);
- parameters (all of them), parameter gradients (the trainable ones), and the optimizer's state
  (its slots per trainable parameter: 2 for Adam and Adadelta, 1 for RMSprop, Adagrad and SGD
  with momentum, 0 for plain SGD; 0 before `compile`).
"""
from __future__ import annotations

import re
import textwrap
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from dlc.layers.base import Layer, shape_str
from dlc.layers.core import InputLayer

BYTES = 4  # float32


class Row(NamedTuple):
    """One line of the table."""

    name: str          # "name (Type)", indented for nested layers
    shape: str         # the output shape, Keras's rendering
    params: int
    macs: int          # per sample
    neurons: int       # output elements per sample
    connected: str     # "-" for inputs; the inbound layers otherwise
    trainable: str     # "Y", "N" or "-" (no weights)


def _elements(shape: Any) -> int:
    """Elements per sample of a shape with the batch first (0 if a dimension is unknown)."""
    if isinstance(shape, list):
        return sum(_elements(s) for s in shape)
    dims = shape[1:]
    if any(d is None for d in dims):
        return 0
    return int(np.prod(dims, dtype=np.int64))


def _is_model(layer: Any) -> bool:
    return getattr(layer, "_graph_ready", False) and hasattr(layer, "_nodes")


def _shown_layers(model: Any) -> List[Layer]:
    """The layers a summary lists: `model.layers` (Keras: a Sequential's input layer is not
    listed, a functional model's is)."""
    from dlc.models.sequential import Sequential

    layers = list(model._all_layers)
    if isinstance(model, Sequential):
        layers = [l for l in layers if not isinstance(l, InputLayer)]
    return layers


def _row(model: Any, layer: Layer, prefix: str) -> Row:
    if isinstance(layer, InputLayer):
        shape = layer.batch_shape
        macs, neurons, conn = 0, _elements(shape), "-"
    else:
        nodes = model.layer_nodes(layer)
        shape = nodes[0].output.shape
        macs = sum(layer.macs([t.shape for t in n.inputs] if n.multi else n.inputs[0].shape,
                              n.output.shape) for n in nodes)
        neurons = sum(_elements(n.output.shape) for n in nodes)
        conn = ", ".join(f"{(t.node.layer.name if t.node else t.name)}" for t in nodes[0].inputs)
    params = sum(v.size for v in layer.weights)
    trainable = ("Y" if layer.trainable else "N") if layer.weights else "-"
    return Row(f"{prefix}{layer.name} ({type(layer).__name__})", shape_str(shape), params, macs,
               neurons, conn, trainable)


def _layer_range(layers: List[Layer], layer_range: Any) -> Tuple[int, int]:
    """Keras's `layer_range`: two names or regular expressions (re.match), both ends kept."""
    if layer_range is None:
        return 0, len(layers)
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2:
        raise ValueError("summary: argument `layer_range` must be a list or tuple of 2 layer names, "
                         f"received {layer_range!r}")
    if not all(isinstance(s, str) for s in layer_range):
        raise ValueError(f"summary: argument `layer_range` should contain strings only, received {layer_range!r}")
    lower = [i for i, l in enumerate(layers) if re.match(layer_range[0], l.name)]
    upper = [i for i, l in enumerate(layers) if re.match(layer_range[1], l.name)]
    if not lower or not upper:
        raise ValueError(f"summary: the names in `layer_range` {list(layer_range)} match no layer of the "
                         f"model; its layers are {[l.name for l in layers]}")
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def summary_rows(model: Any, expand_nested: bool = False, layer_range: Any = None) -> List[Row]:
    """The table's rows: the layers of `model` in `layer_range`, and with `expand_nested` the
    layers of nested models under theirs, prefixed with '└ ' and indented by depth."""
    model._ensure_graph()

    def walk(m: Any, depth: int, rng: Any) -> List[Row]:
        layers = _shown_layers(m)
        lo, hi = _layer_range(layers, rng)
        prefix = "   " * depth + "└ " if depth else ""
        rows = []
        for layer in layers[lo:hi]:
            rows.append(_row(m, layer, prefix))
            if expand_nested and _is_model(layer):
                rows.extend(walk(layer, depth + 1, None))
        return rows

    return walk(model, 0, layer_range)


def layer_output_elements(model: Any) -> int:
    """Elements per sample of every layer's output in one forward pass (nested models
    counted through their own layers)."""
    total = 0
    for node in model._nodes:
        if _is_model(node.layer):
            total += layer_output_elements(node.layer)
        else:
            total += _elements(node.output.shape)
    return total


def optimizer_slots(model: Any) -> Tuple[str, int]:
    """(the optimizer's name, its state values per trainable parameter); ("", 0) before compile."""
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return "", 0
    return type(opt).__name__, len(getattr(opt, "_state_names", ()))


def training_memory(model: Any, batch_size: int = 32) -> Dict[str, int]:
    """The values (float32 each) one training step at `batch_size` holds, by kind."""
    model._ensure_graph()
    inputs = sum(_elements(t.shape) for t in model._inputs)
    outputs = layer_output_elements(model)
    total = model.count_params()
    trainable = int(sum(v.size for v in model.trainable_weights))
    _, slots = optimizer_slots(model)
    return {"input_elements": inputs, "output_elements": outputs,
            "activations": (inputs + outputs) * batch_size, "activation_gradients": outputs * batch_size,
            "parameters": total, "parameter_gradients": trainable, "optimizer_state": slots * trainable}


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"summary: argument `batch_size` must be a positive int, received {batch_size!r}")
    return int(batch_size)


def _widths(natural: List[int], line_length: Optional[int], positions: Any) -> List[int]:
    """Each column's width (its two spaces of padding included) for a table of `line_length`
    characters (borders included), from Keras's `positions`: the right edge of each column,
    as fractions of the line (all <= 1) or as character counts."""
    n = len(natural)
    borders = n + 1
    if line_length is None and positions is None:
        return natural
    if line_length is not None:
        if isinstance(line_length, bool) or not isinstance(line_length, (int, np.integer)):
            raise ValueError(f"summary: argument `line_length` must be an int, received {line_length!r}")
        line_length = int(line_length)
    else:
        line_length = sum(natural) + borders
    inner = line_length - borders
    if positions is None:
        total = sum(natural)
        edges = np.cumsum(natural) / total
    else:
        positions = list(positions)
        if len(positions) != n:
            raise ValueError(f"summary: argument `positions` must have one entry per column ({n}), "
                             f"received {len(positions)}: {positions}")
        if any(not isinstance(p, (int, float, np.number)) or isinstance(p, bool) for p in positions):
            raise ValueError(f"summary: argument `positions` must hold numbers, received {positions}")
        if all(p <= 1 for p in positions):
            edges = np.asarray(positions, np.float64)
        else:
            edges = np.asarray(positions, np.float64) / positions[-1]
        if np.any(np.diff(edges) <= 0) or edges[0] <= 0:
            raise ValueError(f"summary: argument `positions` must increase, received {positions}")
    widths, current = [], 0
    for e in edges[:-1]:
        w = int(round(e * inner)) - current
        widths.append(w)
        current += w
    widths.append(inner - current)
    if min(widths) < 4:
        raise ValueError(f"summary: line_length={line_length} is too short for {n} columns "
                         f"(widths {widths}); at least {4 * n + borders} characters are needed")
    return widths


def _wrap(text: str, width: int) -> List[str]:
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False,
                         drop_whitespace=True) or [""]


def summary_text(model: Any, line_length: Optional[int] = None, positions: Any = None,
                 expand_nested: bool = False, show_trainable: bool = False,
                 layer_range: Any = None, batch_size: int = 32) -> str:
    """The whole summary as one string."""
    from dlc.models.sequential import Sequential

    batch_size = _check_batch_size(batch_size)
    model._ensure_graph()
    rows = summary_rows(model, expand_nested, layer_range)
    functional = not isinstance(model, Sequential)
    headers = ["Layer (type)", "Output Shape", "Param #", "MACs", "Neurons", "Act. memory"]
    headers += ["Connected to"] if functional else []
    headers += ["Trainable"] if show_trainable else []
    cells = []
    for r in rows:
        c = [r.name, r.shape, f"{r.params:,}", f"{r.macs:,}", f"{r.neurons:,}", f"{r.neurons * BYTES:,} B"]
        c += [r.connected] if functional else []
        c += [r.trainable] if show_trainable else []
        cells.append(c)
    natural = [max(len(h), *(len(c[i]) for c in cells)) + 2 if cells else len(h) + 2
               for i, h in enumerate(headers)]
    widths = _widths(natural, line_length, positions)
    right = {2, 3, 4, 5}

    def fmt(vals: List[str], sep: str) -> List[str]:
        wrapped = [_wrap(v, w - 2) for v, w in zip(vals, widths)]
        out = []
        for k in range(max(len(x) for x in wrapped)):
            parts = []
            for i, (lines, w) in enumerate(zip(wrapped, widths)):
                v = lines[k] if k < len(lines) else ""
                parts.append(" " + (v.rjust(w - 2) if i in right else v.ljust(w - 2)) + " ")
            out.append(sep + sep.join(parts) + sep)
        return out

    def bar(left: str, mid: str, rightc: str, ch: str = "━") -> str:
        return left + mid.join(ch * w for w in widths) + rightc

    lines = [f'Model: "{model.name}"', bar("┏", "┳", "┓"), *fmt(headers, "┃"), bar("┡", "╇", "┩")]
    for i, c in enumerate(cells):
        lines.extend(fmt(c, "│"))
        if i < len(cells) - 1:
            lines.append(bar("├", "┼", "┤", "─"))
    lines.append(bar("└", "┴", "┘", "─"))
    trainable = sum(v.size for v in model.trainable_weights)
    total = model.count_params()
    macs = sum(_row(model, l, "").macs for l in _shown_layers(model))
    lines += [f" Total params: {total:,} ({human_bytes(total * BYTES)})",
              f" Trainable params: {trainable:,} ({human_bytes(trainable * BYTES)})",
              f" Non-trainable params: {total - trainable:,} ({human_bytes((total - trainable) * BYTES)})",
              f" Multiply-accumulates per sample: {macs:,}"]
    lines += training_memory_lines(model, batch_size)
    return "\n".join(lines)


def training_memory_lines(model: Any, batch_size: int) -> List[str]:
    """The totals of one training step at `batch_size`, one line per kind of memory: what is
    counted, the count of float32 values and their bytes."""
    m = training_memory(model, batch_size)
    name, slots = optimizer_slots(model)
    trainable = m["parameter_gradients"]
    items = [
        ("activations", f"({m['input_elements']:,} + {m['output_elements']:,}) x {batch_size}",
         m["activations"]),
        ("activation grads", f"{m['output_elements']:,} x {batch_size}", m["activation_gradients"]),
        ("parameters", "", m["parameters"]),
        ("parameter grads", "", trainable),
        ("optimizer state", f"{name}: {slots} x {trainable:,}" if name else "not compiled yet",
         m["optimizer_state"]),
    ]
    total = sum(v for _, _, v in items)
    items.append(("total", "", total))
    dw = max(len(d) for _, d, _ in items)
    vw = len(f"{total:,}")
    bw = len(f"{total * BYTES:,}")
    out = [f" Training step at batch size {batch_size} (float32; activations: inputs + layer outputs, "
           f"kept for backward):"]
    for label, detail, v in items:
        out.append(f"   {label:<17} {detail:<{dw}}  {v:>{vw},} values  {v * BYTES:>{bw},} B"
                   f"  ({human_bytes(v * BYTES)})")
    return out


def print_summary(model: Any, line_length: Optional[int] = None,
                  print_fn: Optional[Callable[[str], Any]] = None, positions: Any = None,
                  expand_nested: bool = False, show_trainable: bool = False,
                  layer_range: Any = None, batch_size: int = 32) -> None:
    """Prints `summary_text(model, ...)` with `print_fn` (default: print), in one call."""
    (print_fn or print)(summary_text(model, line_length, positions, expand_nested, show_trainable,
                                     layer_range, batch_size))


def human_bytes(n: float) -> str:
    """Keras's rendering of a byte count: 4.58 MB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024.0
    return f"{n:.2f} GB"
