/* activations.c - elementwise activations (ReLU family, ELU, sigmoid, tanh, SiLU, GELU) and softmax over
 * the last axis, forward and backward.
 *
 * Memory-bound loops. The vectorisable ones are written once as always-inline bodies and
 * compiled three times (portable, AVX2+FMA, AVX-512) by DLC_SIMD_VARIANTS (internal.h) and
 * chosen with DLC_SIMD_PICK; the compiler vectorises each copy for its target. The build is
 * ISO C11 without fast-math, so floating-point contraction is off and every copy evaluates
 * exactly the same expression: the SIMD paths are bit-identical to the portable one. Transcendentals are libm calls (expf, exp) in every
 * path, so they too give the same bits whatever the path.
 *
 * Threads: large arrays are cut into fixed blocks of ACT_BLOCK values (rows for softmax) and
 * the blocks are shared out; every value depends only on its own inputs, so the result does
 * not depend on the thread count. Arrays below ACT_PAR_MIN values run on the calling thread.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

#define ACT_PAR_MIN 32768 /* values below which one thread is used */
#define ACT_BLOCK 16384   /* values per parallel work item */

/* 1 if the n floats at a and at b do not overlap. */
static int act_disjoint(const float *a, const float *b, int64_t n) {
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b, bytes = (uintptr_t)n * sizeof(float);
    return n == 0 || pa + bytes <= pb || pb + bytes <= pa;
}

/* Arguments of a forward: y is exactly x (in place) or does not overlap it. */
static int act_forward_ok(int64_t n, const float *x, const float *y) {
    return n >= 0 && (n == 0 || (x != NULL && y != NULL)) && (x == y || act_disjoint(x, y, n));
}

/* Arguments of a backward: dx overlaps none of the inputs (a, b may be NULL when unused). */
static int act_backward_ok(int64_t n, const float *a, const float *b, const float *dy,
                           const float *dx) {
    if (n < 0) return 0;
    if (n == 0) return 1;
    if (dy == NULL || dx == NULL || !act_disjoint(dx, dy, n)) return 0;
    if (a != NULL && !act_disjoint(dx, a, n)) return 0;
    if (b != NULL && !act_disjoint(dx, b, n)) return 0;
    return 1;
}

static int64_t act_blocks(int64_t n) { return (n + ACT_BLOCK - 1) / ACT_BLOCK; }

/* ---------------------------------------------------------------- ReLU */

/* No restrict on x / y: the forward may run in place (y == x); each y[i] depends on x[i] only,
 * which `omp simd` states. Both sides of every choice are computed and picked by bit masks
 * (dlc_fsel): a ?: whose arm holds arithmetic would be a branch (ISO C may not evaluate an arm
 * that could raise a flag the program would not), scalar and mispredicted on random signs. */
DLC_INLINE void relu_fwd_body(int64_t n, float slope, float thr, float maxv, const float *x,
                              float *y) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        /* + 0.0f turns the -0 of 0 * negative into +0 (and changes nothing else). */
        float lo = slope * (v - thr) + 0.0f;
        float r = dlc_fsel(v > thr, v, lo);
        y[i] = dlc_fsel(v >= maxv, maxv, r);
    }
}
DLC_SIMD_VARIANTS(relu_fwd,
                  (int64_t n, float slope, float thr, float maxv, const float *x, float *y),
                  (n, slope, thr, maxv, x, y));

DLC_INLINE void relu_bwd_body(int64_t n, float slope, float thr, float maxv,
                              const float *restrict x, const float *restrict dy,
                              float *restrict dx, int accumulate) {
    if (accumulate) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            float d = dlc_fsel(v >= maxv, 0.0f, dlc_fsel(v > thr, 1.0f, slope));
            dx[i] += dy[i] * d;
        }
    } else { /* the value accumulate gives on a zeroed dx: 0 + dy * d */
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            float d = dlc_fsel(v >= maxv, 0.0f, dlc_fsel(v > thr, 1.0f, slope));
            dx[i] = 0.0f + dy[i] * d;
        }
    }
}
DLC_SIMD_VARIANTS(relu_bwd,
                  (int64_t n, float slope, float thr, float maxv, const float *restrict x,
                   const float *restrict dy, float *restrict dx, int accumulate),
                  (n, slope, thr, maxv, x, dy, dx, accumulate));

