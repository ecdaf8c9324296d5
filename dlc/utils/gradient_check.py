"""`check_gradients`: the backward pass of a model (or of a custom layer inside one) checked
against central finite differences of its compiled loss.

For every trainable weight, and for the input, the directional derivative of the loss along a
few random unit directions `d` is computed twice:

- analytically, `<g, d>` with `g` the gradient the backward pass computes;
- numerically, `(L(w + eps d) - L(w - eps d)) / (2 eps)`, with the model run forward again.

The relative error of a direction is `|analytic - numeric| / max(|analytic|, |numeric|)`, and a
weight's error the largest over its directions. The forward passes run in training mode, as a
training step does (dropout keeps one mask for all of them, batch normalization uses the batch's
statistics), but nothing of the model changes: weights, batch-norm moving statistics, the
gradient buffers and the dropout counters are restored, and the optimizer is never called.

dlc computes in float32, so the directions are tilted towards the analytic gradient (each is
`normalize(g/|g| + r)` for a random unit `r`, the first `g/|g|` itself): a purely random
direction in a space of a million weights is nearly orthogonal to the gradient, and its
derivative would drown in float32 rounding. A wrong gradient still shows: a wrong scale, sign or
a missing term moves `<g, d>` away from the numerical value. Errors of a correct float32 model
are typically 1e-5 to 2e-2 (ReLUs and max pooling switching inside the step cost the most); a
wrong backward gives errors near 1 (a doubled gradient 0.5, a flipped sign 2).

A direction that fails is tried again with steps 4, 16, 64 and 256 times smaller (units
switching inside the step bend the loss); if it still fails and the one-sided slopes
`(L(w + eps d) - L(w)) / eps` and `(L(w) - L(w - eps d)) / eps` stay apart however small the
step, the loss has a kink there (ReLUs exactly at 0: zero biases on a zero image background,
as a fresh model on MNIST has), where no finite difference can judge the gradient. A tensor with a
kink along every direction tried is reported as "kink" (inconclusive), not as a failure.

Example:

>>> model.compile(loss="categorical_crossentropy", optimizer="adam")
>>> result = dlc.utils.check_gradients(model, x_train[:16], y_train[:16])
>>> result.passed
True
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional

import numpy as np

__all__ = ["check_gradients", "GradientCheck", "GradientCheckRow"]


class GradientCheckRow(NamedTuple):
    """One checked tensor: a weight of a layer, or a model input."""

    layer: str        # the layer's name ("input" rows: the input's name)
    layer_type: str   # the layer's class ("Input" for inputs)
    weight: str       # the weight's name ("kernel", "bias", ...; "x" for an input)
    shape: tuple
    error: float      # the largest relative error over the directions
    analytic: float   # the directional derivatives of the worst direction
    numeric: float    # (central difference)
    kink: bool        # inconclusive: the loss has a kink along every direction tried (its one-sided
                      # slopes stay apart however small the step); the error is then the distance
                      # of the analytic slope to the interval between them, and does not fail


class GradientCheck:
    """What `check_gradients` returns: one row per weight (and input), the tolerance, and the
    verdict. `str(result)` is the table `check_gradients` prints.

    Attributes:
        rows: the `GradientCheckRow`s, in the model's layer order, inputs last.
        tolerance: the largest relative error that passes.
        errors: {"layer/weight": error}.
        layer_errors: {layer name: the largest error over its weights}.
        max_error: the largest error of the rows checked (inconclusive rows left out).
        inconclusive: the rows whose loss has a kink along every direction tried.
        passed: whether every error is at most `tolerance`.
        failed: the rows above the tolerance.
    """

    def __init__(self, rows: List[GradientCheckRow], tolerance: float, epsilon: float,
                 directions: int, loss: float, model_name: str) -> None:
        self.rows, self.tolerance, self.epsilon, self.directions = rows, tolerance, epsilon, directions
        self.loss, self.model_name = loss, model_name

    @property
    def errors(self) -> Dict[str, float]:
        return {f"{r.layer}/{r.weight}": r.error for r in self.rows}

    @property
    def layer_errors(self) -> Dict[str, float]:
        out: Dict[str, float] = {}
        for r in self.rows:
            out[r.layer] = max(out.get(r.layer, 0.0), r.error)
        return out

    @property
    def max_error(self) -> float:
        """The largest error of the rows that could be checked (not the inconclusive ones)."""
        return max((r.error for r in self.rows if not r.kink), default=0.0)

    @property
    def failed(self) -> List[GradientCheckRow]:
        return [r for r in self.rows if not r.kink and not r.error <= self.tolerance]

    @property
    def inconclusive(self) -> List[GradientCheckRow]:
        return [r for r in self.rows if r.kink]

    @property
    def passed(self) -> bool:
        return not self.failed

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        headers = ["Layer (type)", "Weight", "Shape", "Rel. error", "Check"]
        cells = [[f"{r.layer} ({r.layer_type})", r.weight, str(r.shape), f"{r.error:.2e}",
                  "kink" if r.kink else ("ok" if r.error <= self.tolerance else "FAIL")]
                 for r in self.rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) + 2 if cells else len(h) + 2
                  for i, h in enumerate(headers)]

        def fmt(vals: List[str], sep: str) -> str:
            return sep + sep.join(" " + (v.rjust(w - 2) if i == 3 else v.ljust(w - 2)) + " "
                                  for i, (v, w) in enumerate(zip(vals, widths))) + sep

        def bar(left: str, mid: str, right: str, ch: str = "━") -> str:
            return left + mid.join(ch * w for w in widths) + right

        lines = [f'Gradient check: "{self.model_name}" (loss {self.loss:.6g}, epsilon {self.epsilon:g}, '
                 f'{self.directions} directions per tensor)', bar("┏", "┳", "┓"), fmt(headers, "┃"),
                 bar("┡", "╇", "┩")]
        lines += [fmt(c, "│") for c in cells]
        lines.append(bar("└", "┴", "┘", "─"))
        if self.inconclusive:
            names = ", ".join(f"{r.layer}/{r.weight}" for r in self.inconclusive)
            lines.append(f" kink (inconclusive): {names}: the loss is not differentiable here along "
                         "any direction tried (ReLUs exactly at 0, e.g. zero biases on a zero "
                         "background); check again after a training step or on other data.")
        if self.passed:
            lines.append(f" All {len(self.rows) - len(self.inconclusive)} checked gradients agree with finite differences "
                         f"(largest relative error {self.max_error:.2e} <= {self.tolerance:g}).")
        else:
            names = ", ".join(f"{r.layer}/{r.weight}" for r in self.failed)
            lines.append(f" {len(self.failed)} of {len(self.rows)} gradients disagree with finite "
                         f"differences (relative error > {self.tolerance:g}): {names}. Check the "
                         f"backward of those layers.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<GradientCheck passed={self.passed} max_error={self.max_error:.2e} rows={len(self.rows)}>"


MIN_STEP = 3e-5  # below it, float32 rounding of the loss outweighs what a smaller step gains


def _relative(a: float, n: float) -> float:
    scale = max(abs(a), abs(n))
    if scale < 1e-12:
        return 0.0  # both zero: nothing flows here, and the backward agrees
    return abs(a - n) / scale


def check_gradients(model: Any, x: Any, y: Any, epsilon: float = 1e-3, directions: int = 3,
                    sample_weight: Any = None, tolerance: float = 5e-2, seed: int = 0,
                    check_inputs: bool = True, jitter: float = 1e-2, verbose: bool = True,
                    print_fn: Optional[Callable[[str], Any]] = None) -> GradientCheck:
    """Checks the model's gradients against central finite differences of its compiled loss,
    weight by weight (grouped by layer) and for the input; prints and returns a table of the
    relative errors.

    Args:
        model: a compiled model (its loss, and its regularizers, are what is differentiated).
        x, y: one batch of inputs and targets (a few samples are enough: 4 to 32).
        epsilon: the step of the finite differences along each unit direction (default 1e-3).
        directions: directions per tensor (the first along the analytic gradient, the others
            random, tilted towards it; see the module's doc).
        sample_weight: optional weights of the samples, as for `train_on_batch`.
        tolerance: the largest relative error that passes (default 5e-2: correct float32
            models with ReLUs and max pooling agree to about 2e-2 or better, smooth ones to
            1e-4; a wrong backward is off by about 0.5 to 2).
        seed: seeds the random directions.
        check_inputs: also check the gradient with respect to each model input.
        jitter: the check runs at `x` plus Gaussian noise of `jitter` times x's standard
            deviation (a copy; 0 for none): images with a black background and zero biases put
            ReLUs exactly at their switch, where the loss has a kink and no finite difference
            can judge a gradient; the noise moves them off it.
        verbose: print the table (with `print_fn`, default print).

    Returns:
        A `GradientCheck`: `.rows`, `.errors`, `.layer_errors`, `.max_error`, `.passed`;
        `str()` of it is the table.

    Raises:
        RuntimeError: the model is not compiled; ValueError: bad arguments.

    Example:

    >>> result = dlc.utils.check_gradients(model, x_train[:8], y_train[:8])
    >>> result.layer_errors["dense"] < 1e-2
    True
    """
    from dlc.trainers import data_adapters as D
    from dlc.trainers.trainer import _random_layers

    fn = "check_gradients"
    if not (isinstance(epsilon, (int, float, np.floating)) and not isinstance(epsilon, bool) and epsilon > 0):
        raise ValueError(f"{fn}: argument `epsilon` must be a positive number, received {epsilon!r}")
    if isinstance(directions, bool) or not isinstance(directions, (int, np.integer)) or directions < 1:
        raise ValueError(f"{fn}: argument `directions` must be a positive int, received {directions!r}")
    epsilon, directions = float(epsilon), int(directions)
    if not getattr(model, "compiled", False):
        raise RuntimeError(f"{fn}: compile the model first; its compiled loss is what is checked")
    model._prepare(fn, x)
    data = D.get_data_adapter(fn, model, x, y, sample_weight, None, batch_size=1 << 62)
    (batch,) = list(data.epoch(None))
    rng = np.random.default_rng(seed)
    xs = [np.ascontiguousarray(a, dtype=np.float32).copy() for a in batch.xs]
    for a in xs:  # off the exact zeros where ReLUs would sit at their switch (a copy of x)
        if jitter:
            a += (jitter * max(float(np.std(a)), 1e-3) * rng.standard_normal(a.shape)).astype(np.float32)
    batch = D.Batch(xs, list(batch.ys), list(batch.sws))
    plan = model._step_plan()
    arena = plan.arena
    compile_loss = model._compile_loss

    saved_params, saved_state, saved_grads = arena.params.copy(), arena.state.copy(), arena.grads.copy()
    random_layers = _random_layers(model)
    saved_steps = [layer._step for layer in random_layers]

    def same_randomness() -> None:
        for layer, step in zip(random_layers, saved_steps):
            layer._step = step

    rows: List[GradientCheckRow] = []
    try:
        with model._workspace() as ws:
            def loss_at(inputs: List[np.ndarray]) -> float:
                same_randomness()
                tape = model.run_forward(ws, inputs, training=True)
                value, _ = compile_loss.value(tape, D.Batch(inputs, batch.ys, batch.sws))
                value += plan.regularization(with_gradients=False)
                np.copyto(arena.state, saved_state)  # the moving statistics do not move
                return float(value)

            # The analytic gradients: one training step's forward and backward, no update.
            same_randomness()
            tape = model.run_forward(ws, xs, training=True)
            loss, _, output_grads, linear_grads = compile_loss.forward_backward(model, tape, batch)
            arena.zero_grads()
            input_grads = [np.zeros_like(a) for a in xs]
            model.run_backward(tape, output_grads, linear_grads, input_grads=input_grads)
            loss += plan.regularization(with_gradients=True)
            np.copyto(arena.state, saved_state)
            grads = {id(v): v.grad.astype(np.float64) for v in plan.variables}
            input_grads = [g.astype(np.float64) for g in input_grads]

            base_loss = loss_at(xs)

            def probe(target: np.ndarray, base: np.ndarray, g: np.ndarray, d: np.ndarray,
                      h: float, evaluate: Callable[[], float]):
                """(analytic, central, left, right) slopes along d with step h."""
                np.copyto(target, (base + h * d).astype(np.float32))
                plus_step = target.astype(np.float64) - base
                plus = evaluate()
                np.copyto(target, (base - h * d).astype(np.float32))
                minus_step = base - target.astype(np.float64)
                minus = evaluate()
                np.copyto(target, base)
                # The perturbations float32 really made, each side on its own.
                hp, hm = float(np.sum(plus_step * d)), float(np.sum(minus_step * d))
                analytic = float(np.sum(g * (plus_step + minus_step))) / (hp + hm)
                return analytic, (plus - minus) / (hp + hm), (base_loss - minus) / hm, (plus - base_loss) / hp

            def directional(target: np.ndarray, g: np.ndarray, evaluate: Callable[[], float]):
                """(error, analytic, numeric, kink) for `target` (a float32 array changed in
                place and restored) whose analytic gradient is `g`: the worst direction that
                could be checked, or, when the loss has a kink along every direction, the
                worst distance to the one-sided slopes."""
                base = target.copy()
                gn = float(np.linalg.norm(g))
                checked, kinks = [], []
                for k in range(directions):
                    r = rng.standard_normal(target.shape)
                    r /= max(float(np.linalg.norm(r)), 1e-30)
                    if gn > 0:
                        d = g / gn if k == 0 else g / gn + r
                        d = d / float(np.linalg.norm(d))
                    else:
                        d = r
                    a, c, left, right = probe(target, base, g, d, epsilon, evaluate)
                    err = _relative(a, c)
                    if err <= tolerance:
                        checked.append((err, a, c))
                        continue
                    # Too far: ReLUs or max pooling switching inside the step bend the loss
                    # there; smaller steps (down to epsilon / 256, and not below MIN_STEP, where
                    # float32 rounding starts to tell) see past them. Keep the best.
                    h, bend, kink = epsilon, abs(right - left), False
                    lo, hi, a2, c2, scale = min(left, right), max(left, right), a, c, max(abs(a), 1e-12)
                    for _ in range(4):
                        if h / 4 < MIN_STEP:
                            break
                        h /= 4
                        a2, c2, left2, right2 = probe(target, base, g, d, h, evaluate)
                        err2, bend2 = _relative(a2, c2), abs(right2 - left2)
                        if err2 < err:
                            err, a, c = err2, a2, c2
                        scale = max(abs(a2), abs(left2), abs(right2), 1e-12)
                        # Smooth: the one-sided slopes differ by about step x curvature, so
                        # less at a smaller step. A kink (units exactly at their switch, e.g.
                        # zero biases on a zero background) keeps them apart at any step.
                        kink = bend2 > tolerance * scale and bend2 > 0.5 * bend
                        lo, hi = min(left2, right2), max(left2, right2)
                        bend = bend2
                        if err <= tolerance:
                            break
                    if err > tolerance and kink:
                        kinks.append((max(lo - a2, a2 - hi, 0.0) / scale, a2, c2))
                    else:
                        checked.append((err, a, c))
                if checked:
                    err, a, c = max(checked)
                    return err, a, c, False
                err, a, c = max(kinks)
                return err, a, c, True

            layer_of = {}
            for layer in _layers_with_weights(model):
                for v in layer.trainable_weights:
                    layer_of.setdefault(id(v), layer)
            for v in _ordered(model, plan.variables):
                layer = layer_of.get(id(v))
                err, a, n, kink = directional(v.value, grads[id(v)], lambda: loss_at(xs))
                rows.append(GradientCheckRow(layer.name if layer else v.path.split("/")[0],
                                             type(layer).__name__ if layer else "?", v.name,
                                             tuple(v.shape), err, a, n, kink))
            if check_inputs:
                for i, (t, a_in) in enumerate(zip(model._inputs, xs)):
                    err, a, n, kink = directional(a_in, input_grads[i], lambda: loss_at(xs))
                    rows.append(GradientCheckRow(t.name, "Input", "x", tuple(a_in.shape), err, a, n, kink))
    finally:
        np.copyto(arena.params, saved_params)
        np.copyto(arena.state, saved_state)
        np.copyto(arena.grads, saved_grads)
        same_randomness()
    result = GradientCheck(rows, float(tolerance), epsilon, directions, float(loss), model.name)
    if verbose:
        (print_fn or print)(str(result))
    return result


def _layers_with_weights(model: Any) -> List[Any]:
    """Every leaf layer of `model` (nested models opened), in the model's layer order."""
    out = []
    for layer in model._all_layers:
        if getattr(layer, "_graph_ready", False) and hasattr(layer, "_all_layers"):
            out.extend(_layers_with_weights(layer))
        else:
            out.append(layer)
    return out


def _ordered(model: Any, variables: List[Any]) -> List[Any]:
    """`variables` in the model's layer order (Keras's weight order)."""
    wanted = {id(v) for v in variables}
    out, seen = [], set()
    for v in model.trainable_weights:
        if id(v) in wanted and id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out
