/* image.c - the kernels of the image preprocessing and augmentation layers
 * (dlc/layers/preprocessing.py, dlc/preprocessing/image.py):
 *  - dlc_image_warp_forward / _backward: per-sample projective resampling of NHWC float32
 *    images with Keras 3's fill modes and interpolations, and its adjoint. RandomRotation,
 *    RandomZoom, RandomTranslation, RandomFlip, RandomCrop, Resizing and ImageDataGenerator
 *    all run on it, each with its own per-sample matrices;
 *  - dlc_image_adjust_forward / _backward: per-sample contrast and brightness with clipping;
 *  - dlc_normalize_forward / _backward: (x - sub) * mul + add (or / mul) along one axis block
 *    (Normalization, Rescaling).
 *
 * The warp follows Keras 3's affine_transform on its torch backend tap by tap: the same
 * coordinate formula, the fill mode applied to each integer tap (not to the coordinate), the
 * same weights (1 - t, t) and the same order of the four products, so for equal coordinates
 * the results agree; nearest rounds half up (floor(u + 0.5), as scipy and torch's
 * "nearest-exact" resize) where torch.round rounds half to even.
 *
 * Per output row (sample b, row oy) the source points of WARP_CHUNK pixels at a time are
 * computed by a vectorisable body (warp_coords), turned into taps (pixel index, weight, inside)
 * on the stack, then gathered (warp_gather: across pixels for one channel, across channels
 * otherwise). The backward recomputes the same taps and scatters dy into dx; two pixels may
 * read the same tap, so the scatter runs per sample in a fixed order and threads split the
 * samples. Every body is plain C compiled per SIMD target (DLC_SIMD_VARIANTS) without
 * contraction, so every path and thread count gives the same bits. No allocation: the taps
 * live on the stack (4 KiB per thread).
 */
#include "internal.h"

#include <math.h>

#define WARP_CHUNK 64                /* output pixels whose taps are computed at once */
#define WARP_COORD_MAX 1073741824.0f /* 2**30: coordinates are clamped here before floor */
#define WARP_SIZE_MAX ((int64_t)1 << 24)
#define IMAGE_PAR_MIN 32768 /* output elements below which one thread runs */

/* 1 if the na floats at a and the nb floats at b do not overlap. */
static int image_disjoint(const float *a, int64_t na, const float *b, int64_t nb) {
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return na == 0 || nb == 0 || pa + (uintptr_t)na * sizeof(float) <= pb ||
           pb + (uintptr_t)nb * sizeof(float) <= pa;
}

/* ---------------------------------------------------------------- warp: shape */

dlc_fault dlc_image_warp_fault(const dlc_warp_shape *s) {
    int64_t t;
    if (s == NULL) return DLC_FAULT_NULL;
    if (!(s->n >= 1 && s->h >= 1 && s->w >= 1 && s->c >= 1 && s->oh >= 1 && s->ow >= 1))
        return DLC_FAULT_INPUT;
    if (!(s->h < WARP_SIZE_MAX && s->w < WARP_SIZE_MAX && s->oh < WARP_SIZE_MAX &&
          s->ow < WARP_SIZE_MAX))
        return DLC_FAULT_RANGE;
    if (__builtin_mul_overflow(s->n, s->h, &t) || __builtin_mul_overflow(t, s->w, &t) ||
        __builtin_mul_overflow(t, s->c, &t) || __builtin_mul_overflow(s->n, s->oh, &t) ||
        __builtin_mul_overflow(t, s->ow, &t) || __builtin_mul_overflow(t, s->c, &t) ||
        __builtin_mul_overflow(s->n, (int64_t)8, &t))
        return DLC_FAULT_RANGE;
    return DLC_FAULT_NONE;
}

dlc_status dlc_image_warp_check(const dlc_warp_shape *s) {
    return dlc_image_warp_fault(s) == DLC_FAULT_NONE ? DLC_OK : DLC_EINVAL;
}

/* ---------------------------------------------------------------- warp: taps */

/* The source points of pixels fx0 .. fx0 + np - 1 of row fy under m (8 floats), clamped to
 * [-2**30, 2**30]; a NaN becomes -2**30 (the comparisons are false). */
