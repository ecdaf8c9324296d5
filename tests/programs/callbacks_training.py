"""A training run with the usual callbacks: EarlyStopping(restore_best_weights),
ReduceLROnPlateau, LearningRateScheduler, ModelCheckpoint(save_best_only), CSVLogger,
TerminateOnNaN and a LambdaCallback."""
import csv
import math
import os
import tempfile

import dlc as keras
from dlc import layers

keras.utils.set_random_seed(0)

(x, y), (x_test, y_test) = keras.datasets.mnist.load_data()
x = x[:800].reshape(-1, 784).astype("float32") / 255
y = y[:800]
work = tempfile.mkdtemp()
seen = []
model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(64, activation="relu"),
                          layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
    keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
    keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 3 else lr * math.exp(-0.1)),
    keras.callbacks.ModelCheckpoint(os.path.join(work, "best.weights.h5"), save_best_only=True,
                                    save_weights_only=True),
    keras.callbacks.CSVLogger(os.path.join(work, "log.csv")),
    keras.callbacks.TerminateOnNaN(),
    keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["val_loss"])),
]
history = model.fit(x, y, validation_split=0.25, epochs=8, batch_size=32, callbacks=callbacks, verbose=2)
rows = list(csv.DictReader(open(os.path.join(work, "log.csv"))))
print(len(rows), "epochs logged; learning rates:", history.history.get("learning_rate"))
assert len(rows) == len(history.epoch) == len(seen)
assert os.path.exists(os.path.join(work, "best.weights.h5"))
assert min(history.history["val_loss"]) < history.history["val_loss"][0]
