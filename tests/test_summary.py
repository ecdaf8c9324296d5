"""model.summary(): Keras's columns, plus neurons and activation memory per layer and the memory
of a training step, checked by hand arithmetic on the CNN-MNIST model; line_length, positions,
show_trainable, expand_nested and layer_range as Keras."""
import re

import pytest

import dlc
from dlc import layers as L
from dlc.models import Model, Sequential
from dlc.models.summary import training_memory


def cnn_mnist(optimizer="adadelta"):
    model = Sequential()
    model.add(L.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1), name="conv1"))
    model.add(L.Conv2D(64, (3, 3), activation="relu", name="conv2"))
    model.add(L.MaxPooling2D(pool_size=(2, 2), name="pool"))
    model.add(L.Dropout(0.25, name="drop1"))
    model.add(L.Flatten(name="flatten"))
    model.add(L.Dense(128, activation="relu", name="fc"))
    model.add(L.Dropout(0.5, name="drop2"))
    model.add(L.Dense(10, activation="softmax", name="out"))
    if optimizer:
        model.compile(loss="categorical_crossentropy", optimizer=optimizer)
    return model


def text_of(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    (text,) = lines
    return text


def table_rows(text):
    """The data rows of the table: lists of cell strings."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines()
            if line.startswith("│")]


def memory_line(text, label):
    (line,) = [l for l in text.splitlines() if l.strip().startswith(label)]
    values, nbytes = re.search(r"([\d,]+) values\s+([\d,]+) B", line).groups()
    return int(values.replace(",", "")), int(nbytes.replace(",", ""))


# Per layer of CNN-MNIST, by hand: output (h, w, c) -> neurons; params = (kh*kw*cin + 1) * cout.
HAND = {
    "conv1": ((26, 26, 32), 26 * 26 * 32, (3 * 3 * 1 + 1) * 32),
    "conv2": ((24, 24, 64), 24 * 24 * 64, (3 * 3 * 32 + 1) * 64),
    "pool": ((12, 12, 64), 12 * 12 * 64, 0),
    "drop1": ((12, 12, 64), 12 * 12 * 64, 0),
    "flatten": ((9216,), 9216, 0),
    "fc": ((128,), 128, (9216 + 1) * 128),
    "drop2": ((128,), 128, 0),
    "out": ((10,), 10, (128 + 1) * 10),
}


def test_neurons_and_activation_memory_per_layer_by_hand():
    text = text_of(cnn_mnist())
    header = [l for l in text.splitlines() if l.startswith("┃")][0]
    assert [c.strip() for c in header.split("┃")[1:-1]] == [
        "Layer (type)", "Output Shape", "Param #", "MACs", "Neurons", "Act. memory"]
    rows = table_rows(text)
    assert [r[0].split(" ")[0] for r in rows] == list(HAND)
    for row in rows:
        shape, neurons, params = HAND[row[0].split(" ")[0]]
        assert row[1] == "(None, " + ", ".join(map(str, shape)) + ")"
        assert row[2] == f"{params:,}"
        assert row[4] == f"{neurons:,}"
        assert row[5] == f"{neurons * 4:,} B"
    assert rows[0][5] == "86,528 B" and rows[1][5] == "147,456 B"


def test_training_step_totals_by_hand():
    text = text_of(cnn_mnist(), batch_size=128)
    outputs = sum(n for _, n, _ in HAND.values())
    assert outputs == 86_410
    inputs = 28 * 28
    params = sum(p for _, _, p in HAND.values())
    assert params == 1_199_882
    assert f" Total params: {params:,}" in text
    assert memory_line(text, "activations") == ((inputs + outputs) * 128, (inputs + outputs) * 128 * 4)
    assert memory_line(text, "activation grads") == (outputs * 128, outputs * 128 * 4)
    assert memory_line(text, "parameters") == (params, params * 4)
    assert memory_line(text, "parameter grads") == (params, params * 4)
    assert memory_line(text, "optimizer state") == (2 * params, 2 * params * 4)  # Adadelta: 2 slots
    total = (inputs + outputs) * 128 + outputs * 128 + params * 2 + 2 * params
    assert memory_line(text, "total") == (total, total * 4)
    assert total * 4 == 108_083_360
    assert "Training step at batch size 128" in text


def test_default_batch_size_is_32_and_the_optimizer_sets_its_slots():
    m = training_memory(cnn_mnist("sgd"))  # plain SGD keeps no state
    assert m["activations"] == (784 + 86_410) * 32 and m["optimizer_state"] == 0
    assert training_memory(cnn_mnist(dlc.optimizers.SGD(momentum=0.9)))["optimizer_state"] == 1_199_882
    assert training_memory(cnn_mnist("adam"))["optimizer_state"] == 2 * 1_199_882
    text = text_of(cnn_mnist(optimizer=None))
    assert "not compiled yet" in text and memory_line(text, "optimizer state") == (0, 0)
    assert "Training step at batch size 32" in text


def test_frozen_layers_have_no_gradients_nor_optimizer_state():
    model = cnn_mnist(optimizer=None)
    model.get_layer("fc").trainable = False
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    m = training_memory(model, 8)
    frozen = (9216 + 1) * 128
    assert m["parameters"] == 1_199_882
    assert m["parameter_gradients"] == 1_199_882 - frozen
    assert m["optimizer_state"] == 2 * (1_199_882 - frozen)
    text = text_of(model, show_trainable=True)
    rows = {r[0].split(" ")[0]: r for r in table_rows(text)}
    assert rows["fc"][-1] == "N" and rows["conv1"][-1] == "Y" and rows["pool"][-1] == "-"


def test_batch_size_is_checked():
    with pytest.raises(ValueError, match="batch_size"):
        cnn_mnist().summary(batch_size=0)


def test_line_length_sets_the_width_and_long_cells_wrap():
    model = cnn_mnist()
    natural = text_of(model).splitlines()[1]
    for width in (70, 100, 140):
        text = text_of(model, line_length=width)
        table = [l for l in text.splitlines() if l[:1] in "┏┃┡│├└"]
        assert {len(l) for l in table} == {width}
    narrow = text_of(model, line_length=70)
    assert len(narrow.splitlines()) > len(text_of(model).splitlines())  # wrapped cells
    assert len(natural) != 70
    with pytest.raises(ValueError, match="too short"):
        model.summary(line_length=20)


def test_positions_relative_and_absolute():
    model = cnn_mnist()
    rel = text_of(model, line_length=100, positions=[0.3, 0.5, 0.6, 0.75, 0.87, 1.0])
    top = rel.splitlines()[1]
    assert len(top) == 100
    edges = [i for i, ch in enumerate(top) if ch in "┳┓"]
    inner = 100 - 7
    assert edges[0] == 1 + round(0.3 * inner)  # the first column ends at 30% of the line
    absolute = text_of(model, line_length=100, positions=[28, 46, 56, 70, 81, 93])
    assert [l for l in absolute.splitlines() if l[:1] in "┏┃┡│├└"][0] == top
    with pytest.raises(ValueError, match="one entry per column"):
        model.summary(positions=[0.5, 1.0])


def test_layer_range_as_keras():
    text = text_of(cnn_mnist(), layer_range=["conv2", "flatten"])
    assert [r[0].split(" ")[0] for r in table_rows(text)] == ["conv2", "pool", "drop1", "flatten"]
    assert " Total params: 1,199,882" in text  # the totals stay the whole model's
    text = text_of(cnn_mnist(), layer_range=["drop.*", "drop.*"])  # regular expressions
    assert [r[0].split(" ")[0] for r in table_rows(text)] == ["drop1", "flatten", "fc", "drop2"]
    with pytest.raises(ValueError, match="match no layer"):
        cnn_mnist().summary(layer_range=["nope", "out"])
    with pytest.raises(ValueError, match="2 layer names"):
        cnn_mnist().summary(layer_range=["conv1"])


def test_functional_and_expand_nested():
    inner_in = L.Input((6,))
    inner = Model(inner_in, L.Dense(3, activation="relu", name="inner_dense")(
        L.Dense(4, activation="relu", name="inner_hidden")(inner_in)), name="block")
    inputs = L.Input((6,), name="features")
    x = L.Dense(6, name="pre")(inputs)
    outputs = L.Dense(2, activation="softmax", name="head")(inner(x))
    model = Model(inputs, outputs, name="outer")
    model.compile(loss="categorical_crossentropy", optimizer="adam")

    text = text_of(model)
    rows = table_rows(text)
    assert [r[0] for r in rows] == ["features (InputLayer)", "pre (Dense)", "block (Model)", "head (Dense)"]
    assert rows[0][4] == "6" and rows[2][4] == "3" and rows[2][2] == f"{6 * 4 + 4 + 4 * 3 + 3:,}"
    assert rows[3][6] == "block"  # Connected to
    expanded_text = text_of(model, expand_nested=True)
    names = [r[0] for r in table_rows(expanded_text)]
    assert names[:3] == ["features (InputLayer)", "pre (Dense)", "block (Model)"]
    assert names[3].endswith("(InputLayer)") and names[4:7] == [
        "└ inner_hidden (Dense)", "└ inner_dense (Dense)", "head (Dense)"]
    assert "│    └ inner_hidden (Dense)" in expanded_text  # indented by its depth, as Keras
    # Activations: the input, pre (6), the nested model's two layers (4, 3), head (2);
    # the nested model's output is its last layer's, not counted twice.
    m = training_memory(model, 10)
    assert m["output_elements"] == 6 + 4 + 3 + 2
    assert m["activations"] == (6 + 15) * 10 and m["activation_gradients"] == 15 * 10
