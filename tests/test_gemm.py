"""SGEMM: the blocked kernel (every SIMD path), the serial entry and the naive reference against
a float64 NumPy oracle; thread-count and serial/parallel bit-identity; binding refusals."""
import numpy as np
import pytest

import reference as ref
from dlc import _C

TRANS = [(False, False), (True, False), (False, True), (True, True)]

# (m, n, k): empty and unit sizes, odd sizes, sizes around the register tiles (MR 6/14,
# NR 8/16/32), the k block (at most 320: k = 321 is two blocks of 168), the row blocks
# (120/192/224) and the column block (2048).
SHAPES = [
    (0, 5, 3), (4, 0, 3), (4, 5, 0), (1, 1, 1), (1, 7, 1), (7, 1, 5), (1, 1, 300),
    (13, 31, 17), (14, 32, 320), (15, 33, 321), (28, 64, 319), (29, 65, 641), (3, 5, 1000),
    (6, 16, 8), (5, 15, 7), (12, 8, 4), (7, 9, 3), (119, 9, 5), (121, 17, 6),
    (223, 97, 64), (225, 33, 31), (449, 40, 20), (3, 2049, 5),
    (37, 45, 600),
]

ALPHA_BETA = [(1.0, 0.0), (0.5, 0.0), (-1.5, 0.25), (2.0, 1.0), (0.0, 1.0)]


def operands(rng, m, n, k, ta, tb):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    c = rng.standard_normal((m, n)).astype(np.float32)
    return a, b, c


def assert_gemm_close(out, a, b, c0, ta, tb, alpha, beta):
    want = ref.gemm(a, b, c0, ta, tb, alpha, beta)
    bound = ref.gemm_error_bound(a, b, c0, ta, tb, alpha, beta)
    assert out.shape == want.shape
    assert np.all(np.isfinite(out))
    err = np.abs(out.astype(np.float64) - want)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else None
    assert np.all(err <= bound), (
        f"max error {err[worst]:.3g} > bound {bound[worst]:.3g} at {worst}")


@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("ta,tb", TRANS)
def test_gemm_matches_float64(simd, rng, m, n, k, ta, tb):
    a, b, c0 = operands(rng, m, n, k, ta, tb)
    for alpha, beta in [(1.0, 0.0), (-1.5, 0.25)]:
        c = c0.copy()
        _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta)
        assert_gemm_close(c, a, b, c0, ta, tb, alpha, beta)


@pytest.mark.parametrize("alpha,beta", ALPHA_BETA)
@pytest.mark.parametrize("ta,tb", TRANS)
def test_gemm_alpha_beta(simd, rng, alpha, beta, ta, tb):
    m, n, k = 31, 47, 400  # edge tiles in m and n, two k blocks
    a, b, c0 = operands(rng, m, n, k, ta, tb)
    for mode in ({}, {"serial": True}, {"reference": True}):
        c = c0.copy()
        _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta, **mode)
        assert_gemm_close(c, a, b, c0, ta, tb, alpha, beta)


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (29, 65, 641), (15, 33, 0), (100, 70, 40)])
@pytest.mark.parametrize("ta,tb", TRANS)
def test_gemm_beta_zero_ignores_nan(simd, rng, m, n, k, ta, tb):
    a, b, _ = operands(rng, m, n, k, ta, tb)
    for mode in ({}, {"serial": True}, {"reference": True}):
        c = np.full((m, n), np.nan, np.float32)
        _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=0.75, beta=0.0, **mode)
        assert_gemm_close(c, a, b, None, ta, tb, 0.75, 0.0)
    # and with beta != 0 the NaNs do propagate (C really is read then)
    c = np.full((m, n), np.nan, np.float32)
    _C.gemm(a, b, c, trans_a=ta, trans_b=tb, beta=0.5)
    assert np.all(np.isnan(c))


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (13, 31, 17), (29, 65, 641), (7, 1, 0)])
@pytest.mark.parametrize("ta,tb", TRANS)
def test_reference_matches_float64(rng, m, n, k, ta, tb):
    a, b, c0 = operands(rng, m, n, k, ta, tb)
    c = c0.copy()
    _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=1.25, beta=-0.5, reference=True)
    assert_gemm_close(c, a, b, c0, ta, tb, 1.25, -0.5)


