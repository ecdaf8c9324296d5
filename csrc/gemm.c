/* gemm.c - row-major SGEMM: packed panels, cache blocking, runtime-dispatched micro-kernels.
 *
 * C (m x n) = alpha * op(A) (m x k) @ op(B) (k x n) + beta * C, everything row-major.
 *
 * Algorithm (Goto / BLIS style, adapted to row-major C), for one rectangle of C:
 *   for jc over n in blocks of NC                      (B block lives in L2 / L3)
 *     for pc over k in blocks of kc                    (kc depends on k only, see k_block)
 *       pack B[pc:pc+kc, jc:jc+nc] into NR-wide panels, p-major
 *       for ic over rows in blocks of MC               (A block lives in L2)
 *         pack A[ic:ic+mc, pc:pc+kc] into MR-tall panels, p-major
 *         for jr over NR panels                        (B micro-panel stays in L1)
 *           for ir over MR panels: micro-kernel on one MR x NR tile of C
 * Transposes are absorbed by the packing routines, so a micro-kernel sees one layout: a panel
 * of A as kc groups of MR floats, a panel of B as kc groups of NR floats. When n is small (the
 * convolution shapes) each A panel serves few B panels and packing it costs about what it
 * saves, so the AVX-512 path reads A in place instead (gemm_direct), same arithmetic. The
 * internal dlc_sgemm_serial_rows takes A as a table of row offsets, each row made of runs a
 * fixed stride apart (a convolution's patches: one run per kernel row): the AVX-512 path reads
 * those rows in place too, B panel by B panel, and the other paths pack them.
 *
 * The micro-kernel holds an MR x NR tile of sums in registers, runs p = 0..kc-1 in order
 * (acc += a[p] * b[p]), then writes C = alpha * acc + beta' * C where beta' is beta for the
 * first k block and 1 for the following ones; beta' == 0 stores without reading C.
 * Edge tiles (fewer than MR rows or NR columns left) run the same micro-kernel on a copy of
 * the tile in a local buffer, so every element of C gets exactly the same operations in the
 * same order wherever its tile falls. Threads own disjoint rectangles of C, and the k blocking
 * is a function of k alone. A small C with a long k (kparts) is summed in up to four k parts,
 * at k block bounds chosen by (m, n, k) alone, into C and partial buffers added in a fixed
 * order, the parts run by whichever threads there are: results are bit-identical for any
 * thread count, and dlc_sgemm_serial (the same driver, parts one after another) is
 * bit-identical to dlc_sgemm. No allocation: packing buffers come from the caller's workspace.
 */
#include "internal.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if DLC_X86
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------- checks and reference */

static dlc_status gemm_check(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                             const float *a, int64_t lda, const float *b, int64_t ldb,
                             const float *c, int64_t ldc) {
    DLC_CHECK(m >= 0 && n >= 0 && k >= 0);
    DLC_CHECK(lda >= DLC_MAX(1, trans_a ? m : k));
    DLC_CHECK(ldb >= DLC_MAX(1, trans_b ? k : n));
    DLC_CHECK(ldc >= DLC_MAX(1, n));
    DLC_CHECK((m == 0 || n == 0) || c != NULL);
    DLC_CHECK((m == 0 || n == 0 || k == 0) || (a != NULL && b != NULL));
    return DLC_OK;
}

/* One row of C, the naive way. */
static void gemm_row(int trans_a, int trans_b, int64_t i, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc) {
    for (int64_t j = 0; j < n; j++) {
        float acc = 0.0f;
        for (int64_t p = 0; p < k; p++) {
            float av = trans_a ? a[p * lda + i] : a[i * lda + p];
            float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
            acc += av * bv;
        }
        float *cij = &c[i * ldc + j];
        *cij = (beta == 0.0f) ? alpha * acc : alpha * acc + beta * *cij;
    }
}

dlc_status dlc_sgemm_ref(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                         const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                         float *c, int64_t ldc) {
    dlc_status st = gemm_check(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (st != DLC_OK) return st;
    for (int64_t i = 0; i < m; i++)
        gemm_row(trans_a, trans_b, i, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return DLC_OK;
}

/* ---------------------------------------------------------------- micro-kernels */

/* c (MR x NR, row stride ldc) = act(alpha * sum_p a[p*MR + i] * b[p*NR + j] + beta * c + bias);
 * beta == 0 writes c without reading it; see dlc_ukernel (internal.h) for the other forms. */
typedef dlc_ukr_fn ukernel_fn;
typedef dlc_ukr_direct_fn ukernel_direct_fn;
typedef dlc_ukr_rows_fn ukernel_rows_fn;
typedef dlc_pack_a_fn pack_a_fn;
typedef dlc_pack_b_fn pack_b_fn;
typedef dlc_ukernel ukernel;

/* k is cut into blocks of (about) KC_MAX; the cut depends on k only (see k_block). */
#define KC_MAX 320
/* Up to this many columns of C, A is read in place rather than packed (where a kernel can). */
#define DIRECT_MAX_N 256
#define MR_MAX DLC_MR_MAX
#define NR_MAX DLC_NR_MAX

/* The epilogue on one value, portable: v = alpha * acc (+ beta * c) (+ bias), then ReLU.
 * r = v > 0 ? v : 0 * v + 0 is dlc_relu_forward's formula (NaN and -inf stay NaN). */
static inline float epi_scalar(float acc, const float *cij, float alpha, float beta,
                               const float *bias, int64_t j, int relu) {
    float v = beta == 0.0f ? alpha * acc : alpha * acc + beta * *cij;
    if (bias) v = v + bias[j];
    if (relu) {
        float lo = 0.0f * v + 0.0f;
        v = v > 0.0f ? v : lo;
    }
    return v;
}

/* Portable C: 6 x 8 (fits the 16 SSE registers of baseline x86-64). The compiler may vectorise
 * the j loop; it does not contract to FMA (ISO C mode), so this path rounds the product and
 * the sum separately: the same formula as the FMA paths, one more rounding. */
#define G_MR 6
#define G_NR 8
static void ukr_generic(int64_t kc, const float *restrict a, const float *restrict b,
                        float *restrict c, int64_t ldc, float alpha, float beta,
                        const float *bias, int relu) {
    float acc[G_MR][G_NR];
    for (int i = 0; i < G_MR; i++)
        for (int j = 0; j < G_NR; j++) acc[i][j] = 0.0f;
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < G_MR; i++) {
            float ai = a[i];
            for (int j = 0; j < G_NR; j++) acc[i][j] += ai * b[j];
        }
        a += G_MR;
        b += G_NR;
    }
    for (int i = 0; i < G_MR; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f && !bias && !relu)
            for (int j = 0; j < G_NR; j++) ci[j] = alpha * acc[i][j];
        else
            for (int j = 0; j < G_NR; j++)
                ci[j] = epi_scalar(acc[i][j], ci + j, alpha, beta, bias, j, relu);
    }
}

#if DLC_X86
/* AVX2 + FMA: 6 x 16, twelve ymm accumulators, A broadcast from memory. The body reads element
 * (i, p) of A at a[i * rs + p * cs]: packed (rs 1, cs MR), in place (rs lda, cs 1) or in place
 * transposed (rs 1, cs lda); every instance does the same operations in the same order. */
#define A2_MR 6
#define A2_NR 16

/* ReLU with dlc_relu_forward's formula: v > 0 ? v : 0 * v + 0. */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 relu_avx2(__m256 v) {
    const __m256 z = _mm256_setzero_ps();
    __m256 lo = _mm256_add_ps(_mm256_mul_ps(z, v), z);
    return _mm256_blendv_ps(lo, v, _mm256_cmp_ps(v, z, _CMP_GT_OQ));
}

/* The epilogue of an R x 16 tile (R a constant after inlining). */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void
ukr_avx2_store(int R, __m256 acc[][2], float *restrict c, int64_t ldc, float alpha, float beta,
               const float *bias, int relu) {
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (beta == 0.0f && !bias && !relu) {
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(va, acc[i][0]));
            _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(va, acc[i][1]));
        }
        return;
    }
    __m256 bb[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    if (bias) bb[0] = _mm256_loadu_ps(bias), bb[1] = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            float *ci = c + i * ldc + 8 * h;
            __m256 v;
            if (beta == 0.0f) {
                v = bias ? _mm256_fmadd_ps(va, acc[i][h], bb[h]) : _mm256_mul_ps(va, acc[i][h]);
            } else {
                v = _mm256_fmadd_ps(va, acc[i][h], _mm256_mul_ps(vb, _mm256_loadu_ps(ci)));
                if (bias) v = _mm256_add_ps(v, bb[h]);
            }
            if (relu) v = relu_avx2(v);
            _mm256_storeu_ps(ci, v);
        }
    }
}

DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void
ukr_avx2_body_rows(int R, int64_t kc, const float *restrict a, int64_t rs, int64_t cs,
                   const float *restrict b, float *restrict c, int64_t ldc, float alpha,
                   float beta, const float *bias, int relu) {
    __m256 acc[A2_MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * rs);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += cs;
        b += A2_NR;
    }
    ukr_avx2_store(R, acc, c, ldc, alpha, beta, bias, relu);
}

DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void
ukr_avx2_body(int64_t kc, const float *restrict a, int64_t rs, int64_t cs,
              const float *restrict b, float *restrict c, int64_t ldc, float alpha, float beta,
              const float *bias, int relu) {
    ukr_avx2_body_rows(A2_MR, kc, a, rs, cs, b, c, ldc, alpha, beta, bias, relu);
}

DLC_TARGET_AVX2 static void ukr_avx2(int64_t kc, const float *restrict a,
                                     const float *restrict b, float *restrict c, int64_t ldc,
                                     float alpha, float beta, const float *bias, int relu) {
    ukr_avx2_body(kc, a, 1, A2_MR, b, c, ldc, alpha, beta, bias, relu);
}

DLC_TARGET_AVX2 static void ukr_avx2_direct(int64_t kc, const float *restrict a, int64_t lda,
                                            const float *restrict b, float *restrict c,
                                            int64_t ldc, float alpha, float beta,
                                            const float *bias, int relu) {
    ukr_avx2_body(kc, a, lda, 1, b, c, ldc, alpha, beta, bias, relu);
}

DLC_TARGET_AVX2 static void ukr_avx2_direct_t(int64_t kc, const float *restrict a, int64_t lda,
                                              const float *restrict b, float *restrict c,
                                              int64_t ldc, float alpha, float beta,
                                              const float *bias, int relu) {
    ukr_avx2_body(kc, a, 1, lda, b, c, ldc, alpha, beta, bias, relu);
}

/* R (1 .. 6, a constant after inlining) rows of ukr_avx2_direct with alpha = beta = 1: the
 * operations of ukr_avx2_body on each element, for the rows there are. */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void
ukr_avx2_add_body(int R, int64_t kc, const float *restrict a, int64_t lda,
                  const float *restrict b, float *restrict c, int64_t ldc) {
    ukr_avx2_body_rows(R, kc, a, lda, 1, b, c, ldc, 1.0f, 1.0f, NULL, 0);
}

DLC_TARGET_AVX2 static void ukr_avx2_direct_add(int rows, int64_t kc, const float *a,
                                                int64_t lda, const float *b, float *c,
                                                int64_t ldc) {
    DLC_ROWS_1_TO_6(rows, ukr_avx2_add_body, kc, a, lda, b, c, ldc);
}

/* R x 8 (R 1 .. 6, a constant after inlining): c += A B, B panels of 8 floats per p. */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void
ukr_avx2_add8_body(int R, int64_t kc, const float *restrict a, int64_t lda,
                   const float *restrict b, float *restrict c, int64_t ldc) {
    __m256 acc[A2_MR];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(b);
#pragma GCC unroll 8
        for (int i = 0; i < R; i++)
            acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * lda + p), b0, acc[i]);
        b += 8;
    }
    const __m256 one = _mm256_set1_ps(1.0f);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) /* alpha = beta = 1, as ukr_avx2_store */
        _mm256_storeu_ps(c + i * ldc,
                         _mm256_fmadd_ps(one, acc[i],
                                         _mm256_mul_ps(one, _mm256_loadu_ps(c + i * ldc))));
}

DLC_TARGET_AVX2 static void ukr_avx2_direct_add8(int rows, int64_t kc, const float *a,
                                                 int64_t lda, const float *b, float *c,
                                                 int64_t ldc) {
    DLC_ROWS_1_TO_6(rows, ukr_avx2_add8_body, kc, a, lda, b, c, ldc);
}

/* 6 x 16, A by a row table in segments (see dlc_sgemm_serial_rows): ukr_avx2_body's operations
 * per element of C, p running through the segments in turn. */
DLC_TARGET_AVX2 static void ukr_avx2_direct_rows(int64_t kc, const float *restrict a,
                                                 const int64_t *ro, int64_t p0, int64_t kseg,
                                                 int64_t sstride, const float *restrict b,
                                                 float *restrict c, int64_t ldc, float alpha,
                                                 float beta, const float *bias, int relu) {
    __m256 acc[A2_MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < A2_MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    int64_t sg = p0 / kseg, off = p0 - sg * kseg;
    const float *ap[A2_MR];
    for (int i = 0; i < A2_MR; i++) ap[i] = a + ro[i] + sg * sstride + off;
    for (int64_t left = kc; left > 0;) {
        int64_t len = DLC_MIN(kseg - off, left);
        for (int64_t q = 0; q < len; q++) {
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
            for (int i = 0; i < A2_MR; i++) {
                __m256 ai = _mm256_broadcast_ss(ap[i] + q);
                acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            }
            b += A2_NR;
        }
        left -= len;
        for (int i = 0; i < A2_MR; i++) ap[i] += sstride - off; /* the next run's start */
        off = 0;
    }
    ukr_avx2_store(A2_MR, acc, c, ldc, alpha, beta, bias, relu);
}

/* 6 x 16, A^T by a row table over k: element (i, p) at a[pr[p] + i]. */
DLC_TARGET_AVX2 static void ukr_avx2_kt_rows(int64_t kc, const float *restrict a,
                                             const int64_t *pr, const float *restrict b,
                                             float *restrict c, int64_t ldc, float alpha,
                                             float beta) {
    __m256 acc[A2_MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < A2_MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        const float *ap = a + pr[p];
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
        for (int i = 0; i < A2_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(ap + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        b += A2_NR;
    }
    ukr_avx2_store(A2_MR, acc, c, ldc, alpha, beta, NULL, 0);
}

/* AVX-512: 14 x 32, twenty-eight zmm accumulators, A broadcast from memory. The body reads
 * element (i, p) of the A panel at a[i * rs + p * cs]: packed (rs 1, cs MR) or straight from a
 * row-major A (rs lda, cs 1); both instances do the same operations in the same order. */
#define A5_MR 14
#define A5_NR 32
/* ReLU with dlc_relu_forward's formula: v > 0 ? v : 0 * v + 0. */
DLC_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 relu_avx512(__m512 v) {
    const __m512 z = _mm512_setzero_ps();
    __m512 lo = _mm512_add_ps(_mm512_mul_ps(z, v), z);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, z, _CMP_GT_OQ), lo, v);
}

/* C = act(alpha * acc + beta * C + bias) for an R x 32 tile (R a constant after inlining);
 * beta == 0 stores without reading C. */
DLC_TARGET_AVX512 static inline __attribute__((always_inline)) void
ukr_avx512_store(int R, __m512 acc[][2], float *restrict c, int64_t ldc, float alpha,
                 float beta, const float *bias, int relu) {
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (beta == 0.0f && !bias && !relu) {
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, acc[i][0]));
            _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, acc[i][1]));
        }
        return;
    }
    __m512 bb[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    if (bias) bb[0] = _mm512_loadu_ps(bias), bb[1] = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 16
    for (int i = 0; i < R; i++) {
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            float *ci = c + i * ldc + 16 * h;
            __m512 v;
            if (beta == 0.0f) {
                v = bias ? _mm512_fmadd_ps(va, acc[i][h], bb[h]) : _mm512_mul_ps(va, acc[i][h]);
            } else {
                v = _mm512_fmadd_ps(va, acc[i][h], _mm512_mul_ps(vb, _mm512_loadu_ps(ci)));
                if (bias) v = _mm512_add_ps(v, bb[h]);
            }
            if (relu) v = relu_avx512(v);
            _mm512_storeu_ps(ci, v);
        }
    }
}

DLC_TARGET_AVX512 static inline __attribute__((always_inline)) void
ukr_avx512_body(int64_t kc, const float *restrict a, int64_t rs, int64_t cs,
                const float *restrict b, float *restrict c, int64_t ldc, float alpha,
                float beta, const float *bias, int relu) {
    __m512 acc[A5_MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < A5_MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
        for (int i = 0; i < A5_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i * rs]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += cs;
        b += A5_NR;
    }
    ukr_avx512_store(A5_MR, acc, c, ldc, alpha, beta, bias, relu);
}

