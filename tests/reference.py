"""float64 NumPy references for every kernel: the oracles the tests compare dlc against.

Each function takes float32 or float64 arrays and computes in float64, written for clarity
rather than speed, straight from the definitions (not from dlc's code).
"""
import numpy as np

# ==== BEGIN gemm references ====
def gemm(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """alpha * op(a) @ op(b) + beta * c in float64; beta == 0 ignores c (even NaN)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    out = alpha * np.matmul(opa, opb)
    if beta != 0.0:
        out = out + beta * np.asarray(c, np.float64)
    return out


def gemm_error_bound(a, b, c, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """Elementwise float32 error bound: sqrt(k)-scaled rounding of the dot products relative to
    |alpha| |op(a)| @ |op(b)| (the magnitude the sums pass through), plus the rounding of the
    final alpha * acc + beta * c."""
    eps = float(np.finfo(np.float32).eps)
    a = np.abs(np.asarray(a, np.float64))
    b = np.abs(np.asarray(b, np.float64))
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    k = opa.shape[1]
    mag = abs(alpha) * np.matmul(opa, opb)
    bound = 2.0 * eps * (np.sqrt(k) + 2.0) * mag
    if beta != 0.0:
        bound = bound + 2.0 * eps * abs(beta) * np.abs(np.asarray(c, np.float64))
    return bound + np.finfo(np.float32).tiny
# ==== END gemm references ====

# ==== BEGIN conv2d references ====
def _conv2d_geometry(x_shape, w_shape, strides, dilation, padding, groups):
    """Output size and the slicing of one kernel tap, straight from the definition."""
    n, h, w, c = x_shape
    kh, kw, cg, oc = w_shape
    sh, sw = strides
    dh, dw = dilation
    pt, pb, pl, pr = padding
    assert c % groups == 0 and oc % groups == 0 and cg == c // groups
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    assert oh >= 1 and ow >= 1
    return oh, ow


def _tap(i, j, oh, ow, strides, dilation):
    """Slices of the padded input read by kernel tap (i, j) for all output pixels:
    y[oy, ox] reads xp[oy * sh + i * dh, ox * sw + j * dw]."""
    sh, sw = strides
    dh, dw = dilation
    return (slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def conv2d_forward(x, w, b=None, strides=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0),
                   groups=1):
    """y[n, oy, ox, o] = b[o] + sum_{i, j, ci} xp[n, oy*sh + i*dh, ox*sw + j*dw, g*cg + ci]
    * w[i, j, ci, o] with g = o // (oc / groups) and xp the zero-padded input."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, h, wd, c = x.shape
    kh, kw, cg, oc = w.shape
    oh, ow = _conv2d_geometry(x.shape, w.shape, strides, dilation, padding, groups)
    pt, pb, pl, pr = padding
    xp = np.zeros((n, h + pt + pb, wd + pl + pr, c))
    xp[:, pt:pt + h, pl:pl + wd] = x
    ocg = oc // groups
    y = np.zeros((n, oh, ow, oc))
    for g in range(groups):
        ci, co = slice(g * cg, (g + 1) * cg), slice(g * ocg, (g + 1) * ocg)
        for i in range(kh):
            for j in range(kw):
                ys, xs = _tap(i, j, oh, ow, strides, dilation)
                y[..., co] += xp[:, ys, xs, ci] @ w[i, j, :, co]
    if b is not None:
        y += np.asarray(b, np.float64)
    return y


def conv2d_backward_data(dy, w, x_shape, strides=(1, 1), dilation=(1, 1),
                         padding=(0, 0, 0, 0), groups=1):
    """dL/dx for y = conv2d_forward(x, w): every tap sends dy[n, oy, ox, o] * w[i, j, ci, o]
    back to the input pixel it read (padding positions dropped)."""
    dy = np.asarray(dy, np.float64)
    w = np.asarray(w, np.float64)
    n, h, wd, c = x_shape
    kh, kw, cg, oc = w.shape
    oh, ow = _conv2d_geometry(x_shape, w.shape, strides, dilation, padding, groups)
    pt, pb, pl, pr = padding
    dxp = np.zeros((n, h + pt + pb, wd + pl + pr, c))
    ocg = oc // groups
    for g in range(groups):
        ci, co = slice(g * cg, (g + 1) * cg), slice(g * ocg, (g + 1) * ocg)
        for i in range(kh):
            for j in range(kw):
                ys, xs = _tap(i, j, oh, ow, strides, dilation)
                dxp[:, ys, xs, ci] += dy[..., co] @ w[i, j, :, co].T
    return dxp[:, pt:pt + h, pl:pl + wd]


def conv2d_backward_weights(x, dy, w_shape, strides=(1, 1), dilation=(1, 1),
                            padding=(0, 0, 0, 0), groups=1):
    """(dL/dw, dL/db) for y = conv2d_forward(x, w, b): dw[i, j, ci, o] = sum over n, oy, ox of
    xp[n, oy*sh + i*dh, ox*sw + j*dw, g*cg + ci] * dy[n, oy, ox, o]; db[o] = sum of dy[..., o]."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    n, h, wd, c = x.shape
    kh, kw, cg, oc = w_shape
    oh, ow = _conv2d_geometry(x.shape, w_shape, strides, dilation, padding, groups)
    pt, pb, pl, pr = padding
    xp = np.zeros((n, h + pt + pb, wd + pl + pr, c))
    xp[:, pt:pt + h, pl:pl + wd] = x
    ocg = oc // groups
    dw = np.zeros(w_shape)
    for g in range(groups):
        ci, co = slice(g * cg, (g + 1) * cg), slice(g * ocg, (g + 1) * ocg)
        for i in range(kh):
            for j in range(kw):
                ys, xs = _tap(i, j, oh, ow, strides, dilation)
                patch = xp[:, ys, xs, ci].reshape(-1, cg)
                dw[i, j, :, co] = patch.T @ dy[..., co].reshape(-1, ocg)
    return dw, dy.sum(axis=(0, 1, 2))


def keras_same_padding(h, w, kh, kw, strides=(1, 1), dilation=(1, 1)):
    """(top, bottom, left, right) of Keras/TF padding='same': the total pad is
    max((ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0), the extra pixel at the end."""
    pads = []
    for size, k, s, d in ((h, kh, strides[0], dilation[0]), (w, kw, strides[1], dilation[1])):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)
# ==== END conv2d references ====

# ==== BEGIN pool2d references ====
def same_padding_1d(size, pool, stride):
    """Keras/TF "same" padding on one axis: (before, after), before = total // 2."""
    out = -(-size // stride)
    total = max((out - 1) * stride + pool - size, 0)
    return total // 2, total - total // 2


def pool_output_hw(h, w, pool, strides, padding):
    """Output (oh, ow) for explicit padding (top, bottom, left, right)."""
    t, b, l, r = padding
    return (h + t + b - pool[0]) // strides[0] + 1, (w + l + r - pool[1]) // strides[1] + 1


def _windows(h, w, pool, strides, padding):
    """Yields (oh, ow, rows, cols): each output position and its window clipped to the input."""
    oh, ow = pool_output_hw(h, w, pool, strides, padding)
    for i in range(oh):
        r0 = i * strides[0] - padding[0]
        rows = [r for r in range(r0, r0 + pool[0]) if 0 <= r < h]
        for j in range(ow):
            c0 = j * strides[1] - padding[2]
            cols = [c for c in range(c0, c0 + pool[1]) if 0 <= c < w]
            yield i, j, rows, cols


def maxpool2d_ref(x, pool, strides, padding):
    """Max pooling, NHWC, padded positions excluded. Returns y and argmax (ih * w + iw, the
    first maximum in row-major window order)."""
    x = np.asarray(x, np.float64)
    n, h, w, c = x.shape
    oh, ow = pool_output_hw(h, w, pool, strides, padding)
    y = np.empty((n, oh, ow, c))
    arg = np.empty((n, oh, ow, c), np.int64)
    for i, j, rows, cols in _windows(h, w, pool, strides, padding):
        flat = np.array([r * w + q for r in rows for q in cols])
        win = x[:, rows][:, :, cols].reshape(n, -1, c)
        k = np.argmax(win, axis=1)  # first occurrence
        y[:, i, j] = np.take_along_axis(win, k[:, None, :], 1)[:, 0]
        arg[:, i, j] = flat[k]
    return y, arg


def avgpool2d_ref(x, pool, strides, padding):
    """Average pooling, NHWC; padded positions are not counted."""
    x = np.asarray(x, np.float64)
    n, h, w, c = x.shape
    oh, ow = pool_output_hw(h, w, pool, strides, padding)
    y = np.empty((n, oh, ow, c))
    for i, j, rows, cols in _windows(h, w, pool, strides, padding):
        y[:, i, j] = x[:, rows][:, :, cols].mean(axis=(1, 2))
    return y


def maxpool2d_backward_ref(dy, argmax, dx):
    """dx + dy scattered to the argmax positions (float64)."""
    dy = np.asarray(dy, np.float64)
    out = np.array(dx, np.float64)
    n, h, w, c = out.shape
    flat = out.reshape(n, h * w, c)
    for b in range(n):
        for k in range(c):
            np.add.at(flat[b, :, k], argmax[b, ..., k].ravel(), dy[b, ..., k].ravel())
    return out


def avgpool2d_backward_ref(dy, dx, pool, strides, padding):
    """dx + each dy spread evenly over its clipped window (float64)."""
    dy = np.asarray(dy, np.float64)
    out = np.array(dx, np.float64)
    h, w = out.shape[1:3]
    for i, j, rows, cols in _windows(h, w, pool, strides, padding):
        g = dy[:, i, j] / (len(rows) * len(cols))
        for r in rows:
            for q in cols:
                out[:, r, q] += g
    return out


def global_maxpool2d_ref(x):
    """(n, h, w, c) -> y (n, c) and argmax (n, c) over the flattened h * w positions."""
    x = np.asarray(x, np.float64)
    flat = x.reshape(x.shape[0], -1, x.shape[3])
    k = np.argmax(flat, axis=1)
    return np.take_along_axis(flat, k[:, None, :], 1)[:, 0], k


def global_avgpool2d_ref(x):
    return np.asarray(x, np.float64).mean(axis=(1, 2))


def global_maxpool2d_backward_ref(dy, argmax, dx):
    out = np.array(dx, np.float64)
    n, h, w, c = out.shape
    flat = out.reshape(n, h * w, c)
    for b in range(n):
        flat[b, argmax[b], np.arange(c)] += np.asarray(dy, np.float64)[b]
    return out


def global_avgpool2d_backward_ref(dy, dx):
    out = np.array(dx, np.float64)
    h, w = out.shape[1:3]
    return out + np.asarray(dy, np.float64)[:, None, None, :] / (h * w)
# ==== END pool2d references ====

# ==== BEGIN batchnorm references ====
def batchnorm_train_ref(x, gamma, beta, moving_mean, moving_var, eps=1e-3, momentum=0.99):
    """Training batch norm over every axis but the last. Returns y, mean, invstd and the
    updated moving mean / variance (Keras: moving * momentum + batch * (1 - momentum), with
    the biased batch variance)."""
    x = np.asarray(x, np.float64)
    c = x.shape[-1]
    x2 = x.reshape(-1, c)
    mean = x2.mean(axis=0)
    var = ((x2 - mean) ** 2).mean(axis=0)
    invstd = 1.0 / np.sqrt(var + eps)
    g = np.ones(c) if gamma is None else np.asarray(gamma, np.float64)
    b = np.zeros(c) if beta is None else np.asarray(beta, np.float64)
    y = (x - mean) * invstd * g + b
    mm = np.asarray(moving_mean, np.float64) * momentum + mean * (1 - momentum)
    mv = np.asarray(moving_var, np.float64) * momentum + var * (1 - momentum)
    return y, mean, invstd, mm, mv


def batchnorm_infer_ref(x, gamma, beta, moving_mean, moving_var, eps=1e-3):
    x = np.asarray(x, np.float64)
    c = x.shape[-1]
    g = np.ones(c) if gamma is None else np.asarray(gamma, np.float64)
    b = np.zeros(c) if beta is None else np.asarray(beta, np.float64)
    mm, mv = np.asarray(moving_mean, np.float64), np.asarray(moving_var, np.float64)
    return (x - mm) / np.sqrt(mv + eps) * g + b


def batchnorm_backward_ref(x, dy, gamma, eps=1e-3):
    """Gradients of sum(dy * y) for the training forward, y = gamma * (x - mean(x)) /
    sqrt(var(x) + eps) + beta, with the batch statistics depending on x.
    Returns dx, dgamma, dbeta (float64)."""
    x = np.asarray(x, np.float64)
    c = x.shape[-1]
    x2, dy2 = x.reshape(-1, c), np.asarray(dy, np.float64).reshape(-1, c)
    m = x2.shape[0]
    mean = x2.mean(axis=0)
    invstd = 1.0 / np.sqrt(((x2 - mean) ** 2).mean(axis=0) + eps)
    xhat = (x2 - mean) * invstd
    g = np.ones(c) if gamma is None else np.asarray(gamma, np.float64)
    dbeta = dy2.sum(axis=0)
    dgamma = (dy2 * xhat).sum(axis=0)
    dxhat = dy2 * g
    # d/dx of xhat: (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) * invstd
    dx = invstd * (dxhat - dxhat.sum(0) / m - xhat * (dxhat * xhat).sum(0) / m)
    return dx.reshape(x.shape), dgamma, dbeta
# ==== END batchnorm references ====

# ==== BEGIN activations references ====
def relu_ref(x, negative_slope=0.0, threshold=0.0, max_value=None):
    """Keras 3's general ReLU: max_value where x >= max_value, x where x > threshold, else
    negative_slope * (x - threshold)."""
    x = np.asarray(x, np.float64)
    y = np.where(x > threshold, x, negative_slope * (x - threshold))
    if max_value is not None:
        y = np.where(x >= max_value, max_value, y)
    return y


def relu_grad_ref(x, negative_slope=0.0, threshold=0.0, max_value=None):
    """The derivative of relu_ref (0 at and above max_value, 1 above threshold, negative_slope
    at and below it: 0 at x == 0 for the plain ReLU, as torch and TensorFlow)."""
    x = np.asarray(x, np.float64)
    d = np.where(x > threshold, 1.0, negative_slope)
    if max_value is not None:
        d = np.where(x >= max_value, 0.0, d)
    return d


def elu_ref(x, alpha=1.0):
    x = np.asarray(x, np.float64)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_grad_ref(x, alpha=1.0):
    x = np.asarray(x, np.float64)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


def sigmoid_ref(x):
    x = np.asarray(x, np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh_ref(x):
    return np.tanh(np.asarray(x, np.float64))


def silu_ref(x):
    x = np.asarray(x, np.float64)
    return x * sigmoid_ref(x)


def silu_grad_ref(x):
    s = sigmoid_ref(x)
    return s * (1 + np.asarray(x, np.float64) * (1 - s))


def gelu_ref(x):
    import math

    x = np.asarray(x, np.float64)
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def gelu_grad_ref(x):
    import math

    x = np.asarray(x, np.float64)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    return cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def softmax_ref(x):
    """Softmax over the last axis."""
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward_ref(y, dy):
    """The vector-Jacobian product of softmax: y * (dy - sum(dy * y)) per row."""
    y, dy = np.asarray(y, np.float64), np.asarray(dy, np.float64)
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
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


# ==== image references (csrc/image.c) ====
WARP_FILL_MODES = {"constant": 0, "nearest": 1, "reflect": 2, "wrap": 3}
WARP_INTERPOLATIONS = {"nearest": 0, "bilinear": 1}


def warp_index_ref(i, size, mode):
    """Integer taps through a fill mode: (the pixel read, whether the tap is inside the image
    or the mode extends it)."""
    i = np.asarray(i, np.int64)
    if mode == "wrap":
        return np.mod(i, size), np.ones(i.shape, bool)
    if mode == "reflect":
        r = np.mod(i, 2 * size)
        return np.where(r < size, r, 2 * size - 1 - r), np.ones(i.shape, bool)
    inside = (i >= 0) & (i < size)
    return np.clip(i, 0, size - 1), inside if mode == "constant" else np.ones(i.shape, bool)


def warp_coords_ref(row, oh, ow):
    """The source points (u, v) of an (oh, ow) output under one transform row, computed in
    float32 in the order the kernel documents (so the reference picks the same taps)."""
    a0, a1, a2, b0, b1, b2, c0, c1 = (np.float32(v) for v in row)
    y, x = np.meshgrid(np.arange(oh, dtype=np.float32), np.arange(ow, dtype=np.float32), indexing="ij")
    with np.errstate(all="ignore"):
        k = c0 * x + c1 * y + np.float32(1)
        u = (a0 * x + a1 * y + a2) / k
        v = (b0 * x + b1 * y + b2) / k
    lim = np.float32(2.0**30)
    u = np.where(u >= -lim, u, -lim).astype(np.float32)
    v = np.where(v >= -lim, v, -lim).astype(np.float32)
    return np.minimum(u, lim), np.minimum(v, lim)


def warp_taps_ref(row, h, w, oh, ow, interpolation, mode):
    """[(iy, ix, weight, inside)] per tap, float64 weights."""
    u, v = warp_coords_ref(row, oh, ow)
    if interpolation == "nearest":
        iy, oky = warp_index_ref(np.floor(v + np.float32(0.5)), h, mode)
        ix, okx = warp_index_ref(np.floor(u + np.float32(0.5)), w, mode)
        return [(iy, ix, np.ones(u.shape), oky & okx)]
    u64, v64 = u.astype(np.float64), v.astype(np.float64)
    fy, fx = np.floor(v64), np.floor(u64)
    ty, tx = v64 - fy, u64 - fx
    taps = []
    for dy_, wy in ((0, 1 - ty), (1, ty)):
        iy, oky = warp_index_ref(fy + dy_, h, mode)
        for dx_, wx in ((0, 1 - tx), (1, tx)):
            ix, okx = warp_index_ref(fx + dx_, w, mode)
            taps.append((iy, ix, wy * wx, oky & okx))
    return taps


def warp_forward_ref(x, transform, out_hw, interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    """Keras 3's affine_transform (torch backend): each integer tap read through the fill mode,
    outside taps of 'constant' reading fill_value; float64."""
    x = np.asarray(x, np.float64)
    n, h, w, c = x.shape
    oh, ow = out_hw
    y = np.zeros((n, oh, ow, c))
    for b in range(n):
        for iy, ix, wt, ok in warp_taps_ref(transform[b], h, w, oh, ow, interpolation, fill_mode):
            y[b] += wt[..., None] * np.where(ok[..., None], x[b, iy, ix], fill_value)
    return y


def warp_backward_ref(dy, transform, in_shape, interpolation="bilinear", fill_mode="reflect"):
    """The adjoint of warp_forward_ref (fill_value = 0): dx = warp^T(dy), float64."""
    dy = np.asarray(dy, np.float64)
    n, oh, ow, c = dy.shape
    _, h, w, _ = in_shape
    dx = np.zeros(in_shape)
    for b in range(n):
        for iy, ix, wt, ok in warp_taps_ref(transform[b], h, w, oh, ow, interpolation, fill_mode):
            np.add.at(dx[b], (iy[ok], ix[ok]), (wt[..., None] * dy[b])[ok])
    return dx


def image_adjust_ref(x, factor, delta, lo, hi, center):
    """y = clip((x - m) * f + m + d, lo, hi) per sample, m the per-channel mean (or 0); float64.
    Returns y, m and the unclipped z."""
    x = np.asarray(x, np.float64)
    m = x.mean(axis=(1, 2), keepdims=True) if center else np.zeros((x.shape[0], 1, 1, x.shape[3]))
    f = np.asarray(factor, np.float64).reshape(-1, 1, 1, 1)
    d = np.asarray(delta, np.float64).reshape(-1, 1, 1, 1)
    z = (x - m) * f + m + d
    return np.clip(z, lo, hi), m.reshape(x.shape[0], x.shape[3]), z


def image_adjust_backward_ref(x, factor, delta, lo, hi, center, dy):
    """The gradient of image_adjust_ref with respect to x (clip passes where lo <= z <= hi)."""
    _, _, z = image_adjust_ref(x, factor, delta, lo, hi, center)
    g = np.where((z >= lo) & (z <= hi), np.asarray(dy, np.float64), 0.0)
    f = np.asarray(factor, np.float64).reshape(-1, 1, 1, 1)
    dx = g * f
    if center:
        dx += (1 - f) * g.mean(axis=(1, 2), keepdims=True)
    return dx


def normalize_ref(x, sub, mul, add, outer, inner, divide=False):
    """(x - sub) * mul + add (or / mul) along the middle axis of x viewed as (outer, k, inner)."""
    x = np.asarray(x, np.float64).reshape(outer, -1, inner)
    s, m, a = (np.asarray(v, np.float64).reshape(1, -1, 1) for v in (sub, mul, add))
    return ((x - s) / m + a) if divide else ((x - s) * m + a)
# ==== END image references ====
# ==== BEGIN losses references ====
# Per-sample losses of Keras 3's regression, probabilistic and hinge losses, from their
# formulas (keras.losses docstrings), in float64: rows are the last axis.
def mae_ref(x, labels):
    a, t = _lo_f64(x, labels)
    return np.abs(a - t).mean(axis=-1)


def mape_ref(x, labels, epsilon=1e-7):
    a, t = _lo_f64(x, labels)
    return 100.0 * (np.abs(t - a) / np.maximum(np.abs(t), epsilon)).mean(axis=-1)


def msle_ref(x, labels, epsilon=1e-7):
    a, t = _lo_f64(x, labels)
    return ((np.log(np.maximum(a, epsilon) + 1) - np.log(np.maximum(t, epsilon) + 1)) ** 2).mean(axis=-1)


def huber_ref(x, labels, delta=1.0):
    a, t = _lo_f64(x, labels)
    e = np.abs(a - t)
    return np.where(e <= delta, 0.5 * e * e, delta * e - 0.5 * delta * delta).mean(axis=-1)


def log_cosh_ref(x, labels):
    a, t = _lo_f64(x, labels)
    return np.log(np.cosh(a - t)).mean(axis=-1)


def poisson_ref(x, labels, epsilon=1e-7):
    a, t = _lo_f64(x, labels)
    return (a - t * np.log(a + epsilon)).mean(axis=-1)


def kld_ref(x, labels, epsilon=1e-7):
    a, t = _lo_f64(x, labels)
    a, t = np.clip(a, epsilon, 1.0), np.clip(t, epsilon, 1.0)
    return (t * np.log(t / a)).sum(axis=-1)


def hinge_ref(x, labels, squared=False):
    """Labels that are all 0 or 1 become -1 / 1 (Keras's conversion)."""
    a, t = _lo_f64(x, labels)
    if np.all((t == 0) | (t == 1)):
        t = 2 * t - 1
    h = np.maximum(1 - t * a, 0)
    return (h * h if squared else h).mean(axis=-1)


def categorical_hinge_ref(x, labels):
    a, t = _lo_f64(x, labels)
    pos = (t * a).sum(axis=-1)
    neg = ((1 - t) * a).max(axis=-1)
    return np.maximum(neg - pos + 1, 0)


def cosine_similarity_ref(x, labels, epsilon=1e-7):
    a, t = _lo_f64(x, labels)
    na = np.maximum(np.sqrt((a * a).sum(axis=-1, keepdims=True)), epsilon)
    nt = np.maximum(np.sqrt((t * t).sum(axis=-1, keepdims=True)), epsilon)
    return -((a / na) * (t / nt)).sum(axis=-1)
# ==== END losses references ====

# ==== BEGIN locally connected references ====
def _local2d_patches(x, kernel_size, strides):
    """(n, oh * ow, kh * kw * c) float64: the patch of each output position, flattened (kh, kw, c)
    as Keras 2's local_conv reshapes inputs[:, rows, cols, :]."""
    x = np.asarray(x, np.float64)
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, oh * ow, kh * kw * c))
    for i in range(oh):
        for j in range(ow):
            out[:, i * ow + j] = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :].reshape(n, -1)
    return out, (oh, ow)


def local2d_forward(x, w, b, kernel_size, strides=(1, 1)):
    """Keras 2's LocallyConnected2D (implementation 1): y[n, p, f] = sum_k patch[n, p, k] *
    w[p, k, f] + b[p, f], position p = oy * ow + ox."""
    patches, (oh, ow) = _local2d_patches(x, kernel_size, strides)
    y = np.einsum("npk,pkf->npf", patches, np.asarray(w, np.float64))
    if b is not None:
        y = y + np.asarray(b, np.float64).reshape(1, oh * ow, -1)
    return y.reshape(len(y), oh, ow, -1)


def local2d_backward_data(dy, w, x_shape, kernel_size, strides=(1, 1)):
    """dx of local2d_forward: each position's patch gradient dy[n, p] @ w[p].T scattered back."""
    n, h, wd, c = x_shape
    (kh, kw), (sh, sw) = kernel_size, strides
    dy = np.asarray(dy, np.float64)
    oh, ow = dy.shape[1], dy.shape[2]
    g = np.einsum("npf,pkf->npk", dy.reshape(n, oh * ow, -1), np.asarray(w, np.float64))
    dx = np.zeros(x_shape)
    for i in range(oh):
        for j in range(ow):
            dx[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :] += g[:, i * ow + j].reshape(n, kh, kw, c)
    return dx


def local2d_backward_weights(x, dy, kernel_size, strides=(1, 1)):
    """(dw, db) of local2d_forward, summed over the batch."""
    patches, (oh, ow) = _local2d_patches(x, kernel_size, strides)
    dy = np.asarray(dy, np.float64).reshape(len(patches), oh * ow, -1)
    return np.einsum("npk,npf->pkf", patches, dy), dy.sum(axis=0).reshape(oh, ow, -1)
# ==== END locally connected references ====

# ==== BEGIN layernorm references ====
def layernorm_ref(x, gamma=None, beta=None, eps=1e-3):
    """(y, mean, invstd) of layer normalisation over the last axis, biased variance."""
    (x,) = _lo_f64(x)
    mean = x.mean(axis=-1)
    invstd = 1.0 / np.sqrt(((x - mean[..., None]) ** 2).mean(axis=-1) + eps)
    y = (x - mean[..., None]) * invstd[..., None]
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64)
    if beta is not None:
        y = y + np.asarray(beta, np.float64)
    return y, mean, invstd


def layernorm_backward_ref(x, dy, gamma=None, eps=1e-3):
    """(dx, dgamma, dbeta) of layernorm_ref, from the chain rule of the definition."""
    x, dy = _lo_f64(x, dy)
    k = x.shape[-1]
    xhat, _, invstd = layernorm_ref(x, eps=eps)
    g = dy * (np.asarray(gamma, np.float64) if gamma is not None else 1.0)
    dx = invstd[..., None] / k * (k * g - g.sum(-1, keepdims=True) - xhat * (g * xhat).sum(-1, keepdims=True))
    rows = dy.reshape(-1, k), xhat.reshape(-1, k)
    return dx, (rows[0] * rows[1]).sum(axis=0), rows[0].sum(axis=0)
# ==== END layernorm references ====

# ==== BEGIN noise references ====
def philox_normal_ref(n, seed, step):
    """normal(seed, step, i): Box-Muller on the uniforms at 2j, 2j + 1 (j = i // 2) of the dropout
    stream, in float64: sqrt(-2 log(1 - u1)) * (cos, sin)(2 pi u2) for even, odd i."""
    u = philox_uniform_ref(n + (n % 2), seed, step).astype(np.float64)
    r = np.sqrt(-2.0 * np.log(1.0 - u[0::2]))
    a = 2.0 * np.pi * u[1::2]
    z = np.empty(len(u))
    z[0::2], z[1::2] = r * np.cos(a), r * np.sin(a)
    return z[:n]


def spatial_dropout_ref(x, rate, seed, step, channels_first=False):
    """(y, mask): channel c of sample i kept when uniform(seed, step, i * C + c) >= rate."""
    x = np.asarray(x, np.float64)
    n, c = x.shape[0], x.shape[1 if channels_first else -1]
    mask = (philox_uniform_ref(n * c, seed, step) >= np.float32(rate)).reshape(n, c)
    bshape = (n, c) + (1,) * (x.ndim - 2) if channels_first else (n,) + (1,) * (x.ndim - 2) + (c,)
    return x * mask.reshape(bshape) / (1.0 - rate), mask.astype(np.uint8)
# ==== END noise references ====
