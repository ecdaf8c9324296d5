"""dlc.saving: saving and loading models and weights, and rebuilding models from configs."""
from dlc.saving.saving_lib import load_model, load_weights, save_model, save_weights
from dlc.saving.serialization import model_from_config

__all__ = ["load_model", "load_weights", "model_from_config", "save_model", "save_weights"]
