"""The one source of randomness in dlc.

Every random choice the library makes (weight initialisation, shuffling, dropout keys) draws
from the process-global generator returned by `generator()`. Seeding it with `seed()` (or
`dlc.utils.set_random_seed()`, which also seeds Python's and NumPy's global generators) makes a
whole run reproducible.

Example:

>>> from dlc import _random
>>> _random.seed(42)
>>> a = _random.next_seed()
>>> _random.seed(42)
>>> a == _random.next_seed()
True
"""
from __future__ import annotations

import threading
from typing import Optional

import numpy as np

_lock = threading.Lock()
_generator: Optional[np.random.Generator] = None

# Largest value next_seed() returns, exclusive: seeds are non-negative 63-bit integers, so they
# fit a signed int64 (a C `int64_t` or a NumPy int64) as well as a uint64.
_SEED_BOUND = 1 << 63


def _check_seed(s: object) -> int:
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
        raise TypeError(f"seed: argument 's' must be an int, received {s!r} "
                        f"of type {type(s).__name__}")
    s = int(s)
    if s < 0:
        raise ValueError(f"seed: argument 's' must be a non-negative int, received {s}")
    return s


def seed(s: int) -> None:
    """Seeds dlc's global random generator.

    After `seed(s)`, every draw from `generator()` and `next_seed()` is a deterministic
    function of `s`.

    Args:
        s: a non-negative integer.

    Example:

    >>> _random.seed(0)
    >>> _random.generator().integers(10)
    8
    """
    s = _check_seed(s)
    global _generator
    with _lock:
        _generator = np.random.default_rng(s)


def generator() -> np.random.Generator:
    """Returns dlc's process-global NumPy generator.

    If `seed()` was never called, the generator is created from operating-system entropy on
    first use, so unseeded runs differ.

    Returns:
        A `numpy.random.Generator`, shared by the whole library.

    Example:

    >>> w = _random.generator().normal(size=(3, 4)).astype("float32")
    """
    global _generator
    gen = _generator
    if gen is None:
        with _lock:
            if _generator is None:
                _generator = np.random.default_rng()
            gen = _generator
    return gen


def next_seed() -> int:
    """Draws a fresh 63-bit seed from `generator()`.

    Used to key counter-based random streams, e.g. the mask generator of a dropout layer.

    Returns:
        A Python int in `[0, 2**63)`.

    Example:

    >>> key = _random.next_seed()
    >>> 0 <= key < 2**63
    True
    """
    gen = generator()
    with _lock:
        return int(gen.integers(0, _SEED_BOUND, dtype=np.int64))
