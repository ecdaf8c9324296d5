"""`keras.preprocessing`: the Keras 2 data-preparation namespace course material still uses."""
