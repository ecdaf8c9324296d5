"""The course homework: the CNN-MNIST network adapted to Fashion-MNIST with an Inception module
(parallel 1x1, 3x3 and 5x5 convolutions and a pooled branch, each reduced by 1x1 convolutions,
concatenated along channels), built with the functional API; then a confusion matrix and F1.

Run: `python -m dlc.examples.fashion_inception` (options: --epochs, --batch-size, --threads).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import dlc
from dlc import layers
from dlc.datasets import fashion_mnist
from dlc.metrics import F1Score, confusion_matrix
from dlc.models import Model

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def inception_module(x, f1, f3r, f3, f5r, f5, fp):
    """GoogLeNet's module: four branches concatenated along channels."""
    b1 = layers.Conv2D(f1, 1, padding="same", activation="relu")(x)
    b3 = layers.Conv2D(f3r, 1, padding="same", activation="relu")(x)
    b3 = layers.Conv2D(f3, 3, padding="same", activation="relu")(b3)
    b5 = layers.Conv2D(f5r, 1, padding="same", activation="relu")(x)
    b5 = layers.Conv2D(f5, 5, padding="same", activation="relu")(b5)
    bp = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    bp = layers.Conv2D(fp, 1, padding="same", activation="relu")(bp)
    return layers.Concatenate()([b1, b3, b5, bp])


def build_model(num_classes: int = 10) -> Model:
    inputs = layers.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, (3, 3), activation="relu")(inputs)
    x = layers.Conv2D(64, (3, 3), activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = inception_module(x, 32, 32, 48, 8, 16, 16)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return Model(inputs, outputs, name="fashion_inception")


def training_arguments(doc: str, epochs: int) -> argparse.ArgumentParser:
    """The options the Fashion-MNIST examples share: --epochs (default `epochs`),
    --batch-size, --threads and --seed; the parser is described by `doc`'s first line."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def parse_and_seed(parser: argparse.ArgumentParser, argv, verbose: int) -> argparse.Namespace:
    """Adds --verbose (default `verbose`), parses `argv`, then applies --threads and seeds dlc."""
    parser.add_argument("--verbose", type=int, default=verbose)
    args = parser.parse_args(argv)
    if args.threads:
        dlc.set_num_threads(args.threads)
    dlc.utils.set_random_seed(args.seed)
    return args


def main(argv=None) -> dict:
    args = parse_and_seed(training_arguments(__doc__, epochs=3), argv, verbose=1)

    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    except (fashion_mnist.DatasetNotFoundError, ValueError) as e:  # offline without the files
        print(e, file=sys.stderr)
        raise SystemExit(1) from None
    x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255
    y_train_1h = dlc.utils.to_categorical(y_train, 10)
    y_test_1h = dlc.utils.to_categorical(y_test, 10)

    model = build_model()
    model.summary()
    model.compile(loss="categorical_crossentropy", optimizer=dlc.optimizers.Adam(),
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train_1h, batch_size=args.batch_size, epochs=args.epochs,
              verbose=args.verbose, validation_data=(x_test, y_test_1h))
    elapsed = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, y_test_1h, verbose=0)
    probs = model.predict(x_test, verbose=0)
    cm = confusion_matrix(y_test, probs)
    f1 = F1Score(average=None)
    f1.update_state(y_test_1h, probs)
    per_class = f1.result()
    print("Test loss:", loss)
    print("Test accuracy:", acc)
    print(f"Training time: {elapsed:.1f} s")
    print("Confusion matrix (rows: true class, columns: predicted):")
    print(cm)
    for name, score in zip(CLASSES, per_class):
        print(f"  F1 {name:<12} {score:.4f}")
    print(f"Macro F1: {float(np.mean(per_class)):.4f}")
    return {"loss": loss, "accuracy": acc, "macro_f1": float(np.mean(per_class))}


if __name__ == "__main__":
    main()
