/* gemm_small.c - SGEMM for a few rows of C (m <= DLC_GEMM_SMALL_M, B not transposed): the
 * Dense layer on one image or a handful, a matrix-vector product in all but name.
 *
 * The blocked driver of gemm.c would pack the whole of B (a 9216 x 128 kernel is 4.7 MB) to
 * use it for one row of A; here B is streamed once, row p of B read in place and multiplied
 * by the broadcast A(i, p) of every row i of C. Each element of C gets exactly the operations
 * of gemm.c's micro-kernels in the same order: for each k block (gemm.c's k_block, a function
 * of k alone) a chain acc = acc + a * b over p from zero (one FMA per step on the AVX2 /
 * AVX-512 levels, product and sum rounded separately on the portable level, as gemm.c's
 * kernels), then the same epilogue (alpha, beta on the first block and 1 after, the bias on the
 * first block, the ReLU on the last). So a row of C has the same bits whether it is computed
 * here or inside a larger GEMM that gemm.c does not cut along k (its kparts: a small C with a
 * long k sums k in parts), at every thread count. Threads split the columns in panels of
 * SM_NR, or up to SM_NR_WIDE on the AVX-512 level (disjoint outputs). No allocation, no workspace.
 */
#include "internal.h"

#include <math.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if DLC_X86
#include <immintrin.h>
#endif

#define SM_NR 16 /* columns per panel: two ymm per row of C */
#define SM_MR 6  /* rows of C per kernel call */
#define SM_NR_WIDE 64 /* columns per call of the AVX-512 kernel: four panels */

typedef struct {
    int64_t k, kc; /* k, and gemm.c's k block */
    float alpha, beta;
    const float *a, *b;
    int64_t rs, cs, ldb; /* A(i, p) at a[i * rs + p * cs]; B(p, j) at b[p * ldb + j] */
    float *c;
    int64_t ldc;
    const float *bias;
    int relu;
} small_job;

/* The epilogue of k block [pc, pc + kc) (gemm.c's rule): beta on the first block and 1 after,
 * the bias (from column j0) on the first block, the ReLU on the last. */
typedef struct {
    float beta;
    const float *bias;
    int relu;
} small_epi;
static inline small_epi small_epi_of(const small_job *g, int64_t j0, int64_t pc, int64_t kc) {
    small_epi e = {pc == 0 ? g->beta : 1.0f, pc == 0 && g->bias ? g->bias + j0 : NULL,
                   pc + kc == g->k ? g->relu : 0};
    return e;
}

/* One k block [pc, pc + kc) of rows x cols (<= 4 x SM_NR) of C from column j0. */
typedef void (*small_fn)(const small_job *g, int rows, int64_t j0, int64_t cols, int64_t pc,
                         int64_t kc);

/* gemm.c's epilogue on one value (epi_scalar there): v = alpha * acc (+ beta * c) (+ bias),
 * then ReLU as dlc_relu_forward (v > 0 ? v : 0 * v + 0). */
static inline float epi(float acc, float cij, float alpha, float beta, const float *bias,
                        int64_t j, int relu) {
    float v = beta == 0.0f ? alpha * acc : alpha * acc + beta * cij;
    if (bias) v = v + bias[j];
    if (relu) {
        float lo = 0.0f * v + 0.0f;
        v = v > 0.0f ? v : lo;
    }
    return v;
}

/* Portable. */
static void small_generic(const small_job *g, int rows, int64_t j0, int64_t cols, int64_t pc,
                          int64_t kc) {
    float acc[SM_MR][SM_NR];
    for (int i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) acc[i][j] = 0.0f;
    for (int64_t p = pc; p < pc + kc; p++) {
        const float *bp = g->b + p * g->ldb + j0;
        for (int i = 0; i < rows; i++) {
            float ai = g->a[i * g->rs + p * g->cs];
            for (int64_t j = 0; j < cols; j++) acc[i][j] += ai * bp[j];
        }
    }
    const small_epi e = small_epi_of(g, j0, pc, kc);
    const float beta = e.beta, *bias = e.bias;
    const int relu = e.relu;
    for (int i = 0; i < rows; i++) {
        float *ci = g->c + i * g->ldc + j0;
        for (int64_t j = 0; j < cols; j++)
            ci[j] = beta == 0.0f && !bias && !relu
                        ? g->alpha * acc[i][j]
                        : epi(acc[i][j], beta == 0.0f ? 0.0f : ci[j], g->alpha, beta, bias, j,
                              relu);
    }
}

