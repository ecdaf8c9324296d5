"""What `compile()` decides, and what each training step reads from it.

- `CompileLoss`: the loss, and the one decision about fusing it with the model's softmax
  output (made when the model is compiled, or when it is first built if that comes later).
- `StepPlan`: what every step of one compiled model over one arena needs: the trainable
  variables, the contiguous runs of the arena the optimizer updates, the regularized weights.
- `Trackers`: the loss mean and the metrics of one loop.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from dlc import losses as _losses
from dlc import metrics as _metrics
from dlc._arena import Arena, Variable
from dlc.layers.base import Node
from dlc.trainers.data_adapters import rows


class CompileLoss:
    """The compiled loss of a model with one output.

    When the output layer ends in a softmax and the loss is (sparse) categorical cross-entropy
    on probabilities, the step computes the loss and its gradient from the softmax's input (the
    logits) with one fused, numerically stable kernel, and the output layer's backward starts
    from that gradient (`backward_linear`).
    """

    def __init__(self, loss: Any) -> None:
        self.loss: Optional[_losses.Loss] = _losses.get(loss) if loss is not None else None
        self._fused: Optional[Node] = None
        self._decided_for: Optional[int] = None  # graph version the fusion was decided for

    def decide(self, model: Any) -> None:
        """Decides the fusion for `model`'s current graph (once per graph)."""
        if self._decided_for == model._graph_version:
            return
        self._fused = _fusable_output(model, self.loss)
        self._decided_for = model._graph_version

    @property
    def fused_node(self) -> Optional[Node]:
        return self._fused

    def forward_backward(self, model: Any, tape: Any, y: np.ndarray) -> Tuple[float, List[Any], Dict[int, np.ndarray]]:
        """The batch's mean loss and the gradients to start the backward pass from:
        `(loss, output_grads, linear_grads)` for `Functional.run_backward`."""
        loss, scratch = self.loss, tape.ws.scratch
        y_pred = tape.outputs[0]
        if hasattr(loss, "transform_targets"):
            loss.transform_targets(y)
        per_sample = scratch.buf("loss", (rows(y_pred.shape),))
        d = scratch.zeros("dy_out", y_pred.shape)
        if self._fused is not None:
            logits = model.saved_of(tape, self._fused)["z"]
            probs = scratch.buf("probs", logits.shape)
            loss.fused_per_sample(logits, y, probs, per_sample)
            loss.fused_backward(probs, y, 1.0 / per_sample.size, d)
            return float(np.mean(per_sample, dtype=np.float64)), [None], {0: d}
        loss.per_sample(y_pred, y, per_sample)
        loss.backward(y_pred, y, 1.0 / per_sample.size, d)
        return float(np.mean(per_sample, dtype=np.float64)), [d], {}

    def value(self, tape: Any, y: np.ndarray) -> float:
        """The batch's mean loss, no gradient (evaluation)."""
        loss, y_pred = self.loss, tape.outputs[0]
        if hasattr(loss, "transform_targets"):
            loss.transform_targets(y)
        per_sample = tape.ws.scratch.buf("loss_eval", (rows(y_pred.shape),))
        loss.per_sample(y_pred, y, per_sample)
        return float(np.mean(per_sample, dtype=np.float64))


def _fusable_output(model: Any, loss: Any) -> Optional[Node]:
    """The output node whose softmax the loss can take over, if any: a softmax-activated layer
    whose output feeds nothing else in the graph."""
    if not getattr(loss, "supports_fused_softmax", False) or getattr(loss, "from_logits", True):
        return None
    if len(model._outputs) != 1:
        return None
    t = model._outputs[0]
    act = getattr(t.node.layer, "activation", None) if t.node is not None else None
    if act is None or not act.is_softmax:
        return None
    if any(src is t for nd in model._nodes for src in nd.inputs):
        return None
    return t.node


class StepPlan:
    """What every step over one arena needs, computed once per fit (and cached by the
    `*_on_batch` calls while nothing changes)."""

    def __init__(self, model: Any) -> None:
        self.arena: Arena = model._ensure_arena()
        self.version = model._graph_version
        trainable = model.trainable_weights
        self.key = tuple(id(v) for v in trainable)
        ids = set(self.key)
        self.variables: List[Variable] = [v for v in self.arena.variables if id(v) in ids]
        self.runs = trainable_runs(self.arena, ids)
        self.regularized = [v for v in self.variables if v.regularizer is not None]

    def valid_for(self, model: Any) -> bool:
        return (self.arena is model._arena and self.version == model._graph_version
                and self.key == tuple(id(v) for v in model.trainable_weights)
                and all(v.arena is self.arena for v in self.variables))

    def regularization(self, with_gradients: bool) -> float:
        """The regularization penalty of the trainable weights; with_gradients adds its
        gradient to theirs."""
        total = 0.0
        for v in self.regularized:
            total += v.regularizer(v.value)
            if with_gradients:
                v.regularizer.gradient(v.value, v.grad)
        return total


def trainable_runs(arena: Arena, trainable_ids: Set[int]) -> List[Tuple[int, int]]:
    """Contiguous (start, stop) ranges of the parameter arena holding the weights in
    `trainable_ids`. Two weights share a run only when they are neighbours in the arena (the
    gap between them is alignment padding), so a frozen weight is never inside a run."""
    runs: List[Tuple[int, int]] = []
    joined = False
    for v in arena.variables:
        if not v.trainable:  # lives in the state arena, not between parameters
            continue
        if id(v) not in trainable_ids:
            joined = False
            continue
        start, stop = v.offset, v.offset + v.size
        if joined:
            runs[-1] = (runs[-1][0], stop)
        else:
            runs.append((start, stop))
        joined = True
    return runs


class Trackers:
    """The running loss mean and the metrics of one loop, resolved for targets like `y`
    ('accuracy' picks binary, categorical or sparse categorical accuracy as Keras does)."""

    def __init__(self, specs: Sequence[Any], loss: Any, output_shape: Any, y: np.ndarray) -> None:
        self.loss = _metrics.Mean(name="loss")
        target_shape = (None,) + tuple(y.shape[1:])
        self.metrics: List[_metrics.Metric] = []
        for spec in specs:
            m = _metrics.get(copy.deepcopy(spec) if isinstance(spec, _metrics.Metric) else spec,
                             loss, output_shape, target_shape)
            m.reset_state()
            self.metrics.append(m)

    def update(self, loss_value: float, y: np.ndarray, y_pred: np.ndarray) -> None:
        self.loss.update_state(loss_value, sample_weight=y.shape[0])
        for metric in self.metrics:
            metric.update_state(y, y_pred)

    def reset(self) -> None:
        self.loss.reset_state()
        for m in self.metrics:
            m.reset_state()

    def logs(self) -> Dict[str, float]:
        logs = {m.name: float(m.result()) for m in self.metrics}
        logs["loss"] = float(self.loss.result())
        return dict(sorted(logs.items()))

    def values(self) -> Any:
        """Keras's return value: the loss alone, or `[loss, metric1, ...]`."""
        logs = self.logs()
        values = [logs["loss"]] + [logs[m.name] for m in self.metrics]
        return values if len(values) > 1 else values[0]