DLC_TARGET_AVX512 static void ukr_avx512(int64_t kc, const float *restrict a,
                                         const float *restrict b, float *restrict c,
                                         int64_t ldc, float alpha, float beta,
                                         const float *bias, int relu) {
    ukr_avx512_body(kc, a, 1, A5_MR, b, c, ldc, alpha, beta, bias, relu);
}

DLC_TARGET_AVX512 static void ukr_avx512_direct(int64_t kc, const float *restrict a, int64_t lda,
                                                const float *restrict b, float *restrict c,
                                                int64_t ldc, float alpha, float beta,
                                                const float *bias, int relu) {
    ukr_avx512_body(kc, a, lda, 1, b, c, ldc, alpha, beta, bias, relu);
}

DLC_TARGET_AVX512 static void ukr_avx512_direct_t(int64_t kc, const float *restrict a,
                                                  int64_t lda, const float *restrict b,
                                                  float *restrict c, int64_t ldc, float alpha,
                                                  float beta, const float *bias, int relu) {
    ukr_avx512_body(kc, a, 1, lda, b, c, ldc, alpha, beta, bias, relu);
}

/* R5_MR x 32, A given by a row table in segments: the operations of ukr_avx512_body in the
 * same order (per element of C), p running through the segments in turn. Twelve rows, not
 * fourteen: twelve row pointers plus b and the loop counter fit in the general registers, so
 * the inner loop does not reload spilled pointers. */
#define R5_MR 12
DLC_TARGET_AVX512 static void ukr_avx512_direct_rows(int64_t kc, const float *restrict a,
                                                     const int64_t *ro, int64_t p0,
                                                     int64_t kseg, int64_t sstride,
                                                     const float *restrict b,
                                                     float *restrict c, int64_t ldc,
                                                     float alpha, float beta,
                                                     const float *bias, int relu) {
    __m512 acc[R5_MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < R5_MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    int64_t sg = p0 / kseg, off = p0 - sg * kseg;
    const float *ap[R5_MR];
    for (int i = 0; i < R5_MR; i++) ap[i] = a + ro[i] + sg * sstride + off;
    for (int64_t left = kc; left > 0;) {
        int64_t len = DLC_MIN(kseg - off, left);
        for (int64_t q = 0; q < len; q++) {
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
            for (int i = 0; i < R5_MR; i++) {
                __m512 ai = _mm512_set1_ps(ap[i][q]);
                acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            }
            b += A5_NR;
        }
        left -= len;
        for (int i = 0; i < R5_MR; i++) ap[i] += sstride - off; /* the next run's start */
        off = 0;
    }
    ukr_avx512_store(R5_MR, acc, c, ldc, alpha, beta, bias, relu);
}
#endif /* DLC_X86 */

/* ---------------------------------------------------------------- packing */

/* Rows [i0, i0+mc) and k range [p0, p0+kc) of op(A) into MR-tall panels: panel r holds
 * dst[r*kc*MR + p*MR + i] = op(A)[i0 + r*MR + i][p0 + p], zero past row mc. */
static void pack_a_generic(int trans_a, const float *a, int64_t lda, int64_t i0,
                           int64_t mc, int64_t p0, int64_t kc, int mr, float *restrict dst) {
    for (int64_t r = 0; r < mc; r += mr) {
        int64_t rows = DLC_MIN((int64_t)mr, mc - r);
        float *d = dst + r * kc;
        if (trans_a) { /* A stored k x m: a row of A gives mr consecutive values */
            const float *s = a + p0 * lda + i0 + r;
            for (int64_t p = 0; p < kc; p++, s += lda, d += mr) {
                int64_t i = 0;
                for (; i < rows; i++) d[i] = s[i];
                for (; i < mr; i++) d[i] = 0.0f;
            }
        } else { /* A stored m x k: transpose mr rows */
            for (int64_t i = 0; i < rows; i++) {
                const float *s = a + (i0 + r + i) * lda + p0;
                for (int64_t p = 0; p < kc; p++) d[p * mr + i] = s[p];
            }
            for (int64_t i = rows; i < mr; i++)
                for (int64_t p = 0; p < kc; p++) d[p * mr + i] = 0.0f;
        }
    }
}

/* Panels q in [q0, q1) (NR columns each, from column j0, nc columns in all) of rows
 * [p0, p0+kc) of op(B): dst[q*kc*NR + p*NR + j] = op(B)[p0 + p][j0 + q*NR + j], zero past nc. */
static void pack_b_generic(int trans_b, const float *b, int64_t ldb, int64_t p0,
                           int64_t kc, int64_t j0, int64_t nc, int nr, int64_t q0, int64_t q1,
                           float *restrict dst) {
    for (int64_t q = q0; q < q1; q++) {
        int64_t jq = q * nr, cols = DLC_MIN((int64_t)nr, nc - jq);
        float *d = dst + q * kc * nr;
        if (!trans_b) { /* B stored k x n: rows are contiguous */
            const float *s = b + p0 * ldb + j0 + jq;
            for (int64_t p = 0; p < kc; p++, s += ldb, d += nr) {
                int64_t j = 0;
                for (; j < cols; j++) d[j] = s[j];
                for (; j < nr; j++) d[j] = 0.0f;
            }
        } else { /* B stored n x k: transpose nr rows */
            for (int64_t j = 0; j < cols; j++) {
                const float *s = b + (j0 + jq + j) * ldb + p0;
                for (int64_t p = 0; p < kc; p++) d[p * nr + j] = s[p];
            }
            for (int64_t j = cols; j < nr; j++)
                for (int64_t p = 0; p < kc; p++) d[p * nr + j] = 0.0f;
        }
    }
}

#if DLC_X86
/* 16 x 16 transpose: out[c][r] = in[r][c]. */
DLC_TARGET_AVX512 static inline void transpose16(const __m512 in[16], __m512 out[16]) {
    __m512 a[16], b[16];
    for (int j = 0; j < 8; j++) {
        a[2 * j] = _mm512_unpacklo_ps(in[2 * j], in[2 * j + 1]);
        a[2 * j + 1] = _mm512_unpackhi_ps(in[2 * j], in[2 * j + 1]);
    }
    for (int j = 0; j < 4; j++) { /* b[4j + c], lane L: column 4L + c of rows 4j..4j+3 */
        __m512d x0 = _mm512_castps_pd(a[4 * j]), x1 = _mm512_castps_pd(a[4 * j + 1]);
        __m512d x2 = _mm512_castps_pd(a[4 * j + 2]), x3 = _mm512_castps_pd(a[4 * j + 3]);
        b[4 * j + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(x0, x2));
        b[4 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x0, x2));
        b[4 * j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(x1, x3));
        b[4 * j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(x1, x3));
    }
    for (int c = 0; c < 4; c++) {
        __m512 u0 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x44);
        __m512 u1 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xEE);
        __m512 v0 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x44);
        __m512 v1 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xEE);
        out[c] = _mm512_shuffle_f32x4(u0, v0, 0x88);
        out[4 + c] = _mm512_shuffle_f32x4(u0, v0, 0xDD);
        out[8 + c] = _mm512_shuffle_f32x4(u1, v1, 0x88);
        out[12 + c] = _mm512_shuffle_f32x4(u1, v1, 0xDD);
    }
}

/* The same layouts as the generic packers, for mr <= 16 and nr == 32 (falls back otherwise). */
DLC_TARGET_AVX512 static void pack_a_avx512(int trans_a, const float *a, int64_t lda,
                                            int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                                            int mr, float *restrict dst) {
    if (mr > 16) {
        pack_a_generic(trans_a, a, lda, i0, mc, p0, kc, mr, dst);
        return;
    }
    const __mmask16 out_mask = (__mmask16)((1u << mr) - 1);
    if (trans_a) { /* row p of A holds mr consecutive values of every panel: read it in order */
        for (int64_t p = 0; p < kc; p++) {
            const float *s = a + (p0 + p) * lda + i0;
            for (int64_t r = 0; r < mc; r += 16)
                _mm_prefetch((const char *)(s + 8 * lda + r), _MM_HINT_T0);
            for (int64_t r = 0; r < mc; r += mr) {
                int rows = (int)DLC_MIN((int64_t)mr, mc - r);
                __mmask16 in_mask = (__mmask16)((1u << rows) - 1);
                _mm512_mask_storeu_ps(dst + r * kc + p * mr, out_mask,
                                      _mm512_maskz_loadu_ps(in_mask, s + r));
            }
        }
        return;
    }
    for (int64_t r = 0; r < mc; r += mr) {
        int rows = (int)DLC_MIN((int64_t)mr, mc - r);
        float *d = dst + r * kc;
        { /* transpose blocks of rows x 16 */
            const float *s = a + (i0 + r) * lda + p0;
            for (int64_t p = 0; p < kc; p += 16) {
                int np = (int)DLC_MIN((int64_t)16, kc - p);
                __mmask16 m = (__mmask16)((1u << np) - 1);
                __m512 in[16], out[16];
                for (int i = 0; i < 16; i++)
                    in[i] = i < rows ? _mm512_maskz_loadu_ps(m, s + i * lda + p)
                                     : _mm512_setzero_ps();
                /* the next panel's rows: short strided streams the hardware ramps up late */
                for (int i = 0; i < mr; i++)
                    _mm_prefetch((const char *)(s + (mr + i) * lda + p), _MM_HINT_T0);
                transpose16(in, out);
                for (int t = 0; t < np; t++)
                    _mm512_mask_storeu_ps(d + (p + t) * mr, out_mask, out[t]);
            }
        }
    }
}

