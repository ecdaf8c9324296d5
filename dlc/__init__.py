"""dlc: a small, fast deep-learning library with Keras's API and C kernels.

Parameters, gradients and activations are float32 NumPy arrays that the C kernels read and
write in place. Keras code ports by changing the imports: `import dlc as keras` gives
`keras.Sequential`, `keras.Model`, `keras.Input`, `keras.layers`, `keras.optimizers`,
`keras.callbacks`, ... Submodules load on first use, so `import dlc` stays fast.

Example:

>>> import dlc as keras
>>> model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
>>> keras.set_num_threads(2)
"""
import importlib as _importlib

try:
    from dlc import _C
except ImportError as _e:  # the source tree without its compiled extension
    import os as _os

    _here = _os.path.dirname(_os.path.abspath(__file__))
    raise ImportError(
        f"dlc's C extension (dlc._C) is not built in {_here}: Python is importing dlc from "
        f"that source folder (the current directory comes first on sys.path), not from the "
        f"installed package. Build it there with `pip install -e .` (or `python setup.py "
        f"build_ext --inplace`), or run Python from another folder. ({_e})"
    ) from None

__version__ = "0.1.0"

_SUBMODULES = (
    "activations", "backend", "callbacks", "config", "datasets", "examples", "initializers",
    "layers", "losses", "metrics", "models", "optimizers", "preprocessing", "regularizers",
    "saving", "utils",
)
# Top-level names Keras has, and where they live in dlc.
_EXPORTS = {
    "Sequential": "dlc.models", "Model": "dlc.models", "Input": "dlc.layers",
    "Layer": "dlc.layers", "KerasTensor": "dlc.layers", "Variable": "dlc._arena",
}


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
        The thread count (by default OpenMP's, which honours `OMP_NUM_THREADS`).

    Example:

    >>> dlc.get_num_threads()
    2
    """
    return _C.get_num_threads()


def cpu_features() -> dict:
    """Returns which SIMD path the kernels use and what this CPU supports.

    Returns:
        A dict: `simd` (the path in use: `'avx512'`, `'avx2'` or `'generic'`),
        `detected` (the best this CPU supports), `avx2_fma` and `avx512f` (bools).

    Example:

    >>> dlc.cpu_features()["simd"]
    'avx2'
    """
    return _C.cpu_features()


def version() -> str:
    """dlc's version string (Keras's `keras.version()`)."""
    return __version__


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = _importlib.import_module(f"dlc.{name}")
        globals()[name] = module
        return module
    if name in _EXPORTS:
        value = getattr(_importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    from dlc._registry import closest

    raise AttributeError(f"module 'dlc' has no attribute {name!r}: dlc does not provide it."
                         + closest(name, list(__dir__())))


def __dir__() -> list:
    public = {"set_num_threads", "get_num_threads", "cpu_features", "version", "__version__"}
    return sorted(public | set(_SUBMODULES) | set(_EXPORTS))
