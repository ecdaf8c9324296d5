"""The trainer: `compile`, the train / test / predict steps, and the loops that run them
(`fit`, `evaluate`, `predict`, `train_on_batch`, `test_on_batch`, `predict_on_batch`).

`Trainer` is mixed into `dlc.models.Model` next to the graph (`Functional`). Each loop takes a
workspace of its own from the model, so buffers are never shared between concurrent calls, and
passes everything a step needs as arguments: the workspace, the batch, the `StepPlan` and the
`Trackers`. `train_step` is the one place where a step's gradients are complete before the
optimizer runs (where a data-parallel all-reduce of `arena.grads` would go).

Shuffling draws from the model's own generator, seeded from dlc's global seed when the model
is compiled, so two models trained at once in two threads are each as deterministic as alone.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Union

import numpy as np

from dlc import _random
from dlc import metrics as _metrics
from dlc import optimizers as _optimizers
from dlc.models.functional import Workspace, as_list
from dlc import _checks as A
from dlc.trainers import data_adapters as D
from dlc.trainers.compile_utils import CompileLoss, StepPlan, Trackers


class Trainer:
    """Training and inference loops over a model's graph (mixed into `dlc.models.Model`)."""

    def _init_trainer_state(self) -> None:
        self.optimizer: Optional[_optimizers.Optimizer] = None
        self._compile_loss: Optional[CompileLoss] = None
        self.loss: Any = None  # the compiled loss object(s), as Keras's model.loss
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_config: Optional[Dict[str, Any]] = None
        self._metric_specs: Any = None
        self._weighted_specs: Any = None
        self._metric_names: List[str] = []  # of the last loop
        self._batch_trackers: Optional[Trackers] = None  # what *_on_batch accumulate into
        self._plan: Optional[StepPlan] = None
        self._shuffle_rng: Optional[np.random.Generator] = None  # seeded by compile
        self._epochs_done = 0

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Configures the model for training.

        Args:
            optimizer: name ('adam', 'sgd', 'rmsprop', 'adagrad', 'adadelta', 'adamw') or instance.
            loss: name ('categorical_crossentropy', 'sparse_categorical_crossentropy',
                'binary_crossentropy', 'mse', ...), function from `dlc.losses`, or instance; for
                a model with several outputs, a list (one per output) or a dict by output name.
            loss_weights: scalars weighting each output's loss in the total (list or dict).
            metrics: metric names or instances, e.g. `['accuracy']`; for several outputs, a
                list of lists or a dict by output name (a flat list applies to every output).
            weighted_metrics: metrics that take the sample weights (and class weights) of fit
                and evaluate into account; `metrics` do not.
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for Keras
                code; dlc always runs its C kernels step by step.

        Raises:
            ValueError: for an unknown optimizer, loss or metric name.

        Example:

        >>> model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        """
        A.check_int("compile", "steps_per_execution", steps_per_execution, 1)
        self.optimizer = _optimizers.get(optimizer)
        compile_loss = CompileLoss(loss, loss_weights)
        for spec in (metrics, weighted_metrics):  # fail now on unknown names
            for m in _all_specs(spec):
                _metrics.get(m, None)
        self._compile_loss, self._metric_specs, self._weighted_specs = compile_loss, metrics, weighted_metrics
        self._batch_trackers = self._plan = None
        self._compile_config = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                                "weighted_metrics": weighted_metrics}
        self._shuffle_rng = np.random.default_rng(_random.next_seed())
        if self._graph_ready:
            compile_loss.resolve(self)
            self.loss = compile_loss.loss if len(self._outputs) == 1 else compile_loss.losses
        else:
            self.loss = compile_loss.loss if not isinstance(loss, (list, tuple, dict)) else loss
        self.compiled = True

    def _prepare(self, fn: str, x: Any, training: bool = True) -> None:
        """Builds a Sequential from its first data, resolves the compiled losses for the graph."""
        if training:
            if not self.compiled:
                raise RuntimeError(f"You must call `compile()` before using the model ({fn}).")
            if self._compile_loss.spec is None:
                raise ValueError(f"{fn}: the model was compiled without a loss; pass `loss=` to compile()")
        if not D.is_pydataset(x) and not D.is_iterable_data(x):
            self._maybe_build_from_data(x)
        self._ensure_graph()
        if self._compile_loss is not None:
            self._compile_loss.resolve(self)
            if len(self._outputs) == 1:
                self.loss = self._compile_loss.loss

    def _maybe_build_from_data(self, x: Any) -> None:
        """A Sequential without an input shape builds itself from the first data it sees."""

    def _step_plan(self) -> StepPlan:
        """The plan for the model as it is now (recomputed when weights, graph or trainable
        flags changed)."""
        plan = self._plan
        if plan is None or not plan.valid_for(self):
            plan = self._plan = StepPlan(self)
        return plan

    def _trackers(self, batch: D.Batch) -> Trackers:
        trackers = Trackers(self, self._metric_specs, self._weighted_specs, batch.ys)
        self._metric_names = trackers.names()
        return trackers

    @property
    def metrics_names(self) -> List[str]:
        """The names of the values `evaluate` returns: 'loss', then the metrics."""
        return list(self._metric_names) or ["loss"]

    def reset_metrics(self) -> None:
        """Resets the loss and metric accumulators of `train_on_batch` / `test_on_batch`."""
        if self._batch_trackers is not None:
            self._batch_trackers.reset()

    # ---------------------------------------------------------------- steps
    def train_step(self, ws: Workspace, plan: StepPlan, batch: D.Batch, trackers: Trackers) -> float:
        """One gradient update on a batch; returns the batch's loss."""
        tape = self.run_forward(ws, batch.xs, training=True)
        loss, per_output_loss, output_grads, linear_grads = self._compile_loss.forward_backward(self, tape, batch)
        plan.arena.begin_gradients()  # no zero fill: each gradient's first writer overwrites it
        try:
            self.run_backward(tape, output_grads, linear_grads, params=plan.arena)
        finally:  # also when a layer raised: no gradient is left marked fresh for a later pass
            plan.arena.settle_gradients()
        loss += plan.regularization(with_gradients=True)
        # The step's gradients are complete here (a data-parallel all-reduce would go here).
        self.optimizer.apply(plan.arena.params, plan.arena.grads, plan.runs, plan.variables)
        trackers.update(loss, per_output_loss, batch, tape.outputs)
        return loss

    def test_step(self, ws: Workspace, plan: StepPlan, batch: D.Batch, trackers: Trackers) -> float:
        """Loss and metrics of a batch in inference mode; returns the batch's loss."""
        tape = self.run_forward(ws, batch.xs, training=False, inference=True)
        loss, per_output_loss = self._compile_loss.value(tape, batch)
        loss += plan.regularization(with_gradients=False)
        trackers.update(loss, per_output_loss, batch, tape.outputs)
        return loss

    def predict_step(self, ws: Workspace, xs: List[np.ndarray]) -> List[np.ndarray]:
        """The model's outputs for a batch (views of the workspace's buffers)."""
        return self.run_inference(ws, xs)

    # ---------------------------------------------------------------- loops
    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Union[int, str] = "auto", callbacks: Any = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: Any = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: Optional[int] = None,
            validation_steps: Optional[int] = None, validation_batch_size: Optional[int] = None,
            validation_freq: int = 1):
        """Trains the model for a fixed number of epochs.

        Args:
            x: input data: an array (a list or dict of arrays for several inputs), a
                `dlc.utils.PyDataset`, or a generator / iterator of `(x, y)` or
                `(x, y, sample_weight)` batches.
            y: targets for array `x` (one-hot for categorical cross-entropy, class indices for
                the sparse one; a list or dict for several outputs).
            batch_size: samples per gradient update for arrays (default 32).
            epochs: index of the last epoch to train (training starts at `initial_epoch`).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch ('auto' is 1).
            callbacks: list of `dlc.callbacks.Callback`.
            validation_split: fraction of the array data (taken from the end, before
                shuffling) held out for validation.
            validation_data: `(x_val, y_val)`, `(x_val, y_val, sample_weight)`, a PyDataset or a
                generator, evaluated at the end of each epoch.
            shuffle: shuffle the training samples (the batches of a PyDataset) each epoch.
            class_weight: `{class index: weight}`, weighting each sample's loss by its class.
            sample_weight: one weight per training sample (a list or dict for several outputs).
            initial_epoch: epoch at which to start (to resume training).
            steps_per_epoch: batches per epoch (default: the whole data; required for an
                endless generator).
            validation_steps: batches of validation data per evaluation (default: all).
            validation_batch_size: batch size of the validation (default: `batch_size`).
            validation_freq: validate every this many epochs.

        Returns:
            A `History` whose `.history` maps 'loss', metric names and their 'val_' versions to
            per-epoch lists.

        Example:

        >>> history = model.fit(x_train, y_train, batch_size=128, epochs=12,
        ...                     validation_data=(x_test, y_test))
        """
        from dlc import callbacks as _callbacks

        fn = "fit"
        batch_size = A.check_batch_size(fn, batch_size)
        epochs, initial_epoch = A.check_int(fn, "epochs", epochs, 0), A.check_int(fn, "initial_epoch", initial_epoch, 0)
        verbose, shuffle = A.check_verbose(fn, verbose), A.check_bool(fn, "shuffle", shuffle)
        steps_per_epoch = A.check_int(fn, "steps_per_epoch", steps_per_epoch, 1, allow_none=True)
        validation_steps = A.check_int(fn, "validation_steps", validation_steps, 1, allow_none=True)
        validation_batch_size = A.check_int(fn, "validation_batch_size", validation_batch_size, 1, allow_none=True)
        validation_freq = A.check_int(fn, "validation_freq", validation_freq, 1)
        validation_split = A.check_float(fn, "validation_split", validation_split, 0.0, 1.0)
        self._prepare(fn, x)
        train, val = self._fit_data(fn, x, y, sample_weight, class_weight, batch_size, steps_per_epoch,
                                    validation_split, validation_data, validation_steps,
                                    validation_batch_size or batch_size)
        plan = self._step_plan()
        cbs = _callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                      verbose=verbose, epochs=epochs, steps=train.steps)
        self.stop_training = False
        trackers: Optional[Trackers] = None
        cbs.on_train_begin()
        # A callback that restored a backup (BackupAndRestore) says where to resume, as in Keras.
        initial_epoch = getattr(self, "_initial_epoch", None) or initial_epoch
        self._initial_epoch = None
        logs: Dict[str, Any] = {}
        with self._workspace() as ws:
            for epoch in range(initial_epoch, epochs):
                if trackers is not None:
                    trackers.reset()
                cbs.on_epoch_begin(epoch)
                step = -1
                for step, batch in enumerate(train.epoch(self._shuffle_rng if shuffle else None)):
                    cbs.on_train_batch_begin(step)
                    if trackers is None:
                        trackers = self._trackers(batch)
                    self.train_step(ws, plan, batch, trackers)
                    cbs.on_train_batch_end(step, trackers.logs())
                    if self.stop_training:
                        break
                train.on_epoch_end()
                if trackers is None:
                    raise ValueError(f"{fn}: the training data yielded no batches")
                logs = trackers.logs()
                if val is not None and (epoch + 1) % validation_freq == 0:
                    logs.update({"val_" + k: v for k, v in _test_loop(self, "fit", val).logs().items()})
                self._epochs_done = epoch + 1
                cbs.on_epoch_end(epoch, logs)
                if getattr(train, "exhausted", False) or step < 0:
                    warnings.warn(f"{fn}: your input ran out of data; interrupting training. Make sure it "
                                  f"can generate steps_per_epoch * epochs batches", stacklevel=2)
                    break
                if self.stop_training:
                    break
        cbs.on_train_end(logs)
        return self.history  # the History that CallbackList attached to the model

    def _fit_data(self, fn: str, x: Any, y: Any, sample_weight: Any, class_weight: Any, batch_size: int,
                  steps: Optional[int], validation_split: float, validation_data: Any,
                  validation_steps: Optional[int], validation_batch_size: int) -> tuple:
        """The training adapter and the validation adapter (or None)."""
        if validation_data is not None:
            train = D.get_data_adapter(fn, self, x, y, sample_weight, class_weight, batch_size, steps)
            if isinstance(validation_data, (tuple, list)) and not D.is_iterable_data(validation_data):
                if len(validation_data) not in (2, 3):
                    raise ValueError(f"{fn}: argument `validation_data` must be (x_val, y_val) or "
                                     f"(x_val, y_val, sample_weight), received a sequence of {len(validation_data)}")
                vx, vy, vw = (tuple(validation_data) + (None,))[:3]
                return train, D.get_data_adapter(fn, self, vx, vy, vw, None, validation_batch_size, validation_steps)
            return train, D.get_data_adapter(fn, self, validation_data, None, None, None,
                                             validation_batch_size, validation_steps)
        if not validation_split:
            return D.get_data_adapter(fn, self, x, y, sample_weight, class_weight, batch_size, steps), None
        if D.is_pydataset(x) or D.is_iterable_data(x):
            raise ValueError(f"{fn}: argument `validation_split` is only supported for array data, "
                             f"received x of type {type(x).__name__}; pass validation_data instead")
        xs = D.check_inputs(fn, self, x)
        n = xs[0].shape[0]
        ys = D.check_targets(fn, self, y, n)
        sws = D.check_sample_weights(fn, self, sample_weight, class_weight, ys, n)
        split = int(n * (1.0 - validation_split))
        if split == 0 or split == n:
            raise ValueError(f"{fn}: validation_split={validation_split} leaves an empty training or "
                             f"validation set of {n} samples")

        def part(arrays, s):
            return [None if a is None else a[s] for a in arrays]

        head, tail = slice(0, split), slice(split, n)
        return (D.ArrayDataAdapter(self, part(xs, head), part(ys, head), part(sws, head), batch_size, steps),
                D.ArrayDataAdapter(self, part(xs, tail), part(ys, tail), part(sws, tail), validation_batch_size,
                                   validation_steps))

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
                 verbose: Union[int, str] = "auto", sample_weight: Any = None, steps: Optional[int] = None,
                 callbacks: Any = None, return_dict: bool = False):
        """Returns the loss and metrics of the model on `x`, `y` (inference mode).

        Args:
            x, y: inputs and targets, as for fit (arrays, a PyDataset or a generator).
            batch_size: default 32.
            verbose: 0 silent, 1 progress bar.
            sample_weight: one weight per sample, for the loss and the weighted metrics.
            steps: batches to evaluate (default: all the data).
            return_dict: return `{'loss': ..., 'accuracy': ...}` instead of a list.

        Returns:
            `[loss, metric1, ...]` (the scalar loss when there are no metrics), or a dict.

        Example:

        >>> loss, acc = model.evaluate(x_test, y_test, verbose=0)
        """
        from dlc import callbacks as _callbacks

        fn = "evaluate"
        batch_size, verbose = A.check_batch_size(fn, batch_size), A.check_verbose(fn, verbose)
        steps = A.check_int(fn, "steps", steps, 1, allow_none=True)
        self._prepare(fn, x)
        data = D.get_data_adapter(fn, self, x, y, sample_weight, None, batch_size, steps)
        cbs = _callbacks.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                      epochs=1, steps=data.steps)
        cbs.on_test_begin()
        trackers = _test_loop(self, fn, data, cbs)
        logs = trackers.logs()
        cbs.on_test_end(logs)
        return logs if return_dict else trackers.values()

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Union[int, str] = "auto",
                steps: Optional[int] = None, callbacks: Any = None):
        """Returns the model's outputs for `x` (inference mode), batch by batch.

        Args:
            x: input data: an array (list or dict of arrays), a PyDataset or a generator.
            batch_size: default 32.
            verbose: 0 silent, 1 progress bar.
            steps: batches to predict (default: all the data).

        Returns:
            A float32 array (n, ...) (a list of arrays for several outputs).

        Example:

        >>> probs = model.predict(x_test, verbose=0)
        >>> labels = probs.argmax(axis=1)
        """
        from dlc import callbacks as _callbacks

        fn = "predict"
        batch_size, verbose = A.check_batch_size(fn, batch_size), A.check_verbose(fn, verbose)
        steps = A.check_int(fn, "steps", steps, 1, allow_none=True)
        self._prepare(fn, x, training=False)
        self._ensure_arena()
        data = D.get_data_adapter(fn, self, x, batch_size=batch_size, steps=steps, with_targets=False)
        cbs = _callbacks.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                      epochs=1, steps=data.steps)
        cbs.on_predict_begin()
        results = _predict_loop(self, fn, data, cbs)
        cbs.on_predict_end()
        return results if self._outputs_is_list else results[0]

    # ---------------------------------------------------------------- single batches
    def _on_batch(self, fn: str, x: Any, y: Any, sample_weight: Any, class_weight: Any, step: Any,
                  return_dict: bool):
        self._prepare(fn, x)
        data = D.get_data_adapter(fn, self, x, y, sample_weight, class_weight, batch_size=1 << 62)
        (batch,) = list(data.epoch(None))
        plan = self._step_plan()
        if self._batch_trackers is None:
            self._batch_trackers = self._trackers(batch)
        self._batch_trackers.reset()  # each call reports its own batch, as Keras 3
        with self._workspace() as ws:
            step(ws, plan, batch, self._batch_trackers)
        return self._batch_trackers.logs() if return_dict else self._batch_trackers.values()

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
                       return_dict: bool = False):
        """One gradient update on a single batch; returns the batch's loss and metrics (as
        Keras 3, each call reports its own batch).

        Example:

        >>> loss = model.train_on_batch(x_batch, y_batch)
        """
        return self._on_batch("train_on_batch", x, y, sample_weight, class_weight, self.train_step, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False):
        """Loss and metrics on a single batch (inference mode)."""
        return self._on_batch("test_on_batch", x, y, sample_weight, None, self.test_step, return_dict)

    def predict_on_batch(self, x: Any):
        """The model's outputs for one batch (inference mode).

        Example:

        >>> probs = model.predict_on_batch(x_test[:1])
        """
        arrays = list(x.values()) if isinstance(x, dict) else as_list(x)
        if (not D.is_pydataset(x) and not D.is_iterable_data(x) and arrays
                and np.shape(arrays[0])[:1] not in ((), (0,))):
            return self._forward_arrays("predict_on_batch", x, training=False)  # one pass, no loop
        return self.predict(x, batch_size=max(1, len(as_list(x)[0]) if not isinstance(x, dict)
                                              else len(next(iter(x.values())))), verbose=0)

    # ---------------------------------------------------------------- resumable state
    def _training_state(self) -> Dict[str, Any]:
        """What exact resume needs besides the weights: the epochs done, the shuffle generator's
        position and every dropout layer's step (JSON-able)."""
        return {"epochs_done": self._epochs_done,
                "shuffle_rng": self._shuffle_rng.bit_generator.state,
                "random_layers": {layer.name: layer._step for layer in _random_layers(self)}}

    def _set_training_state(self, state: Dict[str, Any]) -> None:
        self._epochs_done = int(state.get("epochs_done", 0))
        if "shuffle_rng" in state:
            rng = np.random.default_rng()
            rng.bit_generator.state = state["shuffle_rng"]
            self._shuffle_rng = rng
        steps = state.get("random_layers", {})
        for layer in _random_layers(self):
            if layer.name in steps:
                layer._step = int(steps[layer.name])


