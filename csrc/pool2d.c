/* pool2d.c - max and average pooling (windowed and global), NHWC, forward and backward.
 *
 * Layout: channels are contiguous, so every inner loop runs over c and is vectorised across
 * channels; one output pixel's window is visited position by position in row-major order.
 * Padding follows Keras/TF: a padded position never wins a max and is not counted in an
 * average (the window is clipped to the input, and the average divides by the clipped size).
 *
 * Threads split disjoint outputs only:
 *  - forward: rows (n, oh) of y / argmax;
 *  - windowed backward: rows (n, ih) of dx. Each dx pixel GATHERS from the outputs whose
 *    window covers it, in increasing (oh, ow) order, so no two threads write one dx element
 *    and the summation order is fixed whatever the thread count. For max pooling an output
 *    contributes to the dx pixel its argmax names (an argmax outside its window contributes
 *    nothing, so a corrupt argmax can never write out of bounds);
 *  - global max backward scatters into dx by image (disjoint per image), after checking
 *    every argmax is inside [0, hw).
 * Work below POOL_PAR_MIN touched values runs on the calling thread.
 *
 * SIMD: the channel loops are always-inline bodies compiled for the portable, AVX2+FMA and
 * AVX-512 targets (DLC_SIMD_VARIANTS, internal.h) and chosen by DLC_SIMD_PICK. ISO C11
 * without fast-math: no contraction, no reassociation, so every path gives the same bits.
 */
#include "internal.h"

#if DLC_X86
#include <immintrin.h>
#endif

#include <string.h>

#define POOL_PAR_MIN 32768 /* touched values below which one thread is used */
#define POOL_GAVG_BLOCK 64 /* channels per double accumulator block in global average */

/* 1 if [a, a + abytes) and [b, b + bbytes) do not overlap. */
static int pool_disjoint(const void *a, size_t abytes, const void *b, size_t bbytes) {
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return abytes == 0 || bbytes == 0 || pa + abytes <= pb || pb + bbytes <= pa;
}

/* The conditions of dlc_pool2d_fault up to FIT, in its order; when they hold, *oh and *ow get
 * the formula's output size. */
static dlc_fault pool2d_fault_in(const dlc_pool2d_shape *s, int64_t *oh, int64_t *ow) {
    if (s == NULL) return DLC_FAULT_NULL;
    if (!(s->n > 0 && s->h > 0 && s->w > 0 && s->c > 0)) return DLC_FAULT_INPUT;
    if (!(s->ph > 0 && s->pw > 0)) return DLC_FAULT_WINDOW;
    if (!(s->sh > 0 && s->sw > 0)) return DLC_FAULT_STRIDE;
    if (!(s->pad_top >= 0 && s->pad_bottom >= 0 && s->pad_left >= 0 && s->pad_right >= 0 &&
          s->pad_top < s->ph && s->pad_bottom < s->ph && s->pad_left < s->pw &&
          s->pad_right < s->pw))
        return DLC_FAULT_PADDING;
    /* Sizes small enough that no product below overflows, and argmax fits int32. */
    if (!(s->h <= INT32_MAX && s->w <= INT32_MAX && s->h * s->w <= INT32_MAX &&
          s->ph <= INT32_MAX && s->pw <= INT32_MAX && s->sh <= INT32_MAX && s->sw <= INT32_MAX &&
          s->c <= INT64_MAX / (s->h * s->w) && s->n <= INT64_MAX / (s->h * s->w * s->c)))
        return DLC_FAULT_RANGE;
    int64_t hp = s->h + s->pad_top + s->pad_bottom, wp = s->w + s->pad_left + s->pad_right;
    if (hp < s->ph || wp < s->pw) return DLC_FAULT_FIT;
    *oh = (hp - s->ph) / s->sh + 1, *ow = (wp - s->pw) / s->sw + 1;
    return DLC_FAULT_NONE;
}

dlc_fault dlc_pool2d_fault(const dlc_pool2d_shape *s) {
    int64_t oh, ow;
    dlc_fault f = pool2d_fault_in(s, &oh, &ow);
    if (f != DLC_FAULT_NONE) return f;
    return s->oh == oh && s->ow == ow ? DLC_FAULT_NONE : DLC_FAULT_OUTPUT;
}

dlc_fault dlc_pool2d_set_output(dlc_pool2d_shape *s) {
    int64_t oh, ow;
    dlc_fault f = pool2d_fault_in(s, &oh, &ow);
    if (f != DLC_FAULT_NONE) return f;
    s->oh = oh, s->ow = ow;
    return DLC_FAULT_NONE;
}

dlc_status dlc_pool2d_check(const dlc_pool2d_shape *s) {
    return dlc_pool2d_fault(s) == DLC_FAULT_NONE ? DLC_OK : DLC_EINVAL;
}

/* Input rows [*lo, *hi) of output row o's window along one axis (clipped to the input). */
static inline void pool_span(int64_t o, int64_t stride, int64_t pad, int64_t win, int64_t size,
                             int64_t *lo, int64_t *hi) {
    int64_t a = o * stride - pad;
    *lo = DLC_MAX(a, 0);
    *hi = DLC_MIN(a + win, size);
}

