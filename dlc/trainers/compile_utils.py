"""What `compile()` decides, and what each training step reads from it.

- `CompileLoss`: the loss of every output (one for all, a list, or a dict by output name), their
  `loss_weights`, and the one decision per output about fusing the loss with a softmax output
  layer (made when the model is compiled, or when it is first built if that comes later).
- `StepPlan`: what every step over one arena needs: the trainable variables, the contiguous
  runs of the arena the optimizer updates, the regularized weights.
- `Trackers`: the loss means and the metrics of one loop, with Keras's log names.

Losses reduce as Keras's default 'sum_over_batch_size': a batch's loss is
`sum(sample_weight * per_sample_loss) / rows`, and the logged loss is the mean of the batch
losses weighted by batch size; metrics ignore sample weights, `weighted_metrics` use them.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from dlc import losses as _losses
from dlc import metrics as _metrics
from dlc._arena import Arena, Variable
from dlc.layers.base import Node
from dlc.trainers.data_adapters import Batch, rows


def per_output(value: Any, names: List[str], what: str, nested: bool = False) -> List[Any]:
    """A compile argument (one value for all outputs, a list per output, or a dict by output
    name) as a list aligned with `names`. nested: a flat list is one value for all outputs
    (metrics), a list of lists/None is per output."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"compile: argument `{what}` has keys {unknown}; the model's outputs are {names}")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)) and not nested:
        if len(value) != len(names):
            raise ValueError(f"compile: argument `{what}` must have one entry per output {names}, "
                             f"received {len(value)}")
        return list(value)
    if nested and isinstance(value, (list, tuple)) and len(names) > 1 and len(value) == len(names) and all(
            v is None or isinstance(v, (list, tuple)) for v in value):
        return list(value)
    return [value] * len(names)


class CompileLoss:
    """The compiled losses of a model, resolved against its outputs."""

    def __init__(self, loss: Any, loss_weights: Any = None) -> None:
        self.spec, self.weights_spec = loss, loss_weights
        if not isinstance(loss, (dict, list, tuple)):
            _losses.get(loss) if loss is not None else None  # fail at compile on a bad name
        self.losses: List[Optional[_losses.Loss]] = []
        self.weights: List[float] = []
        self._fused: List[Optional[Node]] = []
        self._decided_for: Optional[int] = None

    def resolve(self, model: Any) -> None:
        """Per output, its loss, weight and fusion, for `model`'s current graph (once per graph)."""
        if self._decided_for == model._graph_version:
            return
        names = model.output_names
        specs = per_output(self.spec, names, "loss") if self.spec is not None else [None] * len(names)
        self.losses = [_losses.get(s) if s is not None else None for s in specs]
        ws = per_output(self.weights_spec, names, "loss_weights") if self.weights_spec is not None else [1.0] * len(names)
        self.weights = []
        for name, w in zip(names, ws):
            if w is None:
                w = 1.0
            if isinstance(w, bool) or not isinstance(w, (int, float, np.floating, np.integer)) or not np.isfinite(w):
                raise ValueError(f"compile: argument `loss_weights` for output '{name}' must be a finite number, received {w!r}")
            self.weights.append(float(w))
        self._fused = [_fusable_output(model, i, loss) for i, loss in enumerate(self.losses)]
        self._decided_for = model._graph_version

    @property
    def loss(self) -> Any:
        """The first output's loss (Keras's `model.loss` for one output)."""
        return self.losses[0] if self.losses else None

    def fused_node(self, i: int = 0) -> Optional[Node]:
        return self._fused[i] if i < len(self._fused) else None

    def forward_backward(self, model: Any, tape: Any, batch: Batch) -> Tuple[float, List[float], List[Any], Dict[int, np.ndarray]]:
        """The batch's total loss, each output's loss, and the gradients to start the backward
        pass from: `(total, per_output, output_grads, linear_grads)`."""
        total, values, grads, linear = 0.0, [], [], {}
        for i, loss in enumerate(self.losses):
            if loss is None:
                values.append(0.0)
                grads.append(None)
                continue
            y, w = batch.ys[i], batch.sws[i]
            y_pred = tape.outputs[i]
            if hasattr(loss, "transform_targets"):
                loss.transform_targets(y)
            scratch = tape.ws.scratch
            per_sample = scratch.buf(f"loss{i}", (rows(y_pred.shape),))
            d = scratch.zeros(f"dy_out{i}", y_pred.shape)
            scale = 1.0 / per_sample.size
            fused = self._fused[i]
            if fused is not None:
                logits = model.saved_of(tape, fused)["z"]
                probs = scratch.buf(f"probs{i}", logits.shape)
                loss.fused_per_sample(logits, y, probs, per_sample)
                loss.fused_backward(probs, y, scale, d)
                linear[i] = d
                grads.append(None)
            else:
                loss.per_sample(y_pred, y, per_sample)
                loss.backward(y_pred, y, scale, d)
                grads.append(d)
            value = _weighted_mean(per_sample, w)
            if w is not None:
                d.reshape(w.shape[0], -1)[...] *= w[:, None]
            if self.weights[i] != 1.0:
                d *= np.float32(self.weights[i])
            values.append(value)
            total += self.weights[i] * value
        return total, values, grads, linear

    def value(self, tape: Any, batch: Batch) -> Tuple[float, List[float]]:
        """The batch's total loss and each output's loss, no gradient (evaluation)."""
        total, values = 0.0, []
        for i, loss in enumerate(self.losses):
            if loss is None:
                values.append(0.0)
                continue
            y, y_pred = batch.ys[i], tape.outputs[i]
            if hasattr(loss, "transform_targets"):
                loss.transform_targets(y)
            per_sample = tape.ws.scratch.buf(f"loss_eval{i}", (rows(y_pred.shape),))
            loss.per_sample(y_pred, y, per_sample)
            value = _weighted_mean(per_sample, batch.sws[i])
            values.append(value)
            total += self.weights[i] * value
        return total, values


