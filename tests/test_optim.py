"""Optimizer updates (csrc/optim.c): 10 steps against a float64 reference of the Keras 3
formulas, against Keras 3 itself (torch backend), and against torch.optim where the formulas
coincide, with the epsilon conventions pinned:
  - Keras puts epsilon inside the square root for Adagrad, RMSprop and Adadelta; torch.optim
    puts it outside for Adagrad and RMSprop, so those are compared with epsilon = 0 (the
    formulas then coincide); Adadelta is the same formula in both.
  - Keras Adam is the alpha_t form w -= alpha_t m / (sqrt(v) + eps); torch's bias-corrected
    form equals it exactly when torch's eps at step t is eps / sqrt(1 - beta_2^t).
  - Keras weight decay is decoupled (w -= w wd lr), like torch AdamW.
Large epsilons are used in some cases so that a wrong convention would be caught."""

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import keras, requires_keras, requires_torch, torch  # noqa: E402

from dlc import _C  # noqa: E402
import reference as R  # noqa: E402

STEPS = 10

# (optimizer, hyperparameters with Keras 3 names = dlc keyword names)
CASES = [
    ("sgd", dict(learning_rate=0.1)),
    ("sgd", dict(learning_rate=0.05, momentum=0.9)),
    ("sgd", dict(learning_rate=0.05, momentum=0.8, nesterov=True)),
    ("sgd", dict(learning_rate=0.1, momentum=0.5, weight_decay=0.2)),
    ("adagrad", dict(learning_rate=0.1)),
    ("adagrad", dict(learning_rate=0.2, epsilon=0.05, weight_decay=0.1)),
    ("rmsprop", dict(learning_rate=0.01)),
    ("rmsprop", dict(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=0.05)),
    ("rmsprop", dict(learning_rate=0.01, centered=True, epsilon=0.05)),
    ("rmsprop", dict(learning_rate=0.005, momentum=0.9, centered=True, weight_decay=0.3)),
    ("adam", dict(learning_rate=0.01)),
    ("adam", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=0.05)),
    ("adam", dict(learning_rate=0.01, amsgrad=True)),
    ("adam", dict(learning_rate=0.01, weight_decay=0.5, epsilon=0.01)),
    ("adadelta", dict(learning_rate=1.0)),
    ("adadelta", dict(learning_rate=0.5, rho=0.9, epsilon=0.05, weight_decay=0.1)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in hp.items())}" for name, hp in CASES]


def _states(name, hp, w):
    """Fresh optimizer state buffers in the binding's order (Keras's initial values)."""
    z = lambda: np.zeros_like(w)
    if name == "sgd":
        return [z() if hp.get("momentum", 0) else None]
    if name == "adagrad":
        return [np.full_like(w, 0.1)]  # Keras initial_accumulator_value
    if name == "rmsprop":
        return [z(), z() if hp.get("momentum", 0) else None, z() if hp.get("centered") else None]
    if name == "adam":
        return [z(), z(), z() if hp.get("amsgrad") else None]
    return [z(), z()]


def run_dlc(name, hp, w0, grads):
    w = w0.copy()
    st = _states(name, hp, w)
    step = getattr(_C, name + "_step")
    for t, g in enumerate(grads, 1):
        step(w, g, *st, **hp, **({"step": t} if name == "adam" else {}))
    return w, st


def run_ref(name, hp, w0, grads):
    w = w0.astype(np.float64)
    st = [None if s is None else s.astype(np.float64) for s in _states(name, hp, w0)]
    lr = hp["learning_rate"]
    kw = {k: v for k, v in hp.items() if k != "learning_rate"}
    for t, g in enumerate(grads, 1):
        if name == "sgd":
            w, st[0] = R.sgd_ref(w, g, st[0], lr, **kw)
        elif name == "adagrad":
            w, st[0] = R.adagrad_ref(w, g, st[0], lr, **kw)
        elif name == "rmsprop":
            w, *st = R.rmsprop_ref(w, g, *st, lr, **kw)
        elif name == "adam":
            w, *st = R.adam_ref(w, g, *st, lr, t, **kw)
        else:
            w, *st = R.adadelta_ref(w, g, *st, lr, **kw)
    return w, st


_KERAS = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam",
          "adadelta": "Adadelta"}


