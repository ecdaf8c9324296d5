/* internal.h - private helpers shared by the kernel files. Not part of the public API. */
#ifndef DLC_INTERNAL_H
#define DLC_INTERNAL_H

#include "dlc.h"

#include <stdint.h>
#include <string.h>

#define DLC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DLC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Return DLC_EINVAL from the enclosing function when cond is false. */
#define DLC_CHECK(cond)                                                                        \
    do {                                                                                       \
        if (!(cond)) return DLC_EINVAL;                                                        \
    } while (0)

/* Bytes are rounded up to this alignment when a workspace is carved into pieces. */
#define DLC_WS_ALIGN 64

static inline size_t dlc_align_up(size_t bytes) {
    return (bytes + (DLC_WS_ALIGN - 1)) & ~(size_t)(DLC_WS_ALIGN - 1);
}

/* c ? a : b by bit masks (branch-free): a plain ?: whose arm holds arithmetic or a libm call
 * becomes a branch (ISO C may not evaluate the other arm), scalar and mispredicted on random
 * signs; this one keeps the channel and element loops vectorised. */
static inline float dlc_fsel(int c, float a, float b) {
    uint32_t ua, ub, m = 0u - (uint32_t)(c != 0);
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    uint32_t r = (ua & m) | (ub & ~m);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

/* Threads for the next parallel region: the user's setting. */
int dlc_threads(void);

/* f(len, x + i0, y + i0) over fixed blocks of `block` values (the last one shorter), in
 * parallel when n >= par_min: an elementwise pass split into disjoint outputs, so its result
 * does not depend on the thread count. */
static inline void dlc_blocks_xy(void (*f)(int64_t, const float *, float *), int64_t n,
                                 int64_t block, int64_t par_min, const float *x, float *y) {
    int64_t nb = (n + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= par_min)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * block;
        f(DLC_MIN(block, n - i0), x + i0, y + i0);
    }
}

/* Single-threaded SGEMM for kernels that parallelise over their own tiles (conv2d): the same
 * arguments and results as dlc_sgemm, never opens a parallel region. Workspace in bytes from
 * dlc_sgemm_serial_workspace_size(). Bit-identical to dlc_sgemm for the same arguments. */
size_t dlc_sgemm_serial_workspace_size(int64_t m, int64_t n, int64_t k);
dlc_status dlc_sgemm_serial(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const float *a, int64_t lda, const float *b,
                            int64_t ldb, float beta, float *c, int64_t ldc, void *workspace,
                            size_t workspace_size);

/* dlc_sgemm_serial with A not transposed and given by a row table in segments: row i is the
 * k / kseg runs a[arow[i] + s * sstride .. + kseg), s = 0 .. k / kseg - 1, one after another
 * (arow[i] >= 0, kseg >= 1 dividing k, sstride >= 0; rows may overlap; kseg = k is one plain
 * run). Same workspace size function; bit-identical to dlc_sgemm_serial on the gathered rows. */
dlc_status dlc_sgemm_serial_rows(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                 const float *a, const int64_t *arow, int64_t kseg,
                                 int64_t sstride, const float *b, int64_t ldb, float beta,
                                 float *c, int64_t ldc, void *workspace,
                                 size_t workspace_size);

/* op(B) (k x n) packed whole for the SIMD level in use, every k block's panels in turn, so
 * that many GEMMs on the same B (a convolution's units) pack it once: dlc_sgemm_bpack_bytes
 * is the buffer's size (0: not supported, n above a column block), dlc_sgemm_bpack fills it,
 * dlc_sgemm_serial_rows_bp_epi is dlc_sgemm_serial_rows_epi reading B from it (bpacked may
 * be NULL: B is packed as usual); the same bits either way. */
size_t dlc_sgemm_bpack_bytes(int64_t n, int64_t k);
void dlc_sgemm_bpack(int trans_b, int64_t n, int64_t k, const float *b, int64_t ldb,
                     float *dst);
/* Share `part` of `parts` (0 <= part < parts) of dlc_sgemm_bpack's work: the parts' calls,
 * from as many threads, together fill dst exactly as one dlc_sgemm_bpack does. */