def _weighted_mean(per_sample: np.ndarray, w: Optional[np.ndarray]) -> float:
    """sum(w * loss) / rows (Keras's 'sum_over_batch_size'), in float64."""
    if w is None:
        return float(np.mean(per_sample, dtype=np.float64))
    per = per_sample.reshape(w.shape[0], -1).astype(np.float64)
    return float((per * w[:, None]).sum() / per_sample.size)


def _fusable_output(model: Any, i: int, loss: Any) -> Optional[Node]:
    """The node of output `i` whose softmax the loss can take over, if any: a softmax-activated
    layer whose output feeds nothing else in the graph."""
    if not getattr(loss, "supports_fused_softmax", False) or getattr(loss, "from_logits", True):
        return None
    t = model._outputs[i]
    act = getattr(t.node.layer, "activation", None) if t.node is not None else None
    if act is None or not act.is_softmax:
        return None
    if any(src is t for nd in model._nodes for src in nd.inputs):
        return None
    if sum(o is t for o in model._outputs) > 1:
        return None
    return t.node


class StepPlan:
    """What every step over one arena needs, computed once per loop (and cached by the
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
        """The regularization penalty of the trainable weights (the same in training and
        evaluation, as Keras); with_gradients adds its gradient to theirs."""
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
    """The running loss means and the metrics of one loop, with Keras's names: `loss`, then
    `<output>_loss` per output when there are several, then each metric (`<output>_<metric>`
    when there are several outputs; `weighted_<metric>` for a weighted metric whose plain name
    is taken)."""

    def __init__(self, model: Any, metric_specs: Any, weighted_specs: Any, targets: Sequence[Any]) -> None:
        names, losses = model.output_names, model._compile_loss.losses
        self.loss = _metrics.Mean(name="loss")
        self.output_losses = [_metrics.Mean(name=f"{n}_loss") for n in names] if len(names) > 1 else []
        self.metrics: List[Tuple[int, bool, str, _metrics.Metric]] = []
        taken = {"loss"} | {m.name for m in self.output_losses}
        for weighted, specs in ((False, metric_specs), (True, weighted_specs)):
            if specs is None:
                continue
            for i, out_specs in enumerate(per_output(specs, names, "metrics", nested=True)):
                target = targets[i] if i < len(targets) else None
                target_shape = (None,) + tuple(target.shape[1:]) if target is not None else None
                for spec in _flat(out_specs):
                    m = _metrics.get(copy.deepcopy(spec) if isinstance(spec, _metrics.Metric) else spec,
                                     losses[i] if i < len(losses) else None, model._outputs[i].shape, target_shape)
                    m.reset_state()
                    name = f"{names[i]}_{m.name}" if len(names) > 1 else m.name
                    if weighted and name in taken:
                        name = f"weighted_{name}"
                    taken.add(name)
                    self.metrics.append((i, weighted, name, m))

    def update(self, loss_value: float, output_losses: List[float], batch: Batch, outputs: List[np.ndarray]) -> None:
        n = batch.xs[0].shape[0]
        self.loss.update_state(loss_value, sample_weight=n)
        for tracker, value in zip(self.output_losses, output_losses):
            tracker.update_state(value, sample_weight=n)
        for i, weighted, _, metric in self.metrics:
            if batch.ys[i] is None:
                continue
            if weighted and batch.sws[i] is not None:
                metric.update_state(batch.ys[i], outputs[i], sample_weight=batch.sws[i])
            else:
                metric.update_state(batch.ys[i], outputs[i])

    def reset(self) -> None:
        self.loss.reset_state()
        for m in self.output_losses:
            m.reset_state()
        for _, _, _, m in self.metrics:
            m.reset_state()

    def names(self) -> List[str]:
        return ["loss"] + [m.name for m in self.output_losses] + [name for _, _, name, _ in self.metrics]

    def _results(self) -> List[Tuple[str, Any]]:
        out = [("loss", float(self.loss.result()))]
        out += [(m.name, float(m.result())) for m in self.output_losses]
        for _, _, name, m in self.metrics:
            r = m.result()
            out.append((name, float(r) if np.ndim(r) == 0 else r))
        return out

    def logs(self) -> Dict[str, Any]:
        return dict(sorted(self._results()))

    def values(self) -> Any:
        """Keras's return value: the loss alone, or `[loss, output losses..., metrics...]`."""
        values = [v for _, v in self._results()]
        return values if len(values) > 1 else values[0]


def _flat(specs: Any) -> List[Any]:
    if specs is None:
        return []
    return list(specs) if isinstance(specs, (list, tuple)) else [specs]
