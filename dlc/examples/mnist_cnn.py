"""The Keras CNN-MNIST example, unchanged except for its imports.

Trains a simple convnet on MNIST: about 99.25% test accuracy after 12 epochs (Adadelta with
learning rate 1.0 and rho 0.95, the Keras 2 defaults the original example used). The network
is in `build_model`, which the CNN-MNIST notebook shows line for line.

Run: `python -m dlc.examples.mnist_cnn` (options: --epochs, --batch-size, --threads,
--limit N to train on the first N images for a quick check). The environment variables
DLC_EXAMPLE_EPOCHS and DLC_EXAMPLE_LIMIT set the defaults of --epochs and --limit, so the
README's command runs in its short form unchanged: `DLC_EXAMPLE_EPOCHS=1 DLC_EXAMPLE_LIMIT=2000`.
Without MNIST (offline, no copy on disk) it prints where to put the files and exits with 1.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import dlc
from dlc import backend as K
from dlc.datasets import mnist
from dlc.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from dlc.models import Sequential
import dlc as keras


def _env_int(parser: argparse.ArgumentParser, name: str, default):
    """The positive int in environment variable `name`, else `default`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        parser.error(f"environment variable {name} must be a positive integer, received {raw!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, received {text!r}")
    return value


def build_model(input_shape, num_classes):
    """The example's convnet, layer for layer (notebooks/make_notebooks.py shows these lines)."""
    model = Sequential()
    model.add(Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=input_shape))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(num_classes, activation="softmax"))
    return model


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=_positive, default=_env_int(parser, "DLC_EXAMPLE_EPOCHS", 12),
                        help="epochs to train (default 12, or $DLC_EXAMPLE_EPOCHS)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    parser.add_argument("--limit", type=_positive, default=_env_int(parser, "DLC_EXAMPLE_LIMIT", None),
                        help="train on the first N images only (default all, or $DLC_EXAMPLE_LIMIT)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    if args.threads:
        dlc.set_num_threads(args.threads)
    if args.seed is not None:
        dlc.utils.set_random_seed(args.seed)

    batch_size = args.batch_size
    num_classes = 10
    epochs = args.epochs

    # input image dimensions
    img_rows, img_cols = 28, 28

    # the data, split between train and test sets
    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except (mnist.DatasetNotFoundError, ValueError) as e:  # offline without the files, or a
        print(e, file=sys.stderr)                          # corrupt one: say where they go
        raise SystemExit(1) from None
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]

    if K.image_data_format() == "channels_first":
        x_train = x_train.reshape(x_train.shape[0], 1, img_rows, img_cols)
        x_test = x_test.reshape(x_test.shape[0], 1, img_rows, img_cols)
        input_shape = (1, img_rows, img_cols)
    else:
        x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1)
        x_test = x_test.reshape(x_test.shape[0], img_rows, img_cols, 1)
        input_shape = (img_rows, img_cols, 1)

    x_train = x_train.astype("float32")
    x_test = x_test.astype("float32")
    x_train /= 255
    x_test /= 255
    print("x_train shape:", x_train.shape)
    print(x_train.shape[0], "train samples")
    print(x_test.shape[0], "test samples")

    # convert class vectors to binary class matrices
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = build_model(input_shape, num_classes)

    model.compile(loss=keras.losses.categorical_crossentropy,
                  optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95),
                  metrics=["accuracy"])

    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=args.verbose,
              validation_data=(x_test, y_test))
    elapsed = time.perf_counter() - start
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    print(f"Training time: {elapsed:.1f} s ({dlc.get_num_threads()} threads, {dlc.cpu_features()['simd']})")
    return float(score[1])


if __name__ == "__main__":
    main()