/* Output rows [*lo, *hi) whose window covers input row i along one axis. */
static inline void pool_cover(int64_t i, int64_t stride, int64_t pad, int64_t win, int64_t out,
                              int64_t *lo, int64_t *hi) {
    int64_t first = i + pad - win + 1; /* o * stride >= first */
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    *hi = DLC_MIN((i + pad) / stride + 1, out);
}

/* ---------------------------------------------------------------- channel loops */

DLC_INLINE void pool_copy(int64_t c, const float *restrict xp, float *restrict y,
                          int32_t *restrict arg, int32_t idx) {
    for (int64_t k = 0; k < c; k++) {
        y[k] = xp[k];
        arg[k] = idx;
    }
}
/* A strictly greater value wins, so the first of equal values (row-major) keeps the argmax. */
DLC_INLINE void pool_max(int64_t c, const float *restrict xp, float *restrict y,
                         int32_t *restrict arg, int32_t idx) {
#pragma omp simd
    for (int64_t k = 0; k < c; k++) {
        float v = xp[k], b = y[k];
        int gt = v > b;
        y[k] = gt ? v : b;
        arg[k] = gt ? idx : arg[k];
    }
}
DLC_INLINE void pool_add(int64_t c, const float *restrict xp, float *restrict y) {
#pragma omp simd
    for (int64_t k = 0; k < c; k++) y[k] += xp[k];
}
DLC_INLINE void pool_div(int64_t c, float *restrict y, float d) {
#pragma omp simd
    for (int64_t k = 0; k < c; k++) y[k] = y[k] / d;
}
/* dx[k] += dy[k] where arg[k] names this pixel; elsewhere dx is left exactly as it was. */
DLC_INLINE void pool_gather_max(int64_t c, const float *restrict dy,
                                const int32_t *restrict arg, int32_t idx,
                                float *restrict dx) {
#pragma omp simd
    for (int64_t k = 0; k < c; k++) {
        float d = dx[k];
        dx[k] = arg[k] == idx ? d + dy[k] : d;
    }
}
/* dx[k] += dy[k] / cnt. */
DLC_INLINE void pool_gather_avg(int64_t c, const float *restrict dy, float cnt,
                                float *restrict dx) {
#pragma omp simd
    for (int64_t k = 0; k < c; k++) dx[k] += dy[k] / cnt;
}
/* ---------------------------------------------------------------- windowed pooling */

/* Whether a pass touching this many values opens a parallel region (the OpenMP if clause);
 * below POOL_PAR_MIN it runs on the calling thread. */
static int pool_parallel(int64_t values) { return values >= POOL_PAR_MIN; }

/* POOL_KB channels of one output pixel: the max over the window [h0, h1) x [w0, w1) and its
 * argmax, visited in the order pool_copy / pool_max visit it (row-major, strictly greater wins),
 * so the same bits and the same argmax; the running max and argmax stay in registers and y and
 * argmax are stored once instead of once per window position (3x3 windows: 9x fewer stores).
 * The argmax recorded for input pixel (ih, iw) is ih * rm + iw - base: the flat index
 * (rm = w, base = 0) or the position in the window (rm = pw, base = its corner's index). */
#define POOL_KB 16
DLC_INLINE void pool_window_max(const float *restrict xb, int64_t w, int64_t c, int64_t h0,
                                int64_t h1, int64_t w0, int64_t w1, int64_t rm, int64_t base,
                                float *restrict y, int32_t *restrict arg) {
    float best[POOL_KB];
    int32_t at[POOL_KB];
    const int32_t first = (int32_t)(h0 * rm + w0 - base);
    const float *x0 = xb + (h0 * w + w0) * c;
#pragma omp simd
    for (int k = 0; k < POOL_KB; k++) best[k] = x0[k], at[k] = first;
    for (int64_t ih = h0; ih < h1; ih++)
        for (int64_t iw = (ih == h0 ? w0 + 1 : w0); iw < w1; iw++) {
            const int32_t idx = (int32_t)(ih * rm + iw - base);
            const float *xp = xb + (ih * w + iw) * c;
#pragma omp simd
            for (int k = 0; k < POOL_KB; k++) {
                float v = xp[k], b = best[k];
                int gt = v > b;
                best[k] = gt ? v : b;
                at[k] = gt ? idx : at[k];
            }
        }
#pragma omp simd
    for (int k = 0; k < POOL_KB; k++) y[k] = best[k], arg[k] = at[k];
}

#if DLC_X86
/* pool_window_max with the running max and argmax of the 16 channels in four ymm registers:
 * the same comparisons in the same order (v > best, ordered: a NaN never wins, a NaN best is
 * kept), so the same bits and argmax as the portable loop. */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void