DLC_INLINE void warp_coords_body(int np, float fx0, float fy, const float *restrict m,
                                 float *restrict sx, float *restrict sy) {
    const float a0 = m[0], a1 = m[1], a2 = m[2], b0 = m[3], b1 = m[4], b2 = m[5];
    const float c0 = m[6], c1 = m[7];
#pragma omp simd
    for (int j = 0; j < np; j++) {
        float fx = fx0 + (float)j;
        float k = c0 * fx + c1 * fy + 1.0f;
        float u = (a0 * fx + a1 * fy + a2) / k;
        float v = (b0 * fx + b1 * fy + b2) / k;
        u = u >= -WARP_COORD_MAX ? u : -WARP_COORD_MAX;
        u = u <= WARP_COORD_MAX ? u : WARP_COORD_MAX;
        v = v >= -WARP_COORD_MAX ? v : -WARP_COORD_MAX;
        v = v <= WARP_COORD_MAX ? v : WARP_COORD_MAX;
        sx[j] = u;
        sy[j] = v;
    }
}
DLC_SIMD_VARIANTS(warp_coords,
                  (int np, float fx0, float fy, const float *restrict m, float *restrict sx,
                   float *restrict sy),
                  (np, fx0, fy, m, sx, sy));
typedef void (*warp_coords_fn)(int, float, float, const float *restrict, float *restrict,
                               float *restrict);

/* Up to four taps per output pixel of a chunk. */
typedef struct {
    int64_t off[4][WARP_CHUNK]; /* the pixel the tap reads, iy * w + ix, always in the image */
    float wt[4][WARP_CHUNK];    /* its weight */
    int32_t ok[4][WARP_CHUNK];  /* 0: outside the image with fill_mode CONSTANT (reads fill) */
} warp_taps;

/* Index i of an axis of len pixels through the fill mode; *ok becomes 0 for an outside tap in
 * CONSTANT mode (which then reads the clamped pixel, unused). */
static inline int64_t warp_fix(int64_t i, int64_t len, int mode, int32_t *ok) {
    if (mode == DLC_FILL_WRAP) {
        int64_t r = i % len;
        return r < 0 ? r + len : r;
    }
    if (mode == DLC_FILL_REFLECT) { /* period 2 len: 0 .. len - 1, then len - 1 .. 0 */
        int64_t p = 2 * len, r = i % p;
        r = r < 0 ? r + p : r;
        return r < len ? r : p - 1 - r;
    }
    if (mode == DLC_FILL_CONSTANT && (i < 0 || i >= len)) *ok = 0;
    return i < 0 ? 0 : i >= len ? len - 1 : i;
}

static void warp_taps_make(int np, const float *sx, const float *sy, int64_t h, int64_t w,
                           int interp, int mode, warp_taps *t) {
    for (int j = 0; j < np; j++) {
        if (interp == DLC_INTERP_NEAREST) {
            int32_t ok = 1;
            int64_t iy = warp_fix((int64_t)floorf(sy[j] + 0.5f), h, mode, &ok);
            int64_t ix = warp_fix((int64_t)floorf(sx[j] + 0.5f), w, mode, &ok);
            t->off[0][j] = iy * w + ix;
            t->wt[0][j] = 1.0f;
            t->ok[0][j] = ok;
            continue;
        }
        float fly = floorf(sy[j]), flx = floorf(sx[j]);
        float ty = sy[j] - fly, tx = sx[j] - flx;
        float wy[2] = {1.0f - ty, ty}, wx[2] = {1.0f - tx, tx};
        int64_t y0 = (int64_t)fly, x0 = (int64_t)flx;
        if (y0 >= 0 && y0 + 1 < h && x0 >= 0 && x0 + 1 < w) { /* inside: no fill mode */
            const int64_t o = y0 * w + x0;
            t->off[0][j] = o, t->off[1][j] = o + 1, t->off[2][j] = o + w, t->off[3][j] = o + w + 1;
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    t->wt[2 * a + b][j] = wy[a] * wx[b];
                    t->ok[2 * a + b][j] = 1;
                }
            continue;
        }
        int32_t oky[2] = {1, 1}, okx[2] = {1, 1};
        int64_t ry[2], rx[2];
        for (int a = 0; a < 2; a++) {
            ry[a] = warp_fix(y0 + a, h, mode, &oky[a]);
            rx[a] = warp_fix(x0 + a, w, mode, &okx[a]);
        }
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                t->off[2 * a + b][j] = ry[a] * w + rx[b];
                t->wt[2 * a + b][j] = wy[a] * wx[b];
                t->ok[2 * a + b][j] = oky[a] & okx[b];
            }
    }
}

