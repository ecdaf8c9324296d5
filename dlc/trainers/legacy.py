"""Keras 2's model methods that course notebooks still call. Each works as it did, through
its Keras 3 equivalent, and warns once with a DeprecationWarning naming that equivalent
(Keras 3 itself has removed them)."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"`model.{old}` is Keras 2's; in Keras 3 use `model.{new}`", DeprecationWarning, stacklevel=3)


class Keras2Methods:
    """`fit_generator`, `evaluate_generator`, `predict_generator`, `predict_classes`,
    `predict_proba` (mixed into `dlc.models.Model`)."""

    def fit_generator(self, generator: Any, steps_per_epoch: Any = None, epochs: int = 1, verbose: Any = 1,
                      callbacks: Any = None, validation_data: Any = None, validation_steps: Any = None,
                      class_weight: Any = None, initial_epoch: int = 0, shuffle: bool = True, **kwargs: Any):
        """Keras 2's `fit` on a generator: `fit(generator, steps_per_epoch=..., ...)`."""
        _deprecated("fit_generator", "fit(generator, steps_per_epoch=...)")
        _reject_workers("fit_generator", kwargs)
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        class_weight=class_weight, initial_epoch=initial_epoch, shuffle=shuffle)

    def evaluate_generator(self, generator: Any, steps: Any = None, callbacks: Any = None, verbose: Any = 0,
                           **kwargs: Any):
        """Keras 2's `evaluate` on a generator."""
        _deprecated("evaluate_generator", "evaluate(generator, steps=...)")
        _reject_workers("evaluate_generator", kwargs)
        return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_generator(self, generator: Any, steps: Any = None, callbacks: Any = None, verbose: Any = 0,
                          **kwargs: Any):
        """Keras 2's `predict` on a generator."""
        _deprecated("predict_generator", "predict(generator, steps=...)")
        _reject_workers("predict_generator", kwargs)
        return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_classes(self, x: Any, batch_size: int = 32, verbose: Any = 0) -> np.ndarray:
        """Keras 2 Sequential's class predictions: the argmax of a softmax output, or
        `probability > 0.5` of a single sigmoid unit.

        Returns:
            int64 class indices of shape (n,) (shape (n, 1) for one sigmoid unit, as Keras 2).
        """
        _deprecated("predict_classes", "predict(x).argmax(axis=-1) (or > 0.5 for one sigmoid unit)")
        probs = self.predict(x, batch_size=batch_size, verbose=verbose)
        if probs.shape[-1] > 1:
            return probs.argmax(axis=-1)
        return (probs > 0.5).astype(np.int64)

    def predict_proba(self, x: Any, batch_size: int = 32, verbose: Any = 0) -> np.ndarray:
        """Keras 2 Sequential's probabilities: `predict`."""
        _deprecated("predict_proba", "predict")
        return self.predict(x, batch_size=batch_size, verbose=verbose)


def _reject_workers(fn: str, kwargs: dict) -> None:
    """Keras 2's loader settings (workers, use_multiprocessing, max_queue_size) are accepted;
    anything else is an error."""
    unknown = sorted(set(kwargs) - {"workers", "use_multiprocessing", "max_queue_size"})
    if unknown:
        raise TypeError(f"{fn}: unrecognized keyword argument(s) {unknown}")