pool_window_max_avx2(const float *restrict xb, int64_t w, int64_t c, int64_t h0, int64_t h1,
                     int64_t w0, int64_t w1, int64_t rm, int64_t base, float *restrict y,
                     int32_t *restrict arg) {
    const int32_t first = (int32_t)(h0 * rm + w0 - base);
    const float *x0 = xb + (h0 * w + w0) * c;
    __m256 b0 = _mm256_loadu_ps(x0), b1 = _mm256_loadu_ps(x0 + 8);
    __m256 a0 = _mm256_castsi256_ps(_mm256_set1_epi32(first)), a1 = a0;
    for (int64_t ih = h0; ih < h1; ih++)
        for (int64_t iw = (ih == h0 ? w0 + 1 : w0); iw < w1; iw++) {
            const int32_t idx = (int32_t)(ih * rm + iw - base);
            const float *xp = xb + (ih * w + iw) * c;
            const __m256 vi = _mm256_castsi256_ps(_mm256_set1_epi32(idx));
            __m256 v0 = _mm256_loadu_ps(xp), v1 = _mm256_loadu_ps(xp + 8);
            __m256 g0 = _mm256_cmp_ps(v0, b0, _CMP_GT_OQ), g1 = _mm256_cmp_ps(v1, b1, _CMP_GT_OQ);
            b0 = _mm256_blendv_ps(b0, v0, g0), b1 = _mm256_blendv_ps(b1, v1, g1);
            a0 = _mm256_blendv_ps(a0, vi, g0), a1 = _mm256_blendv_ps(a1, vi, g1);
        }
    _mm256_storeu_ps(y, b0), _mm256_storeu_ps(y + 8, b1);
    _mm256_storeu_si256((__m256i *)arg, _mm256_castps_si256(a0));
    _mm256_storeu_si256((__m256i *)(arg + 8), _mm256_castps_si256(a1));
}
#endif

typedef void pool_window_fn(const float *restrict xb, int64_t w, int64_t c, int64_t h0,
                            int64_t h1, int64_t w0, int64_t w1, int64_t rm, int64_t base,
                            float *restrict y, int32_t *restrict arg);

/* One output row (image b, output row oh) of max pooling; `window` does POOL_KB channels of
 * one pixel (a constant in each instance below, inlined). */
DLC_INLINE void maxpool_row_with(pool_window_fn *window, const dlc_pool2d_shape *s, int64_t b,
                                 int64_t oh, const float *x, float *y, int32_t *argmax) {
    const int64_t w = s->w, c = s->c;
    const float *xb = x + b * s->h * w * c;
    int64_t h0, h1;
    pool_span(oh, s->sh, s->pad_top, s->ph, s->h, &h0, &h1);
    for (int64_t ow = 0; ow < s->ow; ow++) {
        int64_t w0, w1;
        pool_span(ow, s->sw, s->pad_left, s->pw, w, &w0, &w1);
        int64_t o = ((b * s->oh + oh) * s->ow + ow) * c;
        float *yo = y + o;
        int32_t *ao = argmax ? argmax + o : NULL, drop[POOL_KB]; /* no argmax: into drop */
        int64_t k0 = 0;
        for (; k0 + POOL_KB <= c; k0 += POOL_KB) /* the window's max in registers, one store */
            window(xb + k0, w, c, h0, h1, w0, w1, w, 0, yo + k0, ao ? ao + k0 : drop);
        if (k0 == c) continue;
        int32_t *at = ao ? ao + k0 : drop; /* fewer than POOL_KB channels left */
        pool_copy(c - k0, xb + (h0 * w + w0) * c + k0, yo + k0, at, (int32_t)(h0 * w + w0));
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = (ih == h0 ? w0 + 1 : w0); iw < w1; iw++)
                pool_max(c - k0, xb + (ih * w + iw) * c + k0, yo + k0, at,
                         (int32_t)(ih * w + iw));
    }
}
typedef void maxpool_row_fn(const dlc_pool2d_shape *s, int64_t b, int64_t oh, const float *x,
                            float *y, int32_t *argmax);
static void maxpool_row_generic(const dlc_pool2d_shape *s, int64_t b, int64_t oh,
                                const float *x, float *y, int32_t *argmax) {
    maxpool_row_with(pool_window_max, s, b, oh, x, y, argmax);
}
#if DLC_X86
DLC_TARGET_AVX2 static void maxpool_row_avx2(const dlc_pool2d_shape *s, int64_t b, int64_t oh,
                                             const float *x, float *y, int32_t *argmax) {
    maxpool_row_with(pool_window_max_avx2, s, b, oh, x, y, argmax);
}
#endif
/* The AVX-512 level runs the AVX2 instance (16 channels are two ymm; same bits). */
static maxpool_row_fn *const maxpool_row_variants[DLC_SIMD_NLEVELS] =
    DLC_SIMD_TABLE(maxpool_row_generic, maxpool_row_avx2, maxpool_row_avx2);