void dlc_sgemm_bpack_part(int trans_b, int64_t n, int64_t k, const float *b, int64_t ldb,
                          float *dst, int part, int parts);
dlc_status dlc_sgemm_serial_rows_bp_epi(int trans_b, int64_t m, int64_t n, int64_t k,
                                        float alpha, const float *a, const int64_t *arow,
                                        int64_t kseg, int64_t sstride, const float *b,
                                        int64_t ldb, const float *bpacked, float beta, float *c,
                                        int64_t ldc, const float *bias, int relu,
                                        void *workspace, size_t workspace_size);

/* The GEMM epilogue: C = act(alpha * op(A) op(B) + beta * C + bias), bias (n floats, per
 * column, may be NULL) added on the first k block and act (relu != 0: Keras's plain ReLU,
 * r = x > 0 ? x : 0 * x + 0, the formula of dlc_relu_forward) applied on the last one, so a
 * fused Dense or convolution layer gives the bits of the GEMM, a bias preset and a ReLU pass. */
dlc_status dlc_sgemm_serial_epi(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                float alpha, const float *a, int64_t lda, const float *b,
                                int64_t ldb, float beta, float *c, int64_t ldc,
                                const float *bias, int relu, void *workspace,
                                size_t workspace_size);
dlc_status dlc_sgemm_serial_rows_epi(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                     const float *a, const int64_t *arow, int64_t kseg,
                                     int64_t sstride, const float *b, int64_t ldb, float beta,
                                     float *c, int64_t ldc, const float *bias, int relu,
                                     void *workspace, size_t workspace_size);

/* ---------------------------------------------------------------- GEMM micro-kernels
 * The register tiles of gemm.c, for kernels that drive tiles themselves (conv2d.c). Each
 * computes an mr x nr tile of C = alpha * sum_p A(i, p) B(p, j) + beta * C (+ bias, ReLU: the
 * epilogue above, applied by the caller's choice of arguments for its k block); beta == 0
 * writes C without reading it. B is always a packed panel: kc groups of nr floats. A is
 *   fn:          a packed panel, kc groups of mr floats;
 *   direct:      row-major in place, (i, p) at a[i * lda + p]; direct_t: at a[p * lda + i];
 *   direct_rows: (i, p) at a[ro[i] + (p0 + p) / kseg * sstride + (p0 + p) % kseg] (rows_mr
 *                rows per call);
 *   kt_rows:     (i, p) at a[pr[p] + i]: the k index runs through a row table (a
 *                convolution's output pixels), the mr rows are consecutive floats of each.
 * The portable path has only fn (NULL entries: pack A). For every path the operations on one
 * element of C are the same, in the same order, so all of them give the same bits. */
typedef void (*dlc_ukr_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           float alpha, float beta, const float *bias, int relu);
typedef void (*dlc_ukr_direct_fn)(int64_t kc, const float *a, int64_t lda, const float *b,
                                  float *c, int64_t ldc, float alpha, float beta,
                                  const float *bias, int relu);
typedef void (*dlc_ukr_rows_fn)(int64_t kc, const float *a, const int64_t *ro, int64_t p0,
                                int64_t kseg, int64_t sstride, const float *b, float *c,
                                int64_t ldc, float alpha, float beta, const float *bias,
                                int relu);
typedef void (*dlc_ukr_kt_fn)(int64_t kc, const float *a, const int64_t *pr, const float *b,
                              float *c, int64_t ldc, float alpha, float beta);
/* Packing (gemm.c's layouts): rows [i0, i0+mc) x k range [p0, p0+kc) of op(A) into mr-tall
 * panels, dst[r*kc*mr + p*mr + i], zero past mc; panels q in [q0, q1) of rows [p0, p0+kc) x
 * columns [j0, j0+nc) of op(B) into nr-wide panels, dst[q*kc*nr + p*nr + j], zero past nc. */
typedef void (*dlc_pack_a_fn)(int trans_a, const float *a, int64_t lda, int64_t i0, int64_t mc,
                              int64_t p0, int64_t kc, int mr, float *dst);
