"""Runnable examples: `python -m dlc.examples.mnist_cnn`."""
