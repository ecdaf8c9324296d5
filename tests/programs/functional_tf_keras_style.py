"""TensorFlow's functional-API tutorial, `from tensorflow import keras` rewritten to dlc:
keras.Input, named layers, layers.concatenate, keras.Model, sparse labels."""
import numpy as np

import dlc as keras
from dlc import layers

keras.utils.set_random_seed(0)

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:800].reshape(800, 784).astype("float32") / 255
x_test = x_test[:300].reshape(300, 784).astype("float32") / 255
y_train, y_test = y_train[:800], y_test[:300]

inputs = keras.Input(shape=(784,), name="digits")
x1 = layers.Dense(64, activation="relu", name="dense_1")(inputs)
x2 = layers.Dense(64, activation="relu", name="dense_2")(inputs)
x = layers.concatenate([x1, x2])
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
model.summary()
model.compile(loss=keras.losses.SparseCategoricalCrossentropy(), optimizer=keras.optimizers.RMSprop(),
              metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=64, epochs=3, validation_split=0.2, verbose=2)
test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])
assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
assert test_scores[1] > 0.75 and np.isfinite(test_scores[0])