dlc_status dlc_maxpool2d_forward(const dlc_pool2d_shape *s, const float *x, float *y,
                                 int32_t *argmax) {
    dlc_status st = dlc_pool2d_check(s);
    if (st != DLC_OK) return st;
    DLC_CHECK(x != NULL && y != NULL);
    size_t xb = (size_t)(s->n * s->h * s->w * s->c) * sizeof(float);
    size_t yb = (size_t)(s->n * s->oh * s->ow * s->c) * sizeof(float);
    size_t ab = argmax ? yb : 0; /* argmax may be NULL: the max only (inference) */
    DLC_CHECK(pool_disjoint(x, xb, y, yb) && pool_disjoint(x, xb, argmax, ab) &&
              pool_disjoint(y, yb, argmax, ab));
    void (*row)(const dlc_pool2d_shape *, int64_t, int64_t, const float *, float *, int32_t *) =
        DLC_SIMD_PICK(maxpool_row);
    int64_t rows = s->n * s->oh;
    const int par = pool_parallel(rows * s->ow * s->c * s->ph * s->pw);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t r = 0; r < rows; r++) row(s, r / s->oh, r % s->oh, x, y, argmax);
    return DLC_OK;
}


/* acc[k] = arg[k] == idx ? acc[k] + dy[k] * (ry ? ry[k] > 0 : 1) : acc[k]. */
DLC_INLINE void pool_gather_max_ex(int64_t c, const float *restrict dy,
                                   const int32_t *restrict arg, int32_t idx,
                                   const float *restrict ry, float *restrict acc) {
    if (ry) {
#pragma omp simd
        for (int64_t k = 0; k < c; k++) {
            float d = acc[k], v = d + dy[k] * dlc_fsel(ry[k] > 0.0f, 1.0f, 0.0f);
            acc[k] = dlc_fsel(arg[k] == idx, v, d);
        }
    } else {
#pragma omp simd
        for (int64_t k = 0; k < c; k++) {
            float d = acc[k], v = d + dy[k];
            acc[k] = dlc_fsel(arg[k] == idx, v, d);
        }
    }
}

static void maxpool_route(const dlc_pool2d_shape *s, const float *dy, const int32_t *argmax,
                          const uint8_t *code, float scale, const float *ry, float *dx,
                          int accumulate);

dlc_status dlc_maxpool2d_backward_ex(const dlc_pool2d_shape *s, const float *dy,
                                     const int32_t *argmax, const float *relu_y, float *dx,
                                     int accumulate) {
    dlc_status st = dlc_pool2d_check(s);
    if (st != DLC_OK) return st;
    DLC_CHECK(dy != NULL && argmax != NULL && dx != NULL);
    DLC_CHECK(!(relu_y && accumulate)); /* a fused ReLU needs the whole gradient: overwrite */
    size_t xb = (size_t)(s->n * s->h * s->w * s->c) * sizeof(float);
    size_t yb = (size_t)(s->n * s->oh * s->ow * s->c) * sizeof(float);
    DLC_CHECK(pool_disjoint(dx, xb, dy, yb) && pool_disjoint(dx, xb, argmax, yb) &&
              pool_disjoint(dx, xb, relu_y, relu_y ? yb : 0));
    maxpool_route(s, dy, argmax, NULL, 1.0f, relu_y, dx, accumulate);
    return DLC_OK;
}

dlc_status dlc_maxpool2d_backward(const dlc_pool2d_shape *s, const float *dy,
                                  const int32_t *argmax, float *dx) {
    return dlc_maxpool2d_backward_ex(s, dy, argmax, NULL, dx, 1);
}

/* ---------------------------------------------------------------- max pooling + dropout
 * The pair MaxPooling2D -> Dropout in one pass each way. Forward: y = dropout(maxpool(x)) with
 * the dropout stream of the pooled tensor's elements (dlc_dropout_forward's mask, element by
 * element), and one byte per output: the winner's position in its (unclipped) window, row-major,
 * plus DLC_POOL_KEPT when the dropout kept it. The pooled tensor itself is never written.
 * Backward: each input pixel gathers 0 + (kept ? dy * scale : 0) from the outputs whose winner
 * it is (times y > 0 for a ReLU fused behind the pooling: y, the pair's output, is positive
 * exactly where the pooled value is and the dropout kept it). */
#define DLC_POOL_KEPT 0x80

/* One output row of the pair's pooling: the pooled values into pm, the winners' window
 * positions into pos; POOL_KB channels at a time by maxpool_row's window kernel (recording
 * positions in the window, not flat indices), the rest by pool_max's loop. */
DLC_INLINE void maxpool_code_row_with(pool_window_fn *window, const dlc_pool2d_shape *s,
                                      int64_t b, int64_t oh, const float *x, float *pm,
                                      uint8_t *pos) {
    const int64_t w = s->w, c = s->c;
    const float *xb = x + b * s->h * w * c;
    int64_t h0, h1, ah = oh * s->sh - s->pad_top;
    pool_span(oh, s->sh, s->pad_top, s->ph, s->h, &h0, &h1);
    for (int64_t ow = 0; ow < s->ow; ow++) {
        int64_t w0, w1, aw = ow * s->sw - s->pad_left, base = ah * s->pw + aw;
        pool_span(ow, s->sw, s->pad_left, s->pw, w, &w0, &w1);
        float *yo = pm + ow * c;
        uint8_t *po = pos + ow * c;
        int32_t at[POOL_KB];
        int64_t k0 = 0;
        for (; k0 + POOL_KB <= c; k0 += POOL_KB) {
            window(xb + k0, w, c, h0, h1, w0, w1, s->pw, base, yo + k0, at);
            for (int k = 0; k < POOL_KB; k++) po[k0 + k] = (uint8_t)at[k];
        }
        if (k0 == c) continue;
        const float *first = xb + (h0 * w + w0) * c;
        uint8_t p0 = (uint8_t)((h0 - ah) * s->pw + (w0 - aw));
        for (int64_t k = k0; k < c; k++) yo[k] = first[k], po[k] = p0;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = (ih == h0 ? w0 + 1 : w0); iw < w1; iw++) {
                const float *xp = xb + (ih * w + iw) * c;
                uint8_t pi = (uint8_t)((ih - ah) * s->pw + (iw - aw));
                for (int64_t k = k0; k < c; k++) {
                    float v = xp[k], bv = yo[k];
                    int gt = v > bv;
                    yo[k] = gt ? v : bv;
                    po[k] = gt ? pi : po[k];
                }
            }
    }
}
typedef void maxpool_code_row_fn(const dlc_pool2d_shape *s, int64_t b, int64_t oh,
                                 const float *x, float *pm, uint8_t *pos);