def run_keras(name, hp, w0, grads):
    opt = getattr(keras.optimizers, _KERAS[name])(**hp)
    var = keras.Variable(w0.copy(), dtype="float32")
    for g in grads:
        opt.apply_gradients([(torch.tensor(g), var)])
    return var.value.detach().cpu().numpy()


def _problem(rng, shape=(37, 5)):
    w0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(STEPS)]
    return w0, grads


@pytest.mark.parametrize("name,hp", CASES, ids=IDS)
def test_ten_steps_match_float64_reference(rng, simd, name, hp):
    w0, grads = _problem(rng)
    w, st = run_dlc(name, hp, w0, grads)
    w_ref, st_ref = run_ref(name, hp, w0, grads)
    assert not np.allclose(w, w0, atol=1e-3)  # the update did something
    np.testing.assert_allclose(w, w_ref, rtol=2e-5, atol=2e-5)
    for s, s_ref in zip(st, st_ref):
        if s is not None:
            np.testing.assert_allclose(s, s_ref, rtol=2e-5, atol=2e-5)


@requires_keras
@pytest.mark.parametrize("name,hp", CASES, ids=IDS)
def test_ten_steps_match_keras3(rng, name, hp):
    w0, grads = _problem(rng)
    w, _ = run_dlc(name, hp, w0, grads)
    np.testing.assert_allclose(w, run_keras(name, hp, w0, grads), rtol=2e-5, atol=2e-5)


# ---------------------------------------------------------------- torch.optim, where it coincides

def _torch_run(make, w0, grads, before_step=None):
    p = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = make([p])
    for t, g in enumerate(grads, 1):
        p.grad = torch.tensor(g, dtype=torch.float64)
        if before_step:
            before_step(opt, t)
        opt.step()
    return p.detach().numpy()


TORCH_CASES = [
    ("sgd", dict(learning_rate=0.1),
     lambda ps: torch.optim.SGD(ps, lr=0.1), None),
    ("sgd", dict(learning_rate=0.05, momentum=0.9),
     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), None),
    ("sgd", dict(learning_rate=0.05, momentum=0.8, nesterov=True),
     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True), None),
    # epsilon 0: Keras (inside the sqrt) and torch (outside) coincide
    ("adagrad", dict(learning_rate=0.1, epsilon=0.0),
     lambda ps: torch.optim.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1, eps=0.0), None),
    ("rmsprop", dict(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=0.0),
     lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.8, momentum=0.5, eps=0.0), None),
    ("rmsprop", dict(learning_rate=0.01, centered=True, epsilon=0.0),
     lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, centered=True, eps=0.0), None),
    # same formula, epsilon inside both square roots
    ("adadelta", dict(learning_rate=0.5, rho=0.9, epsilon=0.05),
     lambda ps: torch.optim.Adadelta(ps, lr=0.5, rho=0.9, eps=0.05), None),
]


def _adam_eps(eps, beta_2):
    def hook(opt, t):
        opt.param_groups[0]["eps"] = eps / np.sqrt(1 - beta_2**t)
    return hook


TORCH_CASES += [
    ("adam", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=0.05),
     lambda ps: torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99)), _adam_eps(0.05, 0.99)),
    ("adam", dict(learning_rate=0.01, amsgrad=True, epsilon=0.01),
     lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True), _adam_eps(0.01, 0.999)),
    ("adam", dict(learning_rate=0.01, weight_decay=0.5, epsilon=0.01),
     lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.5), _adam_eps(0.01, 0.999)),
]


@requires_torch
@pytest.mark.parametrize("name,hp,make,hook", TORCH_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_CASES)])
def test_ten_steps_match_torch_optim(rng, name, hp, make, hook):
    w0, grads = _problem(rng)
    w, _ = run_dlc(name, hp, w0, grads)
    np.testing.assert_allclose(w, _torch_run(make, w0, grads, hook), rtol=2e-5, atol=2e-5)


@requires_torch
def test_adam_torch_default_eps_differs_so_the_convention_is_pinned(rng):
    """Without the epsilon adjustment torch's Adam is measurably different: the test above
    would catch an implementation of the wrong form."""
    w0, grads = _problem(rng)
    hp = dict(learning_rate=0.02, epsilon=0.05)
    w, _ = run_dlc("adam", hp, w0, grads)
    plain = _torch_run(lambda ps: torch.optim.Adam(ps, lr=0.02, eps=0.05), w0, grads)
    assert np.abs(w - plain).max() > 1e-4


