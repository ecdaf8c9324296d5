"""The homework's last step, "push for the best F1 you can reach": a recipe that puts the
lectures' checklist together on Fashion-MNIST. Normalised inputs, light augmentation in the
model (random shifts and horizontal flips, training only), batch normalisation after every
convolution, two Inception modules, He initialisation, AdamW with a warmup-then-cosine learning
rate, label smoothing, early stopping on a validation split (never on the test set), then the
confusion matrix, per-class precision / recall / F1 and the macro F1 on the test set.

Run: `python -m dlc.examples.fashion_best` (options: --epochs, --batch-size, --threads,
--seed, --limit N to train on the first N images, --plots FILE to save the curves and the
confusion matrix as a PNG).
"""
from __future__ import annotations

import sys
import time

import numpy as np

import dlc
from dlc import layers
from dlc.datasets import fashion_mnist
from dlc.examples.fashion_inception import CLASSES, parse_and_seed, training_arguments


def conv_bn(x, filters, kernel, strides=1):
    """Conv2D (no bias: batch norm's beta replaces it) -> BatchNormalization -> ReLU."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      kernel_initializer="he_normal")(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def inception_module(x, f1, f3r, f3, f5r, f5, fp):
    """GoogLeNet's module with batch norm: 1x1, 1x1->3x3, 1x1->5x5 and 3x3-max-pool->1x1
    branches, concatenated along channels."""
    b1 = conv_bn(x, f1, 1)
    b3 = conv_bn(conv_bn(x, f3r, 1), f3, 3)
    b5 = conv_bn(conv_bn(x, f5r, 1), f5, 5)
    bp = conv_bn(layers.MaxPooling2D(3, strides=1, padding="same")(x), fp, 1)
    return layers.concatenate([b1, b3, b5, bp])


def augmentation():
    """Random shifts of up to 2 pixels and horizontal flips (clothes are left-right
    symmetric), active in training only; None when this dlc has no augmentation layers."""
    if not hasattr(dlc.layers, "RandomTranslation"):
        return None
    return [layers.RandomTranslation(0.08, 0.08, fill_mode="constant"), layers.RandomFlip("horizontal")]


def build_model(num_classes: int = 10) -> dlc.Model:
    inputs = layers.Input(shape=(28, 28, 1))
    x = inputs
    for layer in augmentation() or []:
        x = layer(x)
    x = conv_bn(x, 48, 3)
    x = layers.MaxPooling2D(2)(x)                      # 14 x 14
    x = inception_module(x, 24, 24, 32, 8, 8, 16)      # 80 channels
    x = inception_module(x, 32, 32, 48, 8, 16, 16)     # 112 channels
    x = layers.MaxPooling2D(2)(x)                      # 7 x 7
    x = conv_bn(x, 128, 3)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return dlc.Model(inputs, outputs, name="fashion_best")


def main(argv=None) -> dict:
    parser = training_arguments(__doc__, epochs=11)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--plots", default=None, help="save the curves and confusion matrix here (PNG)")
    args = parse_and_seed(parser, argv, verbose=2)
    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        raise SystemExit(1)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    mean, std = x_train.mean() / 255, x_train.std() / 255
    x_train = ((x_train[..., None].astype("float32") / 255) - mean) / std
    x_test = ((x_test[..., None].astype("float32") / 255) - mean) / std

    model = build_model()
    model.summary()
    steps = args.epochs * int(np.ceil(len(x_train) * 0.9 / args.batch_size))
    schedule = dlc.optimizers.schedules.CosineDecay(1e-4, decay_steps=max(1, steps - steps // 10), alpha=0.01,
                                                    warmup_target=3e-3, warmup_steps=steps // 10)
    model.compile(optimizer=dlc.optimizers.AdamW(learning_rate=schedule, weight_decay=5e-4),
                  loss=dlc.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"])
    stop = dlc.callbacks.EarlyStopping(monitor="val_accuracy", patience=4, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(x_train, dlc.utils.to_categorical(y_train, 10), batch_size=args.batch_size,
                        epochs=args.epochs, validation_split=0.1, callbacks=[stop], verbose=args.verbose)
    elapsed = time.perf_counter() - start

    probs = model.predict(x_test, verbose=0)
    pred = probs.argmax(axis=1)
    cm = dlc.metrics.confusion_matrix(y_test, pred, num_classes=10)
    f1 = dlc.metrics.F1Score(average=None)
    f1.update_state(dlc.utils.to_categorical(y_test, 10), probs)
    macro_f1 = float(np.mean(f1.result()))
    acc = float(np.mean(pred == y_test))
    print("Confusion matrix (rows: true class, columns: predicted):")
    print(cm)
    print(dlc.metrics.classification_report(y_test, pred, target_names=CLASSES, digits=4))
    print(f"Test accuracy: {acc:.4f}")
    print(f"Macro F1: {macro_f1:.4f}")
    print(f"Training time: {elapsed:.1f} s ({len(history.epoch)} epochs, {dlc.get_num_threads()} threads, "
          f"{dlc.cpu_features()['simd']})")
    if args.plots:
        import matplotlib

        matplotlib.use("Agg")
        fig = dlc.utils.plot_history(history)
        fig.savefig(args.plots.replace(".png", "_history.png"))
        dlc.utils.plot_confusion_matrix(cm, CLASSES).savefig(args.plots)
    return {"accuracy": acc, "macro_f1": macro_f1, "seconds": elapsed}


if __name__ == "__main__":
    main()
