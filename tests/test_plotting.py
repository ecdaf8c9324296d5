"""dlc.utils.plot_*: headless (Agg) figures whose content is checked: axes, the lines' data, the
images' data, titles and labels; matplotlib stays optional."""
import os
import subprocess
import sys

import numpy as np
import pytest

import dlc
from dlc import layers as L
from dlc.models import Sequential

matplotlib = pytest.importorskip("matplotlib", reason="needs matplotlib: pip install -e '.[plot]'")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_data(ax):
    (image,) = ax.get_images()
    return np.asarray(image.get_array())


def tiny_cnn():
    dlc.utils.set_random_seed(7)
    model = Sequential([L.Input((6, 6, 1)), L.Conv2D(3, 3, activation="relu", name="conv"),
                        L.Flatten(name="flat"), L.Dense(2, activation="softmax", name="out")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


# ---------------------------------------------------------------------------- optional
def test_import_dlc_does_not_import_matplotlib():
    where = os.path.dirname(os.path.dirname(os.path.abspath(dlc.__file__)))
    code = ("import sys, dlc, dlc.utils; dlc.utils.to_categorical([1], 2); "
            "f = dlc.utils.plot_history; assert callable(f); "
            "assert 'matplotlib' not in sys.modules, 'imported'")
    res = subprocess.run([sys.executable, "-c", code], cwd=where, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": where})
    assert res.returncode == 0, res.stderr


def test_without_matplotlib_the_error_names_it(monkeypatch):
    from dlc.utils import plotting

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"matplotlib.*pip install matplotlib"):
        plotting.plot_history({"loss": [1.0]})


def test_exported_from_dlc_utils():
    for name in ("plot_history", "plot_confusion_matrix", "plot_images", "plot_filters",
                 "plot_feature_maps", "check_gradients"):
        assert name in dir(dlc.utils) and callable(getattr(dlc.utils, name))


# ---------------------------------------------------------------------------- history
def test_plot_history_lines_equal_the_history(rng):
    model = tiny_cnn()
    x = rng.random((20, 6, 6, 1), dtype=np.float32)
    y = dlc.utils.to_categorical(rng.integers(0, 2, 20), 2)
    history = model.fit(x, y, epochs=3, batch_size=5, validation_split=0.25, verbose=0)
    fig = dlc.utils.plot_history(history)
    assert isinstance(fig, matplotlib.figure.Figure)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    for ax, name in zip(axes, ["loss", "accuracy"]):
        train, val = ax.get_lines()
        assert train.get_label() == "training" and val.get_label() == "validation"
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
        np.testing.assert_allclose(train.get_ydata(), history.history[name])
        np.testing.assert_allclose(val.get_ydata(), history.history["val_" + name])
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == name


def test_plot_history_of_a_dict_and_chosen_metrics():
    logs = {"loss": [0.9, 0.5, 0.4, 0.3], "accuracy": [0.5, 0.7, 0.8, 0.85]}
    fig = dlc.utils.plot_history(logs, metrics=["accuracy"])
    (ax,) = fig.get_axes()
    (line,) = ax.get_lines()  # no validation values: one line
    np.testing.assert_allclose(line.get_ydata(), logs["accuracy"])
    with pytest.raises(ValueError, match="val_loss"):
        dlc.utils.plot_history(logs, metrics=["val_loss"])


# ---------------------------------------------------------------------------- confusion matrix
def test_plot_confusion_matrix_image_is_the_matrix():
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 4]])
    names = ["cat", "dog", "bird"]
    fig = dlc.utils.plot_confusion_matrix(cm, names)
    ax = fig.get_axes()[0]
    np.testing.assert_array_equal(image_data(ax), cm)
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert ax.get_xlabel() == "Predicted label" and ax.get_ylabel() == "True label"
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(v) for v in cm.ravel())
    assert len(fig.get_axes()) == 2  # the matrix and its colorbar