# ---------------------------------------------------------------- SIMD paths and threads

@pytest.mark.parametrize("name,hp", CASES, ids=IDS)
def test_every_simd_path_and_thread_count_bit_identical(rng, name, hp, threads):
    from conftest import SIMD_LEVELS, _DETECTED
    n = 2 * 8192 + 13  # several chunks and a SIMD tail
    w0, grads = _problem(rng, (n,))
    grads = grads[:3]
    results = []
    try:
        for level in SIMD_LEVELS:
            _C.set_simd(level)
            results.append(run_dlc(name, hp, w0, grads))
    finally:
        _C.set_simd(_DETECTED)
    big_w0, big_grads = _problem(rng, (140_001,))  # above the parallel threshold
    big_grads = big_grads[:2]
    for t in (1, 2):
        threads(t)
        results.append(run_dlc(name, hp, big_w0, big_grads))
    base = results[0]
    for w, st in results[1:len(SIMD_LEVELS)]:
        assert np.array_equal(w, base[0])
        for a, b in zip(st, base[1]):
            assert (a is None and b is None) or np.array_equal(a, b)
    (w1, st1), (w2, st2) = results[-2:]
    assert np.array_equal(w1, w2)
    for a, b in zip(st1, st2):
        assert (a is None and b is None) or np.array_equal(a, b)


def _special(rng, n):
    """Weights and three gradients of n values, with infinities, a NaN, a huge value and
    signed zeros sprinkled in where n allows."""
    w0, grads = _problem(rng, (n,))
    grads = grads[:3]
    for i, (arr, v) in enumerate([(w0, np.inf), (w0, -np.inf), (grads[0], np.nan),
                                  (grads[1], 1e30), (grads[2], -0.0), (w0, -0.0)]):
        if n > 2 * i + 3:
            arr[2 * i + 3] = v
    return w0, grads


@pytest.mark.parametrize("name,hp", CASES, ids=IDS)
@pytest.mark.parametrize("n", [1, 7, 15, 8192 + 29, 131072 + 8192 + 3])
def test_each_simd_level_and_thread_count_bit_identical_to_generic(rng, name, hp, n, threads):
    """Every optimizer at every SIMD level this CPU has, on 1 and 2 threads, gives exactly the
    bits of the portable path on one thread: sizes that are not multiples of any vector width
    (tails), one above the parallel threshold, special values included."""
    from conftest import SIMD_LEVELS, _DETECTED
    w0, grads = _special(rng, n)
    results = {}
    try:
        for level in SIMD_LEVELS:
            _C.set_simd(level)
            assert _C.cpu_features()["simd"] == level
            for t in (1, 2):
                threads(t)
                results[level, t] = run_dlc(name, hp, w0, grads)
    finally:
        _C.set_simd(_DETECTED)
    w_base, st_base = results["generic", 1]
    assert not np.array_equal(w_base, w0)
    for key, (w, st) in results.items():
        assert w.tobytes() == w_base.tobytes(), key
        for a, b in zip(st, st_base):
            assert (a is None and b is None) or a.tobytes() == b.tobytes(), key


def test_any_shape_and_empty(rng):
    w0, grads = _problem(rng, (2, 3, 4, 5))
    w, _ = run_dlc("adam", dict(learning_rate=0.01), w0, grads)
    flat, _ = run_dlc("adam", dict(learning_rate=0.01), w0.reshape(-1),
                      [g.reshape(-1) for g in grads])
    assert np.array_equal(w.reshape(-1), flat)
    e = np.zeros(0, np.float32)
    _C.adam_step(e, e.copy(), e.copy(), e.copy(), None, learning_rate=0.1, step=1)


def test_state_passed_but_unused_is_left_alone(rng):
    w0, grads = _problem(rng)
    w, v = w0.copy(), np.full_like(w0, 5.0)
    _C.sgd_step(w, grads[0], v, learning_rate=0.1)  # momentum 0: plain SGD, v untouched
    np.testing.assert_allclose(w, w0 - 0.1 * grads[0], rtol=1e-6)
    assert (v == 5.0).all()


# ---------------------------------------------------------------- binding refusals

