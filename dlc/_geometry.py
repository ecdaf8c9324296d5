"""Shape arithmetic for convolution and pooling: the one place that computes output sizes and
padding amounts, following Keras's rules ("valid", "same", including even kernels).

The C binding re-checks every array against these numbers, so a mistake here raises instead of
writing out of bounds.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np

IntOrPair = Union[int, Sequence[int]]


def normalize_tuple(value: IntOrPair, n: int, name: str, allow_zero: bool = False, owner: str = "") -> Tuple[int, ...]:
    """`value` as a tuple of `n` ints (an int is repeated), each >= 1 (or >= 0 if allow_zero);
    errors name `owner` (the layer) and the argument."""
    where = f"{owner}: argument" if owner else "Argument"
    what = f"an int or a tuple of {n} ints"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value),) * n
    elif isinstance(value, (str, bytes, bool, float)) or value is None:
        raise TypeError(f"{where} `{name}` must be {what}, received {value!r} ({type(value).__name__})")
    else:
        try:
            out = tuple(value)
        except TypeError:
            raise TypeError(f"{where} `{name}` must be {what}, received {value!r}") from None
        if len(out) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in out):
            raise ValueError(f"{where} `{name}` must be {what}, received {value!r}")
        out = tuple(int(v) for v in out)
    low = 0 if allow_zero else 1
    if any(v < low for v in out):
        raise ValueError(f"{where} `{name}` must be >= {low}, received {value!r}")
    if any(v > 1 << 31 for v in out):
        raise ValueError(f"{where} `{name}` must be < 2**31, received {value!r}")
    return out


def normalize_padding(padding: str, owner: str = "") -> str:
    """'valid' or 'same' (case-insensitive), else ValueError quoting the value."""
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        where = f"{owner}: argument" if owner else "Argument"
        raise ValueError(f"{where} `padding` must be 'valid' or 'same', received {padding!r}")
    return padding.lower()


def conv_output_length(length: Optional[int], kernel: int, padding: str, stride: int,
                       dilation: int = 1) -> Optional[int]:
    """Output length of a convolution or pooling window along one axis (None stays None)."""
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if padding == "same":
        return (length + stride - 1) // stride
    return (length - span) // stride + 1


def same_pads(length: int, kernel: int, stride: int, dilation: int = 1) -> Tuple[int, int]:
    """(before, after) zero padding of Keras's 'same': the extra row goes after (bottom/right)."""
    span = (kernel - 1) * dilation + 1
    out = (length + stride - 1) // stride
    total = max((out - 1) * stride + span - length, 0)
    return total // 2, total - total // 2


def pads_2d(padding: str, h: int, w: int, kernel: Tuple[int, int], strides: Tuple[int, int],
            dilation: Tuple[int, int] = (1, 1)) -> Tuple[int, int, int, int]:
    """(top, bottom, left, right) for 'valid' or 'same' over an h x w input."""
    if padding == "valid":
        return (0, 0, 0, 0)
    top, bottom = same_pads(h, kernel[0], strides[0], dilation[0])
    left, right = same_pads(w, kernel[1], strides[1], dilation[1])
    return (top, bottom, left, right)


def output_hw(padding: str, h: Optional[int], w: Optional[int], kernel: Tuple[int, int],
              strides: Tuple[int, int], dilation: Tuple[int, int] = (1, 1)
              ) -> Tuple[Optional[int], Optional[int]]:
    """(oh, ow) of a 2-D window op."""
    return (conv_output_length(h, kernel[0], padding, strides[0], dilation[0]),
            conv_output_length(w, kernel[1], padding, strides[1], dilation[1]))


def prod(shape: Sequence[int]) -> int:
    """Product of the sizes in shape (1 for an empty shape)."""
    return int(math.prod(shape))