/* ---------------------------------------------------------------- warp: gather, scatter */

/* y[j * c + ch] for the np pixels of a chunk: the taps' values (fill where not ok) times their
 * weights, summed in tap order; one tap (nearest) is copied. */
DLC_INLINE void warp_gather_body(int np, int64_t c, int ntaps, const float *restrict x,
                                 const warp_taps *restrict t, float fill, float *restrict y) {
    if (c == 1 && ntaps == 1) {
#pragma omp simd
        for (int j = 0; j < np; j++) {
            float v = x[t->off[0][j]];
            y[j] = t->ok[0][j] ? v : fill;
        }
    } else if (c == 1) {
#pragma omp simd
        for (int j = 0; j < np; j++) {
            float v0 = x[t->off[0][j]], v1 = x[t->off[1][j]];
            float v2 = x[t->off[2][j]], v3 = x[t->off[3][j]];
            v0 = t->ok[0][j] ? v0 : fill;
            v1 = t->ok[1][j] ? v1 : fill;
            v2 = t->ok[2][j] ? v2 : fill;
            v3 = t->ok[3][j] ? v3 : fill;
            float acc = t->wt[0][j] * v0;
            acc += t->wt[1][j] * v1;
            acc += t->wt[2][j] * v2;
            acc += t->wt[3][j] * v3;
            y[j] = acc;
        }
    } else if (ntaps == 1) {
        for (int j = 0; j < np; j++) {
            const float *p = x + t->off[0][j] * c;
            float *q = y + (int64_t)j * c;
            const int ok = t->ok[0][j];
#pragma omp simd
            for (int64_t ch = 0; ch < c; ch++) q[ch] = ok ? p[ch] : fill;
        }
    } else {
        for (int j = 0; j < np; j++) {
            const float *p0 = x + t->off[0][j] * c, *p1 = x + t->off[1][j] * c;
            const float *p2 = x + t->off[2][j] * c, *p3 = x + t->off[3][j] * c;
            const float w0 = t->wt[0][j], w1 = t->wt[1][j], w2 = t->wt[2][j], w3 = t->wt[3][j];
            const int k0 = t->ok[0][j], k1 = t->ok[1][j], k2 = t->ok[2][j], k3 = t->ok[3][j];
            float *q = y + (int64_t)j * c;
#pragma omp simd
            for (int64_t ch = 0; ch < c; ch++) {
                float acc = w0 * (k0 ? p0[ch] : fill);
                acc += w1 * (k1 ? p1[ch] : fill);
                acc += w2 * (k2 ? p2[ch] : fill);
                acc += w3 * (k3 ? p3[ch] : fill);
                q[ch] = acc;
            }
        }
    }
}
DLC_SIMD_VARIANTS(warp_gather,
                  (int np, int64_t c, int ntaps, const float *restrict x,
                   const warp_taps *restrict t, float fill, float *restrict y),
                  (np, c, ntaps, x, t, fill, y));
typedef void (*warp_gather_fn)(int, int64_t, int, const float *restrict,
                               const warp_taps *restrict, float, float *restrict);

/* dx[tap * c + ch] += weight * dy[j * c + ch] for every tap that read a pixel, in pixel then
 * tap order (taps of neighbouring pixels coincide, so only the channel loop is vectorised). */
DLC_INLINE void warp_scatter_body(int np, int64_t c, int ntaps, const float *restrict dy,
                                  const warp_taps *restrict t, float *restrict dx) {
    for (int j = 0; j < np; j++) {
        const float *g = dy + (int64_t)j * c;
        for (int k = 0; k < ntaps; k++) {
            if (!t->ok[k][j]) continue;
            const float wgt = t->wt[k][j];
            float *p = dx + t->off[k][j] * c;
#pragma omp simd
            for (int64_t ch = 0; ch < c; ch++) p[ch] += wgt * g[ch];
        }
    }
}
DLC_SIMD_VARIANTS(warp_scatter,
                  (int np, int64_t c, int ntaps, const float *restrict dy,
                   const warp_taps *restrict t, float *restrict dx),
                  (np, c, ntaps, dy, t, dx));
