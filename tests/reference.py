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
# ==== END conv2d references ====

# ==== BEGIN pool2d references ====
# ==== END pool2d references ====

# ==== BEGIN batchnorm references ====
# ==== END batchnorm references ====

# ==== BEGIN activations references ====
# ==== END activations references ====

# ==== BEGIN softmax_xent references ====
# ==== END softmax_xent references ====

# ==== BEGIN dropout references ====
# ==== END dropout references ====

# ==== BEGIN optim references ====
# ==== END optim references ====