def test_plot_confusion_matrix_normalized_by_row():
    cm = np.array([[3, 1], [0, 0]])
    fig = dlc.utils.plot_confusion_matrix(cm, ["a", "b"], normalize=True)
    ax = fig.get_axes()[0]
    np.testing.assert_allclose(image_data(ax), [[0.75, 0.25], [0.0, 0.0]])
    assert "normalized" in ax.get_title()
    assert "0.75" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="3 names"):
        dlc.utils.plot_confusion_matrix(np.eye(3), ["a", "b"])


# ---------------------------------------------------------------------------- images
def test_plot_images_titles_and_misclassified_highlighted(rng):
    x = rng.integers(0, 256, (10, 5, 5, 1)).astype(np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    probs = np.eye(3)[[0, 1, 0, 0, 2, 2, 0, 1, 2, 0]]  # samples 2 and 4 are wrong
    fig = dlc.utils.plot_images(x, labels, probs, class_names=["zero", "one", "two"], n=6)
    axes = fig.get_axes()
    shown = [ax for ax in axes if ax.get_images()]
    assert len(shown) == 6
    for i, ax in enumerate(shown):
        np.testing.assert_array_equal(image_data(ax), x[i, :, :, 0])
    assert shown[2].get_title() == "true: two\npred: zero"
    wrong = {i for i, ax in enumerate(shown)
             if matplotlib.colors.to_hex(ax.title.get_color()) == matplotlib.colors.to_hex("tab:red")}
    assert wrong == {2, 4}
    assert shown[2].spines["left"].get_linewidth() == 3
    assert "2 of 6 misclassified" in fig._suptitle.get_text()


def test_plot_images_labels_only_one_hot_and_n_capped(rng):
    x = rng.random((3, 4, 4), dtype=np.float32)
    fig = dlc.utils.plot_images(x, np.eye(2)[[1, 0, 1]], n=16)
    shown = [ax for ax in fig.get_axes() if ax.get_images()]
    assert [ax.get_title() for ax in shown] == ["1", "0", "1"]


# ---------------------------------------------------------------------------- filters and maps
def test_plot_filters_shows_each_kernel():
    model = tiny_cnn()
    conv = model.get_layer("conv")
    fig = dlc.utils.plot_filters(conv)
    shown = [ax for ax in fig.get_axes() if ax.get_images()]
    assert len(shown) == 3
    kernel = conv.get_weights()[0]
    for f, ax in enumerate(shown):
        assert ax.get_title() == f"filter {f}"
        np.testing.assert_allclose(image_data(ax), kernel[:, :, 0, f])
    with pytest.raises(ValueError, match="kernel"):
        dlc.utils.plot_filters(model.get_layer("flat"))


def test_plot_feature_maps_are_the_layers_activations(rng):
    model = tiny_cnn()
    x = rng.random((6, 6, 1), dtype=np.float32)
    fig = dlc.utils.plot_feature_maps(model, x, "conv")
    shown = [ax for ax in fig.get_axes() if ax.get_images()]
    assert len(shown) == 3
    # The layer's output by hand: a sub-model up to it.
    sub = dlc.Model(model.inputs, model.layer_nodes(model.get_layer("conv"))[0].output)
    expected = sub.predict(x[None], verbose=0)[0]
    for c, ax in enumerate(shown):
        assert ax.get_title() == f"channel {c}"
        np.testing.assert_allclose(image_data(ax), expected[:, :, c], rtol=1e-6, atol=1e-7)
    # A flat layer: one row of activations; the layer by index.
    fig = dlc.utils.plot_feature_maps(model, x[None], 2)
    (ax,) = fig.get_axes()
    np.testing.assert_allclose(image_data(ax)[0], model.predict(x[None], verbose=0)[0], rtol=1e-6)
    with pytest.raises(ValueError, match="one image"):
        dlc.utils.plot_feature_maps(model, np.zeros((2, 6, 6, 1), np.float32), "conv")