static int relu_params_ok(float slope, float thr, float maxv) {
    return isfinite(slope) && isfinite(thr) && !isnan(maxv);
}

dlc_status dlc_relu_forward(int64_t n, float negative_slope, float threshold, float max_value,
                            const float *x, float *y) {
    DLC_CHECK(act_forward_ok(n, x, y) && relu_params_ok(negative_slope, threshold, max_value));
    void (*f)(int64_t, float, float, float, const float *, float *) = DLC_SIMD_PICK(relu_fwd);
    int64_t nb = act_blocks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= ACT_PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * ACT_BLOCK;
        f(DLC_MIN(ACT_BLOCK, n - i0), negative_slope, threshold, max_value, x + i0, y + i0);
    }
    return DLC_OK;
}

dlc_status dlc_relu_backward_ex(int64_t n, float negative_slope, float threshold,
                                float max_value, const float *x, const float *dy, float *dx,
                                int accumulate) {
    DLC_CHECK(n == 0 || x != NULL);
    DLC_CHECK(act_backward_ok(n, x, NULL, dy, dx) &&
              relu_params_ok(negative_slope, threshold, max_value));
    void (*f)(int64_t, float, float, float, const float *, const float *, float *, int) =
        DLC_SIMD_PICK(relu_bwd);
    int64_t nb = act_blocks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= ACT_PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * ACT_BLOCK;
        f(DLC_MIN(ACT_BLOCK, n - i0), negative_slope, threshold, max_value, x + i0, dy + i0,
          dx + i0, accumulate != 0);
    }
    return DLC_OK;
}

dlc_status dlc_relu_backward(int64_t n, float negative_slope, float threshold, float max_value,
                             const float *x, const float *dy, float *dx) {
    return dlc_relu_backward_ex(n, negative_slope, threshold, max_value, x, dy, dx, 1);
}

/* ---------------------------------------------------------------- ELU */

/* alpha * (exp(x) - 1) for x <= 0, in double: exp(x) - 1 is exact to ~1e-12 relative for
 * x < -2^-12, and below that the series x + x^2/2 + x^3/6 is (glibc's expm1f / expm1 are 5x
 * slower than exp). Positive x take the exp path on a dummy -1 whose result is discarded, so
 * the only branch (tiny negative x) is predictable. A NaN stays NaN. */
static void elu_fwd_span(int64_t n, float alpha, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        int pos = v > 0.0f;
        double d = (double)dlc_fsel(pos, -1.0f, v);
        double em1 = d > -0x1p-12 ? d + d * d * (0.5 + d / 6.0) : exp(d) - 1.0;
        y[i] = dlc_fsel(pos, v, (float)((double)alpha * em1));
    }
}

/* f'(x) = 1 for x > 0, else alpha * exp(x) = y + alpha. */
DLC_INLINE void elu_bwd_body(int64_t n, float alpha, const float *restrict x,
                             const float *restrict y, const float *restrict dy,
                             float *restrict dx) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float d = dlc_fsel(x[i] > 0.0f, 1.0f, y[i] + alpha);
        dx[i] += dy[i] * d;
    }
}
DLC_SIMD_VARIANTS(elu_bwd,
                  (int64_t n, float alpha, const float *restrict x, const float *restrict y,
                   const float *restrict dy, float *restrict dx),
                  (n, alpha, x, y, dy, dx));

dlc_status dlc_elu_forward(int64_t n, float alpha, const float *x, float *y) {
    DLC_CHECK(act_forward_ok(n, x, y) && isfinite(alpha));
    int64_t nb = act_blocks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= ACT_PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * ACT_BLOCK;
        elu_fwd_span(DLC_MIN(ACT_BLOCK, n - i0), alpha, x + i0, y + i0);
    }
    return DLC_OK;
}

dlc_status dlc_elu_backward(int64_t n, float alpha, const float *x, const float *y,
                            const float *dy, float *dx) {
    DLC_CHECK(n == 0 || (x != NULL && y != NULL));
    DLC_CHECK(act_backward_ok(n, x, y, dy, dx) && isfinite(alpha));
    void (*f)(int64_t, float, const float *, const float *, const float *, float *) =
        DLC_SIMD_PICK(elu_bwd);
    int64_t nb = act_blocks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= ACT_PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * ACT_BLOCK;
        f(DLC_MIN(ACT_BLOCK, n - i0), alpha, x + i0, y + i0, dy + i0, dx + i0);
    }
    return DLC_OK;
}

