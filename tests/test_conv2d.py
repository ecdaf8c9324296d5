"""conv2d kernels: forward, backward data, backward weights against float64 references,
finite differences and PyTorch; accumulation, SIMD paths, thread determinism, binding refusals."""
import numpy as np
import pytest

from conftest import F, requires_torch, torch  # noqa: E402

from dlc import _C

import reference as ref

# (name, x shape (n, h, w, c), kernel (kh, kw), oc, strides, dilation, padding, groups)
# padding "same" means Keras/TF same padding; a 4-tuple is (top, bottom, left, right).
CASES = [
    ("basic3x3", (2, 7, 6, 5), (3, 3), 6, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("batch1_odd", (1, 9, 11, 3), (3, 3), 7, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("stride2", (2, 11, 10, 4), (3, 3), 5, (2, 2), (1, 1), (0, 0, 0, 0), 1),
    ("stride_gt_kernel", (2, 12, 13, 3), (2, 2), 4, (3, 3), (1, 1), (0, 0, 0, 0), 1),
    ("dilation2", (2, 11, 12, 3), (3, 3), 5, (1, 1), (2, 2), (0, 0, 0, 0), 1),
    ("same_even_k", (2, 8, 7, 3), (4, 2), 5, (1, 1), (1, 1), "same", 1),
    ("same_even_k_s2", (2, 9, 10, 5), (2, 4), 3, (2, 2), (1, 1), "same", 1),
    ("same_dil", (1, 10, 9, 4), (3, 2), 6, (1, 2), (2, 1), "same", 1),
    ("asym_pad", (2, 6, 8, 3), (3, 3), 4, (1, 1), (1, 1), (2, 0, 1, 3), 1),
    ("k3x1", (2, 9, 7, 17), (3, 1), 19, (1, 1), (1, 1), (1, 1, 0, 0), 1),
    ("k1x3_s21", (2, 8, 9, 6), (1, 3), 5, (2, 1), (1, 1), (0, 0, 1, 1), 1),
    ("c_not16", (2, 6, 6, 33), (3, 3), 35, (1, 1), (1, 1), (1, 1, 1, 1), 1),
    ("pointwise", (2, 5, 6, 18), (1, 1), 20, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("pointwise_s2", (2, 7, 6, 8), (1, 1), 9, (2, 2), (1, 1), (0, 0, 0, 0), 1),
    ("pointwise_g2", (2, 5, 4, 8), (1, 1), 6, (1, 1), (1, 1), (0, 0, 0, 0), 2),
    ("c1_small_k", (3, 10, 9, 1), (3, 3), 32, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("c1_odd_oc", (2, 8, 9, 1), (3, 3), 13, (1, 1), (1, 1), (1, 1, 1, 1), 1),
    ("c1_s2_dil_pad", (2, 11, 12, 1), (3, 3), 20, (2, 2), (2, 1), (1, 2, 2, 1), 1),
    ("c2_oc40_same", (2, 7, 8, 2), (2, 2), 40, (1, 1), (1, 1), "same", 1),
    # K = 16, the small-K limit: backward weights takes one 16-column vector per pass.
    ("c1_4x4_oc40_same", (2, 9, 10, 1), (4, 4), 40, (1, 1), (1, 1), "same", 1),
    ("c1_k14_oc64", (2, 12, 9, 1), (7, 2), 64, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("groups2", (2, 7, 8, 6), (3, 3), 10, (1, 1), (1, 1), (1, 1, 1, 1), 2),
    ("groups3_s2_dil", (1, 11, 10, 9), (3, 2), 6, (2, 1), (1, 2), (0, 1, 1, 0), 3),
    ("depthwise", (2, 8, 7, 5), (3, 3), 5, (1, 1), (1, 1), (1, 1, 1, 1), 5),
    ("depthwise_mult2", (1, 9, 9, 4), (3, 3), 8, (2, 2), (1, 1), "same", 4),
    ("kernel_eq_input", (2, 4, 5, 3), (4, 5), 6, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("pad_gt_kernel", (1, 3, 4, 2), (2, 2), 3, (1, 1), (1, 1), (3, 2, 0, 4), 1),
    ("implicit_dil_pad", (2, 9, 10, 64), (3, 3), 12, (1, 1), (2, 2), (2, 1, 1, 2), 1),
    ("implicit_groups", (2, 8, 9, 128), (3, 2), 8, (1, 1), (1, 1), (1, 1, 0, 1), 2),
    ("implicit_same_even", (1, 12, 11, 65), (4, 4), 24, (1, 1), (1, 1), "same", 1),
    ("implicit_valid", (2, 7, 6, 64), (3, 3), 17, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("many_tiles", (3, 17, 19, 4), (3, 3), 8, (1, 1), (1, 1), (1, 1, 1, 1), 1),
    # Forward by one GEMM per kernel row over overlapping rows of x (stride 1, groups 1,
    # dw 1, K > 16): valid / same / asymmetric pads, odd widths, batch 1, c not a multiple of
    # 16, kernels 3x3 / 5x5 / 3x1 / 1x3, dilation-height 2, rows wider than a tile.
    ("rowk_valid_odd", (2, 9, 13, 7), (3, 3), 33, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("rowk_same_b1", (1, 11, 10, 19), (3, 3), 40, (1, 1), (1, 1), "same", 1),
    ("rowk_5x5_same", (2, 12, 9, 6), (5, 5), 17, (1, 1), (1, 1), "same", 1),
    ("rowk_5x5_valid", (1, 13, 15, 20), (5, 5), 64, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("rowk_3x1", (2, 10, 7, 9), (3, 1), 12, (1, 1), (1, 1), (1, 1, 0, 0), 1),
    ("rowk_1x3_pad", (2, 6, 11, 9), (1, 3), 10, (1, 1), (1, 1), (0, 0, 2, 1), 1),
    ("rowk_dh2_same", (2, 12, 11, 13), (3, 3), 21, (1, 1), (2, 1), "same", 1),
    ("rowk_dh2_asym", (1, 14, 9, 48), (3, 2), 30, (1, 1), (2, 1), (3, 1, 0, 2), 1),
    ("rowk_wide_rows", (1, 4, 270, 3), (3, 3), 8, (1, 1), (1, 1), "same", 1),
    ("rowk_c64", (1, 8, 7, 64), (3, 3), 35, (1, 1), (1, 1), (1, 1, 1, 1), 1),
    # Backward data by the flipped forward correlation (stride 1, groups 1, c >= 2*oc, c >= 16,
    # h*w within 10% of oh*ow): flipped im2col (oc < 64) and flipped implicit GEMM (oc >= 64),
    # with dilation, asymmetric 'same' pads (flipped pads differ per side) and pads larger than
    # the kernel span (negative flipped pads: dy is cropped).
    ("flip_same_dil", (2, 10, 9, 40), (3, 3), 16, (1, 1), (2, 1), "same", 1),
    ("flip_same_even_b1", (1, 8, 9, 36), (4, 2), 17, (1, 1), (1, 1), "same", 1),
    ("flip_same_dil_even", (2, 9, 11, 33), (2, 4), 13, (1, 1), (3, 2), "same", 1),
    ("flip_pad_gt_kernel", (2, 5, 6, 32), (2, 2), 8, (1, 1), (1, 1), (3, 2, 0, 4), 1),
    ("flip_implicit_same", (1, 6, 7, 128), (3, 3), 64, (1, 1), (1, 1), "same", 1),
    ("flip_implicit_crop", (2, 4, 5, 130), (2, 2), 65, (1, 1), (1, 1), (2, 3, 0, 2), 1),
    ("flip_implicit_dil", (2, 7, 8, 144), (3, 2), 70, (1, 1), (2, 3), (3, 1, 2, 2), 1),
    # Near misses, still on the col2im route: groups > 1, valid padding, oc > c / 2, stride 2.
    ("noflip_groups2", (2, 8, 7, 64), (3, 3), 16, (1, 1), (1, 1), "same", 2),
    ("noflip_valid", (2, 9, 8, 48), (3, 3), 12, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("noflip_oc_gt_half", (1, 7, 9, 40), (3, 3), 21, (1, 1), (1, 1), "same", 1),
    ("noflip_s2", (2, 9, 8, 48), (3, 3), 12, (2, 2), (1, 1), "same", 1),
    # Direct backward data in 8-channel blocks (c = 8, oc <= 8: AVX2 direct_add8), rows of 9
    # and 13 (a 6-pixel tile plus a shorter one), 'same', 5x5, stride, dilation, asymmetric
    # pads; oc = 16 stays on the col2im route.
    ("direct8_same", (2, 9, 9, 8), (3, 3), 8, (1, 1), (1, 1), "same", 1),
    ("direct8_5x5", (1, 7, 13, 8), (5, 5), 7, (1, 1), (1, 1), "same", 1),
    ("direct8_s2_dil", (1, 11, 13, 8), (3, 2), 6, (2, 1), (1, 2), (1, 0, 2, 1), 1),
    ("col2im_c8_oc16", (1, 7, 13, 8), (5, 5), 16, (1, 1), (1, 1), "same", 1),
]


def _padding(case):
    _, xs, (kh, kw), _, strides, dilation, padding, _ = case
    if padding == "same":
        return ref.keras_same_padding(xs[1], xs[2], kh, kw, strides, dilation)
    return padding


def _setup(case, rng):
    name, xs, (kh, kw), oc, strides, dilation, _, groups = case
    padding = _padding(case)
    c = xs[3]
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal((kh, kw, c // groups, oc)) / np.sqrt(kh * kw * c / groups)).astype(
        np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    kwargs = dict(strides=strides, dilation=dilation, padding=padding, groups=groups)
    oh, ow = ref._conv2d_geometry(xs, w.shape, strides, dilation, padding, groups)
    dy = rng.standard_normal((xs[0], oh, ow, oc)).astype(np.float32)
    return x, w, b, dy, kwargs


def _forward(x, w, b, kwargs):
    oh, ow = ref._conv2d_geometry(x.shape, w.shape, kwargs["strides"], kwargs["dilation"],
                                  kwargs["padding"], kwargs["groups"])
    y = np.full((x.shape[0], oh, ow, w.shape[3]), np.nan, np.float32)
    _C.conv2d_forward(x, w, b, y, **kwargs)
    return y


def _backward_data(dy, w, x_shape, kwargs, init=None):
    dx = np.zeros(x_shape, np.float32) if init is None else init.copy()
    _C.conv2d_backward_data(dy, w, dx, **kwargs)
    return dx


def _backward_weights(x, dy, w_shape, kwargs, with_bias=True):
    dw = np.zeros(w_shape, np.float32)
    db = np.zeros(w_shape[3], np.float32) if with_bias else None
    _C.conv2d_backward_weights(x, dy, dw, db, **kwargs)
    return dw, db


def _close(got, want, rtol=2e-5):
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 10 * scale)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_against_reference(case, rng):
    x, w, b, dy, kw = _setup(case, rng)
    _close(_forward(x, w, b, kw), ref.conv2d_forward(x, w, b, **kw))
    _close(_forward(x, w, None, kw), ref.conv2d_forward(x, w, None, **kw))
    _close(_backward_data(dy, w, x.shape, kw), ref.conv2d_backward_data(dy, w, x.shape, **kw))
    dw, db = _backward_weights(x, dy, w.shape, kw)
    dw_ref, db_ref = ref.conv2d_backward_weights(x, dy, w.shape, **kw)
    _close(dw, dw_ref)
    _close(db, db_ref)
    dw2, none = _backward_weights(x, dy, w.shape, kw, with_bias=False)
    assert none is None
    np.testing.assert_array_equal(dw2, dw)


def _torch_conv(x, w, b, kw):
    """PyTorch's conv2d in float64 on NCHW, asymmetric padding by F.pad."""
    xt = x.permute(0, 3, 1, 2)
    pt, pb, pl, pr = kw["padding"]
    xt = F.pad(xt, (pl, pr, pt, pb))
    wt = w.permute(3, 2, 0, 1)
    y = F.conv2d(xt, wt, b, stride=kw["strides"], dilation=kw["dilation"], groups=kw["groups"])
    return y.permute(0, 2, 3, 1)


@requires_torch
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_torch_parity(case, rng):
    x, w, b, dy, kw = _setup(case, rng)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    yt = _torch_conv(xt, wt, bt, kw)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    _close(_forward(x, w, b, kw), yt.detach().numpy())
    _close(_backward_data(dy, w, x.shape, kw), xt.grad.numpy())
    dw, db = _backward_weights(x, dy, w.shape, kw)
    _close(dw, wt.grad.numpy())
    _close(db, bt.grad.numpy())


@pytest.mark.parametrize("name", ["basic3x3", "same_dil", "asym_pad", "groups3_s2_dil",
                                  "c1_odd_oc", "pointwise_g2", "depthwise_mult2",
                                  "flip_same_dil", "flip_implicit_crop"])
def test_finite_differences(name, rng):
    """dlc's gradients of L = sum(r * conv(x, w, b)) match central differences of the float64
    reference along a random direction (L is linear, so the differences are exact up to
    rounding)."""
    case = next(c for c in CASES if c[0] == name)
    x, w, b, _, kw = _setup(case, rng)
    r = rng.standard_normal(ref.conv2d_forward(x, w, b, **kw).shape)

    def loss(xv, wv, bv):
        return float(np.sum(r * ref.conv2d_forward(xv, wv, bv, **kw)))

    r32 = r.astype(np.float32)
    gx = _backward_data(r32, w, x.shape, kw)
    gw, gb = _backward_weights(x, r32, w.shape, kw)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    eps = 1e-3
    for grad, which in ((gx, 0), (gw, 1), (gb, 2)):
        args = [x64, w64, b64]
        v = rng.standard_normal(args[which].shape)
        plus, minus = list(args), list(args)
        plus[which] = args[which] + eps * v
        minus[which] = args[which] - eps * v
        numeric = (loss(*plus) - loss(*minus)) / (2 * eps)
        analytic = float(np.sum(grad.astype(np.float64) * v))
        assert abs(numeric - analytic) <= 1e-4 * max(1.0, abs(numeric)), (which, numeric,
                                                                           analytic)


@pytest.mark.parametrize("name", ["basic3x3", "pointwise", "c1_small_k", "depthwise",
                                  "flip_same_dil", "flip_implicit_same"])
def test_gradients_accumulate(name, rng):
    case = next(c for c in CASES if c[0] == name)
    x, w, b, dy, kw = _setup(case, rng)
    dx = np.zeros(x.shape, np.float32)
    dw = np.zeros(w.shape, np.float32)
    db = np.zeros(w.shape[3], np.float32)
    _C.conv2d_backward_data(dy, w, dx, **kw)
    _C.conv2d_backward_weights(x, dy, dw, db, **kw)
    once = (dx.copy(), dw.copy(), db.copy())
    _C.conv2d_backward_data(dy, w, dx, **kw)
    _C.conv2d_backward_weights(x, dy, dw, db, **kw)
    # dw and db get one finished sum added per call: exactly double. dx gets every tap's
    # contribution added in turn, so the second call rounds differently: close to double.
    np.testing.assert_array_equal(dw, 2 * once[1])
    np.testing.assert_array_equal(db, 2 * once[2])
    _close(dx, 2 * once[0])
    assert np.abs(once[0]).min() >= 0 and np.abs(dx - once[0]).max() > 0.1
    # A nonzero start is added to, not overwritten.
    d0 = rng.standard_normal(x.shape).astype(np.float32)
    _close(_backward_data(dy, w, x.shape, kw, init=d0),
           d0 + ref.conv2d_backward_data(dy, w, x.shape, **kw))
    w0 = rng.standard_normal(w.shape).astype(np.float32)
    b0 = rng.standard_normal(w.shape[3]).astype(np.float32)
    dw, db = w0.copy(), b0.copy()
    _C.conv2d_backward_weights(x, dy, dw, db, **kw)
    dw_ref, db_ref = ref.conv2d_backward_weights(x, dy, w.shape, **kw)
    _close(dw, w0 + dw_ref)
    _close(db, b0 + db_ref)


SIMD_CASES = ["basic3x3", "c_not16", "implicit_dil_pad", "implicit_groups", "pointwise",
              "c1_small_k", "c1_odd_oc", "c1_s2_dil_pad", "c2_oc40_same", "c1_4x4_oc40_same",
              "c1_k14_oc64", "pad_gt_kernel",
              "groups2", "depthwise", "dilation2", "groups3_s2_dil", "flip_same_dil",
              "flip_pad_gt_kernel", "flip_implicit_crop", "noflip_valid", "rowk_valid_odd",
              "rowk_same_b1", "rowk_5x5_same", "rowk_3x1", "rowk_dh2_asym", "rowk_wide_rows"]


@pytest.mark.parametrize("name", SIMD_CASES)
def test_every_simd_path(name, simd, rng):
    case = next(c for c in CASES if c[0] == name)
    x, w, b, dy, kw = _setup(case, rng)
    assert _C.cpu_features()["simd"] == simd
    _close(_forward(x, w, b, kw), ref.conv2d_forward(x, w, b, **kw))
    _close(_backward_data(dy, w, x.shape, kw), ref.conv2d_backward_data(dy, w, x.shape, **kw))
    dw, db = _backward_weights(x, dy, w.shape, kw)
    dw_ref, db_ref = ref.conv2d_backward_weights(x, dy, w.shape, **kw)
    _close(dw, dw_ref)
    _close(db, db_ref)


# Shapes with many tiles and backward-weights chunks (and a batch-1 / depthwise spread).
THREAD_CASES = [
    ("mnist_conv1_like", (8, 28, 28, 1), (3, 3), 32, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("mnist_conv2_like", (4, 26, 26, 32), (3, 3), 64, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("implicit_same_wide", (2, 30, 40, 64), (3, 3), 24, (1, 1), (1, 1), "same", 1),
    ("pointwise_big", (4, 20, 20, 24), (1, 1), 40, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("groups_same_s2", (3, 21, 22, 12), (4, 4), 18, (2, 2), (1, 1), "same", 3),
    ("depthwise_b1", (1, 40, 40, 6), (3, 3), 6, (1, 1), (1, 1), (1, 1, 1, 1), 6),
    ("flip_same", (3, 12, 13, 64), (3, 3), 16, (1, 1), (1, 1), "same", 1),
    ("flip_implicit_same", (2, 10, 9, 128), (3, 3), 64, (1, 1), (1, 1), "same", 1),
    ("dcol_tiles_valid", (3, 30, 29, 64), (3, 3), 24, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("rowk_same_5x5", (3, 17, 15, 20), (5, 5), 33, (1, 1), (1, 1), "same", 1),
    ("rowk_dh2_wide", (2, 9, 61, 12), (3, 3), 16, (1, 1), (2, 1), "same", 1),
    # One or two images: the row-table forward splits each image's rows among the threads.
    ("rowk_conv2_b1", (1, 26, 26, 32), (3, 3), 64, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ("rowk_same_b1", (1, 14, 13, 48), (3, 3), 40, (1, 1), (1, 1), "same", 1),
    ("rowk_b2_odd_rows", (2, 11, 9, 16), (3, 3), 20, (1, 1), (1, 1), (0, 0, 0, 0), 1),
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=[c[0] for c in THREAD_CASES])
def test_threads_bit_identical(case, threads, rng):
    x, w, b, dy, kw = _setup(case, rng)
    out = []
    for nt in (1, 2, 3):
        threads(nt)
        dw, db = _backward_weights(x, dy, w.shape, kw)
        out.append((_forward(x, w, b, kw), _backward_data(dy, w, x.shape, kw), dw, db))
    for other in out[1:]:
        for a, bb in zip(out[0], other):
            assert np.array_equal(a, bb)
    # And right, on these larger shapes too.
    _close(out[0][0], ref.conv2d_forward(x, w, b, **kw))
    _close(out[0][1], ref.conv2d_backward_data(dy, w, x.shape, **kw), rtol=5e-5)
    dw_ref, db_ref = ref.conv2d_backward_weights(x, dy, w.shape, **kw)
    _close(out[0][2], dw_ref, rtol=5e-5)
    _close(out[0][3], db_ref, rtol=5e-5)


def test_rowk_forward_leaves_input_and_matches_float64(simd, rng):
    """The kernel-row GEMMs read overlapping windows of x in place (unpadded) or of a padded
    copy: x and w stay untouched, and every output pixel (the border ones too) is right."""
    for name in ("rowk_valid_odd", "rowk_dh2_asym", "rowk_1x3_pad", "rowk_5x5_valid"):
        case = next(c for c in CASES if c[0] == name)
        x, w, b, _, kw = _setup(case, rng)
        x0, w0 = x.copy(), w.copy()
        y = _forward(x, w, b, kw)
        assert np.array_equal(x, x0) and np.array_equal(w, w0)
        assert not np.isnan(y).any()
        _close(y, ref.conv2d_forward(x, w, b, **kw))


# ------------------------------------------------------------------ binding refusals

def _good(rng):
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    y = np.zeros((2, 4, 3, 3), np.float32)
    return x, w, b, y


def _check_refused(exc, fn, args, kwargs, inputs, match=None):
    before = [a.copy() for a in inputs]
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)
    for a, a0 in zip(inputs, before):
        np.testing.assert_array_equal(a, a0)


def test_forward_refusals(rng):
    x, w, b, y = _good(rng)
    f = _C.conv2d_forward
    ins = [x, w, b, y]
    _check_refused(TypeError, f, (x.astype(np.float64), w, b, y), {}, ins, "'x'.*float32")
    _check_refused(TypeError, f, (x, w, b.astype(np.float64), y), {}, ins, "'b'")
    _check_refused(ValueError, f, (x[:, ::2], w, b, np.zeros((2, 1, 3, 3), np.float32)), {},
                   ins, "C-contiguous")
    ro = y.copy()
    ro.flags.writeable = False
    _check_refused(ValueError, f, (x, w, b, ro), {}, ins + [ro], "writeable")
    _check_refused(ValueError, f, (x, w, b, np.zeros((2, 4, 4, 3), np.float32)), {}, ins,
                   r"'y' must have shape \(2, 4, 3, 3\)")
    _check_refused(ValueError, f, (x, w, np.zeros(4, np.float32), y), {}, ins, "'b'")
    _check_refused(ValueError, f, (x[0], w, b, y), {}, ins, "4-D")
    # c not divisible by groups, and kernel channels not c / groups.
    _check_refused(ValueError, f, (x, w, b, y), {"groups": 3}, ins, "divisible")
    w4 = rng.standard_normal((3, 3, 4, 4)).astype(np.float32)
    _check_refused(ValueError, f, (x, w4, b, y), {"groups": 2}, ins, "c/groups")
    _check_refused(ValueError, f, (x, w, b, y), {"groups": 0}, ins, "groups")
    # Kernel larger than the padded input.
    big = rng.standard_normal((7, 3, 4, 3)).astype(np.float32)
    _check_refused(ValueError, f, (x, big, b, y), {}, ins, "fit")
    _check_refused(ValueError, f, (x, w, b, y), {"dilation": (3, 1)}, ins, "fit")
    _check_refused(ValueError, f, (x, w, b, y), {"strides": (0, 1)}, ins, "strides")
    _check_refused(ValueError, f, (x, w, b, y), {"padding": (0, -1, 0, 0)}, ins, "padding")
    _check_refused(TypeError, f, (x, w, b, y), {"padding": (1, 1)}, ins, "padding")
    _check_refused(TypeError, f, (x, w, b, y), {"strides": 2}, ins, "strides")
    _check_refused(TypeError, f, (x, w, b, y, (1, 1)), {}, ins)
    # Output overlapping an input.
    buf = np.zeros(x.size + y.size, np.float32)
    xo = buf[: x.size].reshape(x.shape)
    xo[...] = x
    yo = buf[x.size - 4: x.size - 4 + y.size].reshape(y.shape)
    _check_refused(ValueError, f, (xo, w, b, yo), {}, ins + [buf], "share memory")
    _check_refused(ValueError, f, (x, w, y.reshape(-1)[:3], y), {}, ins, "share memory")
    # Nothing above touched y.
    assert not y.any()


def test_backward_refusals(rng):
    x, w, b, y = _good(rng)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = np.zeros(x.shape, np.float32)
    dw = np.zeros(w.shape, np.float32)
    db = np.zeros(3, np.float32)
    ins = [x, w, dy, dx, dw, db]
    bd, bw = _C.conv2d_backward_data, _C.conv2d_backward_weights
    _check_refused(TypeError, bd, (dy.astype(np.float64), w, dx), {}, ins, "'dy'")
    _check_refused(TypeError, bd, (dy, w, dx.astype(np.float64)), {}, ins, "'dx'")
    _check_refused(ValueError, bd, (dy, w, np.zeros((2, 7, 5, 4), np.float32)), {}, ins,
                   r"'dy' must have shape \(2, 5, 3, 3\)")
    _check_refused(ValueError, bd, (dy, w, np.zeros((2, 6, 5, 4), np.float32)[:, :, ::-1]), {},
                   ins, "C-contiguous")
    ro = dx.copy()
    ro.flags.writeable = False
    _check_refused(ValueError, bd, (dy, w, ro), {}, ins, "writeable")
    _check_refused(ValueError, bd, (dy, w, dx), {"groups": 3}, ins, "divisible")
    _check_refused(ValueError, bd, (dy, w, dx), {"strides": (2, 2)}, ins, "'dy'")
    dyo = dx.reshape(-1)[: dy.size].reshape(dy.shape)
    _check_refused(ValueError, bd, (dyo, w, dx), {}, ins, "share memory")

    _check_refused(TypeError, bw, (x.astype(np.float64), dy, dw, db), {}, ins, "'x'")
    _check_refused(TypeError, bw, (x, dy, dw, db.astype(np.float64)), {}, ins, "'db'")
    _check_refused(ValueError, bw, (x, dy, dw, np.zeros(4, np.float32)), {}, ins, "'db'")
    _check_refused(ValueError, bw, (x, dy[:1], dw, db), {}, ins, "'dy'")
    _check_refused(ValueError, bw, (x, dy, np.zeros((3, 3, 4, 3), np.float32)[..., ::2], db),
                   {}, ins, "C-contiguous")
    ro = dw.copy()
    ro.flags.writeable = False
    _check_refused(ValueError, bw, (x, dy, ro, db), {}, ins, "writeable")
    rob = db.copy()
    rob.flags.writeable = False
    _check_refused(ValueError, bw, (x, dy, dw, rob), {}, ins, "writeable")
    _check_refused(ValueError, bw, (x, dy, dw, db), {"dilation": (1, 5)}, ins, "fit")
    buf = np.zeros(dw.size + 3, np.float32)
    dwo = buf[: dw.size].reshape(dw.shape)
    _check_refused(ValueError, bw, (x, dy, dwo, buf[dw.size - 1: dw.size + 2]), {}, ins,
                   "share memory")
    _check_refused(ValueError, bw, (x, dy, dw, dy.reshape(-1)[:3]), {}, ins, "share memory")
    assert not dx.any() and not dw.any() and not db.any()
