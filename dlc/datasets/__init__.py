"""Small, ready-to-use data sets, loaded as NumPy arrays in Keras's layout.

- `dlc.datasets.mnist.load_data()`: handwritten digits.
- `dlc.datasets.fashion_mnist.load_data()`: Zalando's article images.

Both look for the original IDX files in `$DLC_DATA_DIR/<name>/`, then `~/.dlc/datasets/<name>/`,
then Keras's cache, and only then download them.

Example:

```python
(x_train, y_train), (x_test, y_test) = dlc.datasets.fashion_mnist.load_data()
x_train = x_train.astype("float32")[..., None] / 255.0
```
"""
from dlc.datasets import fashion_mnist, mnist
from dlc.datasets._common import DatasetNotFoundError

__all__ = ["mnist", "fashion_mnist", "DatasetNotFoundError"]