# Big enough to run in parallel: split by rows, by columns (n much larger than m), and into
# many row pieces handed out dynamically (B small next to A); k split into 2 and 4 parts
# (small C, long k: partial sums added in a fixed order).
PAR_SHAPES = [(300, 200, 100), (1000, 70, 288), (20, 500, 300), (9, 300, 800), (3000, 20, 50),
              (23, 37, 4100), (50, 40, 8500)]


@pytest.mark.parametrize("m,n,k", PAR_SHAPES)
@pytest.mark.parametrize("ta,tb", TRANS)
def test_threads_and_serial_bit_identical(simd, threads, rng, m, n, k, ta, tb):
    a, b, c0 = operands(rng, m, n, k, ta, tb)
    outs = []
    for t in (1, 2, 3):
        threads(t)
        c = c0.copy()
        _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=0.5, beta=2.0)
        outs.append(c)
    threads(2)
    c = c0.copy()
    _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=0.5, beta=2.0, serial=True)
    outs.append(c)
    for other in outs[1:]:
        assert np.array_equal(outs[0], other)
    assert_gemm_close(outs[0], a, b, c0, ta, tb, 0.5, 2.0)


@pytest.mark.parametrize("m,n,k", [(128, 128, 9216), (40, 100, 1024), (30, 64, 2048), (26, 50, 1000)])
def test_rows_at_a_critical_stride_have_the_bits_of_transposed_a(simd, threads, rng, m, n, k):
    """Rows of A whose stride is a multiple of 2 KB (k = 1024, 2048, 9216: a dense layer's
    input) are packed instead of read in place; either way every element gets the same chain,
    so A and A.T with trans_a (always read in place) give the same bits, with the epilogue."""
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    for nt in (1, 2):
        threads(nt)
        c1, c2 = np.full((m, n), np.nan, np.float32), np.full((m, n), np.nan, np.float32)
        _C.gemm(a, b, c1, bias=bias, relu=True)
        _C.gemm(np.ascontiguousarray(a.T), b, c2, trans_a=True, bias=bias, relu=True)
        assert np.array_equal(c1, c2)
    np.testing.assert_allclose(c1, np.maximum(a.astype(np.float64) @ b + bias, 0.0),
                               rtol=1e-4, atol=1e-3 * np.sqrt(k))


def test_simd_paths_agree_closely(rng):
    """Each path is checked against float64 above; here the paths see the very same data."""
    a, b, c0 = operands(rng, 77, 53, 301, False, True)
    levels = ["generic", "avx2", "avx512"]
    levels = levels[: levels.index(_C.cpu_features()["detected"]) + 1]
    try:
        for lv in levels:
            _C.set_simd(lv)
            c = c0.copy()
            _C.gemm(a, b, c, trans_b=True, beta=1.0)
            assert_gemm_close(c, a, b, c0, False, True, 1.0, 1.0)
    finally:
        _C.set_simd(_C.cpu_features()["detected"])


# ---------------------------------------------------------------- refusals


def _refuses(exc, match, args, **kw):
    before = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    with pytest.raises(exc, match=match):
        _C.gemm(*args, **kw)
    for x, y in zip(args, before):
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y, equal_nan=True)


def test_refuses_wrong_dtype(rng):
    a, b, c = operands(rng, 4, 5, 6, False, False)
    _refuses(TypeError, "'a'.*float32", (a.astype(np.float64), b, c))
    _refuses(TypeError, "'b'.*float32", (a, b.astype(np.float64), c))
    _refuses(TypeError, "'c'.*float32", (a, b, c.astype(np.float64)))
    _refuses(TypeError, "'a'.*ndarray", (a.tolist(), b, c))


