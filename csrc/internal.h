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

/* Target attributes for SIMD variants compiled in a portable build (runtime dispatch). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DLC_X86 1
#define DLC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define DLC_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#else
#define DLC_X86 0
#define DLC_TARGET_AVX2
#define DLC_TARGET_AVX512
#endif

#endif /* DLC_INTERNAL_H */
