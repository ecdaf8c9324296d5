"""Fashion-MNIST data set."""
from __future__ import annotations

import os

from dlc.datasets import _common
from dlc.datasets._common import DatasetNotFoundError, Splits

__all__ = ["load_data"]

_FOLDER = "fashion-mnist"
# Keras downloads the Fashion-MNIST files from the root of its bucket. The md5 checksums are
# the ones published with the data set.
_MD5 = {
    _common.TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    _common.TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
    _common.TEST_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
    _common.TEST_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
}


def load_data() -> Splits:
    """Loads the Fashion-MNIST dataset.

    Zalando's article images: 60,000 training and 10,000 test images, 28x28 grayscale, in the
    same format as MNIST. Labels 0-9 are T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal,
    Shirt, Sneaker, Bag, Ankle boot.

    The four original IDX files (`train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
    `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`) are looked up, in this order, in
    `$DLC_DATA_DIR/fashion-mnist/`, `~/.dlc/datasets/fashion-mnist/` and Keras's cache
    (`~/.keras/datasets/fashion-mnist/`, or under `$KERAS_HOME`); failing that, they are
    downloaded from the URLs Keras uses into `~/.dlc/datasets/fashion-mnist/` and checked
    against their published MD5 checksums.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays, images of shape (60000, 28, 28)
        and (10000, 28, 28) with pixel values 0-255, labels of shape (60000,) and (10000,)
        holding the class index.

    Raises:
        DatasetNotFoundError: a `FileNotFoundError` when the data is on none of the paths above
            and cannot be downloaded; its message names the folders and files to provide.
        ValueError: a file is corrupt or truncated, or a download fails its checksum.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = dlc.datasets.fashion_mnist.load_data()
    >>> x_train.shape, y_test.shape
    ((60000, 28, 28), (10000,))

    Fashion-MNIST (Zalando Research) is distributed under the MIT license.
    """
    home = os.path.join(_common.dlc_home_datasets(), _FOLDER)
    found = _common.find_idx_folder(_common.idx_folders(_FOLDER, keras_cache=True))
    if found is not None:
        return _common.load_idx_folder(found)

    def not_found(reason: str) -> DatasetNotFoundError:
        return DatasetNotFoundError(
            _common.not_found_message("Fashion-MNIST", _FOLDER, "", reason))

    urls = {name: (_common.KERAS_BUCKET + name, md5, "md5") for name, md5 in _MD5.items()}
    _common.fetch_files(urls, home, not_found)
    return _common.load_idx_folder(home)
