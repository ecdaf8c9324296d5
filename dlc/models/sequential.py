"""`dlc.models.Sequential`: a linear stack of layers, sugar over the same graph as the
functional API."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from dlc.layers.base import KerasTensor, Layer, unique_name
from dlc.layers.core import InputLayer
from dlc.models.functional import as_list
from dlc.models.model import Model
from dlc.trainers.data_adapters import as_array


class Sequential(Model):
    """A linear stack of layers; builds the same graph as the functional API.

    Args:
        layers: optional list of layers (the first may be `dlc.layers.Input(...)` or have
            `input_shape=`); a model may be one of them.
        trainable: whether the optimizer updates its weights.
        name: the model's name.

    Example:

    >>> model = dlc.models.Sequential()
    >>> model.add(dlc.layers.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)))
    >>> model.add(dlc.layers.Flatten())
    >>> model.add(dlc.layers.Dense(10, activation="softmax"))
    """

    def __init__(self, layers: Optional[Sequence[Any]] = None, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        Layer.__init__(self, name=name or unique_name("sequential"), trainable=trainable)
        self._init_graph_state()
        self._init_trainer_state()
        self._seq_layers: List[Layer] = []
        self._input_batch_shape: Optional[Tuple[Optional[int], ...]] = None
        self._input_layer: Optional[InputLayer] = None
        for layer in layers or []:
            self.add(layer)
        if not trainable:
            self.trainable = False

    def _sublayers(self) -> List[Layer]:
        return list(self._seq_layers)

    def add(self, layer: Any) -> None:
        """Appends a layer (or sets the input with `dlc.layers.Input(...)` first).

        Example:

        >>> model.add(dlc.layers.Dense(10, activation="softmax"))
        """
        if isinstance(layer, KerasTensor) and getattr(layer, "input_layer", None) is not None:
            if self._seq_layers:
                raise ValueError("Sequential.add: an Input can only be the first entry")
            self._input_layer = layer.input_layer
            self._input_batch_shape = layer.shape
            return
        if isinstance(layer, InputLayer):
            if self._seq_layers:
                raise ValueError("Sequential.add: an InputLayer can only be the first entry")
            self._input_layer, self._input_batch_shape = layer, layer.batch_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a dlc layer, received {layer!r} of type {type(layer).__name__}")
        if not self._seq_layers and self._input_batch_shape is None:
            if isinstance(layer, Model) and layer._graph_ready:
                self._input_batch_shape = layer._inputs[0].shape
            elif layer._batch_input_shape is not None:
                self._input_batch_shape = layer._batch_input_shape
        self._seq_layers.append(layer)
        self._graph_ready = False
        if self._input_batch_shape is not None:
            self._build_graph(self._input_batch_shape)

    def pop(self) -> Layer:
        """Removes and returns the last layer."""
        if not self._seq_layers:
            raise ValueError("Sequential.pop: there are no layers to remove")
        layer = self._seq_layers.pop()
        self._graph_ready = False
        if self._seq_layers and self._input_batch_shape is not None:
            self._build_graph(self._input_batch_shape)
        return layer

    def build(self, input_shape: Any = None) -> None:
        """Builds the model for inputs of `input_shape` (with the batch axis, e.g. (None, 28, 28, 1))."""
        if input_shape is None:
            if self._input_batch_shape is None:
                raise ValueError("Sequential.build: give input_shape")
            input_shape = self._input_batch_shape
        self._input_batch_shape = tuple(input_shape)
        self._build_graph(self._input_batch_shape)

    def _maybe_build(self, input_shape: Any) -> None:
        if not self._graph_ready:
            self.build(input_shape)

    def _build_graph(self, batch_shape: Tuple[Optional[int], ...]) -> None:
        if not self._seq_layers:
            return
        if self._input_layer is None or tuple(self._input_layer.batch_shape) != tuple(batch_shape):
            self._input_layer = InputLayer(batch_shape=batch_shape)
        x = self._input_layer.output
        for layer in self._seq_layers:
            try:
                x = layer(x)
            except (ValueError, TypeError) as e:
                raise type(e)(f"Sequential '{self.name}': cannot add layer '{layer.name}': {e}") from None
        self._init_graph(self._input_layer.output, x)

    def _maybe_build_from_data(self, x: Any) -> None:
        if self._graph_ready:
            return
        if not self._seq_layers:
            raise ValueError(f"Sequential '{self.name}' has no layers")
        arrays = as_list(x)
        if len(arrays) != 1:
            raise ValueError("Sequential models take a single input array")
        self.build((None,) + tuple(as_array(arrays[0], "x").shape[1:]))

    @property
    def layers(self) -> List[Layer]:
        return list(self._seq_layers)

    def get_config(self) -> Dict[str, Any]:
        config: Dict[str, Any] = {"name": self.name, "trainable": self.trainable, "layers": []}
        if self._input_batch_shape is not None:
            config["layers"].append({"class_name": "InputLayer", "config": {"batch_shape": list(self._input_batch_shape)}})
        for layer in self._seq_layers:
            config["layers"].append({"class_name": type(layer).__name__, "config": layer.get_config()})
        return config
