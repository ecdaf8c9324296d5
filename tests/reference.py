"""float64 NumPy references for every kernel: the oracles the tests compare dlc against.

Each function takes float32 or float64 arrays and computes in float64, written for clarity
rather than speed, straight from the definitions (not from dlc's code).
"""
import numpy as np

# ==== BEGIN gemm references ====
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
