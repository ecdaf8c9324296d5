"""dlc.saving: saving and loading models and weights in Keras 3's formats, and rebuilding
models from configs.

Example:

>>> model.save("mnist.keras")                  # Keras 3's .keras file, written atomically
>>> again = dlc.saving.load_model("mnist.keras")
>>> model.save_weights("mnist.weights.h5")     # Keras's load_weights reads it too
"""
from dlc.saving.saving_lib import load_model, load_weights, save_model, save_weights
from dlc.saving.serialization import model_from_config, model_from_json, model_to_json

__all__ = ["load_model", "load_weights", "model_from_config", "model_from_json", "model_to_json",
           "save_model", "save_weights"]
