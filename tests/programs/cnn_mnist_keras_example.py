"""The Keras CNN-MNIST example as the course gives it (Keras 2 defaults: Adadelta(1.0))."""
import dlc as keras
from dlc import backend as K
from dlc.datasets import mnist
from dlc.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from dlc.models import Sequential

batch_size, num_classes, epochs = 32, 10, 3
img_rows, img_cols = 28, 28
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, y_train, x_test, y_test = x_train[:800], y_train[:800], x_test[:300], y_test[:300]
if K.image_data_format() == "channels_first":
    raise SystemExit("dlc is channels-last")
x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1).astype("float32") / 255
x_test = x_test.reshape(x_test.shape[0], img_rows, img_cols, 1).astype("float32") / 255
input_shape = (img_rows, img_cols, 1)
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = Sequential()
model.add(Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=input_shape))
model.add(Conv2D(64, (3, 3), activation="relu"))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Flatten())
model.add(Dense(128, activation="relu"))
model.add(Dropout(0.5))
model.add(Dense(num_classes, activation="softmax"))
model.compile(loss=keras.losses.categorical_crossentropy, optimizer=keras.optimizers.Adadelta(lr=1.0),
              metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=1, validation_data=(x_test, y_test))
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
assert score[1] > 0.8, score
