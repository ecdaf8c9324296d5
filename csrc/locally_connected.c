/* locally_connected.c - locally connected (unshared) 2-D convolution, Keras 2's
 * LocallyConnected2D with implementation 1's layout, channels-last, 'valid' padding.
 *
 * Output position p = oy * ow + ox has its own filters: with K = kh * kw * c,
 *     y[n, oy, ox, f] = b[oy, ox, f] + sum_{i, j, ci} x[n, oy*sh + i, ox*sw + j, ci]
 *                                                   * w[p, (i * kw + j) * c + ci, f].
 * The patch of p is kh runs of kw * c contiguous floats of x (one per window row), so no
 * im2col is needed and no workspace either.
 *
 * Threads: the forward and the weight gradient split the output positions (each owns
 * y[:, p, :] and dw[p], db[p] and sums over the batch in order n = 0, 1, ...); the input
 * gradient splits the samples (windows overlap within a sample). Every value is computed by
 * one thread in an order fixed by the sizes, so results do not depend on the thread count.
 *
 * SIMD: the inner loops run over the filters f (contiguous). axpy is elementwise; the dot
 * product of the input gradient has 8 partial sums in a fixed lane order (lane l sums the f
 * with f % 8 == l, then ((0+1)+(2+3))+((4+5)+(6+7))), written in C, so every SIMD path
 * (DLC_SIMD_VARIANTS, internal.h) gives the same bits.
 */
#include "internal.h"

/* Positions (or samples) below this many multiply-adds run on one thread. */
#define LC_PAR_MIN 65536

static int mul_ok(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }

dlc_fault dlc_local2d_fault(const dlc_local2d_shape *s) {
    if (!s) return DLC_FAULT_NULL;
    if (s->n < 1 || s->h < 1 || s->w < 1 || s->c < 1) return DLC_FAULT_INPUT;
    if (s->kh < 1 || s->kw < 1 || s->f < 1) return DLC_FAULT_WINDOW;
    if (s->sh < 1 || s->sw < 1) return DLC_FAULT_STRIDE;
    if (s->kh > s->h || s->kw > s->w) return DLC_FAULT_FIT;
    int64_t oh = (s->h - s->kh) / s->sh + 1, ow = (s->w - s->kw) / s->sw + 1;
    if (s->oh != oh || s->ow != ow) return DLC_FAULT_OUTPUT;
    int64_t t, p, k;
    if (!mul_ok(oh, ow, &p) || !mul_ok(s->kh, s->kw, &k) || !mul_ok(k, s->c, &k) ||
        !mul_ok(p, k, &t) || !mul_ok(t, s->f, &t) || !mul_ok(s->n, s->h, &t) ||
        !mul_ok(t, s->w, &t) || !mul_ok(t, s->c, &t) || !mul_ok(s->n, p, &t) ||
        !mul_ok(t, s->f, &t))
        return DLC_FAULT_RANGE;
    return DLC_FAULT_NONE;
}

dlc_fault dlc_local2d_set_output(dlc_local2d_shape *s) {
    if (s && s->n >= 1 && s->h >= 1 && s->w >= 1 && s->c >= 1 && s->kh >= 1 && s->kw >= 1 &&
        s->f >= 1 && s->sh >= 1 && s->sw >= 1 && s->kh <= s->h && s->kw <= s->w) {
        s->oh = (s->h - s->kh) / s->sh + 1;
        s->ow = (s->w - s->kw) / s->sw + 1;
    }
    return dlc_local2d_fault(s);
}

dlc_status dlc_local2d_check(const dlc_local2d_shape *s) {
    return dlc_local2d_fault(s) == DLC_FAULT_NONE ? DLC_OK : DLC_EINVAL;
}

/* ---------------------------------------------------------------- inner loops over f */

/* y[f] += a * w[f]. */
DLC_INLINE void lc_axpy_body(int64_t nf, float a, const float *restrict w, float *restrict y) {
#pragma omp simd
    for (int64_t f = 0; f < nf; f++) y[f] += a * w[f];
}
DLC_SIMD_VARIANTS(lc_axpy, (int64_t nf, float a, const float *restrict w, float *restrict y),
                  (nf, a, w, y));