static void maxpool_code_row_generic(const dlc_pool2d_shape *s, int64_t b, int64_t oh,
                                     const float *x, float *pm, uint8_t *pos) {
    maxpool_code_row_with(pool_window_max, s, b, oh, x, pm, pos);
}
#if DLC_X86
DLC_TARGET_AVX2 static void maxpool_code_row_avx2(const dlc_pool2d_shape *s, int64_t b,
                                                  int64_t oh, const float *x, float *pm,
                                                  uint8_t *pos) {
    maxpool_code_row_with(pool_window_max_avx2, s, b, oh, x, pm, pos);
}
#endif
/* As maxpool_row: the AVX-512 level runs the AVX2 instance (same bits). */
static maxpool_code_row_fn *const maxpool_code_row_variants[DLC_SIMD_NLEVELS] =
    DLC_SIMD_TABLE(maxpool_code_row_generic, maxpool_code_row_avx2, maxpool_code_row_avx2);

/* Values per stack buffer of the fused forward (a multiple of 64, the uniform group). */
#define PD_CHUNK 1024

dlc_status dlc_maxpool2d_dropout_forward(const dlc_pool2d_shape *s, const float *x, float rate,
                                         uint64_t seed, uint64_t step, float *y,
                                         uint8_t *code) {
    dlc_status st = dlc_pool2d_check(s);
    if (st != DLC_OK) return st;
    DLC_CHECK(x != NULL && y != NULL && code != NULL);
    DLC_CHECK(rate >= 0.0f && rate < 1.0f);
    DLC_CHECK(s->ph * s->pw <= 128); /* a window position fits in 7 bits */
    size_t xb = (size_t)(s->n * s->h * s->w * s->c) * sizeof(float);
    size_t yb = (size_t)(s->n * s->oh * s->ow * s->c) * sizeof(float);
    DLC_CHECK(pool_disjoint(x, xb, y, yb) && pool_disjoint(x, xb, code, yb / 4) &&
              pool_disjoint(y, yb, code, yb / 4));
    maxpool_code_row_fn *row = DLC_SIMD_PICK(maxpool_code_row);
    const float scale = 1.0f / (1.0f - rate);
    const int64_t rows = s->n * s->oh, rowlen = s->ow * s->c;
    const int par = pool_parallel(rows * s->ow * s->c * s->ph * s->pw);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * rowlen;
        uint8_t *cr = code + r * rowlen;
        row(s, r / s->oh, r % s->oh, x, yr, cr); /* the pooled row into y, positions in code */
        const int64_t e0 = r * rowlen, e1 = e0 + rowlen;
        for (int64_t g = e0 - e0 % 64; g < e1; g += PD_CHUNK) {
            float u[PD_CHUNK];
            int64_t gl = DLC_MIN((int64_t)PD_CHUNK, e1 - g);
            for (int64_t q = 0; q < gl; q += 64) dlc_dropout_uniform_group(seed, step, g + q, u + q);
            int64_t a = DLC_MAX(g, e0), bnd = g + gl;
            for (int64_t e = a; e < bnd; e++) {
                int keep = u[e - g] >= rate;
                float v = yr[e - e0] * scale;
                yr[e - e0] = dlc_fsel(keep, v, 0.0f);
                cr[e - e0] = (uint8_t)(cr[e - e0] | (keep ? DLC_POOL_KEPT : 0));
            }
        }
    }
    return DLC_OK;
}

/* acc[k] (+)= 0 + (kept ? dy[k] * scale : 0) (times ry > 0) where the code names position pi. */
DLC_INLINE void pool_gather_code(int64_t c, const float *restrict dy,
                                 const uint8_t *restrict code, uint8_t pi, float scale,
                                 const float *restrict ry, float *restrict acc) {
#pragma omp simd
    for (int64_t k = 0; k < c; k++) {
        uint8_t cd = code[k];
        float t = 0.0f + dlc_fsel(cd & DLC_POOL_KEPT, dy[k] * scale, 0.0f);
        if (ry) t = t * dlc_fsel(ry[k] > 0.0f, 1.0f, 0.0f);
        float d = acc[k];
        acc[k] = dlc_fsel((cd & 0x7F) == pi, d + t, d);
    }
}