/* ---------------------------------------------------------------- sigmoid and tanh */

/* Stable for large |x|: exp is only taken of -|x| <= 0, so it never overflows;
 * y = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, e = exp(-|x|) (a select, no branch). */
static void sigmoid_fwd_span(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float e = expf(-fabsf(v));
        y[i] = dlc_fsel(v >= 0.0f, 1.0f, e) / (1.0f + e);
    }
}

/* tanh(|x|) = (1 - e) / (1 + e), e = exp(-2|x|), in double (no cancellation worth a float
 * bit for |x| >= 2^-12; below that the series |x| - |x|^3 / 3 is exact to double rounding),
 * with x's sign. glibc's tanhf goes through its slow expm1f: this is 3x faster. */
static void tanh_fwd_span(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        double d = fabs((double)v);
        double t;
        if (d < 0x1p-12) {
            t = d - d * d * d / 3.0;
        } else {
            double e = exp(-2.0 * d);
            t = (1.0 - e) / (1.0 + e);
        }
        y[i] = copysignf((float)t, v);
    }
}

/* sigmoid' = y (1 - y). */
DLC_INLINE void sigmoid_bwd_body(int64_t n, const float *restrict y, const float *restrict dy,
                                 float *restrict dx) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (y[i] * (1.0f - y[i]));
}
DLC_SIMD_VARIANTS(sigmoid_bwd,
                  (int64_t n, const float *restrict y, const float *restrict dy,
                   float *restrict dx),
                  (n, y, dy, dx));

/* tanh' = 1 - y^2. */
DLC_INLINE void tanh_bwd_body(int64_t n, const float *restrict y, const float *restrict dy,
                              float *restrict dx) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}
DLC_SIMD_VARIANTS(tanh_bwd,
                  (int64_t n, const float *restrict y, const float *restrict dy,
                   float *restrict dx),
                  (n, y, dy, dx));

typedef void (*act_unary_fn)(int64_t, const float *, float *);
typedef void (*act_grad_fn)(int64_t, const float *, const float *, float *);

static dlc_status act_unary(act_unary_fn f, int64_t n, const float *x, float *y) {
    DLC_CHECK(act_forward_ok(n, x, y));
    dlc_blocks_xy(f, n, ACT_BLOCK, ACT_PAR_MIN, x, y);
    return DLC_OK;
}

static dlc_status act_grad(act_grad_fn f, int64_t n, const float *y, const float *dy,
                           float *dx) {
    DLC_CHECK(n == 0 || y != NULL);
    DLC_CHECK(act_backward_ok(n, y, NULL, dy, dx));
    int64_t nb = act_blocks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= ACT_PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * ACT_BLOCK;
        f(DLC_MIN(ACT_BLOCK, n - i0), y + i0, dy + i0, dx + i0);
    }
    return DLC_OK;
}

dlc_status dlc_sigmoid_forward(int64_t n, const float *x, float *y) {
    return act_unary(sigmoid_fwd_span, n, x, y);
}

dlc_status dlc_sigmoid_backward(int64_t n, const float *y, const float *dy, float *dx) {
    return act_grad(DLC_SIMD_PICK(sigmoid_bwd), n, y, dy, dx);
}

dlc_status dlc_tanh_forward(int64_t n, const float *x, float *y) {
    return act_unary(tanh_fwd_span, n, x, y);
}

dlc_status dlc_tanh_backward(int64_t n, const float *y, const float *dy, float *dx) {
    return act_grad(DLC_SIMD_PICK(tanh_bwd), n, y, dy, dx);
}

/* ---------------------------------------------------------------- SiLU (swish) and GELU */

/* silu(x) = x * sigmoid(x), with the stable sigmoid above. */
static void silu_fwd_span(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float e = expf(-fabsf(v));
        y[i] = v * (dlc_fsel(v >= 0.0f, 1.0f, e) / (1.0f + e));
    }
}

