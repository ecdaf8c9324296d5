"""float64 NumPy references for every kernel: the oracles the tests compare dlc against.

Each function takes float32 or float64 arrays and computes in float64, written for clarity
rather than speed, straight from the definitions (not from dlc's code).
"""
import numpy as np

# ==== BEGIN gemm references ====
# ==== END gemm references ====

# ==== BEGIN conv2d references ====
# ==== END conv2d references ====

# ==== BEGIN pool2d references ====
# ==== END pool2d references ====

# ==== BEGIN batchnorm references ====
# ==== END batchnorm references ====

# ==== BEGIN activations references ====
# ==== END activations references ====

# ==== BEGIN softmax_xent references ====
def _lo_f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def log_softmax_ref(logits):
    """log softmax over the last axis via log-sum-exp (never log of a rounded probability)."""
    (x,) = _lo_f64(logits)
    mx = x.max(axis=-1, keepdims=True)
    return x - mx - np.log(np.exp(x - mx).sum(axis=-1, keepdims=True))


def softmax_xent_ref(logits, labels):
    """(probs, per-sample loss) of softmax + categorical cross-entropy with dense labels."""
    logp = log_softmax_ref(logits)
    (y,) = _lo_f64(labels)
    return np.exp(logp), -(y * logp).sum(axis=-1)


def softmax_xent_sparse_ref(logits, labels):
    """(probs, per-sample loss) with integer class labels (m,)."""
    logp = log_softmax_ref(logits)
    idx = np.asarray(labels, dtype=np.int64)
    return np.exp(logp), -logp[np.arange(len(idx)), idx]


def xent_ref(probs, labels, epsilon=1e-7):
    """Keras categorical cross-entropy on probabilities: p / sum(p), clipped to [eps, 1-eps]."""
    p, y = _lo_f64(probs, labels)
    q = np.clip(p / p.sum(axis=-1, keepdims=True), epsilon, 1.0 - epsilon)
    return -(y * np.log(q)).sum(axis=-1)


def bce_ref(x, labels, from_logits=False, epsilon=1e-7):
    """Keras binary cross-entropy, per-sample loss = mean over the last axis."""
    a, z = _lo_f64(x, labels)
    if from_logits:
        e = np.maximum(a, 0) - a * z + np.log1p(np.exp(-np.abs(a)))
    else:
        p = np.clip(a, epsilon, 1.0 - epsilon)
        e = -(z * np.log(p) + (1 - z) * np.log(1 - p))
    return e.mean(axis=-1)


def mse_ref(x, labels):
    """Mean squared error, per-sample loss = mean over the last axis."""
    a, z = _lo_f64(x, labels)
    return ((a - z) ** 2).mean(axis=-1)
# ==== END softmax_xent references ====

# ==== BEGIN dropout references ====
_PHILOX_M = (0xD2511F53, 0xCD9E8D57)
_PHILOX_W = (0x9E3779B9, 0xBB67AE85)
_U32 = 0xFFFFFFFF


def philox4x32_10_ref(counter, key):
    """Philox4x32-10 (Salmon et al., SC11) on Python ints: 10 rounds of
    (hi(M0*c0), lo(M0*c0), hi(M1*c2), lo(M1*c2)) mixing, key bumped by the Weyl constants."""
    c = [int(v) & _U32 for v in counter]
    k = [int(v) & _U32 for v in key]
    for r in range(10):
        if r:
            k = [(k[0] + _PHILOX_W[0]) & _U32, (k[1] + _PHILOX_W[1]) & _U32]
        p0 = _PHILOX_M[0] * c[0]
        p1 = _PHILOX_M[1] * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & _U32, (p0 >> 32) ^ c[3] ^ k[1], p0 & _U32]
    return tuple(c)