DLC_TARGET_AVX512 static void pack_b_avx512(int trans_b, const float *b, int64_t ldb,
                                            int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                                            int nr, int64_t q0, int64_t q1, float *restrict dst) {
    if (nr != 32) {
        pack_b_generic(trans_b, b, ldb, p0, kc, j0, nc, nr, q0, q1, dst);
        return;
    }
    if (!trans_b) { /* row p of B holds nr consecutive values of every panel: read it in order */
        for (int64_t p = 0; p < kc; p++) {
            const float *s = b + (p0 + p) * ldb + j0;
            for (int64_t q = q0; q < q1; q++) {
                int64_t jq = q * nr;
                int cols = (int)DLC_MIN((int64_t)nr, nc - jq);
                float *d = dst + q * kc * nr + p * nr;
                __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFFu : (1u << cols) - 1);
                __mmask16 m1 =
                    (__mmask16)(cols >= 32 ? 0xFFFFu : cols <= 16 ? 0u : (1u << (cols - 16)) - 1);
                _mm512_storeu_ps(d, _mm512_maskz_loadu_ps(m0, s + jq));
                _mm512_storeu_ps(d + 16, _mm512_maskz_loadu_ps(m1, s + jq + 16));
            }
        }
        return;
    }
    for (int64_t q = q0; q < q1; q++) {
        int64_t jq = q * nr;
        int cols = (int)DLC_MIN((int64_t)nr, nc - jq);
        float *d = dst + q * kc * nr;
        { /* two 16 x 16 transposes per 16 values of p */
            const float *s = b + (j0 + jq) * ldb + p0;
            for (int64_t p = 0; p < kc; p += 16) {
                int np = (int)DLC_MIN((int64_t)16, kc - p);
                __mmask16 m = (__mmask16)((1u << np) - 1);
                for (int h = 0; h < 2; h++) {
                    __m512 in[16], out[16];
                    for (int j = 0; j < 16; j++)
                        in[j] = h * 16 + j < cols
                                    ? _mm512_maskz_loadu_ps(m, s + (h * 16 + j) * ldb + p)
                                    : _mm512_setzero_ps();
                    transpose16(in, out);
                    for (int t = 0; t < np; t++)
                        _mm512_storeu_ps(d + (p + t) * nr + h * 16, out[t]);
                }
            }
        }
    }
}

/* 8 x 8 transpose: out[c] lane r = in[r] lane c. */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* The first n (<= 8) lanes of a load mask. */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i lanes_avx2(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* 6 floats of v to d (4 + 2: nothing written past d + 6). */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void store6(float *d, __m256 v) {
    _mm_storeu_ps(d, _mm256_castps256_ps128(v));
    _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(v, 1));
}

/* pack_a_generic's layout for mr == 6 (falls back otherwise): rows transposed 8 values of p at
 * a time, or (transposed A) 6 consecutive floats per p. */
DLC_TARGET_AVX2 static void pack_a_avx2(int trans_a, const float *a, int64_t lda, int64_t i0,
                                        int64_t mc, int64_t p0, int64_t kc, int mr,
                                        float *restrict dst) {
    if (mr != 6) {
        pack_a_generic(trans_a, a, lda, i0, mc, p0, kc, mr, dst);
        return;
    }
    for (int64_t r = 0; r < mc; r += 6) {
        int64_t rows = DLC_MIN((int64_t)6, mc - r);
        float *d = dst + r * kc;
        if (trans_a) {
            const float *s = a + p0 * lda + i0 + r;
            if (rows == 6) {
                for (int64_t p = 0; p < kc; p++, s += lda, d += 6) {
                    _mm_storeu_ps(d, _mm_loadu_ps(s));
                    d[4] = s[4], d[5] = s[5];
                }
            } else {
                __m256i m = lanes_avx2(rows);
                for (int64_t p = 0; p < kc; p++, s += lda, d += 6)
                    store6(d, _mm256_maskload_ps(s, m));
            }
            continue;
        }
        const float *s = a + (i0 + r) * lda + p0;
        int64_t p = 0;
        for (; p + 8 <= kc; p += 8) {
            __m256 v[8];
            for (int i = 0; i < 6; i++)
                v[i] = i < rows ? _mm256_loadu_ps(s + i * lda + p) : _mm256_setzero_ps();
            v[6] = v[7] = _mm256_setzero_ps();
            transpose8(v);
            for (int t = 0; t < 8; t++) store6(d + (p + t) * 6, v[t]);
        }
        for (; p < kc; p++)
            for (int i = 0; i < 6; i++) d[p * 6 + i] = i < rows ? s[i * lda + p] : 0.0f;
    }
}

/* pack_b_generic's layout for nr == 16 (falls back otherwise). */
DLC_TARGET_AVX2 static void pack_b_avx2(int trans_b, const float *b, int64_t ldb, int64_t p0,
                                        int64_t kc, int64_t j0, int64_t nc, int nr,
                                        int64_t q0, int64_t q1, float *restrict dst) {
    if (nr != 16) {
        pack_b_generic(trans_b, b, ldb, p0, kc, j0, nc, nr, q0, q1, dst);
        return;
    }
    for (int64_t q = q0; q < q1; q++) {
        int64_t jq = q * 16, cols = DLC_MIN((int64_t)16, nc - jq);
        float *d = dst + q * kc * 16;
        if (!trans_b) {
            const float *s = b + p0 * ldb + j0 + jq;
            if (cols == 16) {
                for (int64_t p = 0; p < kc; p++, s += ldb, d += 16) {
                    _mm256_storeu_ps(d, _mm256_loadu_ps(s));
                    _mm256_storeu_ps(d + 8, _mm256_loadu_ps(s + 8));
                }
            } else {
                __m256i m0 = lanes_avx2(cols), m1 = lanes_avx2(cols - 8);
                for (int64_t p = 0; p < kc; p++, s += ldb, d += 16) {
                    _mm256_storeu_ps(d, _mm256_maskload_ps(s, m0));
                    _mm256_storeu_ps(d + 8, _mm256_maskload_ps(s + 8, m1));
                }
            }
            continue;
        }
        /* B stored n x k: 16 rows of B, transposed 8 x 8 at a time */
        const float *s = b + (j0 + jq) * ldb + p0;
        int64_t p = 0;
        for (; p + 8 <= kc; p += 8)
            for (int h = 0; h < 2; h++) {
                __m256 v[8];
                for (int j = 0; j < 8; j++)
                    v[j] = h * 8 + j < cols ? _mm256_loadu_ps(s + (h * 8 + j) * ldb + p)
                                            : _mm256_setzero_ps();
                transpose8(v);
                for (int t = 0; t < 8; t++) _mm256_storeu_ps(d + (p + t) * 16 + h * 8, v[t]);
            }
        for (; p < kc; p++)
            for (int j = 0; j < 16; j++) d[p * 16 + j] = j < cols ? s[j * ldb + p] : 0.0f;
    }
}

/* Ask for rows x kc floats of A (the next direct panel) to be brought towards L2. */
static void prefetch_rows(const float *a, int64_t lda, int rows, int64_t kc) {
    for (int i = 0; i < rows; i++)
        for (int64_t p = 0; p < kc; p += 16)
            _mm_prefetch((const char *)(a + i * lda + p), _MM_HINT_T1);
}
#endif /* DLC_X86 */

/* The micro-kernel of each SIMD level: the fields left out are NULL / 0 (no direct paths). */
static const ukernel k_generic = {.mr = G_MR, .nr = G_NR, .mc = 120, .nc = 2048,
                                  .fn = ukr_generic,
                                  .pack_a = pack_a_generic, .pack_b = pack_b_generic};
