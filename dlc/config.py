"""`keras.config`: the global settings Keras programs read or set.

dlc computes in float32 on channels-last (NHWC) tensors, so the setters accept exactly those
values and refuse others with a clear error rather than silently ignoring them.

Example:

>>> dlc.config.image_data_format()
'channels_last'
>>> dlc.config.set_epsilon(1e-7)
"""
from __future__ import annotations

_state = {"epsilon": 1e-7, "interactive_logging": True, "unsafe_deserialization": False}


def backend() -> str:
    """The name of the compute backend: 'dlc' (its own C kernels)."""
    return "dlc"


def floatx() -> str:
    """The float type of every tensor: 'float32'."""
    return "float32"


def set_floatx(value: str) -> None:
    """Accepts only 'float32', dlc's one compute type."""
    if value != "float32":
        raise ValueError(f"set_floatx: dlc computes in float32 only, received {value!r}")


def image_data_format() -> str:
    """The image layout: 'channels_last' (NHWC)."""
    return "channels_last"


def set_image_data_format(data_format: str) -> None:
    """Accepts only 'channels_last', dlc's one image layout."""
    if data_format != "channels_last":
        raise ValueError(f"set_image_data_format: dlc is channels-last (NHWC) only, received {data_format!r}")


def epsilon() -> float:
    """The fuzz factor the losses clip probabilities with (default 1e-7, as Keras)."""
    return _state["epsilon"]


def set_epsilon(value: float) -> None:
    """Sets the fuzz factor used by the losses.

    Args:
        value: a float in [0, 0.5).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 0.5:
        raise ValueError(f"set_epsilon: argument 'value' must be a float in [0, 0.5), received {value!r}")
    _state["epsilon"] = float(value)


def enable_interactive_logging() -> None:
    """Progress bars redraw in place (the default)."""
    _state["interactive_logging"] = True


def disable_interactive_logging() -> None:
    """Progress bars print one line per epoch instead of redrawing in place."""
    _state["interactive_logging"] = False


def is_interactive_logging_enabled() -> bool:
    """Whether progress bars redraw in place."""
    return _state["interactive_logging"]


def enable_unsafe_deserialization() -> None:
    """Recorded for Keras code that calls it. dlc never runs code from a saved file (it has no
    pickled or bytecode layers to load), so loading stays safe either way."""
    _state["unsafe_deserialization"] = True


__all__ = ["backend", "disable_interactive_logging", "enable_interactive_logging",
           "enable_unsafe_deserialization", "epsilon", "floatx", "image_data_format",
           "is_interactive_logging_enabled", "set_epsilon", "set_floatx", "set_image_data_format"]


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
