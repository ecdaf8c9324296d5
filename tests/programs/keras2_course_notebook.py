"""A 2018 course notebook (Keras 2): `keras.utils.np_utils`, `input_dim=`, Activation layers,
SGD(lr=, decay=, nesterov=), predict_classes. dlc runs it, warning once per Keras 2 spelling."""
import warnings

import numpy as np

from dlc.datasets import mnist
from dlc.layers import Activation, Dense, Dropout
from dlc.models import Sequential
from dlc.optimizers import SGD
from dlc.utils import np_utils

import dlc
dlc.utils.set_random_seed(0)

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    (X_train, y_train), (X_test, y_test) = mnist.load_data()
    X_train = X_train[:1000].reshape(1000, 784).astype("float32") / 255
    X_test = X_test[:300].reshape(300, 784).astype("float32") / 255
    Y_train = np_utils.to_categorical(y_train[:1000], 10)
    Y_test = np_utils.to_categorical(y_test[:300], 10)

    model = Sequential()
    model.add(Dense(256, input_dim=784))
    model.add(Activation("relu"))
    model.add(Dropout(0.3))
    model.add(Dense(10))
    model.add(Activation("softmax"))
    sgd = SGD(lr=0.05, decay=1e-6, momentum=0.9, nesterov=True)
    model.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])
    model.fit(X_train, Y_train, batch_size=32, epochs=4, verbose=2, validation_data=(X_test, Y_test))
    classes = model.predict_classes(X_test)

kinds = {str(w.message).split(";")[0] for w in caught if issubclass(w.category, DeprecationWarning)}
print("Keras 2 spellings seen:", sorted(kinds))
assert len(kinds) >= 4, kinds
acc = float(np.mean(classes == y_test[:300]))
print("accuracy from predict_classes:", acc)
assert acc > 0.8, acc