#if DLC_X86
/* The epilogue of one k block for R rows x cols columns of C from column j0, the sums in t
 * (row stride ldt), 8 columns per ymm, masked past cols: gemm.c's ukr_avx2_store formulas,
 * hence the bits of its micro-kernels (both SIMD levels here store through it). */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void
small_store_avx2(const small_job *g, int R, int64_t j0, int64_t cols, const float *t,
                 int64_t ldt, int64_t pc, int64_t kc) {
    const small_epi e = small_epi_of(g, j0, pc, kc);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 va = _mm256_set1_ps(g->alpha), vb = _mm256_set1_ps(e.beta);
    const __m256 z = _mm256_setzero_ps();
    for (int i = 0; i < R; i++) {
        float *ci = g->c + i * g->ldc + j0;
        const float *ti = t + i * ldt;
        for (int64_t j = 0; j < cols; j += 8) {
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(cols - j)), lane);
            const __m256 acc = _mm256_loadu_ps(ti + j);
            __m256 r;
            if (e.beta == 0.0f && !e.bias && !e.relu) {
                r = _mm256_mul_ps(va, acc);
            } else {
                __m256 bb = e.bias ? _mm256_maskload_ps(e.bias + j, m) : z;
                if (e.beta == 0.0f) {
                    r = e.bias ? _mm256_fmadd_ps(va, acc, bb) : _mm256_mul_ps(va, acc);
                } else {
                    __m256 cv = _mm256_maskload_ps(ci + j, m);
                    r = _mm256_fmadd_ps(va, acc, _mm256_mul_ps(vb, cv));
                    if (e.bias) r = _mm256_add_ps(r, bb);
                }
                if (e.relu) {
                    __m256 lo = _mm256_add_ps(_mm256_mul_ps(z, r), z);
                    r = _mm256_blendv_ps(lo, r, _mm256_cmp_ps(r, z, _CMP_GT_OQ));
                }
            }
            _mm256_maskstore_ps(ci + j, m, r);
        }
    }
}

/* AVX2 + FMA: R <= SM_MR rows (a constant after inlining) x 16 columns, twelve accumulators
 * at most (the 16 ymm registers hold them, the two rows of B and the broadcast A), columns
 * masked past `cols`. gemm.c's ukr_avx2_store formulas for the epilogue. */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void
small_avx2_rows(int R, const small_job *g, int64_t j0, int64_t cols, int64_t pc, int64_t kc) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask[2] = {_mm256_cmpgt_epi32(_mm256_set1_epi32((int)cols), lane),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(cols - 8)), lane)};
    const __m256 z = _mm256_setzero_ps();
    __m256 acc[SM_MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = z;
    const float *bp = g->b + pc * g->ldb + j0, *ap = g->a + pc * g->cs;
    const int full = cols == SM_NR;
    for (int64_t p = 0; p < kc; p++, bp += g->ldb, ap += g->cs) {
        __m256 b0 = full ? _mm256_loadu_ps(bp) : _mm256_maskload_ps(bp, mask[0]);
        __m256 b1 = full ? _mm256_loadu_ps(bp + 8) : _mm256_maskload_ps(bp + 8, mask[1]);
#pragma GCC unroll 6
        for (int i = 0; i < R; i++) {
            __m256 ai = _mm256_broadcast_ss(ap + i * g->rs);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    float t[SM_MR * SM_NR];
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
        _mm256_storeu_ps(t + i * SM_NR, acc[i][0]);
        _mm256_storeu_ps(t + i * SM_NR + 8, acc[i][1]);
    }
    small_store_avx2(g, R, j0, cols, t, SM_NR, pc, kc);
}

DLC_TARGET_AVX2 static void small_avx2(const small_job *g, int rows, int64_t j0, int64_t cols,
                                       int64_t pc, int64_t kc) {
    DLC_ROWS_1_TO_6(rows, small_avx2_rows, g, j0, cols, pc, kc);
}
#endif

#if DLC_X86
/* AVX-512: R <= SM_MR rows x up to SM_NR_WIDE columns (four zmm per row, R * 4 <= 24
 * accumulators of the 32 registers), columns masked past `cols`. One row of C on one image
 * has four independent FMA chains per panel of B instead of the AVX2 kernel's two, and reads
 * 256 contiguous bytes of each row of B instead of 64: the FMA latency and the scattered reads
 * no longer bound it. The same per-element chain and epilogue formulas as the AVX2 kernel,
 * hence the same bits. */
DLC_TARGET_AVX512 static inline __attribute__((always_inline)) void
small_avx512_rows(int R, const small_job *g, int64_t j0, int64_t cols, int64_t pc, int64_t kc) {
    __mmask16 mask[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        int64_t left = DLC_MAX(0, DLC_MIN(16, cols - 16 * v));
        mask[v] = (__mmask16)((1u << left) - 1u);
    }
    const __m512 z = _mm512_setzero_ps();
    __m512 acc[SM_MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = z;
    const float *bp = g->b + pc * g->ldb + j0, *ap = g->a + pc * g->cs;
    if (cols == SM_NR_WIDE) {
        for (int64_t p = 0; p < kc; p++, bp += g->ldb, ap += g->cs) {
            __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
            __m512 b2 = _mm512_loadu_ps(bp + 32), b3 = _mm512_loadu_ps(bp + 48);
#pragma GCC unroll 6
            for (int i = 0; i < R; i++) {
                __m512 ai = _mm512_set1_ps(ap[i * g->rs]);
                acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
                acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);
                acc[i][3] = _mm512_fmadd_ps(ai, b3, acc[i][3]);
            }
        }
    } else {
        for (int64_t p = 0; p < kc; p++, bp += g->ldb, ap += g->cs) {
            __m512 bv[4];
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) bv[v] = _mm512_maskz_loadu_ps(mask[v], bp + 16 * v);
#pragma GCC unroll 6
            for (int i = 0; i < R; i++) {
                __m512 ai = _mm512_set1_ps(ap[i * g->rs]);
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
            }
        }
    }
    float t[SM_MR * SM_NR_WIDE];
#pragma GCC unroll 6
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) _mm512_storeu_ps(t + i * SM_NR_WIDE + 16 * v, acc[i][v]);
    small_store_avx2(g, R, j0, cols, t, SM_NR_WIDE, pc, kc);
}

