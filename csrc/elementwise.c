/* elementwise.c - the executor's data movement as kernels: fill, copy, add, column sums and
 * strided 2-D copies (concatenation), so that a whole training step can run as kernel calls
 * (the step plan of csrc/module.c) without a NumPy pass in between.
 *
 * Memory-bound loops; the vectorisable ones are portable bodies compiled per SIMD target
 * (DLC_SIMD_VARIANTS). Threads split disjoint outputs only (fixed blocks of ELT_BLOCK values,
 * or column blocks for colsum), every output sums its terms in a fixed order: the results do
 * not depend on the thread count. */
#include "internal.h"

#include <string.h>

#define ELT_PAR_MIN 65536 /* values below which one thread is used */
#define ELT_BLOCK 16384   /* values per parallel work item */
#define COL_BLOCK 64      /* columns per colsum work item */

static int64_t elt_blocks(int64_t n) { return (n + ELT_BLOCK - 1) / ELT_BLOCK; }

static int elt_disjoint(const void *a, size_t ab, const void *b, size_t bb) {
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return ab == 0 || bb == 0 || pa + ab <= pb || pb + bb <= pa;
}

dlc_status dlc_fill(int64_t n, float value, float *y) {
    DLC_CHECK(n >= 0 && (n == 0 || y != NULL));
    int64_t nb = elt_blocks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= ELT_PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * ELT_BLOCK, i1 = DLC_MIN(n, i0 + ELT_BLOCK);
        if (value == 0.0f && !__builtin_signbit(value))
            memset(y + i0, 0, (size_t)(i1 - i0) * sizeof(float));
        else
            for (int64_t i = i0; i < i1; i++) y[i] = value;
    }
    return DLC_OK;
}

dlc_status dlc_copy(int64_t n, const float *x, float *y) {
    DLC_CHECK(n >= 0 && (n == 0 || (x != NULL && y != NULL)));
    DLC_CHECK(elt_disjoint(x, (size_t)n * sizeof(float), y, (size_t)n * sizeof(float)));
    int64_t nb = elt_blocks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= ELT_PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * ELT_BLOCK, i1 = DLC_MIN(n, i0 + ELT_BLOCK);
        memcpy(y + i0, x + i0, (size_t)(i1 - i0) * sizeof(float));
    }
    return DLC_OK;
}

DLC_INLINE void add_into_body(int64_t n, const float *restrict x, float *restrict y) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}
DLC_SIMD_VARIANTS(add_into, (int64_t n, const float *restrict x, float *restrict y), (n, x, y));

dlc_status dlc_add_into(int64_t n, const float *x, float *y) {
    DLC_CHECK(n >= 0 && (n == 0 || (x != NULL && y != NULL)));
    DLC_CHECK(elt_disjoint(x, (size_t)n * sizeof(float), y, (size_t)n * sizeof(float)));
    dlc_blocks_xy(DLC_SIMD_PICK(add_into), n, ELT_BLOCK, ELT_PAR_MIN, x, y);
    return DLC_OK;
}

/* y[0:n] (+)= x[r, 0:n] for r = 0 .. m-1 in order, on columns [j0, j1). */
DLC_INLINE void colsum_body(int64_t m, int64_t n, int64_t j0, int64_t j1,
                            const float *restrict x, float *restrict y, int accumulate) {
    float acc[COL_BLOCK];
    int64_t w = j1 - j0;
    for (int64_t j = 0; j < w; j++) acc[j] = accumulate ? y[j0 + j] : 0.0f;
    for (int64_t r = 0; r < m; r++) {
        const float *xr = x + r * n + j0;
#pragma omp simd
        for (int64_t j = 0; j < w; j++) acc[j] += xr[j];
    }
    for (int64_t j = 0; j < w; j++) y[j0 + j] = acc[j];
}
DLC_SIMD_VARIANTS(colsum,
                  (int64_t m, int64_t n, int64_t j0, int64_t j1, const float *restrict x,
                   float *restrict y, int accumulate),
                  (m, n, j0, j1, x, y, accumulate));

dlc_status dlc_colsum(int64_t m, int64_t n, const float *x, float *y, int accumulate) {
    DLC_CHECK(m >= 0 && n >= 0 && (m == 0 || n <= INT64_MAX / m));
    DLC_CHECK(n == 0 || y != NULL);
    DLC_CHECK(m == 0 || n == 0 || x != NULL);
    DLC_CHECK(elt_disjoint(x, (size_t)(m * n) * sizeof(float), y, (size_t)n * sizeof(float)));
    void (*f)(int64_t, int64_t, int64_t, int64_t, const float *, float *, int) =
        DLC_SIMD_PICK(colsum);
    int64_t nb = (n + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * n >= ELT_PAR_MIN)
    for (int64_t b = 0; b < nb; b++)
        f(m, n, b * COL_BLOCK, DLC_MIN(n, (b + 1) * COL_BLOCK), x, y, accumulate != 0);
    return DLC_OK;
}

DLC_INLINE void copy2d_body(int64_t cols, const float *restrict x, float *restrict y,
                            int accumulate) {
    if (accumulate) {
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) y[j] += x[j];
    } else {
        memcpy(y, x, (size_t)cols * sizeof(float));
    }
}
DLC_SIMD_VARIANTS(copy2d, (int64_t cols, const float *restrict x, float *restrict y,
                           int accumulate), (cols, x, y, accumulate));

dlc_status dlc_copy2d(int64_t rows, int64_t cols, const float *x, int64_t ldx, float *y,
                      int64_t ldy, int accumulate) {
    DLC_CHECK(rows >= 0 && cols >= 0 && ldx >= cols && ldy >= cols);
    if (rows == 0 || cols == 0) return DLC_OK;
    DLC_CHECK(x != NULL && y != NULL);
    size_t xb = (size_t)((rows - 1) * ldx + cols) * sizeof(float);
    size_t yb = (size_t)((rows - 1) * ldy + cols) * sizeof(float);
    DLC_CHECK(elt_disjoint(x, xb, y, yb));
    void (*f)(int64_t, const float *, float *, int) = DLC_SIMD_PICK(copy2d);
    const int64_t per = DLC_MAX(1, ELT_BLOCK / cols), nb = (rows + per - 1) / per;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (rows * cols >= ELT_PAR_MIN)
    for (int64_t b = 0; b < nb; b++)
        for (int64_t r = b * per; r < DLC_MIN(rows, (b + 1) * per); r++)
            f(cols, x + r * ldx, y + r * ldy, accumulate != 0);
    return DLC_OK;
}
