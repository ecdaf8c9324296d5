"""A Keras 2 course notebook's augmentation: ImageDataGenerator(...).flow(...) fed to fit, with
a validation split, featurewise normalisation and a look at a few augmented images."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dlc.datasets import mnist  # noqa: E402
from dlc.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D  # noqa: E402
from dlc.models import Sequential  # noqa: E402
from dlc.preprocessing.image import ImageDataGenerator  # noqa: E402
from dlc.utils import to_categorical  # noqa: E402

import dlc
dlc.utils.set_random_seed(0)

(X_train, y_train), (X_test, y_test) = mnist.load_data()
X_train = X_train[:1200].reshape(-1, 28, 28, 1).astype("float32")
X_test = X_test[:300].reshape(-1, 28, 28, 1).astype("float32")
Y_train, Y_test = to_categorical(y_train[:1200], 10), to_categorical(y_test[:300], 10)

datagen = ImageDataGenerator(
    featurewise_center=True,
    featurewise_std_normalization=True,
    rotation_range=10,
    width_shift_range=0.1,
    height_shift_range=0.1,
    shear_range=5,
    zoom_range=0.1,
    fill_mode="nearest",
    validation_split=0.15,
)
datagen.fit(X_train)
print("feature-wise mean and std:", datagen.mean.ravel(), datagen.std.ravel())

# the notebook's peek at one augmented batch
X_batch, y_batch = next(datagen.flow(X_train, Y_train, batch_size=9, seed=0))
fig, axes = plt.subplots(3, 3)
for ax, img in zip(axes.ravel(), X_batch):
    ax.imshow(img[..., 0], cmap="gray")
fig.savefig("augmented.png")
assert X_batch.shape == (9, 28, 28, 1) and abs(float(X_batch.mean())) < 0.5

model = Sequential()
model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Conv2D(32, (3, 3), activation="relu"))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dense(64, activation="relu"))
model.add(Dropout(0.3))
model.add(Dense(10, activation="softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

train = datagen.flow(X_train, Y_train, batch_size=32, subset="training")
val = datagen.flow(X_train, Y_train, batch_size=32, subset="validation")
model.fit(train, steps_per_epoch=len(X_train) * 85 // 100 // 32, epochs=6, validation_data=val, verbose=2)

test = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
test.mean, test.std = datagen.mean, datagen.std  # the training statistics, no augmentation
score = model.evaluate(test.flow(X_test, Y_test, batch_size=100, shuffle=False), verbose=0)
print("test accuracy:", score[1])
assert score[1] > 0.85, score