DLC_TARGET_AVX512 static void small_avx512(const small_job *g, int rows, int64_t j0,
                                           int64_t cols, int64_t pc, int64_t kc) {
    DLC_ROWS_1_TO_6(rows, small_avx512_rows, g, j0, cols, pc, kc);
}
#endif

/* Every level computes each element of C with the same FMA chain and epilogue as gemm.c's
 * micro-kernels, hence the same bits; a row this short is bound by reading B. */
static const small_fn small_variants[DLC_SIMD_NLEVELS] =
    DLC_SIMD_TABLE(small_generic, small_avx2, small_avx512);

/* Below this many multiply-adds one thread streams B faster than waking a team. */
#define SMALL_PAR_MIN ((int64_t)1 << 17)

dlc_status dlc_sgemm_small_m(int trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                             const float *a, int64_t lda, const float *b, int64_t ldb,
                             float beta, float *c, int64_t ldc, const float *bias, int relu) {
    DLC_CHECK(m >= 1 && m <= DLC_GEMM_SMALL_M && n >= 1 && k >= 1);
    const small_job g = {k, dlc_gemm_k_block(k), alpha, beta, a, b,
                         trans_a ? 1 : lda, trans_a ? lda : 1, ldb, c, ldc, bias, relu != 0};
    const small_fn f = DLC_SIMD_PICK(small);
    const int64_t panels = (n + SM_NR - 1) / SM_NR;
    const int nt = dlc_threads();
    const int par = m * n * k >= SMALL_PAR_MIN && panels > 1;
    /* Columns per call: SM_NR, or on the AVX-512 level up to four panels while every thread
     * still gets one call (which columns go together changes no bits). */
    int64_t width = SM_NR;
    if (DLC_X86 && dlc_simd_get() == DLC_SIMD_AVX512)
        width = SM_NR * DLC_MAX(1, DLC_MIN(SM_NR_WIDE / SM_NR, par ? panels / nt : panels));
    const int64_t calls = (n + width - 1) / width;
    /* Call by call (one thread each), k block by k block: the kc x width block of B
     * (20-80 KB) stays in cache while every group of SM_MR rows of C runs over it. */
#pragma omp parallel for schedule(static) num_threads(nt) if (par)
    for (int64_t q = 0; q < calls; q++) {
        const int64_t j0 = q * width, cols = DLC_MIN(width, n - j0);
        for (int64_t pc = 0; pc < k; pc += g.kc) {
            const int64_t kc = DLC_MIN(g.kc, k - pc);
            for (int64_t r0 = 0; r0 < m; r0 += SM_MR) {
                small_job gr = g;
                gr.a = a + r0 * g.rs;
                gr.c = c + r0 * ldc;
                f(&gr, (int)DLC_MIN((int64_t)SM_MR, m - r0), j0, cols, pc, kc);
            }
        }
    }
    return DLC_OK;
}