typedef void (*warp_scatter_fn)(int, int64_t, int, const float *restrict,
                                const warp_taps *restrict, float *restrict);

static int warp_args_ok(const dlc_warp_shape *s, int interpolation, int fill_mode) {
    return dlc_image_warp_fault(s) == DLC_FAULT_NONE &&
           (interpolation == DLC_INTERP_NEAREST || interpolation == DLC_INTERP_BILINEAR) &&
           fill_mode >= DLC_FILL_CONSTANT && fill_mode <= DLC_FILL_WRAP;
}

dlc_status dlc_image_warp_forward(const dlc_warp_shape *s, int interpolation, int fill_mode,
                                  float fill_value, const float *x, const float *transform,
                                  float *y) {
    DLC_CHECK(warp_args_ok(s, interpolation, fill_mode));
    DLC_CHECK(x && transform && y);
    const int64_t img = s->h * s->w * s->c, orow = s->ow * s->c, rows = s->n * s->oh;
    DLC_CHECK(image_disjoint(y, rows * orow, x, s->n * img) &&
              image_disjoint(y, rows * orow, transform, 8 * s->n));
    const warp_coords_fn coords = DLC_SIMD_PICK(warp_coords);
    const warp_gather_fn gather = DLC_SIMD_PICK(warp_gather);
    const int ntaps = interpolation == DLC_INTERP_BILINEAR ? 4 : 1;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) \
    if (rows * orow >= IMAGE_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t b = r / s->oh, oy = r - b * s->oh;
        float sx[WARP_CHUNK], sy[WARP_CHUNK];
        warp_taps t;
        for (int64_t ox = 0; ox < s->ow; ox += WARP_CHUNK) {
            const int np = (int)DLC_MIN(WARP_CHUNK, s->ow - ox);
            coords(np, (float)ox, (float)oy, transform + 8 * b, sx, sy);
            warp_taps_make(np, sx, sy, s->h, s->w, interpolation, fill_mode, &t);
            gather(np, s->c, ntaps, x + b * img, &t, fill_value, y + r * orow + ox * s->c);
        }
    }
    return DLC_OK;
}

dlc_status dlc_image_warp_backward(const dlc_warp_shape *s, int interpolation, int fill_mode,
                                   const float *dy, const float *transform, float *dx) {
    DLC_CHECK(warp_args_ok(s, interpolation, fill_mode));
    DLC_CHECK(dy && transform && dx);
    const int64_t img = s->h * s->w * s->c, orow = s->ow * s->c, oimg = s->oh * orow;
    DLC_CHECK(image_disjoint(dx, s->n * img, dy, s->n * oimg) &&
              image_disjoint(dx, s->n * img, transform, 8 * s->n));
    const warp_coords_fn coords = DLC_SIMD_PICK(warp_coords);
    const warp_scatter_fn scatter = DLC_SIMD_PICK(warp_scatter);
    const int ntaps = interpolation == DLC_INTERP_BILINEAR ? 4 : 1;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) \
    if (s->n * oimg >= IMAGE_PAR_MIN)
    for (int64_t b = 0; b < s->n; b++) {
        float sx[WARP_CHUNK], sy[WARP_CHUNK];
        warp_taps t;
        for (int64_t oy = 0; oy < s->oh; oy++)
            for (int64_t ox = 0; ox < s->ow; ox += WARP_CHUNK) {
                const int np = (int)DLC_MIN(WARP_CHUNK, s->ow - ox);
                coords(np, (float)ox, (float)oy, transform + 8 * b, sx, sy);
                warp_taps_make(np, sx, sy, s->h, s->w, interpolation, fill_mode, &t);
                scatter(np, s->c, ntaps, dy + b * oimg + oy * orow + ox * s->c, &t,
                        dx + b * img);
            }
    }
    return DLC_OK;
}

/* ---------------------------------------------------------------- contrast, brightness */

