"""`dlc.models.Model`: a graph of layers (`Functional`) that can be trained (`Trainer`),
summarised and saved; usable itself as a layer of another model."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from dlc.layers.base import KerasTensor, Layer, unique_name
from dlc.models.functional import Functional, as_list
from dlc.trainers.legacy import Keras2Methods
from dlc.trainers.trainer import Trainer


class Model(Trainer, Keras2Methods, Functional):
    """A model: a graph of layers from `inputs` to `outputs`, with training and inference.

    Args:
        inputs: a symbolic tensor from `dlc.layers.Input` (or a list of them).
        outputs: a symbolic tensor computed from the inputs by calling layers (or a list).
        name: the model's name.
        trainable: whether the optimizer updates its weights (also when it is nested in
            another model).

    Example (functional API, an Inception-style module):

    >>> inputs = dlc.layers.Input(shape=(28, 28, 1))
    >>> a = dlc.layers.Conv2D(16, 1, padding="same", activation="relu")(inputs)
    >>> b = dlc.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    >>> x = dlc.layers.Concatenate()([a, b])
    >>> outputs = dlc.layers.Dense(10, activation="softmax")(dlc.layers.Flatten()(x))
    >>> model = dlc.models.Model(inputs, outputs)
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: Optional[str] = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        Layer.__init__(self, name=name or unique_name("functional"), trainable=trainable, **kwargs)
        self._init_graph_state()
        self._init_trainer_state()
        if inputs is None or outputs is None:
            raise ValueError("Model(inputs, outputs): both `inputs` and `outputs` are required "
                             "(subclassing Model is not supported by dlc)")
        self._init_graph(inputs, outputs)
        if not trainable:
            self.trainable = False  # freezes every layer (a True default leaves theirs alone)

    def __call__(self, inputs: Any, training: bool = False) -> Any:
        """Called on symbolic tensors, adds this model to another model's graph as one layer and
        returns its symbolic output; called on arrays, runs the model (inference unless
        `training=True`) and returns new arrays."""
        items = as_list(inputs)
        if items and all(isinstance(t, KerasTensor) for t in items):
            return Layer.__call__(self, inputs)
        return self._forward_arrays("__call__", inputs, bool(training))

    def _forward_arrays(self, fn: str, inputs: Any, training: bool) -> Any:
        """The model run once on input arrays (checked as `fn`'s), outputs in new arrays."""
        from dlc.trainers.data_adapters import check_inputs

        self._maybe_build_from_data(inputs)
        xs = check_inputs(fn, self, inputs)
        self._ensure_arena()
        with self._workspace() as ws:
            arrays = [np.ascontiguousarray(x, dtype=np.float32) for x in xs]
            outs = self.run_forward(ws, arrays, True).outputs if training else self.run_inference(ws, arrays)
            res = [o.copy() for o in outs]
        return res if self._outputs_is_list else res[0]

    def summary(self, line_length: Optional[int] = None, positions: Any = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False, layer_range: Any = None,
                batch_size: int = 32) -> None:
        """Prints a table of the layers: name and type, output shape, parameter count,
        multiply-accumulates, neurons and activation memory per sample (and Keras's "Connected
        to" for a functional model), then the totals, including the memory of one training step
        at `batch_size` (see `dlc.models.summary` for what is counted).

        Args:
            line_length: total width of the table (default: as wide as its contents).
            positions: right edge of each column, as fractions of the line (all <= 1) or in
                characters.
            print_fn: function to print the summary with (default: print), called once.
            expand_nested: also list the layers of nested models, indented under them.
            show_trainable: add Keras's "Trainable" column (Y, N, or - for no weights).
            layer_range: two layer names (or regular expressions): list only the layers from
                the first match to the last, both included.
            batch_size: the batch size of the training-step totals (default 32).

        Example:

        >>> model.summary()
        >>> model.summary(batch_size=128, show_trainable=True)
        """
        from dlc.models.summary import print_summary

        print_summary(self, line_length, print_fn, positions, expand_nested, show_trainable,
                      layer_range, batch_size)

    def save(self, filepath: Any, overwrite: bool = True, zipped: Optional[bool] = None, **kwargs: Any) -> None:
        """Saves the model to a `.keras` file (Keras 3's format): the architecture, the
        weights, the compile arguments, the optimizer's state and the training state, so that
        `dlc.models.load_model` (or Keras 3's) gets it back ready to evaluate and to go on
        training exactly where it stopped. The file is written atomically: a crash leaves the
        old file or the new one, never a torn one.

        Args:
            filepath: a path ending in `.keras`.
            overwrite: replace an existing file (default); if False, FileExistsError.

        Example:

        >>> model.save("mnist.keras")
        >>> again = dlc.models.load_model("mnist.keras")
        """
        from dlc.saving import save_model

        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath: Any, overwrite: bool = True, max_shard_size: Any = None) -> None:
        """Saves all weights to a `.weights.h5` file (Keras 3's layout; Keras's `load_weights`
        reads it), with the optimizer's variables when the model is compiled. Written
        atomically. A path ending in `.npz` writes dlc 0.1's format.

        Example:

        >>> model.save_weights("mnist.weights.h5")
        """
        from dlc.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False, **kwargs: Any) -> None:
        """Loads weights from a `.weights.h5` or `.keras` file (written by dlc or by Keras 3), a
        legacy Keras `.h5` file or a dlc 0.1 `.npz` file. A compiled model also gets the saved
        optimizer state back. Nothing changes if the file does not fit the model: the error
        names the first mismatching weight.

        Example:

        >>> model.load_weights("mnist.weights.h5")
        """
        from dlc.saving import load_weights

        if kwargs:
            raise TypeError(f"load_weights: unrecognized keyword argument(s) {sorted(kwargs)}")
        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as a JSON string in Keras 3's layout (no weights); rebuild it with
        `dlc.models.model_from_json` (or Keras's).

        Args:
            **kwargs: passed to `json.dumps` (e.g. `indent=2`).

        Example:

        >>> twin = dlc.models.model_from_json(model.to_json())
        """
        from dlc.saving import model_to_json

        return model_to_json(self, **kwargs)
