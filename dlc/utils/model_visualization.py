"""`plot_model` and `model_to_dot`: a model's graph drawn by Graphviz through pydot, as Keras
does. pydot (`pip install pydot`) and Graphviz's `dot` program (e.g. `apt install graphviz`)
are optional dependencies; without them these functions raise an ImportError naming them.

Example:

>>> dlc.utils.plot_model(model, to_file="model.png", show_shapes=True)
"""
from __future__ import annotations

import os
from typing import Any, Dict, List

from dlc.layers.base import shape_str

_INSTALL = ("plot_model needs pydot and Graphviz: `pip install pydot` and Graphviz's `dot` program "
            "(e.g. `apt install graphviz` or https://graphviz.org/download/)")


def _pydot() -> Any:
    try:
        import pydot
    except ImportError:
        raise ImportError(_INSTALL + "; pydot is not installed") from None
    return pydot


def _label(layer: Any, node: Any, show_shapes: bool, show_dtype: bool, show_layer_names: bool,
           show_layer_activations: bool, show_trainable: bool) -> str:
    name = f"{layer.name} ({type(layer).__name__})" if show_layer_names else type(layer).__name__
    parts = [name]
    act = getattr(layer, "activation", None)
    if show_layer_activations and act is not None and not act.is_linear:
        parts.append(f"activation: {act.name}")
    if show_trainable:
        parts.append(f"trainable: {'yes' if layer.trainable else 'no'}")
    if show_dtype:
        parts.append("dtype: float32")
    if show_shapes:
        if node is None:  # an input layer
            parts.append(f"output: {shape_str(layer.batch_shape)}")
        else:
            ins = [shape_str(t.shape) for t in node.inputs]
            parts.append(f"input: {', '.join(ins)}")
            parts.append(f"output: {shape_str(node.output.shape)}")
    return "\n".join(parts)


def model_to_dot(model: Any, show_shapes: bool = False, show_dtype: bool = False,
                 show_layer_names: bool = True, rankdir: str = "TB", expand_nested: bool = False,
                 dpi: int = 200, subgraph: bool = False, show_layer_activations: bool = False,
                 show_trainable: bool = False, **kwargs: Any) -> Any:
    """The model's graph as a `pydot.Dot`: one box per layer, one edge per tensor.

    Args:
        model: a built dlc model.
        show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable: what
            each box shows, as Keras.
        rankdir: 'TB' (top to bottom) or 'LR' (left to right).
        expand_nested: draw a nested model's layers inside a cluster instead of one box.
        dpi: the image resolution.

    Returns:
        A `pydot.Dot`.
    """
    if kwargs:
        raise TypeError(f"model_to_dot: unrecognized keyword argument(s) {sorted(kwargs)}")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"model_to_dot: argument `rankdir` must be 'TB' or 'LR', received {rankdir!r}")
    pydot = _pydot()
    model._ensure_graph()
    dot = pydot.Cluster(style="dashed", graph_name=model.name, label=model.name) if subgraph else pydot.Dot()
    if not subgraph:
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
    dot.set_node_defaults(shape="record")
    options = (show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable)
    ids: Dict[int, str] = {}  # id(tensor) -> the dot node that produces it
    for t in model._inputs:
        node_id = f"{model.name}_{t.input_layer.name}"
        dot.add_node(pydot.Node(node_id, label=_label(t.input_layer, None, *options)))
        ids[id(t)] = node_id
    for i, node in enumerate(model._nodes):
        layer = node.layer
        node_id = f"{model.name}_{i}_{layer.name}"
        if expand_nested and hasattr(layer, "_nodes"):
            cluster = model_to_dot(layer, show_shapes, show_dtype, show_layer_names, rankdir, True, dpi,
                                   True, show_layer_activations, show_trainable)
            dot.add_subgraph(cluster)
            first = f"{layer.name}_{layer._inputs[0].input_layer.name}"
            last = cluster.get_nodes()[-1].get_name()
            for src in node.inputs:
                dot.add_edge(pydot.Edge(ids[id(src)], first))
            ids[id(node.output)] = last
            continue
        dot.add_node(pydot.Node(node_id, label=_label(layer, node, *options)))
        for src in node.inputs:
            dot.add_edge(pydot.Edge(ids[id(src)], node_id))
        ids[id(node.output)] = node_id
    return dot


def plot_model(model: Any, to_file: str = "model.png", show_shapes: bool = False, show_dtype: bool = False,
               show_layer_names: bool = True, rankdir: str = "TB", expand_nested: bool = False,
               dpi: int = 200, show_layer_activations: bool = False, show_trainable: bool = False,
               **kwargs: Any) -> Any:
    """Draws the model's graph into an image file with Graphviz, as Keras's `plot_model`.

    Args:
        model: a built dlc model.
        to_file: the file to write; its extension picks the format ('.png', '.svg', '.pdf',
            '.dot', ...).
        show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
        show_layer_activations, show_trainable: as `model_to_dot`.

    Returns:
        In a Jupyter notebook an `IPython.display.Image` of a PNG, else None.

    Raises:
        ImportError: pydot or Graphviz's `dot` is missing, naming them.

    Example:

    >>> dlc.utils.plot_model(model, "inception.png", show_shapes=True)
    """
    dot = model_to_dot(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable, **kwargs)
    ext = os.path.splitext(str(to_file))[1][1:].lower() or "png"
    try:
        dot.write(str(to_file), format=ext)
    except FileNotFoundError:
        raise ImportError(_INSTALL + "; Graphviz's `dot` program was not found on PATH") from None
    if ext == "png":
        try:
            from IPython import get_ipython
            from IPython.display import Image

            if get_ipython() is not None:
                return Image(filename=str(to_file))
        except ImportError:
            pass
    return None


__all__: List[str] = ["model_to_dot", "plot_model"]