def test_refuses_non_contiguous_and_read_only(rng):
    a, b, c = operands(rng, 4, 5, 6, False, False)
    wide = rng.standard_normal((4, 12)).astype(np.float32)
    _refuses(ValueError, "'a'.*C-contiguous", (wide[:, ::2], b, c))
    _refuses(ValueError, "'c'.*C-contiguous", (a, b, np.zeros((5, 4), np.float32).T))
    ro = c.copy()
    ro.flags.writeable = False
    _refuses(ValueError, "'c'.*writeable", (a, b, ro))


def test_refuses_wrong_shapes(rng):
    a, b, c = operands(rng, 4, 5, 6, False, False)
    _refuses(ValueError, "'b'.*\\(6, 5\\).*\\(7, 5\\)", (a, np.zeros((7, 5), np.float32), c))
    _refuses(ValueError, "'c'.*\\(4, 5\\)", (a, b, np.zeros((5, 4), np.float32)))
    _refuses(ValueError, "'a'.*2-D", (a.ravel(), b, c))
    _refuses(ValueError, "'c'.*2-D", (a, b, c.ravel()))
    # with trans_b the stored b must be (n, k)
    _refuses(ValueError, "'b'", (a, b, c), trans_b=True)
    _refuses(ValueError, "exclusive", (a, b, c), reference=True, serial=True)


def test_refuses_overlapping_output(rng):
    buf = rng.standard_normal((8, 8)).astype(np.float32)
    b = rng.standard_normal((8, 8)).astype(np.float32)
    _refuses(ValueError, "'c'.*'a'", (buf, b, buf))
    _refuses(ValueError, "'c'.*'b'", (b, buf, buf))
    big = rng.standard_normal((16, 8)).astype(np.float32)
    _refuses(ValueError, "'c'.*'a'", (big[:8], b, big[4:12]))


# ---------------------------------------------------------------- A given by a row table
# dlc_sgemm_serial_rows (binding gemm_rows): row i of A = a[arow[i] : arow[i] + k].


def _conv_table(rows, ow, wp, c):
    """The convolution's table: output pixel (r, ox) reads from (r * wp + ox) * c."""
    return np.array([(r * wp + ox) * c for r in range(rows) for ox in range(ow)], np.int64)


