"""Checks of the public API's arguments, each refusing with a message that names the function,
the argument, what it expects and what it received, before any work starts."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np


def received(value: Any) -> str:
    """How a message shows a bad value: its repr and, for non-numbers, its type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return text
    return f"{text} ({type(value).__name__})"


def check_int(fn: str, name: str, value: Any, minimum: int = 0, allow_none: bool = False,
              maximum: Optional[int] = None) -> Optional[int]:
    """`value` as an int in [minimum, maximum], or TypeError / ValueError."""
    if value is None and allow_none:
        return None
    limit = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    what = f"an int {limit}" + (" or None" if allow_none else "")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{fn}: argument `{name}` must be {what}, received {received(value)}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{fn}: argument `{name}` must be {what}, received {value}")
    return value


def check_float(fn: str, name: str, value: Any, low: float, high: float, high_open: bool = True,
                allow_none: bool = False) -> Optional[float]:
    """`value` as a finite float in [low, high) (or [low, high]), or TypeError / ValueError."""
    if value is None and allow_none:
        return None
    rng = f"in [{low}, {high}{')' if high_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: argument `{name}` must be a float {rng}, received {received(value)}")
    value = float(value)
    if not math.isfinite(value) or value < low or value > high or (high_open and value == high):
        raise ValueError(f"{fn}: argument `{name}` must be a float {rng}, received {value!r}")
    return value


def check_bool(fn: str, name: str, value: Any) -> bool:
    """`value` as a bool (True/False or 0/1), or TypeError."""
    if isinstance(value, (bool, np.bool_)) or value in (0, 1):
        return bool(value)
    raise TypeError(f"{fn}: argument `{name}` must be True or False, received {received(value)}")


def check_batch_size(fn: str, batch_size: Any) -> int:
    """Keras's default of 32, or a positive int."""
    return 32 if batch_size is None else check_int(fn, "batch_size", batch_size, 1)


def check_verbose(fn: str, verbose: Any) -> int:
    """0, 1 or 2 ('auto' is 1)."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"{fn}: argument `verbose` must be 0, 1, 2 or 'auto', received {received(verbose)}")
    return int(verbose)


def refuse(fn: str, **unsupported: Any) -> None:
    """NotImplementedError for an argument given that dlc cannot honour."""
    for name, value in unsupported.items():
        if value is not None:
            raise NotImplementedError(f"{fn}: argument `{name}` is not supported by dlc, received {received(value)}")