/* out[r] += sum_f w[r * nf + f] * g[f] for r < rows, 8 lanes in a fixed order. */
DLC_INLINE void lc_dots_body(int64_t rows, int64_t nf, const float *restrict w,
                             const float *restrict g, float *restrict out) {
    for (int64_t r = 0; r < rows; r++) {
        const float *wr = w + r * nf;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t f = 0;
        for (; f + 8 <= nf; f += 8)
            for (int l = 0; l < 8; l++) acc[l] += wr[f + l] * g[f + l];
        for (int l = 0; f + l < nf; l++) acc[l] += wr[f + l] * g[f + l];
        out[r] += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
}
DLC_SIMD_VARIANTS(lc_dots, (int64_t rows, int64_t nf, const float *restrict w,
                            const float *restrict g, float *restrict out),
                  (rows, nf, w, g, out));

typedef void (*lc_axpy_fn)(int64_t, float, const float *, float *);
typedef void (*lc_dots_fn)(int64_t, int64_t, const float *, const float *, float *);

/* ---------------------------------------------------------------- kernels */

/* The offset in x (and dx) of window row r of output position (oy, ox) in sample i: the start
 * of that row's kw * c contiguous floats. */
static inline int64_t lc_row(const dlc_local2d_shape *s, int64_t i, int64_t oy, int64_t ox,
                             int64_t r) {
    return ((i * s->h + oy * s->sh + r) * s->w + ox * s->sw) * s->c;
}

dlc_status dlc_local2d_forward(const dlc_local2d_shape *s, const float *x, const float *w,
                               const float *b, float *y) {
    DLC_CHECK(dlc_local2d_check(s) == DLC_OK && x && w && y);
    const int64_t n = s->n, kh = s->kh, nf = s->f, ow = s->ow, np = s->oh * s->ow;
    const int64_t run = s->kw * s->c, k = kh * run;
    lc_axpy_fn axpy = DLC_SIMD_PICK(lc_axpy);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n * np * k * nf >= LC_PAR_MIN)
    for (int64_t p = 0; p < np; p++) {
        const int64_t oy = p / ow, ox = p % ow;
        const float *wp = w + p * k * nf;
        for (int64_t i = 0; i < n; i++) {
            float *yp = y + (i * np + p) * nf;
            for (int64_t f = 0; f < nf; f++) yp[f] = b ? b[p * nf + f] : 0.0f;
            for (int64_t r = 0; r < kh; r++) {
                const float *xr = x + lc_row(s, i, oy, ox, r);
                const float *wr = wp + r * run * nf;
                for (int64_t q = 0; q < run; q++) axpy(nf, xr[q], wr + q * nf, yp);
            }
        }
    }
    return DLC_OK;
}

dlc_status dlc_local2d_backward_data(const dlc_local2d_shape *s, const float *dy, const float *w,
                                     float *dx) {
    DLC_CHECK(dlc_local2d_check(s) == DLC_OK && dy && w && dx);
    const int64_t n = s->n, kh = s->kh, nf = s->f, ow = s->ow, np = s->oh * s->ow;
    const int64_t run = s->kw * s->c, k = kh * run;
    lc_dots_fn dots = DLC_SIMD_PICK(lc_dots);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n * np * k * nf >= LC_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        for (int64_t p = 0; p < np; p++) {
            const int64_t oy = p / ow, ox = p % ow;
            const float *g = dy + (i * np + p) * nf, *wp = w + p * k * nf;
            for (int64_t r = 0; r < kh; r++) {
                float *dr = dx + lc_row(s, i, oy, ox, r);
                dots(run, nf, wp + r * run * nf, g, dr);
            }
        }
    }
    return DLC_OK;
}

dlc_status dlc_local2d_backward_weights(const dlc_local2d_shape *s, const float *x,
                                        const float *dy, float *dw, float *db) {
    DLC_CHECK(dlc_local2d_check(s) == DLC_OK && x && dy && dw);
    const int64_t n = s->n, kh = s->kh, nf = s->f, ow = s->ow, np = s->oh * s->ow;
    const int64_t run = s->kw * s->c, k = kh * run;
    lc_axpy_fn axpy = DLC_SIMD_PICK(lc_axpy);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n * np * k * nf >= LC_PAR_MIN)
    for (int64_t p = 0; p < np; p++) {
        const int64_t oy = p / ow, ox = p % ow;
        float *dwp = dw + p * k * nf;
        for (int64_t i = 0; i < n; i++) {
            const float *g = dy + (i * np + p) * nf;
            if (db) axpy(nf, 1.0f, g, db + p * nf);
            for (int64_t r = 0; r < kh; r++) {
                const float *xr = x + lc_row(s, i, oy, ox, r);
                float *dwr = dwp + r * run * nf;
                for (int64_t q = 0; q < run; q++) axpy(nf, xr[q], g, dwr + q * nf);
            }
        }
    }
    return DLC_OK;
}
