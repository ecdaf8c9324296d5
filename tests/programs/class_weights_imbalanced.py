"""Imbalanced classes as the TensorFlow tutorial handles them: class_weight in fit, and
sample_weight with weighted_metrics; a binary problem ("is it a zero?") with 10% positives."""
import numpy as np

import dlc as keras
from dlc import layers

keras.utils.set_random_seed(0)

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:1000].reshape(-1, 784).astype("float32") / 255
x_test = x_test[:400].reshape(-1, 784).astype("float32") / 255
y_train = (y_train[:1000] == 0).astype("float32")
y_test = (y_test[:400] == 0).astype("float32")
neg, pos = np.bincount(y_train.astype(int))
class_weight = {0: (1 / neg) * (neg + pos) / 2.0, 1: (1 / pos) * (neg + pos) / 2.0}
print("class weights:", class_weight)

model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(16, activation="relu"),
                          layers.Dropout(0.3), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
              metrics=["accuracy"], weighted_metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=4, class_weight=class_weight, verbose=2)
pred = model.predict(x_test, verbose=0)[:, 0] > 0.5
recall = (pred & (y_test == 1)).sum() / max(1, (y_test == 1).sum())
print("recall of the rare class:", recall)
assert recall > 0.7, recall
w = np.where(y_test == 1, class_weight[1], class_weight[0])
print(model.evaluate(x_test, y_test, sample_weight=w, verbose=0, return_dict=True))
