/* layernorm.c - layer normalisation over the rows of x viewed as (m, k): statistics per row
 * (one sample's features), gamma and beta per column, Keras 3's LayerNormalization.
 *
 * Row statistics are sums over the row in double, in order (the mean first, then the biased
 * variance as a second pass over (x - mean)^2, no E[x^2] - E[x]^2 cancellation). The affine
 * loops run across the columns (contiguous) and are the same C for every SIMD path
 * (DLC_SIMD_VARIANTS, internal.h): each lane is one column, so every path gives the same bits.
 *
 * Threads: forward and the input gradient split the rows; dgamma and dbeta split the columns
 * into blocks of LN_CBLOCK, each summing every row in order into double accumulators. Each
 * value is computed by one thread in an order fixed by the sizes: results do not depend on
 * the thread count, and no workspace is needed.
 */
#include "internal.h"

#include <math.h>

#define LN_PAR_MIN 32768 /* values below which one thread is used */
#define LN_CBLOCK 64     /* columns per block of the gamma / beta gradients */

/* mean and 1 / sqrt(var + eps) of one row, in double, rounded to float once. */
static void ln_stats(int64_t k, const float *x, float eps, float *mean, float *invstd) {
    double s = 0.0;
    for (int64_t j = 0; j < k; j++) s += (double)x[j];
    const double mu = s / (double)k;
    double v = 0.0;
    for (int64_t j = 0; j < k; j++) {
        double d = (double)x[j] - mu;
        v += d * d;
    }
    *mean = (float)mu;
    *invstd = (float)(1.0 / sqrt(v / (double)k + (double)eps));
}

/* y = (x - mu) * s * gamma + beta, gamma / beta optional (1 / 0). */
DLC_INLINE void ln_affine_body(int64_t k, const float *restrict x, float mu, float s,
                               const float *restrict gamma, const float *restrict beta,
                               float *restrict y) {
    if (gamma && beta) {
#pragma omp simd
        for (int64_t j = 0; j < k; j++) y[j] = (x[j] - mu) * s * gamma[j] + beta[j];
    } else if (gamma) {
#pragma omp simd
        for (int64_t j = 0; j < k; j++) y[j] = (x[j] - mu) * s * gamma[j];
    } else if (beta) {
#pragma omp simd
        for (int64_t j = 0; j < k; j++) y[j] = (x[j] - mu) * s + beta[j];
    } else {
#pragma omp simd
        for (int64_t j = 0; j < k; j++) y[j] = (x[j] - mu) * s;
    }
}
DLC_SIMD_VARIANTS(ln_affine, (int64_t k, const float *restrict x, float mu, float s,
                              const float *restrict gamma, const float *restrict beta,
                              float *restrict y),
                  (k, x, mu, s, gamma, beta, y));

/* Over the columns of one row: ag[j] += dy * xhat, ab[j] += dy, with xhat = (x - mu) * s. */
DLC_INLINE void ln_colsum_body(int64_t k, const float *restrict x, const float *restrict dy,
                               float mu, float s, double *restrict ag, double *restrict ab) {
#pragma omp simd
    for (int64_t j = 0; j < k; j++) {
        float xhat = (x[j] - mu) * s;
        ag[j] += (double)dy[j] * (double)xhat;
        ab[j] += (double)dy[j];
    }
}
DLC_SIMD_VARIANTS(ln_colsum, (int64_t k, const float *restrict x, const float *restrict dy,
                              float mu, float s, double *restrict ag, double *restrict ab),
                  (k, x, dy, mu, s, ag, ab));

typedef void (*ln_affine_fn)(int64_t, const float *, float, float, const float *, const float *,
                             float *);
typedef void (*ln_colsum_fn)(int64_t, const float *, const float *, float, float, double *,
                             double *);

static int ln_sizes_ok(int64_t m, int64_t k) { return m >= 0 && k >= 1 && m <= INT64_MAX / k; }

dlc_status dlc_layernorm_forward(int64_t m, int64_t k, float eps, const float *x,
                                 const float *gamma, const float *beta, float *y, float *mean,
                                 float *invstd) {
    DLC_CHECK(ln_sizes_ok(m, k));
    DLC_CHECK(eps >= 0.0f && eps <= 3.4e38f);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && y && mean && invstd);
    ln_affine_fn affine = DLC_SIMD_PICK(ln_affine);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= LN_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k;
        ln_stats(k, xr, eps, mean + i, invstd + i);
        affine(k, xr, mean[i], invstd[i], gamma, beta, y + i * k);
    }
    return DLC_OK;
}

/* With g = dy * gamma and xhat = (x - mean) * invstd, per row:
 * dx += invstd * (g - mean(g) - xhat * mean(g * xhat)). */
dlc_status dlc_layernorm_backward(int64_t m, int64_t k, const float *x, const float *dy,
                                  const float *gamma, const float *mean, const float *invstd,
                                  float *dx, float *dgamma, float *dbeta) {
    DLC_CHECK(ln_sizes_ok(m, k));
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && dy && mean && invstd);
    if (dx) {
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= LN_PAR_MIN)
        for (int64_t i = 0; i < m; i++) {
            const float *xr = x + i * k, *gr = dy + i * k;
            float *d = dx + i * k;
            const float mu = mean[i], s = invstd[i];
            double sg = 0.0, sgx = 0.0;
            for (int64_t j = 0; j < k; j++) {
                double g = (double)gr[j] * (gamma ? (double)gamma[j] : 1.0);
                sg += g;
                sgx += g * (double)((xr[j] - mu) * s);
            }
            const double a = sg / (double)k, b = sgx / (double)k;
            for (int64_t j = 0; j < k; j++) {
                double g = (double)gr[j] * (gamma ? (double)gamma[j] : 1.0);
                double xhat = (double)((xr[j] - mu) * s);
                d[j] += (float)((double)s * (g - a - xhat * b));
            }
        }
    }
    if (dgamma || dbeta) {
        ln_colsum_fn colsum = DLC_SIMD_PICK(ln_colsum);
        const int64_t nblocks = (k + LN_CBLOCK - 1) / LN_CBLOCK;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= LN_PAR_MIN)
        for (int64_t blk = 0; blk < nblocks; blk++) {
            const int64_t j0 = blk * LN_CBLOCK, len = DLC_MIN(LN_CBLOCK, k - j0);
            double ag[LN_CBLOCK] = {0}, ab[LN_CBLOCK] = {0};
            for (int64_t i = 0; i < m; i++)
                colsum(len, x + i * k + j0, dy + i * k + j0, mean[i], invstd[i], ag, ab);
            for (int64_t j = 0; j < len; j++) {
                if (dgamma) dgamma[j0 + j] += (float)ag[j];
                if (dbeta) dbeta[j0 + j] += (float)ab[j];
            }
        }
    }
    return DLC_OK;
}
