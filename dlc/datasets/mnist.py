"""MNIST handwritten digits data set."""
from __future__ import annotations

import os

from dlc.datasets import _common
from dlc.datasets._common import DatasetNotFoundError, Splits

__all__ = ["load_data"]

_FOLDER = "mnist"
_URL = _common.KERAS_BUCKET + "mnist.npz"
# The checksum Keras publishes for mnist.npz.
_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path: str = "mnist.npz") -> Splits:
    """Loads the MNIST dataset.

    Handwritten digits: 60,000 training and 10,000 test images, 28x28 grayscale.

    The data is looked up, in this order, in `$DLC_DATA_DIR/mnist/` and `~/.dlc/datasets/mnist/`
    (each holding the four original IDX files `train-images-idx3-ubyte.gz`,
    `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`),
    then as `~/.dlc/datasets/<path>` and in Keras's cache (`~/.keras/datasets/<path>`, or under
    `$KERAS_HOME`); failing that, `mnist.npz` is downloaded from the URL Keras uses into
    `~/.dlc/datasets/` and checked against its published SHA-256.

    Args:
        path: name of the `.npz` file in `~/.dlc/datasets` and Keras's cache
            (default `mnist.npz`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays, images of shape (60000, 28, 28)
        and (10000, 28, 28) with pixel values 0-255, labels of shape (60000,) and (10000,)
        holding the digit.

    Raises:
        DatasetNotFoundError: a `FileNotFoundError` when the data is on none of the paths above
            and cannot be downloaded; its message names the folders and files to provide.
        ValueError: a file is corrupt or truncated, or a download fails its checksum.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = dlc.datasets.mnist.load_data()
    >>> x_train.shape, y_test.shape
    ((60000, 28, 28), (10000,))

    MNIST (Yann LeCun, Corinna Cortes, Christopher J. C. Burges) is distributed under CC BY-SA 3.0.
    """
    path = os.fspath(path)
    if os.path.basename(path) != path or not path:
        raise ValueError(f"mnist.load_data: argument 'path' must be a file name, received "
                         f"{path!r}")
    home = _common.dlc_home_datasets()
    roots = _common.dlc_search_roots()
    found = _common.find_idx_folder(_common.idx_folders(_FOLDER, keras_cache=False))
    if found is not None:
        return _common.load_idx_folder(found)
    for root in roots + [_common.keras_datasets_dir()]:
        npz = os.path.join(root, path)
        if os.path.isfile(npz):
            return _common.load_npz(npz)

    def not_found(reason: str) -> DatasetNotFoundError:
        extra = (f"\nA Keras copy works too: {os.path.join(home, path)} or "
                 f"{os.path.join(_common.keras_datasets_dir(), path)}.")
        return DatasetNotFoundError(_common.not_found_message("MNIST", _FOLDER, extra, reason))

    dest = os.path.join(home, path)
    _common.fetch_files({path: (_URL, _SHA256, "sha256")}, home, not_found)
    return _common.load_npz(dest)
