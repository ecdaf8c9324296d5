"""A two-output functional model (digit class and "is the digit even?"), trained with a loss
dict, loss_weights and per-output metrics, targets given as a dict by output name."""
import numpy as np

import dlc as keras
from dlc import layers

keras.utils.set_random_seed(0)

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:800].reshape(-1, 784).astype("float32") / 255
x_test = x_test[:300].reshape(-1, 784).astype("float32") / 255
y_train, y_test = y_train[:800], y_test[:300]

inputs = keras.Input(shape=(784,))
h = layers.Dense(128, activation="relu")(inputs)
digit = layers.Dense(10, activation="softmax", name="digit")(h)
even = layers.Dense(1, activation="sigmoid", name="even")(h)
model = keras.Model(inputs, [digit, even])
model.compile(optimizer="adam",
              loss={"digit": "sparse_categorical_crossentropy", "even": "binary_crossentropy"},
              loss_weights={"digit": 1.0, "even": 0.5},
              metrics={"digit": ["accuracy"], "even": ["accuracy"]})
targets = {"digit": y_train, "even": (y_train % 2 == 0).astype("float32")}
history = model.fit(x_train, targets, epochs=3, batch_size=32, verbose=2, validation_split=0.1)
print(sorted(history.history))
result = model.evaluate(x_test, {"digit": y_test, "even": (y_test % 2 == 0).astype("float32")},
                        verbose=0, return_dict=True)
print(result)
assert {"digit_loss", "even_loss", "digit_accuracy", "even_accuracy", "val_loss"} <= set(history.history)
assert result["digit_accuracy"] > 0.7 and result["even_accuracy"] > 0.7
p_digit, p_even = model.predict(x_test, verbose=0)
assert p_digit.shape == (300, 10) and p_even.shape == (300, 1) and np.all((p_even >= 0) & (p_even <= 1))