/* One input row (image b, input row ih) of the max-pooling backward (gather), for the plain
 * pooling (argmax) and for the pooling + dropout pair (code: the winner's window position and
 * keep bit, scale = 1 / (1 - rate)). accumulate: dx += the routed dy; else dx = it (starting
 * from +0, the bits of a zeroed dx). ry (a ReLU fused behind the pooling: its pooled output,
 * overwrite only): each routed value times ry > 0. */
DLC_INLINE void maxpool_bwd_row_body(const dlc_pool2d_shape *s, int64_t b, int64_t ih,
                                     const float *dy, const int32_t *argmax, const uint8_t *code,
                                     float scale, const float *ry, float *dx, int accumulate) {
    const int64_t w = s->w, c = s->c;
    int64_t oh0, oh1;
    pool_cover(ih, s->sh, s->pad_top, s->ph, s->oh, &oh0, &oh1);
    for (int64_t iw = 0; iw < w; iw++) {
        int64_t ow0, ow1;
        pool_cover(iw, s->sw, s->pad_left, s->pw, s->ow, &ow0, &ow1);
        float *dxp = dx + ((b * s->h + ih) * w + iw) * c;
        if (!accumulate)
            for (int64_t k = 0; k < c; k++) dxp[k] = 0.0f;
        const int32_t idx = (int32_t)(ih * w + iw);
        for (int64_t oh = oh0; oh < oh1; oh++)
            for (int64_t ow = ow0; ow < ow1; ow++) {
                int64_t o = ((b * s->oh + oh) * s->ow + ow) * c;
                const float *r = ry ? ry + o : NULL;
                if (code) {
                    uint8_t pi = (uint8_t)((ih - (oh * s->sh - s->pad_top)) * s->pw +
                                           (iw - (ow * s->sw - s->pad_left)));
                    pool_gather_code(c, dy + o, code + o, pi, scale, r, dxp);
                } else {
                    pool_gather_max_ex(c, dy + o, argmax + o, idx, r, dxp);
                }
            }
    }
}
DLC_SIMD_VARIANTS(maxpool_bwd_row,
                  (const dlc_pool2d_shape *s, int64_t b, int64_t ih, const float *dy,
                   const int32_t *argmax, const uint8_t *code, float scale, const float *ry,
                   float *dx, int accumulate),
                  (s, b, ih, dy, argmax, code, scale, ry, dx, accumulate));

/* Both max-pooling backwards after their checks: every input row in parallel. */
static void maxpool_route(const dlc_pool2d_shape *s, const float *dy, const int32_t *argmax,
                          const uint8_t *code, float scale, const float *ry, float *dx,
                          int accumulate) {
    void (*row)(const dlc_pool2d_shape *, int64_t, int64_t, const float *, const int32_t *,
                const uint8_t *, float, const float *, float *, int) =
        DLC_SIMD_PICK(maxpool_bwd_row);
    int64_t rows = s->n * s->h;
    const int par = pool_parallel(s->n * s->oh * s->ow * s->c * s->ph * s->pw + rows * s->w * s->c);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t r = 0; r < rows; r++)
        row(s, r / s->h, r % s->h, dy, argmax, code, scale, ry, dx, accumulate != 0);
}

dlc_status dlc_maxpool2d_dropout_backward(const dlc_pool2d_shape *s, const float *dy,
                                          const uint8_t *code, float rate, const float *relu_y,
                                          float *dx, int accumulate) {
    dlc_status st = dlc_pool2d_check(s);
    if (st != DLC_OK) return st;
    DLC_CHECK(dy != NULL && code != NULL && dx != NULL);
    DLC_CHECK(rate >= 0.0f && rate < 1.0f && s->ph * s->pw <= 128);
    DLC_CHECK(!(relu_y && accumulate));
    size_t xb = (size_t)(s->n * s->h * s->w * s->c) * sizeof(float);
    size_t yb = (size_t)(s->n * s->oh * s->ow * s->c) * sizeof(float);
    DLC_CHECK(pool_disjoint(dx, xb, dy, yb) && pool_disjoint(dx, xb, code, yb / 4) &&
              pool_disjoint(dx, xb, relu_y, relu_y ? yb : 0));
    maxpool_route(s, dy, NULL, code, 1.0f / (1.0f - rate), relu_y, dx, accumulate);
    return DLC_OK;
}

/* One output row of average pooling: the sum over the clipped window, then / its size. */
DLC_INLINE void avgpool_row_body(const dlc_pool2d_shape *s, int64_t b, int64_t oh,
                                 const float *x, float *y) {
    const int64_t w = s->w, c = s->c;
    const float *xb = x + b * s->h * w * c;
    int64_t h0, h1;
    pool_span(oh, s->sh, s->pad_top, s->ph, s->h, &h0, &h1);
    for (int64_t ow = 0; ow < s->ow; ow++) {
        int64_t w0, w1;
        pool_span(ow, s->sw, s->pad_left, s->pw, w, &w0, &w1);
        float *yo = y + ((b * s->oh + oh) * s->ow + ow) * c;
        const float *first = xb + (h0 * w + w0) * c;
        for (int64_t k = 0; k < c; k++) yo[k] = first[k];
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = (ih == h0 ? w0 + 1 : w0); iw < w1; iw++)
                pool_add(c, xb + (ih * w + iw) * c, yo);
        pool_div(c, yo, (float)((h1 - h0) * (w1 - w0)));
    }
}
DLC_SIMD_VARIANTS(avgpool_row,
                  (const dlc_pool2d_shape *s, int64_t b, int64_t oh, const float *x, float *y),
                  (s, b, oh, x, y));

