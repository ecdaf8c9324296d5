"""plot_model / model_to_dot: the graph's boxes and edges, rendering through Graphviz, and the
ImportError naming pydot and Graphviz when they are missing."""
import os
import sys

import pytest

import dlc
from dlc import layers as L

pydot = pytest.importorskip("pydot", reason="pydot is an optional dependency of plot_model")


def _model():
    inp = L.Input(shape=(8, 8, 1), name="image")
    a = L.Conv2D(4, 1, name="a")(inp)
    b = L.Conv2D(4, 3, padding="same", activation="relu", name="b")(inp)
    x = L.concatenate([a, b], name="cat")
    head = dlc.Sequential([L.Flatten(), L.Dense(3, activation="softmax", name="out")], name="head")
    return dlc.Model(inp, head(x))


def test_model_to_dot_boxes_and_edges():
    dot = dlc.utils.model_to_dot(_model(), show_shapes=True, show_layer_activations=True)
    labels = [n.get("label") for n in dot.get_nodes() if n.get("label")]
    assert len(labels) == 5  # image, a, b, cat, head
    assert any("b (Conv2D)" in l and "activation: relu" in l and "output: (None, 8, 8, 4)" in l for l in labels)
    assert any("cat (Concatenate)" in l and "input: (None, 8, 8, 4), (None, 8, 8, 4)" in l for l in labels)
    assert len(dot.get_edges()) == 5  # image->a, image->b, a->cat, b->cat, cat->head
    nested = dlc.utils.model_to_dot(_model(), expand_nested=True)
    assert len(nested.get_subgraphs()) == 1
    with pytest.raises(ValueError, match=r"argument `rankdir` must be 'TB' or 'LR', received 'XY'"):
        dlc.utils.model_to_dot(_model(), rankdir="XY")


def test_plot_model_writes_the_image(tmp_path):
    if not any(os.access(os.path.join(p, "dot"), os.X_OK) for p in os.environ.get("PATH", "").split(os.pathsep)):
        pytest.skip("Graphviz's dot is not installed")
    path = tmp_path / "model.svg"
    dlc.utils.plot_model(_model(), str(path), show_shapes=True)
    text = path.read_text()
    assert "<svg" in text and "cat (Concatenate)" in text


def test_missing_graphviz_or_pydot_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on PATH
    with pytest.raises(ImportError, match=r"pydot and Graphviz.*`dot` program was not found"):
        dlc.utils.plot_model(_model(), str(tmp_path / "m.png"))
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match=r"pip install pydot.*pydot is not installed"):
        dlc.utils.plot_model(_model(), str(tmp_path / "m.png"))
