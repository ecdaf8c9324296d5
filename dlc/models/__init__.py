"""dlc.models: the functional `Model(inputs, outputs)` and `Sequential`, one executor for both.

The executor (`dlc.models.functional`) runs the graph's nodes in topological order forward and
in reverse order backward; every gradient kernel accumulates (+=), so a tensor consumed by
several layers (fan-out) simply receives the sum of their gradients. All weights live in one
flat arena per model; one optimizer step is one C call per contiguous run of it. Training
lives in `dlc.trainers`, saving in `dlc.saving`.

Example:

>>> model = dlc.models.Sequential([
...     dlc.layers.Input(shape=(28, 28, 1)),
...     dlc.layers.Conv2D(32, 3, activation="relu"),
...     dlc.layers.Flatten(),
...     dlc.layers.Dense(10, activation="softmax"),
... ])
>>> model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
>>> history = model.fit(x_train, y_train, batch_size=128, epochs=2, validation_split=0.1)
"""
from dlc.models.model import Model
from dlc.models.sequential import Sequential
from dlc.saving import load_model, model_from_config, model_from_json

__all__ = ["Model", "Sequential", "load_model", "model_from_config", "model_from_json"]


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