dlc_status dlc_avgpool2d_forward(const dlc_pool2d_shape *s, const float *x, float *y) {
    dlc_status st = dlc_pool2d_check(s);
    if (st != DLC_OK) return st;
    DLC_CHECK(x != NULL && y != NULL);
    size_t xb = (size_t)(s->n * s->h * s->w * s->c) * sizeof(float);
    size_t yb = (size_t)(s->n * s->oh * s->ow * s->c) * sizeof(float);
    DLC_CHECK(pool_disjoint(x, xb, y, yb));
    void (*row)(const dlc_pool2d_shape *, int64_t, int64_t, const float *, float *) =
        DLC_SIMD_PICK(avgpool_row);
    int64_t rows = s->n * s->oh;
    const int par = pool_parallel(rows * s->ow * s->c * s->ph * s->pw);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t r = 0; r < rows; r++) row(s, r / s->oh, r % s->oh, x, y);
    return DLC_OK;
}

/* One input row of the average-pooling backward: dx += dy / window size, gathered. */
DLC_INLINE void avgpool_bwd_row_body(const dlc_pool2d_shape *s, int64_t b, int64_t ih,
                                     const float *dy, float *dx) {
    const int64_t w = s->w, c = s->c;
    int64_t oh0, oh1;
    pool_cover(ih, s->sh, s->pad_top, s->ph, s->oh, &oh0, &oh1);
    for (int64_t iw = 0; iw < w; iw++) {
        int64_t ow0, ow1;
        pool_cover(iw, s->sw, s->pad_left, s->pw, s->ow, &ow0, &ow1);
        float *dxp = dx + ((b * s->h + ih) * w + iw) * c;
        for (int64_t oh = oh0; oh < oh1; oh++) {
            int64_t h0, h1;
            pool_span(oh, s->sh, s->pad_top, s->ph, s->h, &h0, &h1);
            for (int64_t ow = ow0; ow < ow1; ow++) {
                int64_t w0, w1;
                pool_span(ow, s->sw, s->pad_left, s->pw, w, &w0, &w1);
                float cnt = (float)((h1 - h0) * (w1 - w0));
                pool_gather_avg(c, dy + ((b * s->oh + oh) * s->ow + ow) * c, cnt, dxp);
            }
        }
    }
}
DLC_SIMD_VARIANTS(avgpool_bwd_row,
                  (const dlc_pool2d_shape *s, int64_t b, int64_t ih, const float *dy, float *dx),
                  (s, b, ih, dy, dx));

dlc_status dlc_avgpool2d_backward(const dlc_pool2d_shape *s, const float *dy, float *dx) {
    dlc_status st = dlc_pool2d_check(s);
    if (st != DLC_OK) return st;
    DLC_CHECK(dy != NULL && dx != NULL);
    size_t xb = (size_t)(s->n * s->h * s->w * s->c) * sizeof(float);
    size_t yb = (size_t)(s->n * s->oh * s->ow * s->c) * sizeof(float);
    DLC_CHECK(pool_disjoint(dx, xb, dy, yb));
    void (*row)(const dlc_pool2d_shape *, int64_t, int64_t, const float *, float *) =
        DLC_SIMD_PICK(avgpool_bwd_row);
    int64_t rows = s->n * s->h;
    const int par = pool_parallel(s->n * s->oh * s->ow * s->c * s->ph * s->pw + rows * s->w * s->c);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t r = 0; r < rows; r++) row(s, r / s->h, r % s->h, dy, dx);
    return DLC_OK;
}

/* ---------------------------------------------------------------- global pooling */

dlc_fault dlc_global_pool2d_fault(int64_t n, int64_t hw, int64_t c) {
    if (!(n > 0 && hw > 0 && c > 0)) return DLC_FAULT_INPUT;
    if (!(hw <= INT32_MAX && c <= INT64_MAX / hw && n <= INT64_MAX / (hw * c)))
        return DLC_FAULT_RANGE;
    return DLC_FAULT_NONE;
}

static int global_ok(int64_t n, int64_t hw, int64_t c) {
    return dlc_global_pool2d_fault(n, hw, c) == DLC_FAULT_NONE;
}

/* Global max of one image. */
DLC_INLINE void gmax_image_body(int64_t hw, int64_t c, const float *x, float *y, int32_t *arg) {
    pool_copy(c, x, y, arg, 0);
    for (int64_t p = 1; p < hw; p++) pool_max(c, x + p * c, y, arg, (int32_t)p);
}
DLC_SIMD_VARIANTS(gmax_image, (int64_t hw, int64_t c, const float *x, float *y, int32_t *arg),
                  (hw, c, x, y, arg));

