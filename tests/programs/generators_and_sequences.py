"""Data from Python: a generator with steps_per_epoch (and Keras 2's fit_generator), a
PyDataset (Keras 2's Sequence) that reshuffles on_epoch_end, and validation from a generator."""
import warnings

import numpy as np

import dlc as keras
from dlc import layers

keras.utils.set_random_seed(0)

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train = x_train[:640].reshape(-1, 784).astype("float32") / 255
x_test = x_test[:256].reshape(-1, 784).astype("float32") / 255
y_train = keras.utils.to_categorical(y_train[:640], 10)
y_test = keras.utils.to_categorical(y_test[:256], 10)


def batches(x, y, batch_size=32):
    while True:
        idx = np.random.permutation(len(x))
        for i in range(0, len(x), batch_size):
            j = idx[i:i + batch_size]
            yield x[j], y[j]


class FashionSequence(keras.utils.Sequence):
    def __init__(self, x, y, batch_size=32):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.order = np.arange(len(x))

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, i):
        j = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[j], self.y[j]

    def on_epoch_end(self):
        np.random.shuffle(self.order)


def mlp():
    m = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(64, activation="relu"),
                          layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


model = mlp()
model.fit(batches(x_train, y_train), steps_per_epoch=20, epochs=3, verbose=2,
          validation_data=batches(x_test, y_test), validation_steps=8)
acc1 = model.evaluate(x_test, y_test, verbose=0)[1]

model = mlp()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    model.fit_generator(batches(x_train, y_train), steps_per_epoch=20, epochs=3, verbose=0)
acc2 = model.evaluate(x_test, y_test, verbose=0)[1]

model = mlp()
model.fit(FashionSequence(x_train, y_train), epochs=3, verbose=2, validation_data=FashionSequence(x_test, y_test))
acc3 = model.evaluate(FashionSequence(x_test, y_test), verbose=0)[1]
probs = model.predict(FashionSequence(x_test, y_test), verbose=0)
print("accuracies:", acc1, acc2, acc3)
assert probs.shape == (256, 10)
assert min(acc1, acc2, acc3) > 0.6