def _random_layers(model: Any) -> List[Any]:
    """Every layer of `model` (nested ones too) that counts its random draws in `_step`."""
    out, stack = [], list(model._sublayers())
    while stack:
        layer = stack.pop(0)
        if hasattr(layer, "_step") and hasattr(layer, "_seed"):
            out.append(layer)
        stack.extend(layer._sublayers())
    return out


def _all_specs(spec: Any) -> List[Any]:
    if spec is None:
        return []
    if isinstance(spec, dict):
        spec = list(spec.values())
    if not isinstance(spec, (list, tuple)):
        return [spec]
    out: List[Any] = []
    for s in spec:
        out.extend(_all_specs(s) if isinstance(s, (list, tuple, dict)) or s is None else [s])
    return out


def _test_loop(model: Any, fn: str, data: D.DataAdapter, cbs: Any = None) -> Trackers:
    """The loss and metrics of `model` over `data` in inference mode, in trackers of their own
    (a validation pass leaves fit's untouched)."""
    plan = model._step_plan()
    trackers: Optional[Trackers] = None
    with model._workspace() as ws:
        for step, batch in enumerate(data.epoch(None)):
            if cbs is not None:
                cbs.on_test_batch_begin(step)
            if trackers is None:
                trackers = model._trackers(batch)
            model.test_step(ws, plan, batch, trackers)
            if cbs is not None:
                cbs.on_test_batch_end(step, trackers.logs())
    if trackers is None:
        raise ValueError(f"{fn}: the evaluation data yielded no batches")
    return trackers


def _predict_loop(model: Any, fn: str, data: D.DataAdapter, cbs: Any) -> List[np.ndarray]:
    """`model`'s outputs for every batch of `data`, in new arrays."""
    chunks: List[List[np.ndarray]] = []
    n = getattr(data, "n", None)
    results: Optional[List[np.ndarray]] = None
    start = 0
    with model._workspace() as ws:
        for step, batch in enumerate(data.epoch(None)):
            cbs.on_predict_batch_begin(step)
            outs = model.predict_step(ws, batch.xs)
            stop = start + outs[0].shape[0]
            if n is not None:
                if results is None:
                    total = min(n, data.steps * data.batch_size)
                    results = [np.empty((total,) + o.shape[1:], np.float32) for o in outs]
                for r, o in zip(results, outs):
                    r[start:stop] = o
            else:
                chunks.append([o.copy() for o in outs])
            start = stop
            cbs.on_predict_batch_end(step, {})
    if results is not None:
        return results
    if not chunks:
        raise ValueError(f"{fn}: the input data yielded no batches")
    return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
