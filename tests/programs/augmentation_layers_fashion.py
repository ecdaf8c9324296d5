"""keras.io's "image classification from scratch" style: augmentation layers inside the model
(Rescaling, RandomFlip, RandomRotation, RandomZoom), active in fit only, on Fashion-MNIST."""
import numpy as np

import dlc as keras
from dlc import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train, y_train = x_train[:1200, ..., None].astype("float32"), y_train[:1200]
x_test, y_test = x_test[:300, ..., None].astype("float32"), y_test[:300]
keras.utils.set_random_seed(1337)

data_augmentation = keras.Sequential(
    [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.1)],
    name="data_augmentation",
)

inputs = keras.Input(shape=(28, 28, 1))
x = layers.Rescaling(1.0 / 255)(inputs)
x = data_augmentation(x)
x = layers.Conv2D(16, 3, activation="relu")(x)
x = layers.MaxPooling2D()(x)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.MaxPooling2D()(x)
x = layers.Flatten()(x)
x = layers.Dropout(0.25)(x)
outputs = layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.summary()

# the augmentation is the identity at inference and random in training
sample = x_train[:8] / 255
assert np.array_equal(data_augmentation.predict(sample, verbose=0), sample)
assert not np.array_equal(data_augmentation(sample, training=True), sample)

model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=8, validation_split=0.1, verbose=2)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print("test accuracy:", acc)
assert history.history["loss"][-1] < history.history["loss"][0]
assert acc > 0.65, acc

# saved and reloaded, the model predicts the same (augmentation inactive)
model.save("augmented.keras")
again = keras.models.load_model("augmented.keras")
np.testing.assert_allclose(again.predict(x_test[:16], verbose=0), model.predict(x_test[:16], verbose=0),
                           rtol=1e-5, atol=1e-6)