#if DLC_X86
static const ukernel k_avx2 = {.mr = A2_MR, .nr = A2_NR, .mc = 192, .nc = 2048,
                               .fn = ukr_avx2,
                               .direct = ukr_avx2_direct, .direct_t = ukr_avx2_direct_t,
                               .direct_b_outer = 1,
                               .direct_rows = ukr_avx2_direct_rows, .rows_mr = A2_MR,
                               .kt_rows = ukr_avx2_kt_rows, .conv_direct = 1,
                               .direct_add = ukr_avx2_direct_add,
                               .direct_add8 = ukr_avx2_direct_add8,
                               .pack_a = pack_a_avx2, .pack_b = pack_b_avx2};
static const ukernel k_avx512 = {.mr = A5_MR, .nr = A5_NR, .mc = 224, .nc = 2048,
                                 .fn = ukr_avx512,
                                 .direct = ukr_avx512_direct,
                                 .direct_t = ukr_avx512_direct_t,
                                 .direct_rows = ukr_avx512_direct_rows, .rows_mr = R5_MR,
                                 .prefetch = prefetch_rows,
                                 .pack_a = pack_a_avx512, .pack_b = pack_b_avx512};
#endif

/* Indexed by dlc_simd_level; DLC_SIMD_PICK(ukernel) is the one in use (internal.h). */
static const ukernel *const ukernel_variants[DLC_SIMD_NLEVELS] =
    DLC_SIMD_TABLE(&k_generic, &k_avx2, &k_avx512);

/* ---------------------------------------------------------------- blocking and workspace */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/* The k block: k cut into ceil(k / KC_MAX) nearly equal blocks (a multiple of 8 where
 * possible). Depends on k alone, so the summation order of every element is fixed. */
static int64_t k_block(int64_t k) {
    if (k <= KC_MAX) return DLC_MAX(k, 1);
    int64_t nb = ceil_div(k, KC_MAX);
    int64_t kc = round_up(ceil_div(k, nb), 8);
    return DLC_MIN(kc, KC_MAX);
}

/* Floats of the shared packed-B block and of one thread's packed-A block for kernel kr. */
static int64_t b_floats(const ukernel *kr, int64_t n, int64_t k) {
    return k_block(k) * round_up(DLC_MIN(n, kr->nc), kr->nr);
}
static int64_t a_floats(const ukernel *kr, int64_t m, int64_t k) {
    return round_up(DLC_MIN(m, kr->mc), kr->mr) * k_block(k);
}


/* ---------------------------------------------------------------- the blocked driver */

typedef struct {
    int trans_a, trans_b;
    int64_t k;
    float alpha, beta;
    const float *a, *b;
    int64_t lda, ldb;
    float *c;
    int64_t ldc;
    const ukernel *kr;
    const int64_t *arow; /* NULL, or A (not transposed) by a row table in segments: */
    int64_t kseg, sstride; /* (i, p) at a[arow[i] + (p / kseg) * sstride + p % kseg] */
    const float *bias;     /* the epilogue: per column of C (first k block), or NULL */
    int relu;              /* ReLU on the last k block */
    int64_t k0, k1;        /* the k range this job sums: [k0, k1), cut at k block bounds */
    const float *bp;       /* NULL, or op(B) packed whole (dlc_sgemm_bpack; n <= nc) */
    int64_t ldbp;          /* with bp: n, the columns packed */
} gemm_job;

/* Rows [i0, i0+mc), k range [p0, p0+kc) of A into MR-tall panels (pack_a_generic's layout). */
static void pack_a_job(const gemm_job *g, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                       float *restrict dst) {
    const int mr = g->kr->mr;
    if (!g->arow) {
        g->kr->pack_a(g->trans_a, g->a, g->lda, i0, mc, p0, kc, mr, dst);
        return;
    }
    for (int64_t r = 0; r < mc; r += mr) {
        int64_t rows = DLC_MIN((int64_t)mr, mc - r);
        float *d = dst + r * kc;
        for (int64_t i = 0; i < rows; i++) {
            /* run by run: the segment of p0 + p, then whole runs */
            const float *s = g->a + g->arow[i0 + r + i];
            int64_t sg = p0 / g->kseg, off = p0 - sg * g->kseg;
            for (int64_t p = 0; p < kc;) {
                int64_t len = DLC_MIN(g->kseg - off, kc - p);
                const float *src = s + sg * g->sstride + off;
                for (int64_t q = 0; q < len; q++) d[(p + q) * mr + i] = src[q];
                p += len, sg++, off = 0;
            }
        }
        for (int64_t i = rows; i < mr; i++)
            for (int64_t p = 0; p < kc; p++) d[p * mr + i] = 0.0f;
    }
}

/* One tile: the micro-kernel straight on C, or on a local copy at the edges. */
static void tile(const ukernel *kr, int64_t kc, const float *ap, const float *bp, float *c,
                 int64_t ldc, int64_t rows, int64_t cols, float alpha, float beta,
                 const float *bias, int relu) {
    if (rows == kr->mr && cols == kr->nr) {
        kr->fn(kc, ap, bp, c, ldc, alpha, beta, bias, relu);
        return;
    }
    float t[MR_MAX * NR_MAX], bt[NR_MAX];
    int nr = kr->nr;
    if (beta != 0.0f) { /* the kernel reads the whole tile: no stale values past the edge */
        memset(t, 0, sizeof t);
        for (int64_t i = 0; i < rows; i++)
            memcpy(t + i * nr, c + i * ldc, (size_t)cols * sizeof(float));
    }
    if (bias) { /* nr readable values */
        memset(bt, 0, sizeof bt);
        memcpy(bt, bias, (size_t)cols * sizeof(float));
        bias = bt;
    }
    kr->fn(kc, ap, bp, t, nr, alpha, beta, bias, relu);
    for (int64_t i = 0; i < rows; i++)
        memcpy(c + i * ldc, t + i * nr, (size_t)cols * sizeof(float));
}

void dlc_ukr_tile(const dlc_ukernel *kr, int64_t kc, const float *ap, const float *bp, float *c,
                  int64_t ldc, int64_t rows, int64_t cols, float alpha, float beta,
                  const float *bias, int relu) {
    tile(kr, kc, ap, bp, c, ldc, rows, cols, alpha, beta, bias, relu);
}

const dlc_ukernel *dlc_ukernel_pick(void) { return DLC_SIMD_PICK(ukernel); }

int64_t dlc_gemm_k_block(int64_t k) { return k_block(k); }

/* Whether rows lda floats apart fall in at most two sets of a 64-set L1 (its ways: 8 on Zen 4,
 * 12 on recent Xeons): a dense layer's x at 9216 features has rows 9 pages apart, so the
 * micro-kernel's MR rows of A read in place evict one another (measured on Zen 4, 2 threads,
 * 128 x 128 x 9216: 3.1 ms in place, 2.2 ms packed). */
static int critical_stride(int64_t lda) {
    int64_t bytes = lda * (int64_t)sizeof(float);
    if (bytes % 64) return 0;
    int64_t a = (bytes / 64) % 64, b = 64; /* gcd(a, 64): the rows' set spacing */
    while (a) {
        int64_t t = b % a;
        b = a, a = t;
    }
    return b >= 32;
}

/* Skip packing A when each A panel serves few B panels (skinny n, as in convolutions): the
 * packing pass would cost about as much as the kernel reads it saves. Not for rows of A at a
 * critical stride (transposed A reads MR consecutive floats per k step: any stride is fine). */
static int use_direct(const gemm_job *g, int64_t n) {
    if (g->arow) return g->kr->direct_rows != NULL && n <= DIRECT_MAX_N;
    if (!g->trans_a && critical_stride(g->lda)) return 0;
    return (g->trans_a ? g->kr->direct_t : g->kr->direct) != NULL && n <= DIRECT_MAX_N;
}

/* The epilogue's bias for columns from j (NULL when none or not on this k block). */
static inline const float *bias_at(const float *bias, int64_t j) { return bias ? bias + j : NULL; }

/* An mr x nr local tile for an edge of `cols` < nr columns of C at cq: C's values copied in
 * when the kernel reads them (beta != 0), the rest zero; the bias likewise padded into bt.
 * Returns the bias for the kernel (bt, or NULL). */
static const float *edge_tile_in(float *t, float *bt, const float *cq, int64_t ldc, int mr,
                                 int nr, int64_t cols, float beta, const float *bias) {
    if (beta != 0.0f) {
        memset(t, 0, sizeof(float) * MR_MAX * NR_MAX);
        for (int64_t i = 0; i < mr; i++)
            memcpy(t + i * nr, cq + i * ldc, (size_t)cols * sizeof(float));
    }
    if (!bias) return NULL;
    memset(bt, 0, sizeof(float) * NR_MAX);
    memcpy(bt, bias, (size_t)cols * sizeof(float));
    return bt;
}

