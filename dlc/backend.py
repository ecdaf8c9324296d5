"""Keras's `backend` helpers that ported code calls: dlc is channels-last and float32."""
from __future__ import annotations

from dlc.config import epsilon, floatx, image_data_format
from dlc.layers.base import clear_session


__all__ = ["clear_session", "epsilon", "floatx", "image_data_format"]


def __getattr__(name):  # a name this module lacks: say so, and name the nearest ones
    from dlc._registry import missing_attribute

    return missing_attribute(__name__, globals())(name)