/* One sample: y = clip((x - m[ch]) * f + m[ch] + d, lo, hi). NaN stays NaN. */
DLC_INLINE void adjust_fwd_body(int64_t hw, int64_t c, const float *restrict x,
                                const float *restrict m, float f, float d, float lo, float hi,
                                float *restrict y) {
    if (c == 1) {
        const float m0 = m[0];
#pragma omp simd
        for (int64_t p = 0; p < hw; p++) {
            float z = (x[p] - m0) * f + m0 + d;
            z = z < lo ? lo : z;
            y[p] = z > hi ? hi : z;
        }
        return;
    }
    for (int64_t p = 0; p < hw; p++) {
#pragma omp simd
        for (int64_t ch = 0; ch < c; ch++) {
            float z = (x[p * c + ch] - m[ch]) * f + m[ch] + d;
            z = z < lo ? lo : z;
            y[p * c + ch] = z > hi ? hi : z;
        }
    }
}
DLC_SIMD_VARIANTS(adjust_fwd,
                  (int64_t hw, int64_t c, const float *restrict x, const float *restrict m,
                   float f, float d, float lo, float hi, float *restrict y),
                  (hw, c, x, m, f, d, lo, hi, y));

/* Channels c0 .. c0 + cc - 1 of one sample (the pointers start at channel c0, pixels are c
 * apart): g = dy where the unclipped value is inside [lo, hi], else 0; dx += g * f + add[ch]. */
DLC_INLINE void adjust_bwd_body(int64_t hw, int64_t c, int64_t cc, const float *restrict x,
                                const float *restrict m, float f, float d, float lo, float hi,
                                const float *restrict dy, const float *restrict add,
                                float *restrict dx) {
    for (int64_t p = 0; p < hw; p++) {
#pragma omp simd
        for (int64_t ch = 0; ch < cc; ch++) {
            float z = (x[p * c + ch] - m[ch]) * f + m[ch] + d;
            float g = (z >= lo && z <= hi) ? dy[p * c + ch] : 0.0f;
            dx[p * c + ch] += g * f + add[ch];
        }
    }
}
DLC_SIMD_VARIANTS(adjust_bwd,
                  (int64_t hw, int64_t c, int64_t cc, const float *restrict x,
                   const float *restrict m, float f, float d, float lo, float hi,
                   const float *restrict dy, const float *restrict add, float *restrict dx),
                  (hw, c, cc, x, m, f, d, lo, hi, dy, add, dx));
typedef void (*adjust_bwd_fn)(int64_t, int64_t, int64_t, const float *restrict,
                              const float *restrict, float, float, float, float,
                              const float *restrict, const float *restrict, float *restrict);

static int adjust_args_ok(int64_t n, int64_t hw, int64_t c, float lo, float hi) {
    int64_t t;
    return n >= 0 && hw >= 0 && c >= 0 && lo <= hi && !__builtin_mul_overflow(n, hw, &t) &&
           !__builtin_mul_overflow(t, c, &t);
}

/* mean[ch] of one sample over its hw pixels, accumulated in double in pixel order. */
static void adjust_mean(int64_t hw, int64_t c, const float *x, float *mean) {
    for (int64_t ch = 0; ch < c; ch++) {
        double s = 0.0;
        for (int64_t p = 0; p < hw; p++) s += (double)x[p * c + ch];
        mean[ch] = hw > 0 ? (float)(s / (double)hw) : 0.0f;
    }
}

dlc_status dlc_image_adjust_forward(int64_t n, int64_t hw, int64_t c, int center, float lo,
                                    float hi, const float *x, const float *factor,
                                    const float *delta, float *y, float *mean) {
    DLC_CHECK(adjust_args_ok(n, hw, c, lo, hi));
    const int64_t img = hw * c, total = n * img;
    if (n == 0 || c == 0) return DLC_OK;
    DLC_CHECK(x && factor && delta && y && mean);
    DLC_CHECK(image_disjoint(y, total, x, total) && image_disjoint(y, total, mean, n * c) &&
              image_disjoint(mean, n * c, x, total));
    void (*fwd)(int64_t, int64_t, const float *restrict, const float *restrict, float, float,
                float, float, float *restrict) = DLC_SIMD_PICK(adjust_fwd);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (total >= IMAGE_PAR_MIN)
    for (int64_t b = 0; b < n; b++) {
        float *m = mean + b * c;
        if (center) {
            adjust_mean(hw, c, x + b * img, m);
        } else {
            for (int64_t ch = 0; ch < c; ch++) m[ch] = 0.0f;
        }
        fwd(hw, c, x + b * img, m, factor[b], delta[b], lo, hi, y + b * img);
    }
    return DLC_OK;
}