/* The tile's first `cols` columns back into C. */
static void edge_tile_out(const float *t, float *cq, int64_t ldc, int mr, int nr, int64_t cols) {
    for (int64_t i = 0; i < mr; i++)
        memcpy(cq + i * ldc, t + i * nr, (size_t)cols * sizeof(float));
}

/* Rows [i0, i1) x columns [jc, jc+nc) for one k block, A read in place: each MR panel of A
 * (in L1 after its first use) runs across all B panels. Edge rows go through the packed path. */
static void gemm_direct(const gemm_job *g, int64_t i0, int64_t i1, int64_t jc, int64_t nc,
                        int64_t pc, int64_t kc, const float *bpack, float *apack, float beta,
                        const float *bias, int relu) {
    const ukernel *kr = g->kr;
    const int mr = g->arow ? kr->rows_mr : kr->mr, nr = kr->nr; /* rows per panel here */
    int64_t panels = ceil_div(nc, nr);
    if (g->arow) {
        /* B panel by B panel: a row table's K spans several kernel rows, so the B panels
         * together may outgrow L1; one stays there while the rows (short, overlapping
         * windows of a slab in L2) stream past it. The last rows (fewer than a panel) are
         * packed once for all the B panels. */
        const int64_t full = i0 + (i1 - i0) / mr * mr;
        int packed = 0;
        for (int64_t q = 0; q < panels; q++) {
            const float *bp = bpack + q * kc * nr;
            int64_t cols = DLC_MIN((int64_t)nr, nc - q * nr);
            const float *bq = bias_at(bias, jc + q * nr);
            for (int64_t r = i0; r < full; r += mr) {
                float *cq = g->c + r * g->ldc + jc + q * nr;
                if (cols == nr) {
                    kr->direct_rows(kc, g->a, g->arow + r, pc, g->kseg, g->sstride, bp, cq,
                                    g->ldc, g->alpha, beta, bq, relu);
                } else { /* edge columns: the same kernel on a local tile (as tile() does) */
                    float t[MR_MAX * NR_MAX], bt[NR_MAX];
                    const float *tb = edge_tile_in(t, bt, cq, g->ldc, mr, nr, cols, beta, bq);
                    kr->direct_rows(kc, g->a, g->arow + r, pc, g->kseg, g->sstride, bp, t, nr,
                                    g->alpha, beta, tb, relu);
                    edge_tile_out(t, cq, g->ldc, mr, nr, cols);
                }
            }
            if (full < i1) {
                if (!packed) pack_a_job(g, full, i1 - full, pc, kc, apack);
                packed = 1;
                tile(kr, kc, apack, bp, g->c + full * g->ldc + jc + q * nr, g->ldc, i1 - full,
                     cols, g->alpha, beta, bq, relu);
            }
        }
        return;
    }
    ukernel_direct_fn direct = g->trans_a ? kr->direct_t : kr->direct;
    if (!kr->direct_b_outer) {
        /* Row panel by row panel: each MR panel of A (in L1 after its first use) runs across
         * all B panels. */
        for (int64_t r = i0; r < i1; r += mr) {
            int64_t rows = DLC_MIN((int64_t)mr, i1 - r);
            const float *ar = g->trans_a ? g->a + pc * g->lda + r : g->a + r * g->lda + pc;
            if (rows < mr) pack_a_job(g, r, rows, pc, kc, apack);
            if (!g->trans_a && kr->prefetch && r + 2 * mr <= i1)
                kr->prefetch(ar + mr * g->lda, g->lda, mr, kc);
            for (int64_t q = 0; q < panels; q++) {
                const float *bp = bpack + q * kc * nr;
                int64_t cols = DLC_MIN((int64_t)nr, nc - q * nr);
                float *cq = g->c + r * g->ldc + jc + q * nr;
                const float *bq = bias_at(bias, jc + q * nr);
                if (rows == mr && cols == nr)
                    direct(kc, ar, g->lda, bp, cq, g->ldc, g->alpha, beta, bq, relu);
                else if (rows == mr) { /* full rows, edge columns: pack this panel once */
                    if (q == 0 || DLC_MIN((int64_t)nr, nc - (q - 1) * nr) == nr)
                        pack_a_job(g, r, rows, pc, kc, apack);
                    tile(kr, kc, apack, bp, cq, g->ldc, rows, cols, g->alpha, beta, bq, relu);
                } else
                    tile(kr, kc, apack, bp, cq, g->ldc, rows, cols, g->alpha, beta, bq, relu);
            }
        }
        return;
    }
    /* direct_b_outer: blocks of mc rows (in L2), B panel by B panel (in L1) across the block's
     * row panels, A read in place; a block's edge rows (fewer than mr) are packed once. Edge
     * columns run the same kernel on a local tile. */
    for (int64_t ic = i0; ic < i1; ic += kr->mc) {
        int64_t ie = DLC_MIN(ic + kr->mc, i1), full = ic + (ie - ic) / mr * mr;
        if (full < ie) pack_a_job(g, full, ie - full, pc, kc, apack);
        for (int64_t q = 0; q < panels; q++) {
            const float *bp = bpack + q * kc * nr;
            int64_t cols = DLC_MIN((int64_t)nr, nc - q * nr);
            const float *bq = bias_at(bias, jc + q * nr);
            for (int64_t r = ic; r < full; r += mr) {
                const float *ar = g->trans_a ? g->a + pc * g->lda + r : g->a + r * g->lda + pc;
                float *cq = g->c + r * g->ldc + jc + q * nr;
                if (cols == nr) {
                    direct(kc, ar, g->lda, bp, cq, g->ldc, g->alpha, beta, bq, relu);
                    continue;
                }
                float t[MR_MAX * NR_MAX], bt[NR_MAX];
                const float *tb = edge_tile_in(t, bt, cq, g->ldc, mr, nr, cols, beta, bq);
                direct(kc, ar, g->lda, bp, t, nr, g->alpha, beta, tb, relu);
                edge_tile_out(t, cq, g->ldc, mr, nr, cols);
            }
            if (full < ie)
                tile(kr, kc, apack, bp, g->c + full * g->ldc + jc + q * nr, g->ldc, ie - full,
                     cols, g->alpha, beta, bq, relu);
        }
    }
}

/* C[i0:i1, j0:j1] on one thread, with its own packing buffers. Never opens a parallel region,
 * so dlc_sgemm_serial may run it inside a caller's parallel loop. */
static void gemm_block(const gemm_job *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                       float *bpack, float *apack) {
    const ukernel *kr = g->kr;
    const int mr = kr->mr, nr = kr->nr;
    const int64_t kcb = k_block(g->k);
    const int direct = use_direct(g, j1 - j0);
    for (int64_t jc = j0; jc < j1; jc += kr->nc) {
        int64_t nc = DLC_MIN(kr->nc, j1 - jc);
        int64_t panels = ceil_div(nc, nr);
        for (int64_t pc = g->k0; pc < g->k1; pc += kcb) {
            int64_t kc = DLC_MIN(kcb, g->k1 - pc);
            float beta = pc == g->k0 ? g->beta : 1.0f; /* later k blocks accumulate */
            const float *bias = pc == g->k0 ? g->bias : NULL; /* the epilogue: bias first, */
            int relu = pc + kc == g->k1 ? g->relu : 0;        /* ReLU last */
            if (g->bp) /* packed already: k block pc's panels, from column jc on */
                bpack = (float *)g->bp + pc * round_up(g->ldbp, nr) + jc / nr * kc * nr;
            else
                kr->pack_b(g->trans_b, g->b, g->ldb, pc, kc, jc, nc, nr, 0, panels, bpack);
            if (direct) {
                gemm_direct(g, i0, i1, jc, nc, pc, kc, bpack, apack, beta, bias, relu);
                continue;
            }
            for (int64_t ic = i0; ic < i1; ic += kr->mc) {
                int64_t mc = DLC_MIN(kr->mc, i1 - ic);
                pack_a_job(g, ic, mc, pc, kc, apack);
                /* B micro-panel (kc x NR) stays in L1 while the A block streams from L2 */
                for (int64_t q = 0; q < panels; q++) {
                    const float *bp = bpack + q * kc * nr;
                    int64_t cols = DLC_MIN((int64_t)nr, nc - q * nr);
                    float *cq = g->c + ic * g->ldc + jc + q * nr;
                    const float *bq = bias_at(bias, jc + q * nr);
                    for (int64_t r = 0; r < mc; r += mr)
                        tile(kr, kc, apack + r * kc, bp, cq + r * g->ldc, g->ldc,
                             DLC_MIN((int64_t)mr, mc - r), cols, g->alpha, beta, bq, relu);
                }
            }
        }
    }
}