typedef void (*dlc_pack_b_fn)(int trans_b, const float *b, int64_t ldb, int64_t p0, int64_t kc,
                              int64_t j0, int64_t nc, int nr, int64_t q0, int64_t q1,
                              float *dst);
typedef struct {
    int mr, nr;      /* register tile */
    int64_t mc, nc;  /* cache blocks: rows of A per packed block, columns of B per block */
    dlc_ukr_fn fn;
    dlc_ukr_direct_fn direct, direct_t; /* NULL: always pack A */
    int direct_b_outer;                 /* direct: B panel by B panel over blocks of mc rows
                                           (else row panel by row panel over all B panels) */
    dlc_ukr_rows_fn direct_rows;        /* NULL: pack A given by a row table */
    int rows_mr;                        /* rows per direct_rows call (<= mr) */
    dlc_ukr_kt_fn kt_rows;              /* NULL: pack A^T given by a row table */
    int conv_direct;                    /* conv2d's direct backward data may run on direct */
    /* With conv_direct: the first rows (1 .. mr) of direct's tile with alpha = beta = 1,
     * c += A B, the same operations per element as direct (a tile's last rows, in place). */
    void (*direct_add)(int rows, int64_t kc, const float *a, int64_t lda, const float *b,
                       float *c, int64_t ldc);
    /* The same for tiles 8 columns wide (B panels of 8; rows 1 .. mr): the tiles of conv2d's
     * direct backward data when nr does not divide c but 8 does, every tile through it. */
    void (*direct_add8)(int rows, int64_t kc, const float *a, int64_t lda, const float *b,
                        float *c, int64_t ldc);
    void (*prefetch)(const float *a, int64_t lda, int rows, int64_t kc); /* for direct */
    dlc_pack_a_fn pack_a;
    dlc_pack_b_fn pack_b;
} dlc_ukernel;
#define DLC_MR_MAX 16
#define DLC_NR_MAX 32
/* The micro-kernels of the SIMD level in use. */
const dlc_ukernel *dlc_ukernel_pick(void);
/* One tile of rows x cols (<= mr x nr) with fn: straight on C when whole, else through a local
 * copy (so every element gets the very same operations wherever its tile falls). bias, when
 * not NULL, holds the tile's cols values. */
void dlc_ukr_tile(const dlc_ukernel *kr, int64_t kc, const float *ap, const float *bp, float *c,
                  int64_t ldc, int64_t rows, int64_t cols, float alpha, float beta,
                  const float *bias, int relu);
/* The k block of a GEMM with inner size k (at most 320, a function of k alone). */
int64_t dlc_gemm_k_block(int64_t k);
/* C = act(alpha * op(A) @ B + beta * C + bias) for m <= DLC_GEMM_SMALL_M rows, B read in place
 * (gemm_small.c): per element the operations of dlc_sgemm_ex's blocked kernels (without its
 * k split); arguments already checked. */
#define DLC_GEMM_SMALL_M 8
dlc_status dlc_sgemm_small_m(int trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                             const float *a, int64_t lda, const float *b, int64_t ldb,
                             float beta, float *c, int64_t ldc, const float *bias, int relu);

/* dropout.c: the uniforms of elements [i, i + 64) of the dropout stream (seed, step), i a
 * multiple of 64: dlc_dropout_forward's keep decision is u >= rate. */
void dlc_dropout_uniform_group(uint64_t seed, uint64_t step, int64_t i, float *u);