dlc_status dlc_global_maxpool2d_forward(int64_t n, int64_t hw, int64_t c, const float *x,
                                        float *y, int32_t *argmax) {
    DLC_CHECK(global_ok(n, hw, c));
    DLC_CHECK(x != NULL && y != NULL && argmax != NULL);
    size_t xb = (size_t)(n * hw * c) * sizeof(float), yb = (size_t)(n * c) * sizeof(float);
    DLC_CHECK(pool_disjoint(x, xb, y, yb) && pool_disjoint(x, xb, argmax, yb) &&
              pool_disjoint(y, yb, argmax, yb));
    void (*f)(int64_t, int64_t, const float *, float *, int32_t *) = DLC_SIMD_PICK(gmax_image);
    const int par = pool_parallel(n * hw * c);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t b = 0; b < n; b++) f(hw, c, x + b * hw * c, y + b * c, argmax + b * c);
    return DLC_OK;
}

dlc_status dlc_global_maxpool2d_backward(int64_t n, int64_t hw, int64_t c, const float *dy,
                                         const int32_t *argmax, float *dx) {
    DLC_CHECK(global_ok(n, hw, c));
    DLC_CHECK(dy != NULL && argmax != NULL && dx != NULL);
    size_t xb = (size_t)(n * hw * c) * sizeof(float), yb = (size_t)(n * c) * sizeof(float);
    DLC_CHECK(pool_disjoint(dx, xb, dy, yb) && pool_disjoint(dx, xb, argmax, yb));
    /* A scatter: every index must be in range before anything is written. */
    int bad = 0;
    for (int64_t i = 0; i < n * c; i++) bad |= argmax[i] < 0 || argmax[i] >= hw;
    DLC_CHECK(!bad);
    /* Each image scatters into its own slice of dx; one contribution per dx element. */
    const int par = pool_parallel(n * c * 16);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = 0; k < c; k++) dx[(b * hw + argmax[b * c + k]) * c + k] += dy[b * c + k];
    return DLC_OK;
}

/* Global average of one image: sums in double, POOL_GAVG_BLOCK channels at a time. */
DLC_INLINE void gavg_image_body(int64_t hw, int64_t c, const float *restrict x,
                                float *restrict y) {
    for (int64_t k0 = 0; k0 < c; k0 += POOL_GAVG_BLOCK) {
        int64_t kn = DLC_MIN(POOL_GAVG_BLOCK, c - k0);
        double acc[POOL_GAVG_BLOCK];
        for (int64_t k = 0; k < kn; k++) acc[k] = 0.0;
        for (int64_t p = 0; p < hw; p++) {
            const float *xp = x + p * c + k0;
#pragma omp simd
            for (int64_t k = 0; k < kn; k++) acc[k] += (double)xp[k];
        }
        for (int64_t k = 0; k < kn; k++) y[k0 + k] = (float)(acc[k] / (double)hw);
    }
}
DLC_SIMD_VARIANTS(gavg_image, (int64_t hw, int64_t c, const float *restrict x, float *restrict y),
                  (hw, c, x, y));

dlc_status dlc_global_avgpool2d_forward(int64_t n, int64_t hw, int64_t c, const float *x,
                                        float *y) {
    DLC_CHECK(global_ok(n, hw, c));
    DLC_CHECK(x != NULL && y != NULL);
    size_t xb = (size_t)(n * hw * c) * sizeof(float), yb = (size_t)(n * c) * sizeof(float);
    DLC_CHECK(pool_disjoint(x, xb, y, yb));
    void (*f)(int64_t, int64_t, const float *, float *) = DLC_SIMD_PICK(gavg_image);
    const int par = pool_parallel(n * hw * c);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t b = 0; b < n; b++) f(hw, c, x + b * hw * c, y + b * c);
    return DLC_OK;
}

/* dx += dy / hw at every position of one image. */
DLC_INLINE void gavg_bwd_image_body(int64_t hw, int64_t c, const float *restrict dy,
                                    float *restrict dx) {
    for (int64_t p = 0; p < hw; p++) pool_gather_avg(c, dy, (float)hw, dx + p * c);
}
DLC_SIMD_VARIANTS(gavg_bwd_image,
                  (int64_t hw, int64_t c, const float *restrict dy, float *restrict dx),
                  (hw, c, dy, dx));

dlc_status dlc_global_avgpool2d_backward(int64_t n, int64_t hw, int64_t c, const float *dy,
                                         float *dx) {
    DLC_CHECK(global_ok(n, hw, c));
    DLC_CHECK(dy != NULL && dx != NULL);
    size_t xb = (size_t)(n * hw * c) * sizeof(float), yb = (size_t)(n * c) * sizeof(float);
    DLC_CHECK(pool_disjoint(dx, xb, dy, yb));
    void (*f)(int64_t, int64_t, const float *, float *) = DLC_SIMD_PICK(gavg_bwd_image);
    const int par = pool_parallel(n * hw * c);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t b = 0; b < n; b++) f(hw, c, dy + b * c, dx + b * hw * c);
    return DLC_OK;
}
