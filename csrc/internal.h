/* internal.h - private helpers shared by the kernel files. Not part of the public API. */
#ifndef DLC_INTERNAL_H
#define DLC_INTERNAL_H

#include "dlc.h"

#include <stdint.h>

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

/* Threads for the next parallel region: the user's setting. */
int dlc_threads(void);

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

/* The instance of NAME for the SIMD level in use (an entry of NAME_variants). */
#define DLC_SIMD_PICK(name) (name##_variants[dlc_simd_get()])

#endif /* DLC_INTERNAL_H */