/* ---------------------------------------------------------------- SIMD dispatch
 *
 * One idiom in every kernel family (see ARCHITECTURE.md). A vectorisable loop is written once,
 * in portable C, as an always-inline function NAME_body. DLC_SIMD_VARIANTS(NAME, params, args)
 * compiles it three times, as NAME_generic (baseline x86-64), NAME_avx2 (AVX2 + FMA) and
 * NAME_avx512 (AVX-512) through function target attributes, and lists the three in the table
 * NAME_variants, indexed by dlc_simd_level. DLC_SIMD_PICK(NAME) is the entry for the level in
 * use: the level is resolved once (detected on first use, cached in runtime.c, replaced by
 * dlc_simd_set), so a pick costs one call that loads it and one table load. A kernel picks once
 * per call, on the calling thread before its parallel region, so one call runs one path.
 *
 *     DLC_INLINE void axpy_body(int64_t n, float a, const float *restrict x,
 *                               float *restrict y) {
 *     #pragma omp simd
 *         for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
 *     }
 *     DLC_SIMD_VARIANTS(axpy, (int64_t n, float a, const float *restrict x, float *restrict y),
 *                       (n, a, x, y));
 *
 *     void (*f)(int64_t, float, const float *, float *) = DLC_SIMD_PICK(axpy);
 *     #pragma omp parallel for schedule(static) num_threads(dlc_threads())
 *     for (int64_t b = 0; b < nb; b++) f(...);
 *
 * Every instance is the same C, and the build is ISO C11 without fast-math (no contraction into
 * FMA, no reassociation), so every path computes the same formula and gives the same bits; the
 * compiler only chooses the vector width (sqrtf and division vectorise exactly; setup.py's
 * -fno-math-errno lets sqrtf vectorise at all). Code that is genuinely different per target
 * (hand-written intrinsics micro-kernels) fills the same kind of table, with DLC_SIMD_TABLE,
 * and is picked the same way:
 *
 *     static const smallk_fn smallk_variants[DLC_SIMD_NLEVELS] =
 *         DLC_SIMD_TABLE(smallk_generic, smallk_avx2, smallk_avx512);
 *     smallk_fn f = DLC_SIMD_PICK(smallk);
 *
 * Off x86 only the portable instance exists and every entry of a table is the portable one (the
 * level is then always DLC_SIMD_GENERIC). Instances return void. */

#define DLC_INLINE static inline __attribute__((always_inline))
#define DLC_SIMD_NLEVELS 3 /* DLC_SIMD_GENERIC, DLC_SIMD_AVX2, DLC_SIMD_AVX512 */

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DLC_X86 1
#define DLC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define DLC_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define DLC_SIMD_TABLE(generic, avx2, avx512)                                                  \
    {[DLC_SIMD_GENERIC] = generic, [DLC_SIMD_AVX2] = avx2, [DLC_SIMD_AVX512] = avx512}
#define DLC_SIMD_VARIANTS(name, params, args)                                                  \
    static void name##_generic params { name##_body args; }                                   \
    DLC_TARGET_AVX2 static void name##_avx2 params { name##_body args; }                      \
    DLC_TARGET_AVX512 static void name##_avx512 params { name##_body args; }                  \
    static void (*const name##_variants[DLC_SIMD_NLEVELS]) params =                            \
        DLC_SIMD_TABLE(name##_generic, name##_avx2, name##_avx512)
#else
#define DLC_X86 0
#define DLC_TARGET_AVX2
#define DLC_TARGET_AVX512
#define DLC_SIMD_TABLE(generic, avx2, avx512) {generic, generic, generic}
#define DLC_SIMD_VARIANTS(name, params, args)                                                  \
    static void name##_generic params { name##_body args; }                                   \
    static void (*const name##_variants[DLC_SIMD_NLEVELS]) params =                            \
        DLC_SIMD_TABLE(name##_generic, name##_generic, name##_generic)
#endif

/* body(R, ...) with R a compile-time constant 1 .. 6 equal to `rows` (6 for anything larger):
 * register-tile kernels whose row count must be known to keep their accumulators in
 * registers. */
#define DLC_ROWS_1_TO_6(rows, body, ...)                                                       \
    do {                                                                                       \
        switch (rows) {                                                                        \
        case 1: body(1, __VA_ARGS__); break;                                                   \
        case 2: body(2, __VA_ARGS__); break;                                                   \
        case 3: body(3, __VA_ARGS__); break;                                                   \
        case 4: body(4, __VA_ARGS__); break;                                                   \
        case 5: body(5, __VA_ARGS__); break;                                                   \
        default: body(6, __VA_ARGS__); break;                                                  \
        }                                                                                      \
    } while (0)

/* The instance of NAME for the SIMD level in use (an entry of NAME_variants). */
#define DLC_SIMD_PICK(name) (name##_variants[dlc_simd_get()])

#endif /* DLC_INTERNAL_H */
