"""Writes the course notebooks (run: python notebooks/make_notebooks.py, then execute them with
`jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb`). The cells live here as
plain text so that changes are reviewable; the .ipynb files are generated from them."""
import ast
import json
import os
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "dlc", "examples")


def _statements(example, function):
    """The body of `function` in dlc/examples/`example` without its docstring and final
    `return`, dedented: the notebook shows the example's own lines instead of a copy."""
    with open(os.path.join(EXAMPLES, example)) as f:
        source = f.read()
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == function)
    body = [n for n in node.body if not isinstance(n, ast.Return)
            and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    lines = source.splitlines()[body[0].lineno - 1:body[-1].end_lineno]
    return "\n" + textwrap.dedent("\n".join(lines))


def notebook(cells):
    out = []
    for kind, src in cells:
        src = src.strip("\n")
        cell = {"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {"cells": out, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                                       "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


MNIST = [
    ("markdown", """
# The Keras CNN-MNIST example with dlc

The original Keras example, with only its imports changed (`import dlc as keras`). About 99.2%
test accuracy after 12 epochs (Adadelta with learning rate 1.0, Keras 2's default; Keras 3's
default is 0.001, so the rate is given)."""),
    ("code", """
import time
import numpy as np
import dlc as keras
from dlc import backend as K
from dlc.datasets import mnist
from dlc.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from dlc.models import Sequential

batch_size, num_classes, epochs = 128, 10, 12
img_rows, img_cols = 28, 28"""),
    ("code", """
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1).astype("float32") / 255
x_test = x_test.reshape(x_test.shape[0], img_rows, img_cols, 1).astype("float32") / 255
input_shape = (img_rows, img_cols, 1)
print("x_train shape:", x_train.shape)
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)"""),
    ("code", _statements("mnist_cnn.py", "build_model") + """
model.summary(batch_size=batch_size)"""),
    ("code", """
model.compile(loss=keras.losses.categorical_crossentropy,
              optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95),
              metrics=["accuracy"])
start = time.perf_counter()
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=1,
                    validation_data=(x_test, y_test))
print(f"training took {time.perf_counter() - start:.0f} s")
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])"""),
    ("markdown", "## The training curves, the mistakes, the first layer's filters and what it sees"),
    ("code", """
import matplotlib.pyplot as plt
keras.utils.plot_history(history)
plt.show()"""),
    ("code", """
probs = model.predict(x_test, verbose=0)
pred, true = probs.argmax(axis=1), y_test.argmax(axis=1)
wrong = np.flatnonzero(pred != true)[:24]
print(len(np.flatnonzero(pred != true)), "misclassified test images; the first 24:")
keras.utils.plot_images(x_test[wrong], true[wrong], pred[wrong], n=24)
plt.show()"""),
    ("code", """
keras.utils.plot_filters(model.layers[0])
keras.utils.plot_feature_maps(model, x_test[:1], model.layers[1])
plt.show()"""),
]


HOMEWORK = [
    ("markdown", """
# Homework: Fashion-MNIST with dlc

The six steps of the homework:
1. explore the structure and statistics of the data set;
2. build models in both styles, Sequential and functional;
3. study the layers, losses, metrics, optimizers and activations;
4. adapt the CNN-MNIST example to Fashion-MNIST;
5. insert an Inception module and study its quality with a confusion matrix and F1;
6. push for the best F1."""),
    ("markdown", "## 1. The data set"),
    ("code", """
import numpy as np
import matplotlib.pyplot as plt
import dlc
from dlc import layers
from dlc.datasets import fashion_mnist

dlc.utils.set_random_seed(0)
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
print("train:", x_train.shape, x_train.dtype, " test:", x_test.shape)
print("images per class (train):", np.bincount(y_train), " (test):", np.bincount(y_test))
print(f"pixels: mean {x_train.mean():.1f}, std {x_train.std():.1f}, min {x_train.min()}, max {x_train.max()}")
for c in range(10):
    imgs = x_train[y_train == c]
    print(f"  {CLASSES[c]:<12} mean pixel {imgs.mean():6.1f}   ink (pixels > 0) {np.mean(imgs > 0):.2f}")"""),
    ("code", """
first = np.concatenate([np.flatnonzero(y_train == c)[:3] for c in range(10)])
dlc.utils.plot_images(x_train[first], y_train[first], class_names=CLASSES, n=30, cols=10)
plt.show()
plt.figure(figsize=(8, 3))
for c in (0, 1, 6, 8):
    plt.hist(x_train[y_train == c].mean(axis=(1, 2)), bins=50, alpha=0.5, label=CLASSES[c])
plt.xlabel("mean pixel of an image"); plt.legend(); plt.show()"""),
    ("code", """
x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255
y_train_1h = dlc.utils.to_categorical(y_train, 10)
y_test_1h = dlc.utils.to_categorical(y_test, 10)"""),
    ("markdown", """
## 2. Sequential and functional models

The same network both ways: a Sequential stack, and the functional API (`Input`, layers
called on tensors, `Model(inputs, outputs)`), which also builds branches and merges. The summary
counts the parameters, the neurons and the memory per layer, as the lectures ask."""),
    ("code", """
seq = dlc.Sequential([layers.Input(shape=(28, 28, 1)), layers.Conv2D(8, 3, activation="relu"),
                      layers.Flatten(), layers.Dense(10, activation="softmax")])
inputs = layers.Input(shape=(28, 28, 1))
x = layers.Conv2D(8, 3, activation="relu")(inputs)
outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
fun = dlc.Model(inputs, outputs)
fun.set_weights(seq.get_weights())
print("same predictions:", np.array_equal(seq.predict(x_test[:5], verbose=0), fun.predict(x_test[:5], verbose=0)))
fun.summary()"""),
    ("markdown", """
## 3. Layers, losses, metrics, optimizers, activations

A convolution of 10 filters 3x3 over 6 channels has 10 * 3 * 3 * 6 + 10 = 550 parameters; a
depthwise separable one (3x3 depthwise, then 1x1 pointwise to 10 channels) has far fewer."""),
    ("code", """
probe = layers.Input(shape=(32, 32, 6))
for layer in (layers.Conv2D(10, 3), layers.Conv2D(10, 3, strides=2, padding="same"), layers.Conv2D(10, 3, dilation_rate=2),
              layers.SeparableConv2D(10, 3), layers.DepthwiseConv2D(3), layers.Conv2DTranspose(10, 3, strides=2),
              layers.MaxPooling2D(2), layers.AveragePooling2D(3, strides=1), layers.GlobalAveragePooling2D()):
    out = layer(probe)
    print(f"{type(layer).__name__:<22} output {str(out.shape):<20} parameters {layer.count_params()}")"""),
    ("code", """
z = np.linspace(-4, 4, 200).astype("float32")
plt.figure(figsize=(8, 3))
for name in ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu"):
    plt.plot(z, dlc.activations.get(name)(z), label=name)
plt.legend(); plt.grid(alpha=0.3); plt.title("activations"); plt.show()
y_small, p_small = y_test[:4], np.full((4, 10), 0.1, "float32")
print("categorical cross-entropy of a uniform guess:", dlc.losses.CategoricalCrossentropy()(y_test_1h[:4], p_small),
      "= ln 10 =", np.log(10))
print("sparse, on integer labels:", dlc.losses.SparseCategoricalCrossentropy()(y_small, p_small))"""),
    ("code", """
# Optimizers from the lectures on the same small network and data, one epoch each.
curves = {}
for name, opt in [("SGD", dlc.optimizers.SGD(0.05)), ("momentum", dlc.optimizers.SGD(0.05, momentum=0.9)),
                  ("Adagrad", dlc.optimizers.Adagrad(0.05)), ("RMSprop", dlc.optimizers.RMSprop(1e-3)),
                  ("Adam", dlc.optimizers.Adam(1e-3)), ("Adadelta", dlc.optimizers.Adadelta(1.0))]:
    dlc.utils.set_random_seed(1)
    m = dlc.Sequential([layers.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(64, activation="relu"),
                        layers.Dense(10, activation="softmax")])
    m.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["accuracy"])
    trace = dlc.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs, t=curves.setdefault(name, []): t.append(logs["loss"]))
    m.fit(x_train[:12000], y_train_1h[:12000], batch_size=64, epochs=1, verbose=0, callbacks=[trace])
plt.figure(figsize=(8, 3))
for name, t in curves.items():
    plt.plot(t, label=name)
plt.ylim(0, 2.5); plt.xlabel("batch"); plt.ylabel("running loss"); plt.legend(); plt.show()"""),
    ("code", """
# Backpropagation, checked: finite differences against dlc's gradients, per layer.
probe_model = dlc.Sequential([layers.Input(shape=(28, 28, 1)), layers.Conv2D(4, 3, activation="tanh"),
                              layers.BatchNormalization(), layers.Flatten(), layers.Dense(10, activation="softmax")])
probe_model.compile(optimizer="sgd", loss="categorical_crossentropy")
dlc.utils.check_gradients(probe_model, x_train[:16], y_train_1h[:16]);"""),
    ("markdown", "## 4. The CNN-MNIST network on Fashion-MNIST"),
    ("code", """
baseline = dlc.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, (3, 3), activation="relu"),
    layers.Conv2D(64, (3, 3), activation="relu"),
    layers.MaxPooling2D((2, 2)),
    layers.Dropout(0.25),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dropout(0.5),
    layers.Dense(10, activation="softmax"),
])
baseline.compile(loss="categorical_crossentropy", optimizer=dlc.optimizers.Adadelta(learning_rate=1.0), metrics=["accuracy"])
h0 = baseline.fit(x_train, y_train_1h, batch_size=128, epochs=3, validation_split=0.1, verbose=2)
print("test loss, accuracy:", baseline.evaluate(x_test, y_test_1h, verbose=0))"""),
    ("markdown", """
## 5. With an Inception module (functional API)

GoogLeNet's module: parallel 1x1, 3x3 and 5x5 convolutions and a 3x3 max-pool, each reduced by
1x1 convolutions, concatenated along the channels."""),
    ("code", """
import inspect
from dlc.examples import fashion_inception
print(inspect.getsource(fashion_inception.inception_module))
model = fashion_inception.build_model()
model.summary()"""),
    ("code", """
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, y_train_1h, batch_size=128, epochs=3, validation_split=0.1, verbose=2,
                    callbacks=[dlc.callbacks.EarlyStopping(patience=2, restore_best_weights=True)])
print("test loss, accuracy:", model.evaluate(x_test, y_test_1h, verbose=0))
dlc.utils.plot_history(history); plt.show()"""),
    ("code", """
probs = model.predict(x_test, verbose=0)
pred = probs.argmax(axis=1)
cm = dlc.metrics.confusion_matrix(y_test, pred, num_classes=10)
dlc.utils.plot_confusion_matrix(cm, CLASSES); plt.show()
print(dlc.metrics.classification_report(y_test, pred, target_names=CLASSES, digits=3))
f1 = dlc.metrics.F1Score(average="macro")
f1.update_state(y_test_1h, probs)
print("macro F1:", float(f1.result()))
wrong = np.flatnonzero(pred != y_test)[:24]
dlc.utils.plot_images(x_test[wrong], y_test[wrong], pred[wrong], class_names=CLASSES, n=24); plt.show()"""),
    ("markdown", """
## 6. Pushing F1 up

The lectures' checklist together (`dlc.examples.fashion_best`): normalised inputs, augmentation
(random shifts and horizontal flips, training only), batch normalisation after every
convolution, two Inception modules, He initialisation, AdamW with a warmup and a cosine decay,
label smoothing, early stopping on a validation split taken from the training data, never on
the test set."""),
    ("code", """
from dlc.examples import fashion_best
result = fashion_best.main(["--verbose", "2"])
result"""),
]

if __name__ == "__main__":
    for name, cells in (("mnist_cnn.ipynb", MNIST), ("fashion_mnist_homework.ipynb", HOMEWORK)):
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(notebook(cells), f, indent=1)
            f.write("\n")
        print("wrote", name)
