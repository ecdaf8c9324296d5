"""`keras.preprocessing`: the Keras 2 data-preparation namespace course material still uses.

`dlc.preprocessing.image` holds ImageDataGenerator and the image helpers; the Keras 3
preprocessing layers (Rescaling, RandomFlip, ...) are in `dlc.layers`.
"""
import importlib as _importlib

_SUBMODULES = ("image",)


def __getattr__(name):
    if name in _SUBMODULES:
        module = _importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    from dlc._registry import missing_attribute

    return missing_attribute(__name__, globals())(name)


def __dir__() -> list:
    return sorted(_SUBMODULES)