def philox_uniform_ref(n, seed, step):
    """The dropout stream, vectorised in NumPy uint64: element i is word i % 4 of the block
    with counter (i//4 lo, i//4 hi, step lo, step hi) and key (seed lo, seed hi), top 24 bits
    / 2^24. Returned as float64 (every value is exact in float32)."""
    nb = (n + 3) // 4
    b = np.arange(nb, dtype=np.uint64)
    m32 = np.uint64(_U32)
    c = [b & m32, b >> np.uint64(32),
         np.full(nb, step & _U32, np.uint64), np.full(nb, step >> 32, np.uint64)]
    k = [seed & _U32, seed >> 32]
    for r in range(10):
        if r:
            k = [(k[0] + _PHILOX_W[0]) & _U32, (k[1] + _PHILOX_W[1]) & _U32]
        p0 = np.uint64(_PHILOX_M[0]) * c[0]
        p1 = np.uint64(_PHILOX_M[1]) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k[0]), p1 & m32,
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k[1]), p0 & m32]
    words = np.stack(c, axis=1).reshape(-1)[:n]
    return (words >> np.uint64(8)).astype(np.float64) / 2.0**24


def dropout_ref(x, rate, seed, step):
    """(y, mask): mask = uniform >= rate, y = x * mask / (1 - rate) (0 where dropped)."""
    (a,) = _lo_f64(x)
    mask = philox_uniform_ref(a.size, seed, step).reshape(a.shape) >= rate
    return np.where(mask, a / (1.0 - rate), 0.0), mask.astype(np.uint8)
# ==== END dropout references ====

# ==== BEGIN optim references ====
# Each takes float64 copies of the parameters and states and returns them updated, written from
# the Keras 3 update_step formulas. Decoupled weight decay first: w = w - w * wd * lr.

def _decay(w, lr, wd):
    return w - w * wd * lr if wd else w


def sgd_ref(w, g, v, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    w, g = _lo_f64(w, g)
    w = _decay(w, lr, weight_decay)
    if momentum == 0:
        return w - lr * g, v
    (v,) = _lo_f64(v)
    v = momentum * v - lr * g
    return (w + momentum * v - lr * g if nesterov else w + v), v


def adagrad_ref(w, g, acc, lr, epsilon=1e-7, weight_decay=0.0):
    w, g, acc = _lo_f64(w, g, acc)
    w = _decay(w, lr, weight_decay)
    acc = acc + g * g
    return w - lr * g / np.sqrt(acc + epsilon), acc


def rmsprop_ref(w, g, v, mom, avg, lr, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                weight_decay=0.0):
    w, g, v = _lo_f64(w, g, v)
    w = _decay(w, lr, weight_decay)
    v = rho * v + (1 - rho) * g * g
    if centered:
        (avg,) = _lo_f64(avg)
        avg = rho * avg + (1 - rho) * g
        den = v - avg * avg + epsilon
    else:
        den = v + epsilon
    inc = lr * g / np.sqrt(den)
    if momentum > 0:
        (mom,) = _lo_f64(mom)
        mom = momentum * mom + inc
        return w - mom, v, mom, avg
    return w - inc, v, mom, avg


def adam_ref(w, g, m, v, vhat, lr, step, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
             amsgrad=False, weight_decay=0.0):
    w, g, m, v = _lo_f64(w, g, m, v)
    w = _decay(w, lr, weight_decay)
    alpha = lr * np.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    vv = v
    if amsgrad:
        (vhat,) = _lo_f64(vhat)
        vhat = np.maximum(vhat, v)
        vv = vhat
    return w - alpha * m / (np.sqrt(vv) + epsilon), m, v, vhat


def adadelta_ref(w, g, acc_grad, acc_delta, lr, rho=0.95, epsilon=1e-7, weight_decay=0.0):
    w, g, ag, ad = _lo_f64(w, g, acc_grad, acc_delta)
    w = _decay(w, lr, weight_decay)
    ag = rho * ag + (1 - rho) * g * g
    d = -np.sqrt(ad + epsilon) * g / np.sqrt(ag + epsilon)
    ad = rho * ad + (1 - rho) * d * d
    return w + lr * d, ag, ad
# ==== END optim references ====
