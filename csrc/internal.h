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
