"""Writes the course notebooks (run: python notebooks/make_notebooks.py). The cells live here as
plain text so that changes are reviewable; the .ipynb files are generated from them."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


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

The original Keras example, with only its imports changed. About 99.25% test accuracy after 12
epochs (Adadelta with learning rate 1.0, as Keras 2's default was)."""),
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
    ("code", """
model = Sequential()
model.add(Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=input_shape))
model.add(Conv2D(64, (3, 3), activation="relu"))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Flatten())
model.add(Dense(128, activation="relu"))
model.add(Dropout(0.5))
model.add(Dense(num_classes, activation="softmax"))
model.summary()"""),
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
    ("code", """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
for key in ("loss", "val_loss"):
    ax[0].plot(history.history[key], label=key)
for key in ("accuracy", "val_accuracy"):
    ax[1].plot(history.history[key], label=key)
for a in ax:
    a.set_xlabel("epoch"); a.legend()
plt.show()"""),
]

HOMEWORK = [
    ("markdown", """
# Homework: Fashion-MNIST with dlc

1. Explore the data set. 2. Sequential and functional models. 3. Core, convolutional, pooling
and merge layers, losses, metrics, optimizers, activations. 4. The CNN-MNIST network adapted
to Fashion-MNIST. 5. An Inception module, with a confusion matrix and F1. 6. Push F1 up."""),
    ("code", """
import numpy as np
import matplotlib.pyplot as plt
import dlc
from dlc import layers
from dlc.datasets import fashion_mnist
from dlc.metrics import F1Score, confusion_matrix

dlc.utils.set_random_seed(0)
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
print(x_train.shape, x_train.dtype, y_train.shape, x_test.shape)
print("images per class (train):", np.bincount(y_train))
print("mean pixel:", x_train.mean(), " std:", x_train.std())"""),
    ("code", """
fig, axes = plt.subplots(2, 10, figsize=(14, 3))
for c in range(10):
    for r in range(2):
        axes[r, c].imshow(x_train[y_train == c][r], cmap="gray")
        axes[r, c].axis("off")
    axes[0, c].set_title(CLASSES[c], fontsize=8)
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
    ("markdown", "## The CNN-MNIST network on Fashion-MNIST (Sequential API)"),
    ("code", """
baseline = dlc.models.Sequential([
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
h0 = baseline.fit(x_train, y_train_1h, batch_size=128, epochs=3, validation_split=0.1)
print(baseline.evaluate(x_test, y_test_1h, verbose=0))"""),
    ("markdown", "## With an Inception module (functional API)"),
    ("code", """
def inception_module(x, f1, f3r, f3, f5r, f5, fp):
    b1 = layers.Conv2D(f1, 1, padding="same", activation="relu")(x)
    b3 = layers.Conv2D(f3r, 1, padding="same", activation="relu")(x)
    b3 = layers.Conv2D(f3, 3, padding="same", activation="relu")(b3)
    b5 = layers.Conv2D(f5r, 1, padding="same", activation="relu")(x)
    b5 = layers.Conv2D(f5, 5, padding="same", activation="relu")(b5)
    bp = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    bp = layers.Conv2D(fp, 1, padding="same", activation="relu")(bp)
    return layers.Concatenate()([b1, b3, b5, bp])

inputs = layers.Input(shape=(28, 28, 1))
x = layers.Conv2D(32, (3, 3), activation="relu")(inputs)
x = layers.Conv2D(64, (3, 3), activation="relu")(x)
x = layers.MaxPooling2D((2, 2))(x)
x = inception_module(x, 32, 32, 48, 8, 16, 16)
x = layers.MaxPooling2D((2, 2))(x)
x = layers.Dropout(0.25)(x)
x = layers.Flatten()(x)
x = layers.Dense(128, activation="relu")(x)
x = layers.Dropout(0.5)(x)
outputs = layers.Dense(10, activation="softmax")(x)
model = dlc.models.Model(inputs, outputs, name="fashion_inception")
model.summary()"""),
    ("code", """
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, y_train_1h, batch_size=128, epochs=3, validation_split=0.1,
                    callbacks=[dlc.callbacks.EarlyStopping(patience=2, restore_best_weights=True)])
print(model.evaluate(x_test, y_test_1h, verbose=0))"""),
    ("code", """
probs = model.predict(x_test, verbose=0)
cm = confusion_matrix(y_test, probs)
f1 = F1Score(average=None)
f1.update_state(y_test_1h, probs)
for name, score in zip(CLASSES, f1.result()):
    print(f"{name:<12} F1 = {score:.3f}")
print("macro F1:", float(np.mean(f1.result())))
plt.figure(figsize=(6, 5))
plt.imshow(cm, cmap="Blues")
plt.xticks(range(10), CLASSES, rotation=90); plt.yticks(range(10), CLASSES)
plt.xlabel("predicted"); plt.ylabel("true"); plt.colorbar(); plt.show()"""),
    ("code", """
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
for key in ("loss", "val_loss"):
    ax[0].plot(history.history[key], label=key)
for key in ("accuracy", "val_accuracy"):
    ax[1].plot(history.history[key], label=key)
for a in ax:
    a.set_xlabel("epoch"); a.legend()
plt.show()"""),
]

if __name__ == "__main__":
    for name, cells in (("mnist_cnn.ipynb", MNIST), ("fashion_mnist_homework.ipynb", HOMEWORK)):
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(notebook(cells), f, indent=1)
            f.write("\n")
        print("wrote", name)
