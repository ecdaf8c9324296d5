/* noise.c - the random regularisation kernels beside dropout: spatial dropout (whole channels
 * per sample), additive Gaussian noise and multiplicative Gaussian ("Gaussian dropout") noise.
 *
 * Every random number comes from dropout.c's stream, Philox-4x32-10 keyed by (seed, step, i):
 * uniform(seed, step, i) is word i % 4 of the block with counter (b_lo, b_hi, step_lo, step_hi),
 * b = i / 4, and key (seed_lo, seed_hi), its 24 high bits times 2^-24 (see dlc.h). Blocks are
 * made with the public dlc_philox4x32_10, so the two files cannot drift apart.
 *  - Spatial dropout keeps channel ch of sample i when uniform(seed, step, i * c + ch) >= rate:
 *    the mask dlc_dropout_forward would draw for an (n, c) array.
 *  - normal(seed, step, i) is Box-Muller on the pair of uniforms (u1, u2) at indices 2j, 2j + 1,
 *    j = i / 2, in double: r = sqrt(-2 log(1 - u1)) (1 - u1 in (0, 1]), and r cos(2 pi u2) for
 *    even i, r sin(2 pi u2) for odd i, rounded to float. |normal| <= sqrt(48 log 2) ~ 5.77.
 * Every value is a pure function of (seed, step, index), so nothing depends on the thread count
 * or the SIMD level (the transcendental functions are scalar libm calls; the one vectorised
 * loop, spatial dropout's, is the same C for every path through DLC_SIMD_VARIANTS).
 */
#include "internal.h"

#include <math.h>

#define NOISE_PAR_MIN 65536 /* values below which one thread is used */
#define NOISE_CHUNK 1024    /* normals per parallel chunk, a multiple of 4 */

/* The 4 uniforms of block b. */
static void philox_uniform4(uint64_t seed, uint64_t step, uint64_t b, float u[4]) {
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)step,
                             (uint32_t)(step >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[4];
    (void)dlc_philox4x32_10(ctr, key, w);
    for (int j = 0; j < 4; j++) u[j] = (float)(w[j] >> 8) * 0x1.0p-24f;
}

/* The 4 normals of block b: Box-Muller on (u0, u1) and on (u2, u3). */
static void philox_normal4(uint64_t seed, uint64_t step, uint64_t b, float z[4]) {
    float u[4];
    philox_uniform4(seed, step, b, u);
    for (int j = 0; j < 4; j += 2) {
        double r = sqrt(-2.0 * log(1.0 - (double)u[j]));
        double a = 6.283185307179586477 * (double)u[j + 1];
        z[j] = (float)(r * cos(a));
        z[j + 1] = (float)(r * sin(a));
    }
}

/* out[i] = x[i] + stddev * z (op 0), z (op 1, x unused), or noise[i] = 1 + stddev * z and
 * out[i] = x[i] * noise[i] (op 2), for the normals z of elements [0, n). */
static void normal_apply(int op, int64_t n, float stddev, uint64_t seed, uint64_t step,
                         const float *x, float *out, float *noise) {
    const int64_t nc = (n + NOISE_CHUNK - 1) / NOISE_CHUNK;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= NOISE_PAR_MIN)
    for (int64_t c = 0; c < nc; c++) {
        const int64_t i1 = DLC_MIN(n, (c + 1) * NOISE_CHUNK);
        for (int64_t i = c * NOISE_CHUNK; i < i1; i += 4) {
            float z[4];
            philox_normal4(seed, step, (uint64_t)(i / 4), z);
            for (int64_t j = 0; j < 4 && i + j < i1; j++) {
                const int64_t e = i + j;
                if (op == 0) {
                    out[e] = x[e] + stddev * z[j];
                } else if (op == 1) {
                    out[e] = z[j];
                } else {
                    noise[e] = 1.0f + stddev * z[j];
                    out[e] = x[e] * noise[e];
                }
            }
        }
    }
}

#define STDDEV_OK(s) ((s) >= 0.0f && (s) <= 3.4e38f) /* finite, refuses NaN */

dlc_status dlc_philox_normal(int64_t n, uint64_t seed, uint64_t step, float *out) {
    DLC_CHECK(n >= 0);
    if (n == 0) return DLC_OK;
    DLC_CHECK(out);
    normal_apply(1, n, 0.0f, seed, step, NULL, out, NULL);
    return DLC_OK;
}

dlc_status dlc_gaussian_noise_forward(int64_t n, float stddev, uint64_t seed, uint64_t step,
                                      const float *x, float *y) {
    DLC_CHECK(n >= 0 && STDDEV_OK(stddev));
    if (n == 0) return DLC_OK;
    DLC_CHECK(x && y);
    normal_apply(0, n, stddev, seed, step, x, y, NULL);
    return DLC_OK;
}

dlc_status dlc_gaussian_dropout_forward(int64_t n, float stddev, uint64_t seed, uint64_t step,
                                        const float *x, float *y, float *noise) {
    DLC_CHECK(n >= 0 && STDDEV_OK(stddev));
    if (n == 0) return DLC_OK;
    DLC_CHECK(x && y && noise);
    normal_apply(2, n, stddev, seed, step, x, y, noise);
    return DLC_OK;
}

