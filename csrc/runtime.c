/* runtime.c - thread count and SIMD level shared by all kernels. */
#include "internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static int g_threads = 0; /* 0: not set, use OpenMP's default */
static int g_simd = -1;   /* -1: not chosen yet, use detection */

dlc_status dlc_set_num_threads(int n) {
    DLC_CHECK(n >= 1 && n <= 4096);
    __atomic_store_n(&g_threads, n, __ATOMIC_RELAXED);
    return DLC_OK;
}

int dlc_get_num_threads(void) {
    int n = __atomic_load_n(&g_threads, __ATOMIC_RELAXED);
    if (n > 0) return n;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int dlc_threads(void) { return dlc_get_num_threads(); }

dlc_simd_level dlc_simd_detect(void) {
#if DLC_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        return DLC_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DLC_SIMD_AVX2;
#endif
    return DLC_SIMD_GENERIC;
}

dlc_simd_level dlc_simd_get(void) {
    int level = __atomic_load_n(&g_simd, __ATOMIC_RELAXED);
    if (level < 0) {
        level = (int)dlc_simd_detect();
        __atomic_store_n(&g_simd, level, __ATOMIC_RELAXED);
    }
    return (dlc_simd_level)level;
}

dlc_status dlc_simd_set(dlc_simd_level level) {
    DLC_CHECK(level >= DLC_SIMD_GENERIC && level <= DLC_SIMD_AVX512);
    DLC_CHECK(level <= dlc_simd_detect());
    __atomic_store_n(&g_simd, (int)level, __ATOMIC_RELAXED);
    return DLC_OK;
}

const char *dlc_simd_name(dlc_simd_level level) {
    switch (level) {
    case DLC_SIMD_AVX512: return "avx512";
    case DLC_SIMD_AVX2: return "avx2";
    case DLC_SIMD_GENERIC: return "generic";
    }
    return "unknown";
}