/* Per-thread workspace: one packed B block, then one packed A block at a_offset floats. */
static size_t a_offset(const ukernel *kr, int64_t n, int64_t k) {
    return dlc_align_up((size_t)b_floats(kr, n, k) * sizeof(float)) / sizeof(float);
}
static size_t thread_bytes(const ukernel *kr, int64_t m, int64_t n, int64_t k) {
    return a_offset(kr, n, k) * sizeof(float) +
           dlc_align_up((size_t)a_floats(kr, m, k) * sizeof(float));
}

/* The k split. When C is small and k long (a dense layer's x @ W at batch size: 128 x 128 x
 * 9216), C has too few tiles to keep threads busy and every row range would pack all of B;
 * instead k is cut into kparts parts at k block bounds, a function of (m, n, k) alone: part 0
 * sums into C (with beta and the bias), part s > 0 into its own m x n buffer T_s (beta 0), and
 * then C = act(C + T_1 + ... + T_{kparts-1}), added in that order. The summation order of each
 * element is thus fixed by the sizes, whatever the thread count and the SIMD level. */
#define KSPLIT_MAX_MN ((int64_t)256 * 256)
#define KSPLIT_MIN_K 4096
#define KSPLIT_PER_PART 2048
#define KSPLIT_MAX 4
static int kparts(int64_t m, int64_t n, int64_t k) {
    if (m * n > KSPLIT_MAX_MN || k < KSPLIT_MIN_K || k < 8 * DLC_MAX(m, n)) return 1;
    return (int)DLC_MIN(KSPLIT_MAX, k / KSPLIT_PER_PART);
}
/* Part s of kparts: [k0, k1), whole k blocks. */
static void kpart_range(int64_t k, int parts, int s, int64_t *k0, int64_t *k1) {
    int64_t kcb = k_block(k), nb = ceil_div(k, kcb);
    *k0 = DLC_MIN(k, nb * s / parts * kcb);
    *k1 = DLC_MIN(k, nb * (s + 1) / parts * kcb);
}
/* Bytes of the partial sums T_1 .. T_{parts-1} at the start of the workspace. */
static size_t kpart_bytes(int64_t m, int64_t n, int64_t k) {
    int parts = kparts(m, n, k);
    return parts > 1 ? dlc_align_up((size_t)((parts - 1) * m * n) * sizeof(float)) : 0;
}

/* The largest over every kernel (the SIMD level may change between the size query and the
 * call), plus room to align the caller's pointer. */
static size_t ws_bytes(int64_t m, int64_t n, int64_t k, int threads) {
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    size_t best = 0;
    for (int lv = 0; lv < DLC_SIMD_NLEVELS; lv++)
        best = DLC_MAX(best, thread_bytes(ukernel_variants[lv], m, n, k));
    return kpart_bytes(m, n, k) + (size_t)threads * best + DLC_WS_ALIGN;
}

/* The aligned start of the workspace's partial sums (*tpart, when the k split applies), of
 * the threads' buffers (*base) and how many threads' buffers it holds (0: too small). */
static int ws_carve(const ukernel *kr, int64_t m, int64_t n, int64_t k, void *workspace,
                    size_t workspace_size, int want, float **tpart, float **base,
                    size_t *stride) {
    if (workspace == NULL) return 0;
    uintptr_t p = (uintptr_t)workspace;
    uintptr_t aligned = (p + DLC_WS_ALIGN - 1) & ~(uintptr_t)(DLC_WS_ALIGN - 1);
    size_t skip = (size_t)(aligned - p), per = thread_bytes(kr, m, n, k);
    size_t tb = kpart_bytes(m, n, k);
    if (workspace_size < skip + tb + per) return 0;
    *tpart = (float *)aligned;
    *base = (float *)(aligned + tb);
    *stride = per / sizeof(float);
    return (int)DLC_MIN((size_t)want, (workspace_size - skip - tb) / per);
}

/* C = act(C + T_1 + ... + T_{parts-1}) on rows [i0, i1), in that order (the k split). */
static void kpart_sum(int64_t i0, int64_t i1, int64_t m, int64_t n, float *c, int64_t ldc,
                      const float *t, int parts, int relu) {
    for (int64_t i = i0; i < i1; i++) {
        float *ci = c + i * ldc;
        for (int s = 1; s < parts; s++) {
            const float *ts = t + ((int64_t)(s - 1) * m + i) * n;
            for (int64_t j = 0; j < n; j++) ci[j] += ts[j];
        }
        if (relu)
            for (int64_t j = 0; j < n; j++) {
                float v = ci[j], lo = 0.0f * v + 0.0f;
                ci[j] = v > 0.0f ? v : lo;
            }
    }
}

/* The job of part s (the k split): part 0 on C with beta and the bias, the others on T_s. */
static gemm_job kpart_job(const gemm_job *g, int64_t m, int64_t n, float *t, int parts, int s) {
    gemm_job j = *g;
    kpart_range(g->k, parts, s, &j.k0, &j.k1);
    j.relu = 0;
    if (s > 0) {
        j.c = t + (int64_t)(s - 1) * m * n;
        j.ldc = n;
        j.beta = 0.0f;
        j.bias = NULL;
    }
    return j;
}

/* The whole GEMM on nth threads (one: no parallel region), buffers carved from ws. */
static void gemm_run(const gemm_job *g, int64_t m, int64_t n, float *tpart, float *ws,
                     size_t stride, int nth);

/* How the threads split C: tm x tn rectangles, each thread on its own (packing its own
 * panels, no barriers: a thread that the OS delays holds nobody up). Splitting rows repeats
 * the packing of B in every row range, splitting columns that of A: pick the cheaper. When B
 * is small next to A, cut the rows finer and hand the pieces out dynamically. */
static void plan(const ukernel *kr, int64_t m, int64_t n, int nth, int64_t *tm, int64_t *tn) {
    int64_t mtiles = ceil_div(m, kr->mr), ntiles = ceil_div(n, kr->nr);
    double best = -1.0;
    *tm = 1, *tn = nth;
    for (int64_t d = 1; d <= nth; d++) {
        if (nth % d) continue;
        int64_t e = nth / d;
        if (mtiles < d || ntiles < e) continue;
        double cost = (double)(d - 1) * (double)n + (double)(e - 1) * (double)m;
        if (best < 0.0 || cost <= best) best = cost, *tm = d, *tn = e;
    }
    if (best < 0.0) { /* too few tiles either way: rows if any, else columns */
        *tm = DLC_MIN((int64_t)nth, mtiles), *tn = 1;
        return;
    }
    if (*tn == 1)
        for (int f = 8; f >= 2; f /= 2)
            if (mtiles >= 2 * *tm * f && n * *tm * f * 16 <= m) {
                *tm *= f;
                break;
            }
}

/* k == 0: C = act(alpha * 0 + beta * C + bias), as the reference computes it. */
static void scale_c(int64_t m, int64_t n, float alpha, float beta, float *c, int64_t ldc,
                    const float *bias, int relu) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float *cij = &c[i * ldc + j];
            *cij = epi_scalar(0.0f, cij, alpha, beta, bias, j, relu);
        }
}

size_t dlc_sgemm_workspace_size(int64_t m, int64_t n, int64_t k) {
    return ws_bytes(m, n, k, dlc_threads());
}

size_t dlc_sgemm_serial_workspace_size(int64_t m, int64_t n, int64_t k) {
    return ws_bytes(m, n, k, 1);
}

/* Below this many multiply-adds one thread is faster than waking a team. */
#define PARALLEL_MIN_FMAS ((int64_t)1 << 21)

