"""Keras's `backend` helpers that ported code calls: dlc is channels-last and float32."""
from __future__ import annotations

from dlc.config import epsilon, floatx, image_data_format
from dlc.layers.base import clear_session


__all__ = ["clear_session", "epsilon", "floatx", "image_data_format"]


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
