"""keras-io's classic MNIST MLP (Keras 2 era), imports changed: Dense + Dropout, RMSprop."""
import dlc as keras
from dlc.datasets import mnist
from dlc.layers import Dense, Dropout
from dlc.models import Sequential
from dlc.optimizers import RMSprop

keras.utils.set_random_seed(0)

batch_size, num_classes, epochs = 64, 10, 3
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, y_train, x_test, y_test = x_train[:2000], y_train[:2000], x_test[:300], y_test[:300]
x_train = x_train.reshape(2000, 784).astype("float32") / 255
x_test = x_test.reshape(300, 784).astype("float32") / 255
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = Sequential()
model.add(Dense(512, activation="relu", input_shape=(784,)))
model.add(Dropout(0.2))
model.add(Dense(512, activation="relu"))
model.add(Dropout(0.2))
model.add(Dense(num_classes, activation="softmax"))
model.summary()
model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=2,
                    validation_data=(x_test, y_test))
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
assert score[1] > 0.75, score