/* silu'(x) = s (1 + x (1 - s)), s = sigmoid(x) recomputed from x (y / x is not stable). */
static void silu_bwd_span(int64_t n, const float *x, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float e = expf(-fabsf(v));
        float s = dlc_fsel(v >= 0.0f, 1.0f, e) / (1.0f + e);
        dx[i] += dy[i] * (s * (1.0f + v * (1.0f - s)));
    }
}

/* gelu(x) = x * Phi(x), Keras's exact form (approximate=False), with Phi(x) =
 * 0.5 erfc(-x / sqrt(2)): 1 + erf(x / sqrt(2)) would cancel for negative x. */
static void gelu_fwd_span(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * erfcf(-v * 0.70710678118654752f);
    }
}

/* gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi). */
static void gelu_bwd_span(int64_t n, const float *x, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * erfcf(-v * 0.70710678118654752f);
        float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
        dx[i] += dy[i] * (cdf + v * pdf);
    }
}

dlc_status dlc_silu_forward(int64_t n, const float *x, float *y) {
    return act_unary(silu_fwd_span, n, x, y);
}

dlc_status dlc_silu_backward(int64_t n, const float *x, const float *dy, float *dx) {
    return act_grad(silu_bwd_span, n, x, dy, dx);
}

dlc_status dlc_gelu_forward(int64_t n, const float *x, float *y) {
    return act_unary(gelu_fwd_span, n, x, y);
}

dlc_status dlc_gelu_backward(int64_t n, const float *x, const float *dy, float *dx) {
    return act_grad(gelu_bwd_span, n, x, dy, dx);
}

/* ---------------------------------------------------------------- softmax */

/* One row: y = exp(x - max) / sum. Reads x[j] before writing y[j] and afterwards reads only y,
 * so y == x (in place) is safe. The sum is sequential in double. */
static void softmax_fwd_row(int64_t k, const float *x, float *y) {
    float mx = x[0];
    for (int64_t j = 1; j < k; j++) mx = x[j] > mx ? x[j] : mx;
    double s = 0.0;
    for (int64_t j = 0; j < k; j++) {
        float e = expf(x[j] - mx);
        y[j] = e;
        s += e;
    }
    double inv = 1.0 / s;
    for (int64_t j = 0; j < k; j++) y[j] = (float)(y[j] * inv);
}

/* dx += y * (dy - t) with t = sum(dy * y), the scalar reduction sequential in double. */
DLC_INLINE void softmax_bwd_row_body(int64_t k, const float *restrict y,
                                     const float *restrict dy, float *restrict dx) {
    double t = 0.0;
    for (int64_t j = 0; j < k; j++) t += (double)dy[j] * y[j];
    float tf = (float)t;
#pragma omp simd
    for (int64_t j = 0; j < k; j++) dx[j] += y[j] * (dy[j] - tf);
}
DLC_SIMD_VARIANTS(softmax_bwd_row,
                  (int64_t k, const float *restrict y, const float *restrict dy,
                   float *restrict dx),
                  (k, y, dy, dx));

dlc_status dlc_softmax_forward(int64_t m, int64_t k, const float *x, float *y) {
    DLC_CHECK(m >= 0 && k >= 0 && (m == 0 || k <= INT64_MAX / m));
    DLC_CHECK(act_forward_ok(m * k, x, y));
    if (m == 0 || k == 0) return DLC_OK;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= ACT_PAR_MIN)
    for (int64_t i = 0; i < m; i++) softmax_fwd_row(k, x + i * k, y + i * k);
    return DLC_OK;
}

dlc_status dlc_softmax_backward(int64_t m, int64_t k, const float *y, const float *dy,
                                float *dx) {
    DLC_CHECK(m >= 0 && k >= 0 && (m == 0 || k <= INT64_MAX / m));
    DLC_CHECK(m * k == 0 || y != NULL);
    DLC_CHECK(act_backward_ok(m * k, y, NULL, dy, dx));
    if (m == 0 || k == 0) return DLC_OK;
    act_grad_fn f = DLC_SIMD_PICK(softmax_bwd_row);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= ACT_PAR_MIN)
    for (int64_t i = 0; i < m; i++) f(k, y + i * k, dy + i * k, dx + i * k);
    return DLC_OK;
}
