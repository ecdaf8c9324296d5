"""A small ResNet in the keras-io style: `x += shortcut`, `layers.add`, BatchNormalization,
GlobalAveragePooling2D, Adam, sparse labels, on Fashion-MNIST. (On a few hundred images the
moving statistics need momentum=0.9 to settle in 3 epochs; Keras behaves the same.)"""
import dlc as keras
from dlc import layers

keras.utils.set_random_seed(0)

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train = x_train[:600, ..., None].astype("float32") / 255
x_test = x_test[:300, ..., None].astype("float32") / 255
y_train, y_test = y_train[:600], y_test[:300]


def residual_block(x, filters):
    shortcut = x
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    if shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False)(shortcut)
    x += shortcut
    return layers.ReLU()(x)


inputs = keras.Input(shape=(28, 28, 1))
x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
x = residual_block(x, 16)
x = layers.MaxPooling2D()(x)
x = residual_block(x, 32)
x = layers.add([x, layers.Conv2D(32, 1)(x)])
x = layers.GlobalAveragePooling2D()(x)
outputs = layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["acc"])
model.fit(x_train, y_train, batch_size=32, epochs=3, verbose=2)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy {acc:.3f}")
assert acc > 0.5, acc
