"""Keras 2's `keras.utils.np_utils`: `to_categorical`, with a DeprecationWarning."""
from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np


def to_categorical(y: Any, num_classes: Optional[int] = None, dtype: str = "float32") -> np.ndarray:
    """Keras 2's spelling of `dlc.utils.to_categorical`.

    Example:

    >>> from dlc.utils.np_utils import to_categorical
    >>> to_categorical([0, 2], 3)
    """
    from dlc.utils import to_categorical as _to_categorical

    warnings.warn("`keras.utils.np_utils.to_categorical` is Keras 2's; in Keras 3 use "
                  "`keras.utils.to_categorical`", DeprecationWarning, stacklevel=2)
    return _to_categorical(y, num_classes).astype(dtype, copy=False)