dlc_status dlc_gaussian_dropout_backward(int64_t n, const float *noise, const float *dy,
                                         float *dx) {
    DLC_CHECK(n >= 0);
    if (n == 0) return DLC_OK;
    DLC_CHECK(noise && dy && dx);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= NOISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * noise[i];
    return DLC_OK;
}

/* ---------------------------------------------------------------- spatial dropout */

/* y[j] (+)= keep[j] ? v[j] * s : 0 over one row of channels (channels-last); a dropped
 * element is +0 even when v is inf or NaN. acc: accumulate (backward) instead of writing. */
DLC_INLINE void sd_row_body(int64_t c, int acc, float s, const uint8_t *restrict keep,
                            const float *restrict v, float *restrict y) {
    if (acc) {
#pragma omp simd
        for (int64_t j = 0; j < c; j++) y[j] += keep[j] ? v[j] * s : 0.0f;
    } else {
#pragma omp simd
        for (int64_t j = 0; j < c; j++) y[j] = keep[j] ? v[j] * s : 0.0f;
    }
}
DLC_SIMD_VARIANTS(sd_row, (int64_t c, int acc, float s, const uint8_t *restrict keep,
                           const float *restrict v, float *restrict y),
                  (c, acc, s, keep, v, y));

/* y (+)= v * s over a plane of hw values (channels-first, kept), or 0 (dropped, written). */
DLC_INLINE void sd_plane_body(int64_t hw, int acc, int keep, float s, const float *restrict v,
                              float *restrict y) {
    if (acc && keep) {
#pragma omp simd
        for (int64_t j = 0; j < hw; j++) y[j] += v[j] * s;
    } else if (keep) {
#pragma omp simd
        for (int64_t j = 0; j < hw; j++) y[j] = v[j] * s;
    } else if (!acc) {
        for (int64_t j = 0; j < hw; j++) y[j] = 0.0f;
    }
}
DLC_SIMD_VARIANTS(sd_plane, (int64_t hw, int acc, int keep, float s, const float *restrict v,
                             float *restrict y),
                  (hw, acc, keep, s, v, y));

typedef void (*sd_row_fn)(int64_t, int, float, const uint8_t *, const float *, float *);
typedef void (*sd_plane_fn)(int64_t, int, int, float, const float *, float *);

static int sd_sizes_ok(int64_t n, int64_t hw, int64_t c) {
    int64_t t;
    return n >= 0 && hw >= 0 && c >= 0 && !__builtin_mul_overflow(n, hw, &t) &&
           !__builtin_mul_overflow(t, c, &t);
}

/* y (or dx, acc) from v (x or dy) and the mask (n, c), either layout. */
static void sd_apply(int64_t n, int64_t hw, int64_t c, int channels_first, int acc, float s,
                     const uint8_t *mask, const float *v, float *y) {
    const int64_t rows = channels_first ? n * c : n * hw;
    const int par = n * hw * c >= NOISE_PAR_MIN;
    if (channels_first) {
        sd_plane_fn plane = DLC_SIMD_PICK(sd_plane);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
        for (int64_t r = 0; r < rows; r++) plane(hw, acc, mask[r] != 0, s, v + r * hw, y + r * hw);
    } else {
        sd_row_fn row = DLC_SIMD_PICK(sd_row);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
        for (int64_t r = 0; r < rows; r++) row(c, acc, s, mask + (r / hw) * c, v + r * c, y + r * c);
    }
}

dlc_status dlc_spatial_dropout_forward(int64_t n, int64_t hw, int64_t c, int channels_first,
                                       float rate, uint64_t seed, uint64_t step, const float *x,
                                       float *y, uint8_t *mask) {
    DLC_CHECK(sd_sizes_ok(n, hw, c));
    DLC_CHECK(rate >= 0.0f && rate < 1.0f); /* also refuses NaN */
    if (n == 0 || c == 0) return DLC_OK;
    DLC_CHECK(mask && (hw == 0 || (x && y)));
    const int64_t nm = n * c;
    for (int64_t b = 0; b < (nm + 3) / 4; b++) {
        float u[4];
        philox_uniform4(seed, step, (uint64_t)b, u);
        for (int64_t j = 0; j < 4 && 4 * b + j < nm; j++) mask[4 * b + j] = (uint8_t)(u[j] >= rate);
    }
    if (hw == 0) return DLC_OK;
    sd_apply(n, hw, c, channels_first, 0, 1.0f / (1.0f - rate), mask, x, y);
    return DLC_OK;
}

dlc_status dlc_spatial_dropout_backward(int64_t n, int64_t hw, int64_t c, int channels_first,
                                        float rate, const uint8_t *mask, const float *dy,
                                        float *dx) {
    DLC_CHECK(sd_sizes_ok(n, hw, c));
    DLC_CHECK(rate >= 0.0f && rate < 1.0f);
    if (n == 0 || c == 0 || hw == 0) return DLC_OK;
    DLC_CHECK(mask && dy && dx);
    sd_apply(n, hw, c, channels_first, 1, 1.0f / (1.0f - rate), mask, dy, dx);
    return DLC_OK;
}
