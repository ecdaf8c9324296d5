"""Transfer learning as the Keras guide does it: train a base, freeze it (`trainable = False`),
put it in a new Sequential with a new head, train the head, then fine-tune with a low rate."""
import numpy as np

import dlc as keras
from dlc import layers

keras.utils.set_random_seed(0)
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:800, ..., None].astype("float32") / 255
x_test = x_test[:300, ..., None].astype("float32") / 255
y_train, y_test = y_train[:800], y_test[:300]

base = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
    layers.Flatten(), layers.Dense(64, activation="relu"),
], name="base")
pretrain = keras.Sequential([base, layers.Dense(10, activation="softmax")])
pretrain.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
pretrain.fit(x_train, y_train, epochs=3, verbose=0)

base.trainable = False
frozen = [w.copy() for w in base.get_weights()]
model = keras.Sequential([base, layers.Dropout(0.2), layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()
model.fit(x_train, y_train, epochs=6, verbose=2)
assert all(np.array_equal(a, b) for a, b in zip(base.get_weights(), frozen)), "the frozen base changed"
assert len(model.trainable_weights) == 2, len(model.trainable_weights)

base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=1, verbose=2)
acc = model.evaluate(x_test, y_test, verbose=0)[1]
print("accuracy after fine-tuning:", acc)
assert acc > 0.6, acc
