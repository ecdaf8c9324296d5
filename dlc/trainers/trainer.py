"""The trainer: `compile`, the train / test / predict steps, and the loops that run them
(`fit`, `evaluate`, `predict`, `train_on_batch`, `test_on_batch`, `predict_on_batch`).

`Trainer` is mixed into `dlc.models.Model` next to the graph (`Functional`). Each loop takes a
workspace of its own from the model, so buffers are never shared between concurrent calls, and
passes everything a step needs as arguments: the workspace, the batch, the `StepPlan` and the
`Trackers`. `train_step` is the one place where a step's gradients are complete before the
optimizer runs (where a data-parallel all-reduce of `arena.grads` would go).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Union

import numpy as np

from dlc import _random
from dlc import metrics as _metrics
from dlc import optimizers as _optimizers
from dlc.models.functional import Workspace, as_list
from dlc.trainers.compile_utils import CompileLoss, StepPlan, Trackers
from dlc.trainers.data_adapters import ArrayBatcher, check_batch_size, prepare_x, prepare_y, verbosity


class Trainer:
    """Training and inference loops over a model's graph (mixed into `dlc.models.Model`)."""

    def _init_trainer_state(self) -> None:
        self.optimizer: Optional[_optimizers.Optimizer] = None
        self._compile_loss: Optional[CompileLoss] = None
        self.loss: Any = None  # the compiled loss object, as Keras's model.loss
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_specs: List[Any] = []
        self._metrics: Optional[List[_metrics.Metric]] = None  # resolved by the last loop
        self._batch_trackers: Optional[Trackers] = None  # what *_on_batch accumulate into
        self._plan: Optional[StepPlan] = None

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Configures the model for training.

        Args:
            optimizer: name ('adam', 'sgd', 'rmsprop', 'adagrad', 'adadelta') or instance.
            loss: name ('categorical_crossentropy', 'sparse_categorical_crossentropy',
                'binary_crossentropy', 'mse'), function from `dlc.losses`, or instance.
            metrics: list of metric names or instances, e.g. `['accuracy']`.

        Raises:
            ValueError: for an unknown optimizer, loss or metric name.

        Example:

        >>> model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        """
        if loss_weights is not None or weighted_metrics is not None:
            raise NotImplementedError("compile: loss_weights and weighted_metrics are not supported yet")
        if isinstance(metrics, dict):
            raise NotImplementedError("compile: per-output metric dicts are not supported yet; pass a list")
        self.optimizer = _optimizers.get(optimizer)
        compile_loss = CompileLoss(loss)
        specs = as_list(metrics)
        for m in specs:  # fail now on unknown names
            _metrics.get(m, compile_loss.loss)
        self._compile_loss, self._metric_specs = compile_loss, specs
        self.loss = compile_loss.loss
        self._metrics = self._batch_trackers = self._plan = None
        if self._graph_ready:
            compile_loss.decide(self)
        self.compiled = True

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before using the model ({what}).")
        if self.loss is None:
            raise ValueError(f"{what}: the model was compiled without a loss; pass `loss=` to compile()")

    def _step_plan(self) -> StepPlan:
        """The plan for the model as it is now (recomputed when weights, graph or trainable
        flags changed)."""
        self._compile_loss.decide(self)
        plan = self._plan
        if plan is None or not plan.valid_for(self):
            plan = self._plan = StepPlan(self)
        return plan

    def _trackers(self, y: np.ndarray) -> Trackers:
        trackers = Trackers(self._metric_specs, self.loss, self._outputs[0].shape, y)
        self._metrics = trackers.metrics
        return trackers

    @property
    def metrics_names(self) -> List[str]:
        return ["loss"] + [m.name for m in (self._metrics or [])]

    def reset_metrics(self) -> None:
        """Resets the loss and metric accumulators of `train_on_batch` / `test_on_batch`."""
        if self._batch_trackers is not None:
            self._batch_trackers.reset()

    # ---------------------------------------------------------------- steps
    def train_step(self, ws: Workspace, plan: StepPlan, xb: List[np.ndarray], yb: np.ndarray,
                   trackers: Trackers) -> float:
        """One gradient update on a batch; returns the batch's loss."""
        tape = self.run_forward(ws, xb, training=True)
        loss, output_grads, linear_grads = self._compile_loss.forward_backward(self, tape, yb)
        plan.arena.zero_grads()
        self.run_backward(tape, output_grads, linear_grads)
        loss += plan.regularization(with_gradients=True)
        # The step's gradients are complete here (a data-parallel all-reduce would go here).
        self.optimizer.apply(plan.arena.params, plan.arena.grads, plan.runs, plan.variables)
        trackers.update(loss, yb, tape.outputs[0])
        return loss

    def test_step(self, ws: Workspace, plan: StepPlan, xb: List[np.ndarray], yb: np.ndarray,
                  trackers: Trackers) -> float:
        """Loss and metrics of a batch in inference mode; returns the batch's loss."""
        tape = self.run_forward(ws, xb, training=False)
        loss = self._compile_loss.value(tape, yb) + plan.regularization(with_gradients=False)
        trackers.update(loss, yb, tape.outputs[0])
        return loss

    def predict_step(self, ws: Workspace, xb: List[np.ndarray]) -> List[np.ndarray]:
        """The model's outputs for a batch (views of the workspace's buffers)."""
        return self.run_forward(ws, xb, training=False).outputs

    # ---------------------------------------------------------------- loops
    def _data(self, x: Any, y: Any) -> tuple:
        xs = self._prepare_x(x)
        return xs, prepare_y(self.loss, self._outputs, y, xs[0].shape[0])

    def _prepare_x(self, x: Any) -> List[np.ndarray]:
        self._maybe_build_from_data(x)
        return prepare_x(self.name, self._inputs, x, "x")

    def _maybe_build_from_data(self, x: Any) -> None:
        """A Sequential without an input shape builds itself from the first data it sees."""

    def _batcher(self, xs: List[np.ndarray], y: Optional[np.ndarray], batch_size: int) -> ArrayBatcher:
        arrays = xs + ([y] if y is not None else [])
        dtypes = [np.float32] * len(xs) + ([self.loss.target_dtype] if y is not None else [])
        return ArrayBatcher(arrays, dtypes, batch_size)

    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Union[int, str] = "auto", callbacks: Any = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: Any = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: Optional[int] = None,
            validation_steps: Optional[int] = None, validation_batch_size: Optional[int] = None,
            validation_freq: int = 1):
        """Trains the model for a fixed number of epochs.

        Args:
            x: input array (or list of arrays for several inputs).
            y: targets (one-hot for categorical cross-entropy, class indices for the sparse one).
            batch_size: samples per gradient update (default 32).
            epochs: index of the last epoch to train (training starts at `initial_epoch`).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch ('auto' is 1).
            callbacks: list of `dlc.callbacks.Callback`.
            validation_split: fraction of the training data (taken from the end, before
                shuffling) held out for validation.
            validation_data: `(x_val, y_val)` evaluated at the end of each epoch.
            shuffle: shuffle the training samples before each epoch.
            initial_epoch: epoch at which to start (to resume training).

        Returns:
            A `History` whose `.history` maps 'loss', metric names and their 'val_' versions to
            per-epoch lists.

        Example:

        >>> history = model.fit(x_train, y_train, batch_size=128, epochs=12,
        ...                     validation_data=(x_test, y_test))
        """
        from dlc import callbacks as _callbacks

        self._require_compiled("fit")
        if class_weight is not None or sample_weight is not None:
            raise NotImplementedError("fit: class_weight and sample_weight are not supported yet")
        if steps_per_epoch is not None:
            raise NotImplementedError("fit: steps_per_epoch is not supported with array inputs; the epoch covers the data")
        batch_size = check_batch_size(batch_size)
        epochs, initial_epoch = int(epochs), int(initial_epoch)
        verbose = verbosity(verbose)
        xs, yy = self._data(x, y)
        if validation_data is not None:
            val = self._data(*_validation_pair(validation_data))
        else:
            xs, yy, val = _split_validation(xs, yy, validation_split)
        n = xs[0].shape[0]
        plan = self._step_plan()
        trackers = self._trackers(yy)
        steps = math.ceil(n / batch_size)
        batcher = self._batcher(xs, yy, batch_size)
        cbs = _callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                      verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        gen = _random.generator()
        cbs.on_train_begin()
        logs: Dict[str, float] = {}
        with self._workspace() as ws:
            for epoch in range(initial_epoch, epochs):
                trackers.reset()
                cbs.on_epoch_begin(epoch)
                order = gen.permutation(n) if shuffle else np.arange(n)
                for step in range(steps):
                    cbs.on_train_batch_begin(step)
                    batch = batcher.gather(order[step * batch_size:(step + 1) * batch_size])
                    self.train_step(ws, plan, batch[:-1], batch[-1], trackers)
                    cbs.on_train_batch_end(step, trackers.logs())
                    if self.stop_training:
                        break
                logs = trackers.logs()
                if val is not None and (epoch + 1) % validation_freq == 0:
                    val_logs = _test_loop(self, val[0], val[1], validation_batch_size or batch_size).logs()
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        cbs.on_train_end(logs)
        return self.history  # the History that CallbackList attached to the model

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
                 verbose: Union[int, str] = "auto", sample_weight: Any = None, steps: Optional[int] = None,
                 callbacks: Any = None, return_dict: bool = False):
        """Returns the loss and metrics of the model on `x`, `y` (inference mode).

        Args:
            x, y: inputs and targets, as for fit.
            batch_size: default 32.
            verbose: 0 silent, 1 progress bar.
            return_dict: return `{'loss': ..., 'accuracy': ...}` instead of a list.

        Returns:
            `[loss, metric1, ...]` (the scalar loss when there are no metrics), or a dict.

        Example:

        >>> loss, acc = model.evaluate(x_test, y_test, verbose=0)
        """
        from dlc import callbacks as _callbacks

        self._require_compiled("evaluate")
        if sample_weight is not None:
            raise NotImplementedError("evaluate: sample_weight is not supported yet")
        batch_size = check_batch_size(batch_size)
        verbose = verbosity(verbose)
        xs, yy = self._data(x, y)
        cbs = _callbacks.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                      epochs=1, steps=math.ceil(xs[0].shape[0] / batch_size))
        cbs.on_test_begin()
        trackers = _test_loop(self, xs, yy, batch_size, cbs)
        logs = trackers.logs()
        cbs.on_test_end(logs)
        return logs if return_dict else trackers.values()

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Union[int, str] = "auto",
                steps: Optional[int] = None, callbacks: Any = None):
        """Returns the model's outputs for `x` (inference mode), batch by batch.

        Args:
            x: input array (or list of arrays).
            batch_size: default 32.
            verbose: 0 silent, 1 progress bar.

        Returns:
            A float32 array (n, ...) (a list of arrays for several outputs).

        Example:

        >>> probs = model.predict(x_test, verbose=0)
        >>> labels = probs.argmax(axis=1)
        """
        from dlc import callbacks as _callbacks

        batch_size = check_batch_size(batch_size)
        verbose = verbosity(verbose)
        xs = self._prepare_x(x)
        self._ensure_arena()
        steps_n = math.ceil(xs[0].shape[0] / batch_size)
        cbs = _callbacks.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                      epochs=1, steps=steps_n)
        cbs.on_predict_begin()
        results = _predict_loop(self, xs, batch_size, cbs)
        cbs.on_predict_end()
        return results if self._outputs_is_list else results[0]

    # ---------------------------------------------------------------- single batches
    def _on_batch(self, x: Any, y: Any, step: Any, return_dict: bool):
        xs, yy = self._data(x, y)
        plan = self._step_plan()
        if self._batch_trackers is None:
            self._batch_trackers = self._trackers(yy)
        batch = self._batcher(xs, yy, len(yy)).slice(0, len(yy))
        with self._workspace() as ws:
            step(ws, plan, batch[:-1], _own(batch[-1], yy), self._batch_trackers)
        return self._batch_trackers.logs() if return_dict else self._batch_trackers.values()

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
                       return_dict: bool = False):
        """One gradient update on a single batch; returns the loss and metrics accumulated since
        the last `reset_metrics()` (as Keras 3)."""
        self._require_compiled("train_on_batch")
        if sample_weight is not None or class_weight is not None:
            raise NotImplementedError("train_on_batch: sample_weight and class_weight are not supported yet")
        return self._on_batch(x, y, self.train_step, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False):
        """Loss and metrics on a single batch (inference mode), accumulated like train_on_batch."""
        self._require_compiled("test_on_batch")
        return self._on_batch(x, y, self.test_step, return_dict)

    def predict_on_batch(self, x: Any):
        """The model's outputs for one batch (inference mode)."""
        return self.predict(x, batch_size=max(1, len(as_list(x)[0])), verbose=0)