/* The per-channel term (1 - f) * sum(g) / hw of the gradient for channels c0 .. c0 + cc - 1
 * of one sample (pointers as in adjust_bwd_body), accumulated in double in pixel order; 0 when
 * center == 0. */
static void adjust_mean_grad(int64_t hw, int64_t c, int64_t cc, int center, const float *x,
                             const float *m, float f, float d, float lo, float hi,
                             const float *dy, float *add) {
    for (int64_t ch = 0; ch < cc; ch++) {
        double s = 0.0;
        if (center && f != 1.0f)
            for (int64_t p = 0; p < hw; p++) {
                float z = (x[p * c + ch] - m[ch]) * f + m[ch] + d;
                if (z >= lo && z <= hi) s += (double)dy[p * c + ch];
            }
        add[ch] = center ? (float)((1.0 - (double)f) * s / (double)hw) : 0.0f;
    }
}

#define ADJ_CH 64 /* channels whose mean-gradient term is held on the stack at once */

dlc_status dlc_image_adjust_backward(int64_t n, int64_t hw, int64_t c, int center, float lo,
                                     float hi, const float *x, const float *factor,
                                     const float *delta, const float *mean, const float *dy,
                                     float *dx) {
    DLC_CHECK(adjust_args_ok(n, hw, c, lo, hi));
    const int64_t img = hw * c, total = n * img;
    if (total == 0) return DLC_OK;
    DLC_CHECK(x && factor && delta && mean && dy && dx);
    DLC_CHECK(image_disjoint(dx, total, x, total) && image_disjoint(dx, total, dy, total) &&
              image_disjoint(dx, total, mean, n * c) && image_disjoint(dx, total, factor, n) &&
              image_disjoint(dx, total, delta, n));
    const adjust_bwd_fn bwd = DLC_SIMD_PICK(adjust_bwd);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (total >= IMAGE_PAR_MIN)
    for (int64_t b = 0; b < n; b++) {
        for (int64_t c0 = 0; c0 < c; c0 += ADJ_CH) {
            const int64_t cc = DLC_MIN((int64_t)ADJ_CH, c - c0), o = b * img + c0;
            float add[ADJ_CH];
            adjust_mean_grad(hw, c, cc, center, x + o, mean + b * c + c0, factor[b], delta[b],
                             lo, hi, dy + o, add);
            bwd(hw, c, cc, x + o, mean + b * c + c0, factor[b], delta[b], lo, hi, dy + o, add,
                dx + o);
        }
    }
    return DLC_OK;
}

/* ---------------------------------------------------------------- normalize */

/* One (k, inner) block. No restrict on x / y: the forward may run in place (y == x), each
 * y[i] depending on x[i] only, which `omp simd` states. */
DLC_INLINE void normalize_fwd_body(int64_t k, int64_t inner, int divide, const float *x,
                                   const float *restrict sub, const float *restrict mul,
                                   const float *restrict add, float *y) {
    if (inner == 1) {
        if (divide) {
#pragma omp simd
            for (int64_t j = 0; j < k; j++) y[j] = (x[j] - sub[j]) / mul[j] + add[j];
        } else {
#pragma omp simd
            for (int64_t j = 0; j < k; j++) y[j] = (x[j] - sub[j]) * mul[j] + add[j];
        }
        return;
    }
    for (int64_t j = 0; j < k; j++) {
        const float s = sub[j], m = mul[j], a = add[j];
        const float *xj = x + j * inner;
        float *yj = y + j * inner;
        if (divide) {
#pragma omp simd
            for (int64_t i = 0; i < inner; i++) yj[i] = (xj[i] - s) / m + a;
        } else {
#pragma omp simd
            for (int64_t i = 0; i < inner; i++) yj[i] = (xj[i] - s) * m + a;
        }
    }
}
DLC_SIMD_VARIANTS(normalize_fwd,
                  (int64_t k, int64_t inner, int divide, const float *x,
                   const float *restrict sub, const float *restrict mul,
                   const float *restrict add, float *y),
                  (k, inner, divide, x, sub, mul, add, y));

