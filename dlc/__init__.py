"""dlc: a small, fast deep-learning library with a Keras-like API and C kernels.

Parameters, gradients and activations are float32 NumPy arrays that the C kernels read and
write in place. Submodules (``dlc.layers``, ``dlc.models``, ...) load on first use, so
``import dlc`` stays fast.

Example:

>>> import dlc
>>> dlc.set_num_threads(2)
>>> dlc.get_num_threads()
2
"""
from __future__ import annotations

import importlib
from typing import Any, Dict

from dlc import _C

__version__ = "0.1.0"

_SUBMODULES = (
    "layers", "models", "losses", "optimizers", "metrics", "callbacks", "datasets", "utils",
    "initializers", "regularizers", "activations", "examples", "backend",
)


def set_num_threads(n: int) -> None:
    """Sets the number of threads every dlc kernel uses.

    Results are bit-identical whatever the thread count.

    Args:
        n: number of threads, at least 1.

    Example:

    >>> dlc.set_num_threads(1)
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: argument 'n' must be an int, received {n!r}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    """Returns the number of threads every dlc kernel uses.

    Returns:
        The thread count (by default OpenMP's, which honours ``OMP_NUM_THREADS``).
    """
    return _C.get_num_threads()


def cpu_features() -> Dict[str, Any]:
    """Returns which SIMD path the kernels use and what this CPU supports.

    Returns:
        A dict: ``simd`` (the path in use: ``'avx512'``, ``'avx2'`` or ``'generic'``),
        ``detected`` (the best this CPU supports), ``avx2_fma`` and ``avx512f`` (bools).

    Example:

    >>> dlc.cpu_features()["simd"]
    'avx512'
    """
    return _C.cpu_features()


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"dlc.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'dlc' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(list(globals()) + list(_SUBMODULES))
