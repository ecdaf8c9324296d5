"""Keras's `backend` helpers that ported code calls: dlc is channels-last and float32."""
from __future__ import annotations

from dlc.layers.base import clear_session

EPSILON = 1e-7


def image_data_format() -> str:
    """Always 'channels_last' (NHWC), dlc's layout."""
    return "channels_last"


def floatx() -> str:
    """Always 'float32'."""
    return "float32"


def epsilon() -> float:
    """The fuzz factor used by losses (1e-7, as Keras)."""
    return EPSILON


__all__ = ["clear_session", "epsilon", "floatx", "image_data_format"]