dlc_status dlc_sgemm_ex(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc, const float *bias, int relu, void *workspace,
                        size_t workspace_size) {
    dlc_status st = gemm_check(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (st != DLC_OK) return st;
    if (m == 0 || n == 0) return DLC_OK;
    if (k == 0) {
        scale_c(m, n, alpha, beta, c, ldc, bias, relu);
        return DLC_OK;
    }
    if (m <= DLC_GEMM_SMALL_M && !trans_b) /* a few rows: stream B instead of packing it */
        return dlc_sgemm_small_m(trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias,
                                 relu);
    const gemm_job g = {trans_a, trans_b, k, alpha, beta, a, b, lda, ldb, c, ldc,
                        DLC_SIMD_PICK(ukernel), NULL, 0, 0, bias, relu != 0, 0, k, NULL, 0};
    int want = dlc_threads();
    if ((double)m * (double)n * (double)k < (double)PARALLEL_MIN_FMAS) want = 1;
    float *ws, *tpart;
    size_t stride;
    int nth = ws_carve(g.kr, m, n, k, workspace, workspace_size, want, &tpart, &ws, &stride);
    if (nth < 1) return DLC_ENOMEM;
    gemm_run(&g, m, n, tpart, ws, stride, nth);
    return DLC_OK;
}

static void gemm_run(const gemm_job *g, int64_t m, int64_t n, float *tpart, float *ws,
                     size_t stride, int nth) {
    const int parts = kparts(m, n, g->k);
    const size_t aoff = a_offset(g->kr, n, g->k);
    if (nth == 1) {
        for (int s = 0; s < parts; s++) {
            gemm_job j = parts > 1 ? kpart_job(g, m, n, tpart, parts, s) : *g;
            gemm_block(&j, 0, m, 0, n, ws, ws + aoff);
        }
        if (parts > 1) kpart_sum(0, m, m, n, g->c, g->ldc, tpart, parts, g->relu);
        return;
    }
    /* Rectangles of C per part: the parts first share the threads out. */
    int per = parts >= nth ? 1 : nth / parts;
    int64_t tm = 1, tn = 1;
    if (per > 1) plan(g->kr, m, n, per, &tm, &tn);
    const int64_t mtiles = ceil_div(m, g->kr->mr), ntiles = ceil_div(n, g->kr->nr);
    const int64_t rects = tm * tn;
#pragma omp parallel num_threads(nth)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *mine = ws + (size_t)tid * stride;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < parts * rects; t++) {
            int s = (int)(t / rects);
            int64_t r = t - s * rects, ti = r / tn, tj = r % tn; /* whole tiles per rectangle */
            int64_t i0 = DLC_MIN(m, mtiles * ti / tm * g->kr->mr);
            int64_t i1 = DLC_MIN(m, mtiles * (ti + 1) / tm * g->kr->mr);
            int64_t j0 = DLC_MIN(n, ntiles * tj / tn * g->kr->nr);
            int64_t j1 = DLC_MIN(n, ntiles * (tj + 1) / tn * g->kr->nr);
            gemm_job j = parts > 1 ? kpart_job(g, m, n, tpart, parts, s) : *g;
            if (i0 < i1 && j0 < j1) gemm_block(&j, i0, i1, j0, j1, mine, mine + aoff);
        }
        if (parts > 1) { /* implicit barrier above: every part is done */
#pragma omp for schedule(static)
            for (int64_t i = 0; i < m; i++)
                kpart_sum(i, i + 1, m, n, g->c, g->ldc, tpart, parts, g->relu);
        }
    }
}

dlc_status dlc_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc, void *workspace, size_t workspace_size) {
    return dlc_sgemm_ex(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, 0,
                        workspace, workspace_size);
}

/* The serial driver; the caller has checked the arguments. */
static dlc_status sgemm_serial_run(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                   float alpha, const float *a, int64_t lda, const float *b,
                                   int64_t ldb, float beta, float *c, int64_t ldc,
                                   const int64_t *arow, int64_t kseg, int64_t sstride,
                                   const float *bp, const float *bias, int relu,
                                   void *workspace, size_t workspace_size) {
    if (m == 0 || n == 0) return DLC_OK;
    if (k == 0) {
        scale_c(m, n, alpha, beta, c, ldc, bias, relu);
        return DLC_OK;
    }
    const gemm_job g = {trans_a, trans_b, k, alpha, beta, a, b, lda, ldb, c, ldc,
                        DLC_SIMD_PICK(ukernel), arow, kseg, sstride, bias, relu != 0, 0, k,
                        bp, n};
    float *ws, *tpart;
    size_t stride;
    if (ws_carve(g.kr, m, n, k, workspace, workspace_size, 1, &tpart, &ws, &stride) < 1)
        return DLC_ENOMEM;
    gemm_run(&g, m, n, tpart, ws, stride, 1);
    return DLC_OK;
}

dlc_status dlc_sgemm_serial_epi(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                float alpha, const float *a, int64_t lda, const float *b,
                                int64_t ldb, float beta, float *c, int64_t ldc,
                                const float *bias, int relu, void *workspace,
                                size_t workspace_size) {
    dlc_status st = gemm_check(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (st != DLC_OK) return st;
    return sgemm_serial_run(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                            NULL, 0, 0, NULL, bias, relu, workspace, workspace_size);
}

dlc_status dlc_sgemm_serial(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const float *a, int64_t lda, const float *b,
                            int64_t ldb, float beta, float *c, int64_t ldc, void *workspace,
                            size_t workspace_size) {
    return dlc_sgemm_serial_epi(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                                NULL, 0, workspace, workspace_size);
}

/* A not transposed, given by a row table in segments: row i is the k / kseg runs
 * a[arow[i] + s * sstride .. + kseg), s = 0, 1, ... (rows may overlap or come in any order):
 * a convolution's patch rows, one run per kernel row, read where they lie. The arithmetic is
 * that of dlc_sgemm_serial on the gathered rows. */
size_t dlc_sgemm_bpack_bytes(int64_t n, int64_t k) {
    if (n <= 0 || k <= 0) return 0;
    size_t best = 0;
    for (int lv = 0; lv < DLC_SIMD_NLEVELS; lv++) {
        const ukernel *kr = ukernel_variants[lv];
        if (n > kr->nc) return 0;
        best = DLC_MAX(best, (size_t)(k * round_up(n, kr->nr)) * sizeof(float));
    }
    return dlc_align_up(best);
}

void dlc_sgemm_bpack_part(int trans_b, int64_t n, int64_t k, const float *b, int64_t ldb,
                          float *dst, int part, int parts) {
    const ukernel *kr = DLC_SIMD_PICK(ukernel);
    const int64_t kcb = k_block(k), panels = ceil_div(n, kr->nr), np = round_up(n, kr->nr);
    /* piece i = (k block, panel) goes to part i % parts */
    for (int64_t pc = 0, i = 0; pc < k; pc += kcb)
        for (int64_t q = 0; q < panels; q++, i++)
            if (i % parts == part)
                kr->pack_b(trans_b, b, ldb, pc, DLC_MIN(kcb, k - pc), 0, n, kr->nr, q, q + 1,
                           dst + pc * np);
}

void dlc_sgemm_bpack(int trans_b, int64_t n, int64_t k, const float *b, int64_t ldb,
                     float *dst) {
    dlc_sgemm_bpack_part(trans_b, n, k, b, ldb, dst, 0, 1);
}

dlc_status dlc_sgemm_serial_rows_epi(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                     const float *a, const int64_t *arow, int64_t kseg,
                                     int64_t sstride, const float *b, int64_t ldb, float beta,
                                     float *c, int64_t ldc, const float *bias, int relu,
                                     void *workspace, size_t workspace_size) {
    return dlc_sgemm_serial_rows_bp_epi(trans_b, m, n, k, alpha, a, arow, kseg, sstride, b, ldb,
                                        NULL, beta, c, ldc, bias, relu, workspace,
                                        workspace_size);
}

dlc_status dlc_sgemm_serial_rows_bp_epi(int trans_b, int64_t m, int64_t n, int64_t k,
                                        float alpha, const float *a, const int64_t *arow,
                                        int64_t kseg, int64_t sstride, const float *b,
                                        int64_t ldb, const float *bpacked, float beta, float *c,
                                        int64_t ldc, const float *bias, int relu,
                                        void *workspace, size_t workspace_size) {
    DLC_CHECK(m == 0 || arow != NULL);
    DLC_CHECK(kseg >= 1 && sstride >= 0 && (k == 0 || k % kseg == 0));
    dlc_status st = gemm_check(0, trans_b, m, n, k, a, DLC_MAX(1, k), b, ldb, c, ldc);
    if (st != DLC_OK) return st;
    for (int64_t i = 0; i < m && k > 0 && n > 0; i++) DLC_CHECK(arow[i] >= 0);
    DLC_CHECK(bpacked == NULL || dlc_sgemm_bpack_bytes(n, k) > 0);
    return sgemm_serial_run(0, trans_b, m, n, k, alpha, a, DLC_MAX(1, k), b, ldb, beta, c, ldc,
                            arow, kseg, sstride, bpacked, bias, relu, workspace,
                            workspace_size);
}

dlc_status dlc_sgemm_serial_rows(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                 const float *a, const int64_t *arow, int64_t kseg,
                                 int64_t sstride, const float *b, int64_t ldb, float beta,
                                 float *c, int64_t ldc, void *workspace,
                                 size_t workspace_size) {
    return dlc_sgemm_serial_rows_epi(trans_b, m, n, k, alpha, a, arow, kseg, sstride, b, ldb,
                                     beta, c, ldc, NULL, 0, workspace, workspace_size);
}