DLC_INLINE void normalize_bwd_body(int64_t k, int64_t inner, int divide,
                                   const float *restrict mul, const float *restrict dy,
                                   float *restrict dx) {
    if (inner == 1) {
        if (divide) {
#pragma omp simd
            for (int64_t j = 0; j < k; j++) dx[j] += dy[j] / mul[j];
        } else {
#pragma omp simd
            for (int64_t j = 0; j < k; j++) dx[j] += dy[j] * mul[j];
        }
        return;
    }
    for (int64_t j = 0; j < k; j++) {
        const float m = mul[j];
        const float *g = dy + j * inner;
        float *d = dx + j * inner;
        if (divide) {
#pragma omp simd
            for (int64_t i = 0; i < inner; i++) d[i] += g[i] / m;
        } else {
#pragma omp simd
            for (int64_t i = 0; i < inner; i++) d[i] += g[i] * m;
        }
    }
}
DLC_SIMD_VARIANTS(normalize_bwd,
                  (int64_t k, int64_t inner, int divide, const float *restrict mul,
                   const float *restrict dy, float *restrict dx),
                  (k, inner, divide, mul, dy, dx));

static int normalize_sizes_ok(int64_t outer, int64_t k, int64_t inner, int64_t *total) {
    return outer >= 0 && k >= 0 && inner >= 0 && !__builtin_mul_overflow(outer, k, total) &&
           !__builtin_mul_overflow(*total, inner, total);
}

/* Blocks of (k, inner) per parallel work item: enough to amortise the fork. */
static int64_t normalize_grain(int64_t block) {
    return block >= IMAGE_PAR_MIN ? 1 : IMAGE_PAR_MIN / DLC_MAX(block, (int64_t)1);
}

/* The outer blocks of (k, inner) split among threads in work items of normalize_grain blocks:
 * forward, out = normalize(in) with sub, mul, add; backward, out += d/dx of it at in = dy
 * (mul only). */
static void normalize_blocks(int64_t outer, int64_t k, int64_t inner, int64_t total, int divide,
                             int backward, const float *in, const float *sub, const float *mul,
                             const float *add, float *out) {
    void (*fwd)(int64_t, int64_t, int, const float *, const float *restrict,
                const float *restrict, const float *restrict, float *) =
        DLC_SIMD_PICK(normalize_fwd);
    void (*bwd)(int64_t, int64_t, int, const float *restrict, const float *restrict,
                float *restrict) = DLC_SIMD_PICK(normalize_bwd);
    const int64_t block = k * inner, grain = normalize_grain(block);
    const int64_t items = (outer + grain - 1) / grain;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (total >= IMAGE_PAR_MIN)
    for (int64_t it = 0; it < items; it++) {
        const int64_t o1 = DLC_MIN(outer, (it + 1) * grain);
        for (int64_t o = it * grain; o < o1; o++) {
            if (backward)
                bwd(k, inner, divide, mul, in + o * block, out + o * block);
            else
                fwd(k, inner, divide, in + o * block, sub, mul, add, out + o * block);
        }
    }
}

dlc_status dlc_normalize_forward(int64_t outer, int64_t k, int64_t inner, int divide,
                                 const float *x, const float *sub, const float *mul,
                                 const float *add, float *y) {
    int64_t total;
    DLC_CHECK(normalize_sizes_ok(outer, k, inner, &total));
    if (total == 0) return DLC_OK;
    DLC_CHECK(x && sub && mul && add && y);
    DLC_CHECK(x == y || image_disjoint(x, total, y, total));
    DLC_CHECK(image_disjoint(y, total, sub, k) && image_disjoint(y, total, mul, k) &&
              image_disjoint(y, total, add, k));
    normalize_blocks(outer, k, inner, total, divide, 0, x, sub, mul, add, y);
    return DLC_OK;
}

dlc_status dlc_normalize_backward(int64_t outer, int64_t k, int64_t inner, int divide,
                                  const float *mul, const float *dy, float *dx) {
    int64_t total;
    DLC_CHECK(normalize_sizes_ok(outer, k, inner, &total));
    if (total == 0) return DLC_OK;
    DLC_CHECK(mul && dy && dx);
    DLC_CHECK(image_disjoint(dx, total, dy, total) && image_disjoint(dx, total, mul, k));
    normalize_blocks(outer, k, inner, total, divide, 1, dy, NULL, mul, NULL, dx);
    return DLC_OK;
}