def _rows_case(rng, kind, m, k):
    if kind == "conv":  # runs of evenly spaced rows with jumps at row ends (overlapping)
        ow, wp, c = 24, 26, max(1, k // 3)
        rows = -(-m // ow)
        table = _conv_table(rows, ow, wp, c)[:m]
    elif kind == "even":  # one stride throughout
        table = np.arange(m, dtype=np.int64) * 5
    elif kind == "random":  # any order, repeats allowed
        table = rng.integers(0, 3 * m + 1, m).astype(np.int64)
    else:
        raise ValueError(kind)
    size = int(table.max()) + k + 2 if m else k + 2
    return rng.standard_normal(size).astype(np.float32), table


ROWS_SHAPES = [(1, 1, 1), (14, 32, 96), (216, 64, 96), (29, 65, 48), (57, 300, 33),
               (30, 17, 400), (8, 40, 7), (0, 5, 3), (5, 4, 0)]


@pytest.mark.parametrize("m,n,k", ROWS_SHAPES)
@pytest.mark.parametrize("kind", ["conv", "even", "random"])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_rows_matches_float64_and_serial(simd, rng, m, n, k, kind, tb):
    a, table = _rows_case(rng, kind, m, k)
    a_before, t_before = a.copy(), table.copy()
    dense = np.stack([a[t:t + k] for t in table]) if m else np.zeros((0, k), np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    for alpha, beta in [(1.0, 0.0), (-1.5, 0.25), (1.0, 1.0)]:
        c = c0.copy()
        _C.gemm_rows(a, table, b, c, trans_b=tb, alpha=alpha, beta=beta)
        assert np.array_equal(a, a_before) and np.array_equal(table, t_before)
        assert_gemm_close(c, dense, b, c0, False, tb, alpha, beta)
        c2 = c0.copy()
        _C.gemm(np.ascontiguousarray(dense), b, c2, trans_b=tb, alpha=alpha, beta=beta,
                serial=True)
        assert np.array_equal(c, c2)


def _segmented_rows(a, table, k, kseg, sstride):
    """The dense A of a segmented row table: row i is the k // kseg runs
    a[t + s * sstride : t + s * sstride + kseg], one after another."""
    runs = k // kseg
    return np.stack([np.concatenate([a[t + s * sstride:t + s * sstride + kseg]
                                     for s in range(runs)]) for t in table])


# (m, n, k, kseg, sstride): a convolution's 3 kernel rows (K <= KC_MAX: one k block); 5 rows
# of 192 (K = 960 > KC_MAX, so k blocks start inside a run); runs farther apart than their
# length; overlapping runs (sstride < kseg); sstride 0 (the same run repeated); edges in m and n.
SEG_SHAPES = [(40, 64, 288, 96, 832), (27, 33, 960, 192, 1700), (13, 32, 30, 10, 57),
              (25, 70, 48, 16, 5), (12, 32, 24, 8, 0), (1, 1, 6, 2, 3)]


@pytest.mark.parametrize("m,n,k,kseg,sstride", SEG_SHAPES)
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_rows_segments_match_float64_and_serial(simd, rng, m, n, k, kseg, sstride, tb):
    runs = k // kseg
    table = (np.arange(m, dtype=np.int64) * 7) % 50
    a = rng.standard_normal(int(table.max()) + (runs - 1) * sstride + kseg + 3).astype(np.float32)
    a_before = a.copy()
    dense = _segmented_rows(a, table, k, kseg, sstride)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    for alpha, beta in [(1.0, 0.0), (0.5, 1.0)]:
        c = c0.copy()
        _C.gemm_rows(a, table, b, c, kseg=kseg, sstride=sstride, trans_b=tb, alpha=alpha,
                     beta=beta)
        assert np.array_equal(a, a_before)
        assert_gemm_close(c, dense, b, c0, False, tb, alpha, beta)
        c2 = c0.copy()
        _C.gemm(np.ascontiguousarray(dense), b, c2, trans_b=tb, alpha=alpha, beta=beta,
                serial=True)
        assert np.array_equal(c, c2)


def test_gemm_rows_refusals(rng):
    a, table = _rows_case(rng, "even", 6, 8)
    b = rng.standard_normal((8, 5)).astype(np.float32)
    c = np.zeros((6, 5), np.float32)

    def refuses(exc, match, args, **kw):
        before = [x.copy() for x in args]
        with pytest.raises(exc, match=match):
            _C.gemm_rows(*args, **kw)
        for x, y in zip(args, before):
            assert np.array_equal(x, y)

    refuses(TypeError, "'arow'.*int64", (a, table.astype(np.int32), b, c))
    refuses(ValueError, "'arow'.*\\(6,\\)", (a, table[:5], b, c))
    bad = table.copy()
    bad[3] = a.size - 7  # row 3 would run past the end of a
    refuses(ValueError, "'arow'.*index 3", (a, bad, b, c))
    refuses(ValueError, "'kseg'.*divisor of k = 8.*received 3", (a, table, b, c), kseg=3)
    refuses(ValueError, "'kseg'.*received -2", (a, table, b, c), kseg=-2)
    refuses(ValueError, "'sstride'.*received -1", (a, table, b, c), kseg=4, sstride=-1)
    # two runs of 4, 20 apart: the rows span 24 floats, past the end of a for the last rows
    refuses(ValueError, "'arow'.*spans 24 floats", (a, table, b, c), kseg=4, sstride=20)
    bad[3] = -1
    refuses(ValueError, "'arow'.*index 3", (a, bad, b, c))
    refuses(TypeError, "'a'.*float32", (a.astype(np.float64), table, b, c))
    ro = c.copy()
    ro.flags.writeable = False
    refuses(ValueError, "'c'.*writeable", (a, table, b, ro))