def _adam_args(rng):
    w = rng.standard_normal((6, 7)).astype(np.float32)
    g = rng.standard_normal((6, 7)).astype(np.float32)
    return [w, g, np.zeros_like(w), np.ones_like(w), None]


HYPER_REFUSALS = [
    ("adam", dict(learning_rate=-0.1, step=1), "learning_rate"),
    ("adam", dict(learning_rate=float("nan"), step=1), "learning_rate"),
    ("adam", dict(learning_rate=float("inf"), step=1), "learning_rate"),
    ("adam", dict(learning_rate=0.1, step=0), "step"),
    ("adam", dict(learning_rate=0.1), "step"),
    ("adam", dict(learning_rate=0.1, step=1, beta_1=1.0), "beta_1"),
    ("adam", dict(learning_rate=0.1, step=1, beta_2=-0.5), "beta_2"),
    ("adam", dict(learning_rate=0.1, step=1, epsilon=-1e-7), "epsilon"),
    ("adam", dict(learning_rate=0.1, step=1, weight_decay=-0.1), "weight_decay"),
    ("adam", dict(learning_rate=0.1, step=1, amsgrad=True), "vhat"),
    ("adam", dict(step=1), "learning_rate"),
    ("sgd", dict(learning_rate=0.1, momentum=1.5), "momentum"),
    ("sgd", dict(learning_rate=0.1, momentum=0.9), "'v'"),
    ("rmsprop", dict(learning_rate=0.1, rho=1.1), "rho"),
    ("rmsprop", dict(learning_rate=0.1, momentum=0.5), "'mom'"),
    ("rmsprop", dict(learning_rate=0.1, centered=True), "'avg'"),
    ("adadelta", dict(learning_rate=0.1, rho=-0.1), "rho"),
    ("adagrad", dict(learning_rate=0.1, epsilon=float("nan")), "epsilon"),
]


@pytest.mark.parametrize("name,kw,what", HYPER_REFUSALS,
                         ids=[f"{n}-{w}-{i}" for i, (n, _, w) in enumerate(HYPER_REFUSALS)])
def test_hyperparameter_refusals_leave_buffers_unchanged(rng, name, kw, what):
    w = rng.standard_normal(20).astype(np.float32)
    g = rng.standard_normal(20).astype(np.float32)
    states = {"sgd": [None], "adagrad": [np.ones_like(w)],
              "rmsprop": [np.ones_like(w), None, None], "adam": [np.zeros_like(w),
                                                                np.ones_like(w), None],
              "adadelta": [np.ones_like(w), np.ones_like(w)]}[name]
    saved = [a.copy() for a in [w, g] + [s for s in states if s is not None]]
    exc = TypeError if what in ("step", "learning_rate") and (
        "step" not in kw or "learning_rate" not in kw) else ValueError
    with pytest.raises(exc, match=what):
        getattr(_C, name + "_step")(w, g, *states, **kw)
    for a, s in zip([w, g] + [s for s in states if s is not None], saved):
        assert np.array_equal(a, s)


@pytest.mark.parametrize("case", ["float64", "noncontig", "readonly_w", "readonly_state",
                                  "shape", "g_overlaps_w", "state_overlaps_state",
                                  "state_overlaps_g", "not_array"])
def test_array_refusals_leave_buffers_unchanged(rng, case):
    args = _adam_args(rng)
    w, g, m, v, _ = args
    exc = ValueError
    if case == "float64":
        args[1], exc = g.astype(np.float64), TypeError
    elif case == "noncontig":
        args[2] = np.zeros((6, 14), np.float32)[:, ::2]
    elif case == "readonly_w":
        w.setflags(write=False)
    elif case == "readonly_state":
        v.setflags(write=False)
    elif case == "shape":
        args[3] = np.zeros((7, 6), np.float32)
    elif case == "g_overlaps_w":
        args[1] = w
    elif case == "state_overlaps_state":
        args[3] = m
    elif case == "state_overlaps_g":
        args[2] = g
    elif case == "not_array":
        args[1], exc = g.tolist(), TypeError
    saved = [a.copy() for a in (w, g, m, v)]
    with pytest.raises(exc, match="adam_step"):
        _C.adam_step(*args, learning_rate=0.1, step=1)
    for a, s in zip((w, g, m, v), saved):
        assert np.array_equal(a, s)
