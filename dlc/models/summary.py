"""`model.summary()`: Keras's table of layers, output shapes and parameter counts, with the
multiply-accumulates per sample beside them."""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from dlc.layers.base import shape_str
from dlc.layers.core import InputLayer

Row = Tuple[str, str, int, int, str]


def summary_rows(model: Any) -> List[Row]:
    """(name (type), output shape, params, MACs per sample, connected to) per layer."""
    from dlc.models.sequential import Sequential

    rows = []
    sequential = isinstance(model, Sequential)
    for layer in model._all_layers:
        if isinstance(layer, InputLayer):
            if sequential:
                continue
            out_shape, macs, conn = layer.batch_shape, 0, "-"
        else:
            nodes = model.layer_nodes(layer)
            out_shape = nodes[0].output.shape
            macs = sum(layer.macs([t.shape for t in n.inputs] if n.multi else n.inputs[0].shape, n.output.shape)
                       for n in nodes)
            conn = ", ".join(f"{(t.node.layer.name if t.node else t.name)}" for t in nodes[0].inputs)
        params = sum(v.size for v in layer.weights)
        rows.append((f"{layer.name} ({type(layer).__name__})", shape_str(out_shape), params, macs, conn))
    return rows


def summary_text(model: Any, line_length: Optional[int] = None) -> str:
    """The whole summary as one string."""
    from dlc.models.sequential import Sequential

    model._ensure_graph()
    rows = summary_rows(model)
    functional = not isinstance(model, Sequential)
    headers = ["Layer (type)", "Output Shape", "Param #", "MACs"] + (["Connected to"] if functional else [])
    cells = [[r[0], r[1], f"{r[2]:,}", f"{r[3]:,}"] + ([r[4]] if functional else []) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) + 2 if cells else len(h) + 2 for i, h in enumerate(headers)]
    right = {2, 3}

    def fmt(vals: List[str], sep: str) -> str:
        return sep + sep.join(" " + (v.rjust(w - 2) if i in right else v.ljust(w - 2)) + " "
                              for i, (v, w) in enumerate(zip(vals, widths))) + sep

    def bar(left: str, mid: str, rightc: str, ch: str = "━") -> str:
        return left + mid.join(ch * w for w in widths) + rightc

    lines = [f'Model: "{model.name}"', bar("┏", "┳", "┓"), fmt(headers, "┃"), bar("┡", "╇", "┩")]
    for i, c in enumerate(cells):
        lines.append(fmt(c, "│"))
        if i < len(cells) - 1:
            lines.append(bar("├", "┼", "┤", "─"))
    lines.append(bar("└", "┴", "┘", "─"))
    trainable = sum(v.size for v in model.trainable_weights)
    total = model.count_params()
    macs = sum(r[3] for r in rows)
    lines += [f" Total params: {total:,} ({human_bytes(total * 4)})",
              f" Trainable params: {trainable:,} ({human_bytes(trainable * 4)})",
              f" Non-trainable params: {total - trainable:,} ({human_bytes((total - trainable) * 4)})",
              f" Multiply-accumulates per sample: {macs:,}"]
    return "\n".join(lines)


def print_summary(model: Any, line_length: Optional[int] = None,
                  print_fn: Optional[Callable[[str], Any]] = None) -> None:
    """Prints `summary_text(model)` with `print_fn` (default: print)."""
    (print_fn or print)(summary_text(model, line_length))


def human_bytes(n: float) -> str:
    """Keras's rendering of a byte count: 4.58 MB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024.0
    return f"{n:.2f} GB"
