"""Plots a student draws in the first week: training curves, a confusion matrix, sample images
with their (mis)predictions, a convolution's filters and a layer's feature maps.

Every function returns the matplotlib `Figure` (made with `matplotlib.pyplot`, so `plt.show()`
shows it in a script and a notebook displays it). matplotlib is optional: it is imported only
when a plot is drawn, and its absence raises an ImportError saying how to install it
(`pip install matplotlib`, or dlc's `plot` extra).

Example:

>>> history = model.fit(x_train, y_train, epochs=5, validation_split=0.1, verbose=0)
>>> fig = dlc.utils.plot_history(history)
>>> fig.savefig("curves.png")
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

__all__ = ["plot_history", "plot_confusion_matrix", "plot_images", "plot_filters",
           "plot_feature_maps"]

CORRECT_COLOR = "tab:green"
WRONG_COLOR = "tab:red"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            "dlc's plotting helpers need matplotlib, which is not installed: "
            "pip install matplotlib (or, from a dlc clone, pip install -e '.[plot]')") from e
    return plt


def _grid(n: int, cols: Optional[int] = None):
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def _tiles(plt: Any, count: int, cols: Optional[int], width: float, height: float):
    """A figure of `count` tiles of `width` x `height` inches in a grid of `cols` columns (or
    about square): the figure and the `count` axes to draw in, ticks cleared; the grid's spare
    cells are hidden."""
    rows, cols = _grid(count, cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    tiles = list(axes.flat)
    for ax in tiles[count:]:
        ax.axis("off")
    for ax in tiles[:count]:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, tiles[:count]


def _class_indices(values: Any, what: str, fn: str) -> np.ndarray:
    """Class indices from labels: integers (n,) or (n, 1), or one-hot / probabilities (n, k)."""
    a = np.asarray(values)
    if a.ndim == 2 and a.shape[1] > 1:
        return a.argmax(axis=1)
    a = a.reshape(-1)
    if a.dtype.kind == "f" and np.any(a != np.round(a)):
        raise ValueError(f"{fn}: argument `{what}` must hold class indices or one row of scores "
                         f"per sample, received non-integer values")
    return a.astype(np.int64)


# ---------------------------------------------------------------------------- history
def plot_history(history: Any, metrics: Optional[Sequence[str]] = None):
    """Training curves: one panel per metric, the training values and, when present, the
    validation ones (`val_<metric>`) against the epoch.

    Args:
        history: what `fit` returns (a `History`), or its `.history` dict.
        metrics: the names to plot, e.g. `["loss", "accuracy"]` (default: the loss, then every
            other name that does not start with `val_`, in the order `fit` logged them).

    Returns:
        The Figure: one Axes per metric, titled with its name, a line labelled "training" and,
        if the history has `val_<metric>`, one labelled "validation".

    Example:

    >>> fig = dlc.utils.plot_history(model.fit(x, y, epochs=10, validation_split=0.2))
    """
    fn = "plot_history"
    logs: Dict[str, List[float]] = history.history if hasattr(history, "history") else history
    if not isinstance(logs, dict):
        raise TypeError(f"{fn}: argument `history` must be the History that fit returns or its "
                        f".history dict, received {type(history).__name__}")
    if metrics is None:
        metrics = [k for k in logs if not k.startswith("val_")] or list(logs)
        metrics.sort(key=lambda k: k != "loss")  # the loss first, the rest as logged
    elif isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in logs]
    if unknown or not metrics:
        raise ValueError(f"{fn}: no values for {unknown or 'any metric'} in the history; it has "
                         f"{sorted(logs)}")
    epochs_done = list(getattr(history, "epoch", []) or [])
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        for key, label, style in ((name, "training", "o-"), ("val_" + name, "validation", "s--")):
            if key not in logs:
                continue
            values = [float(v) for v in logs[key]]
            if len(epochs_done) == len(values):
                xs = [e + 1 for e in epochs_done]
            else:
                xs = list(range(1, len(values) + 1))
            ax.plot(xs, values, style, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- confusion matrix
def plot_confusion_matrix(cm: Any, class_names: Optional[Sequence[str]] = None,
                          normalize: bool = False):
    """A confusion matrix as a heat map, each cell annotated with its count (or fraction).

    Args:
        cm: the (k, k) matrix, rows the true classes and columns the predicted ones (as
            `dlc.metrics.confusion_matrix` returns).
        class_names: k names for the ticks (default: 0 .. k-1).
        normalize: divide each row by its sum, so each cell is the fraction of that true class
            predicted as the column's class (rows of zeros stay zero).

    Returns:
        The Figure; its first Axes shows the (normalized) matrix, x the predicted class, y the
        true one.

    Example:

    >>> cm = dlc.metrics.confusion_matrix(y_test, model.predict(x_test))
    >>> fig = dlc.utils.plot_confusion_matrix(cm, CLASSES, normalize=True)
    """
    fn = "plot_confusion_matrix"
    m = np.asarray(cm, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{fn}: argument `cm` must be a square matrix, received shape {m.shape}")
    k = m.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"{fn}: argument `class_names` must have {k} names for a {k}x{k} matrix, "
                         f"received {len(names)}")
    if normalize:
        sums = m.sum(axis=1, keepdims=True)
        m = np.divide(m, sums, out=np.zeros_like(m), where=sums != 0)
    plt = _pyplot()
    size = max(4.0, 0.6 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(m, interpolation="nearest", cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_yticklabels(names)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title("Confusion matrix" + (" (normalized by row)" if normalize else ""))
    threshold = m.max() / 2.0 if m.size else 0.0
    for i in range(k):
        for j in range(k):
            text = f"{m[i, j]:.2f}" if normalize else f"{int(round(m[i, j])):d}"
            ax.text(j, i, text, ha="center", va="center",
                    color="white" if m[i, j] > threshold else "black", fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- images
def _as_images(x: Any, fn: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 3 or (a.ndim == 4 and a.shape[-1] in (3, 4))):
        raise ValueError(f"{fn}: argument `x` must be images (n, h, w), (n, h, w, 1) or "
                         f"(n, h, w, 3), received shape {a.shape}")
    return a


def plot_images(x: Any, labels: Any, predictions: Any = None,
                class_names: Optional[Sequence[str]] = None, n: int = 16, cols: Optional[int] = None):
    """A grid of the first `n` images, titled with their label (and prediction); a
    misclassified image gets a red title and a red frame, a correct one a green title.

    Args:
        x: images (n, h, w), (n, h, w, 1) (grayscale) or (n, h, w, 3) (colour).
        labels: the true classes: indices, or one-hot rows.
        predictions: optional predicted classes: indices, or one row of scores per image
            (`model.predict`'s output; the argmax is taken).
        class_names: names for the class indices (default: the indices).
        n: how many images (at most the number given).
        cols: columns of the grid (default: about the square root of `n`).

    Returns:
        The Figure, one Axes per image (its title "label" or "true: label\\npred: prediction").

    Example:

    >>> probs = model.predict(x_test[:16])
    >>> fig = dlc.utils.plot_images(x_test, y_test, probs, n=16)
    """
    fn = "plot_images"
    images = _as_images(x, fn)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{fn}: argument `n` must be a positive int, received {n!r}")
    count = min(int(n), images.shape[0])
    true = _class_indices(labels, "labels", fn)
    if true.shape[0] < count:
        raise ValueError(f"{fn}: {true.shape[0]} labels for {count} images")
    pred = None
    if predictions is not None:
        pred = _class_indices(predictions, "predictions", fn)
        if pred.shape[0] < count:
            raise ValueError(f"{fn}: {pred.shape[0]} predictions for {count} images")

    def name(c: int) -> str:
        return str(class_names[c]) if class_names is not None else str(c)

    plt = _pyplot()
    fig, tiles = _tiles(plt, count, cols, 1.9, 2.1)
    for i, ax in enumerate(tiles):
        image = images[i]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        if pred is None:
            ax.set_title(name(int(true[i])), fontsize=9)
            continue
        wrong = int(pred[i]) != int(true[i])
        color = WRONG_COLOR if wrong else CORRECT_COLOR
        ax.set_title(f"true: {name(int(true[i]))}\npred: {name(int(pred[i]))}", fontsize=9, color=color)
        if wrong:
            for spine in ax.spines.values():
                spine.set_edgecolor(WRONG_COLOR)
                spine.set_linewidth(3)
    if pred is not None:
        errors = int(np.sum(pred[:count] != true[:count]))
        fig.suptitle(f"{errors} of {count} misclassified (red)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- filters
def plot_filters(layer: Any, channel: Optional[int] = None, cols: Optional[int] = None):
    """A convolution's kernels, one small image per filter (output channel).

    A kernel over 3 input channels is shown in colour (its values scaled to [0, 1]); otherwise
    one input channel of it is shown in grayscale: `channel` (default 0, the only one of a
    first layer on grayscale images).

    Args:
        layer: a built `Conv2D` (any layer whose `kernel` is (kh, kw, in_channels, filters)).
        channel: the input channel to show (default: 0, or all three in colour for RGB).
        cols: columns of the grid.

    Returns:
        The Figure, one Axes per filter, titled "filter i", whose image is that kernel slice.

    Example:

    >>> fig = dlc.utils.plot_filters(model.layers[0])
    """
    fn = "plot_filters"
    kernel = getattr(layer, "kernel", None)
    if kernel is None or getattr(kernel, "value", None) is None and not getattr(layer, "built", False):
        raise ValueError(f"{fn}: argument `layer` must be a built convolution layer with a kernel "
                         f"(e.g. dlc.layers.Conv2D), received {layer!r}")
    k = np.asarray(layer.get_weights()[0] if kernel.value is None else kernel.value)
    if k.ndim != 4:
        raise ValueError(f"{fn}: layer '{layer.name}' has a kernel of shape {k.shape}; expected "
                         f"(kh, kw, in_channels, filters) as Conv2D's")
    cin, filters = k.shape[2], k.shape[3]
    rgb = channel is None and cin == 3
    ch = 0 if channel is None else int(channel)
    if not rgb and not 0 <= ch < cin:
        raise ValueError(f"{fn}: argument `channel` must be in [0, {cin - 1}], received {channel!r}")
    plt = _pyplot()
    fig, tiles = _tiles(plt, filters, cols, 1.3, 1.45)
    for f, ax in enumerate(tiles):
        if rgb:
            w = k[:, :, :, f]
            lo, hi = float(w.min()), float(w.max())
            ax.imshow((w - lo) / (hi - lo) if hi > lo else np.zeros_like(w), interpolation="nearest")
        else:
            ax.imshow(k[:, :, ch, f], cmap="gray", interpolation="nearest")
        ax.set_title(f"filter {f}", fontsize=7)
    what = "RGB" if rgb else f"input channel {ch}"
    fig.suptitle(f"{layer.name}: {filters} filters {k.shape[0]}x{k.shape[1]} ({what})")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- feature maps
def feature_maps(model: Any, x: Any, layer: Any) -> np.ndarray:
    """The output of `layer` (a Layer, its name or its index in `model.layers`) for the one
    image `x`, in inference mode: an array without the batch axis, e.g. (h, w, channels)."""
    from dlc.layers.base import Layer
    from dlc.trainers.data_adapters import check_inputs

    fn = "plot_feature_maps"
    if isinstance(layer, str):
        layer = model.get_layer(name=layer)
    elif isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        layer = model.get_layer(index=int(layer))
    if not isinstance(layer, Layer):
        raise TypeError(f"{fn}: argument `layer` must be a layer of the model, its name or its "
                        f"index, received {layer!r}")
    a = np.asarray(x, dtype=np.float32)
    model._ensure_graph()  # a Sequential without an input shape is built by fit/predict
    want = model.inputs[0].shape
    if a.ndim == len(want) - 1:
        a = a[None]
    if a.shape[0] != 1:
        raise ValueError(f"{fn}: argument `x` must be one image {tuple(want[1:])} (or a batch of "
                         f"one), received shape {np.asarray(x).shape}")
    nodes = model.layer_nodes(layer)
    if not nodes:
        raise ValueError(f"{fn}: layer '{layer.name}' is not a layer of model '{model.name}' "
                         f"(a layer inside a nested model: pass that model)")
    xs = check_inputs(fn, model, a)
    model._ensure_arena()
    with model._workspace() as ws:
        tape = model.run_forward(ws, [np.ascontiguousarray(v, dtype=np.float32) for v in xs], False)
        return tape.values[id(nodes[0].output)][0].copy()


def plot_feature_maps(model: Any, x: Any, layer: Any, max_maps: Optional[int] = None,
                      cols: Optional[int] = None):
    """The activations of one layer for one image: one grayscale map per channel.

    Args:
        model: the model (Sequential or functional).
        x: one image, e.g. (28, 28, 1), or a batch of one.
        layer: the layer (a Layer of the model, its name or its index in `model.layers`).
        max_maps: show only the first this many channels (default: all).
        cols: columns of the grid.

    Returns:
        The Figure, one Axes per channel, titled "channel c", whose image is that channel of
        the layer's output (inference mode). A layer with a flat output (Dense) gives one Axes
        showing its vector as a row.

    Example:

    >>> fig = dlc.utils.plot_feature_maps(model, x_test[0], "conv2d")
    """
    fn = "plot_feature_maps"
    maps = feature_maps(model, x, layer)
    name = layer if isinstance(layer, str) else getattr(layer, "name", str(layer))
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        name = model.layers[int(layer)].name
    plt = _pyplot()
    if maps.ndim == 1:
        fig, ax = plt.subplots(figsize=(min(12, 2 + 0.08 * maps.size), 1.8))
        ax.imshow(maps[None, :], cmap="viridis", aspect="auto", interpolation="nearest")
        ax.set_yticks([])
        ax.set_xlabel("unit")
        ax.set_title(f"{name}: {maps.size} activations")
        fig.tight_layout()
        return fig
    if maps.ndim != 3:
        raise ValueError(f"{fn}: layer '{name}' has output shape {maps.shape} per sample; "
                         f"feature maps need (h, w, channels) or a flat vector")
    channels = maps.shape[-1] if max_maps is None else min(int(max_maps), maps.shape[-1])
    if channels < 1:
        raise ValueError(f"{fn}: argument `max_maps` must be positive, received {max_maps!r}")
    fig, tiles = _tiles(plt, channels, cols, 1.4, 1.55)
    for c, ax in enumerate(tiles):
        ax.imshow(maps[:, :, c], cmap="viridis", interpolation="nearest")
        ax.set_title(f"channel {c}", fontsize=7)
    fig.suptitle(f"{name}: {maps.shape[0]}x{maps.shape[1]}x{maps.shape[2]} feature maps")
    fig.tight_layout()
    return fig