def _test_loop(model: Any, xs: List[np.ndarray], y: np.ndarray, batch_size: int, cbs: Any = None) -> Trackers:
    """The loss and metrics of `model` over (xs, y) in inference mode, in trackers of their
    own (a validation pass leaves fit's untouched)."""
    n = xs[0].shape[0]
    plan = model._step_plan()
    trackers = model._trackers(y)
    batcher = model._batcher(xs, y, batch_size)
    with model._workspace() as ws:
        for step in range(math.ceil(n / batch_size)):
            if cbs is not None:
                cbs.on_test_batch_begin(step)
            batch = batcher.slice(step * batch_size, min(n, (step + 1) * batch_size))
            model.test_step(ws, plan, batch[:-1], _own(batch[-1], y), trackers)
            if cbs is not None:
                cbs.on_test_batch_end(step, trackers.logs())
    return trackers


def _predict_loop(model: Any, xs: List[np.ndarray], batch_size: int, cbs: Any) -> List[np.ndarray]:
    """`model`'s outputs for every row of `xs`, batch by batch, in new arrays."""
    n = xs[0].shape[0]
    batcher = model._batcher(xs, None, batch_size)
    results = [np.empty((n,) + tuple(d or 0 for d in t.shape[1:]), np.float32) for t in model._outputs]
    with model._workspace() as ws:
        for step in range(math.ceil(n / batch_size)):
            start, stop = step * batch_size, min(n, (step + 1) * batch_size)
            cbs.on_predict_batch_begin(step)
            outs = model.predict_step(ws, batcher.slice(start, stop))
            if step == 0:
                results = [np.empty((n,) + o.shape[1:], np.float32) for o in outs]
            for r, o in zip(results, outs):
                r[start:stop] = o
            cbs.on_predict_batch_end(step, {})
    return results


def _validation_pair(validation_data: Any) -> tuple:
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("fit: `validation_data` must be a tuple (x_val, y_val)")
    return validation_data[0], validation_data[1]


def _split_validation(xs: List[np.ndarray], y: np.ndarray, validation_split: Any) -> tuple:
    """(xs, y, val): the last `validation_split` of the samples held out as `val` (or None)."""
    if not 0.0 <= float(validation_split) < 1.0:
        raise ValueError(f"fit: argument `validation_split` must be in [0, 1), received {validation_split!r}")
    if not validation_split:
        return xs, y, None
    n = xs[0].shape[0]
    split = int(n * (1.0 - validation_split))
    if split == 0 or split == n:
        raise ValueError(f"fit: validation_split={validation_split} leaves an empty training or validation set of {n} samples")
    return [a[:split] for a in xs], y[:split], ([a[split:] for a in xs], y[split:])


def _own(yb: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The batch's targets as an array the step may change in place (label smoothing): a
    view of the user's `y` is copied."""
    return yb.copy() if np.shares_memory(yb, y) else yb
