"""GEMM with a few rows of C (gemm_small.c: B streamed in place, not packed): each row has the
bits it gets inside a larger GEMM that does not split k, at every SIMD level and thread count,
and matches float64."""
import numpy as np
import pytest

from dlc import _C


CASES = [(1, 128, 9216), (3, 37, 700), (8, 10, 128), (5, 70, 33), (2, 1, 5), (4, 32, 321), (7, 65, 640), (6, 16, 320), (8, 17, 961),
         # several AVX-512 calls of up to 64 columns, the last one short
         (1, 200, 300), (2, 48, 257), (6, 130, 64)]
EPILOGUES = [dict(), dict(beta=0.5), dict(bias=True), dict(bias=True, relu=True),
             dict(alpha=2.0, beta=1.0, relu=True)]


@pytest.mark.parametrize("m,n,k", CASES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("epi", range(len(EPILOGUES)))
def test_small_m_rows_have_the_bits_of_a_large_gemm(simd, threads, rng, m, n, k, trans_a, epi):
    kw = dict(EPILOGUES[epi])
    bias = rng.standard_normal(n).astype(np.float32) if kw.pop("bias", False) else None
    # beyond the small-m path: the blocked driver, with enough rows that it does not split a
    # long k across threads (m * n > 256**2), which sums in another order
    big = m + 40 if k < 4096 else max(m + 40, 2 ** 16 // n + 1)
    a_big = rng.standard_normal((k, big) if trans_a else (big, k)).astype(np.float32)
    a = np.ascontiguousarray(a_big[:, :m] if trans_a else a_big[:m])
    b = rng.standard_normal((k, n)).astype(np.float32)
    c0 = rng.standard_normal((big, n)).astype(np.float32)
    want = c0.copy()
    _C.gemm(a_big, b, want, trans_a=trans_a, bias=bias, **kw)
    for nt in (1, 2):
        threads(nt)
        got = c0[:m].copy()
        _C.gemm(a, b, got, trans_a=trans_a, bias=bias, **kw)
        assert np.array_equal(got, want[:m])
    ref = kw.get("alpha", 1.0) * ((a.T if trans_a else a).astype(np.float64) @ b) + kw.get("beta", 0.0) * c0[:m]
    if bias is not None:
        ref = ref + bias
    if kw.get("relu"):
        ref = np.maximum(ref, 0.0)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3 * np.sqrt(k))


def test_small_m_beta_zero_never_reads_c(rng):
    """beta = 0 overwrites C: NaN already in C (an unzeroed buffer) must not leak through."""
    a = rng.standard_normal((3, 50)).astype(np.float32)
    b = rng.standard_normal((50, 45)).astype(np.float32)
    got = np.full((3, 45), np.nan, np.float32)
    _C.gemm(a, b, got)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)
