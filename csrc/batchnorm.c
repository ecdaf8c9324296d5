/* batchnorm.c - batch normalisation over x viewed as (m, c): statistics per channel.
 *
 * Reductions over the m rows (mean, variance, sum(dy), sum(dy * xhat)) are deterministic
 * whatever the thread count: the rows are cut into a fixed partition that depends on m only
 * (bn_chunk_rows), each chunk sums its rows in order into its own row of partials in the
 * workspace, in double, and the partials are then added in chunk order. The mean comes first
 * and the variance is a second pass over (x - mean)^2 (no E[x^2] - E[x]^2 cancellation).
 *
 * Every loop runs across channels (c is contiguous), so each lane is one channel and the
 * summation order per channel is the same in every SIMD path: the always-inline bodies are
 * compiled for the portable, AVX2+FMA and AVX-512 targets (DLC_SIMD_VARIANTS, internal.h),
 * ISO C11 without fast-math, and give the same bits in every path.
 */
#include "internal.h"

#include <math.h>

#define BN_MAX_CHUNKS 64  /* at most this many row chunks */
#define BN_MIN_ROWS 32    /* at least this many rows per chunk */
#define BN_PAR_MIN 32768  /* values below which one thread is used */
#define BN_CBLOCK 256     /* channels per block in inference (stack coefficients) */

/* Rows per chunk: a function of m alone (never of the thread count). */
static int64_t bn_chunk_rows(int64_t m) {
    int64_t r = (m + BN_MAX_CHUNKS - 1) / BN_MAX_CHUNKS;
    return r < BN_MIN_ROWS ? BN_MIN_ROWS : r;
}

static int64_t bn_chunks(int64_t m) {
    int64_t r = bn_chunk_rows(m);
    return m <= 0 ? 1 : (m + r - 1) / r;
}

/* Workspace layout: partials A (chunks x c doubles), partials B (chunks x c doubles),
 * coefficients (3 x c floats), each piece aligned. */
typedef struct {
    double *a, *b;
    float *k0, *k1, *k2;
} bn_ws;

static size_t bn_ws_bytes(int64_t m, int64_t c, size_t *part_bytes, size_t *coef_bytes) {
    size_t chunks = (size_t)bn_chunks(m);
    *part_bytes = dlc_align_up(chunks * (size_t)c * sizeof(double));
    *coef_bytes = dlc_align_up(3 * (size_t)c * sizeof(float));
    return 2 * *part_bytes + *coef_bytes;
}

/* Sizes small enough that the workspace size cannot overflow. */
static int bn_sizes_ok(int64_t m, int64_t c) {
    return m >= 0 && c >= 0 && c <= (INT64_MAX / 16) / BN_MAX_CHUNKS &&
           (c == 0 || m <= INT64_MAX / c);
}

size_t dlc_batchnorm_workspace_size(int64_t m, int64_t c) {
    if (!bn_sizes_ok(m, c)) return 0;
    size_t pb, cb;
    return bn_ws_bytes(m, c, &pb, &cb);
}

static dlc_status bn_carve(int64_t m, int64_t c, void *workspace, size_t workspace_size,
                           bn_ws *ws) {
    size_t pb, cb, need = bn_ws_bytes(m, c, &pb, &cb);
    if (workspace == NULL || workspace_size < need) return DLC_ENOMEM;
    DLC_CHECK(((uintptr_t)workspace % sizeof(double)) == 0);
    char *p = (char *)workspace;
    ws->a = (double *)p;
    ws->b = (double *)(p + pb);
    ws->k0 = (float *)(p + 2 * pb);
    ws->k1 = ws->k0 + c;
    ws->k2 = ws->k1 + c;
    return DLC_OK;
}

/* 1 if [a, a + abytes) and [b, b + bbytes) do not overlap (NULL never overlaps). */
static int bn_disjoint(const void *a, size_t abytes, const void *b, size_t bbytes) {
    if (a == NULL || b == NULL) return 1;
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return abytes == 0 || bbytes == 0 || pa + abytes <= pb || pb + bbytes <= pa;
}

/* 1 if every output buffer is disjoint from every input and from every other output. */
static int bn_outputs_disjoint(int nout, void *const *outs, const size_t *outb, int nin,
                               const void *const *ins, const size_t *inb) {
    for (int i = 0; i < nout; i++) {
        for (int j = 0; j < nin; j++)
            if (!bn_disjoint(outs[i], outb[i], ins[j], inb[j])) return 0;
        for (int j = i + 1; j < nout; j++)
            if (!bn_disjoint(outs[i], outb[i], outs[j], outb[j])) return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- channel loops */

/* acc[k] = sum over rows of x[r][k] (the chunk's partial row, overwritten). */
DLC_INLINE void bn_sum_body(int64_t rows, int64_t c, const float *restrict x,
                            double *restrict acc) {
    for (int64_t k = 0; k < c; k++) acc[k] = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
#pragma omp simd
        for (int64_t k = 0; k < c; k++) acc[k] += (double)xr[k];
    }
}
DLC_SIMD_VARIANTS(bn_sum, (int64_t rows, int64_t c, const float *restrict x, double *restrict acc),
                  (rows, c, x, acc));

/* acc[k] = sum over rows of (x[r][k] - mean[k])^2, in double. */
DLC_INLINE void bn_sqdev_body(int64_t rows, int64_t c, const float *restrict x,
                              const double *restrict mean, double *restrict acc) {
    for (int64_t k = 0; k < c; k++) acc[k] = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
#pragma omp simd
        for (int64_t k = 0; k < c; k++) {
            double d = (double)xr[k] - mean[k];
            acc[k] += d * d;
        }
    }
}
DLC_SIMD_VARIANTS(bn_sqdev,
                  (int64_t rows, int64_t c, const float *restrict x, const double *restrict mean,
                   double *restrict acc),
                  (rows, c, x, mean, acc));

/* y = (x - mu) * scale + shift over a block of kn channels of rows of stride c (kn = c: the
 * whole row, as training's pass 3 uses it); relu: then ReLU with dlc_relu_forward's formula
 * (v > 0 ? v : 0 * v + 0), a ReLU layer behind the batch norm fused into the store. */
DLC_INLINE void bn_affine_block_body(int64_t rows, int64_t c, int64_t kn,
                                     const float *restrict x, const float *restrict mu,
                                     const float *restrict scale, const float *restrict shift,
                                     float *restrict y, int relu) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
#pragma omp simd
        for (int64_t k = 0; k < kn; k++) {
            float v = (xr[k] - mu[k]) * scale[k] + shift[k];
            yr[k] = relu ? dlc_fsel(v > 0.0f, v, 0.0f * v + 0.0f) : v;
        }
    }
}
DLC_SIMD_VARIANTS(bn_affine_block,
                  (int64_t rows, int64_t c, int64_t kn, const float *restrict x,
                   const float *restrict mu, const float *restrict scale,
                   const float *restrict shift, float *restrict y, int relu),
                  (rows, c, kn, x, mu, scale, shift, y, relu));

/* dy as the batch norm sees it: with a fused ReLU behind it (mask: the ReLU's output), the
 * ReLU's backward 0 + dy * (mask > 0), exactly what dlc_relu_backward would have written. */
DLC_INLINE float bn_dy(const float *restrict dr, const float *restrict mr, int64_t k) {
    return mr ? 0.0f + dr[k] * dlc_fsel(mr[k] > 0.0f, 1.0f, 0.0f) : dr[k];
}

/* sdy[k] = sum dy, sdx[k] = sum dy * xhat with xhat = (x - mean) * invstd. */
DLC_INLINE void bn_bwd_sums_body(int64_t rows, int64_t c, const float *restrict x,
                                 const float *restrict dy, const float *restrict mask,
                                 const float *restrict mean, const float *restrict invstd,
                                 double *restrict sdy, double *restrict sdx) {
    for (int64_t k = 0; k < c; k++) sdy[k] = 0.0, sdx[k] = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * c, *dr = dy + r * c, *mr = mask ? mask + r * c : NULL;
#pragma omp simd
        for (int64_t k = 0; k < c; k++) {
            float xh = (xr[k] - mean[k]) * invstd[k], d = bn_dy(dr, mr, k);
            sdy[k] += (double)d;
            sdx[k] += (double)d * (double)xh;
        }
    }
}
DLC_SIMD_VARIANTS(bn_bwd_sums,
                  (int64_t rows, int64_t c, const float *restrict x, const float *restrict dy,
                   const float *restrict mask, const float *restrict mean,
                   const float *restrict invstd, double *restrict sdy, double *restrict sdx),
                  (rows, c, x, dy, mask, mean, invstd, sdy, sdx));

/* dx (+)= g * (dy - mdy - xhat * mdx), g = gamma * invstd, mdy = mean(dy), mdx = mean(dy*xhat);
 * without acc, dx = 0 + that (the bits of a zeroed dx plus it). */
DLC_INLINE void bn_bwd_dx_body(int64_t rows, int64_t c, const float *restrict x,
                               const float *restrict dy, const float *restrict mask,
                               const float *restrict mean, const float *restrict invstd,
                               const float *restrict g, const float *restrict mdy,
                               const float *restrict mdx, float *restrict dx, int acc) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * c, *dr = dy + r * c, *mr = mask ? mask + r * c : NULL;
        float *dxr = dx + r * c;
#pragma omp simd
        for (int64_t k = 0; k < c; k++) {
            float xh = (xr[k] - mean[k]) * invstd[k];
            float v = g[k] * (bn_dy(dr, mr, k) - mdy[k] - xh * mdx[k]);
            dxr[k] = (acc ? dxr[k] : 0.0f) + v;
        }
    }
}
DLC_SIMD_VARIANTS(bn_bwd_dx,
                  (int64_t rows, int64_t c, const float *restrict x, const float *restrict dy,
                   const float *restrict mask, const float *restrict mean,
                   const float *restrict invstd, const float *restrict g,
                   const float *restrict mdy, const float *restrict mdx, float *restrict dx,
                   int acc),
                  (rows, c, x, dy, mask, mean, invstd, g, mdy, mdx, dx, acc));

/* parts (chunks x c) summed over chunks in chunk order into out (c). */
static void bn_reduce(int64_t chunks, int64_t c, const double *parts, double *out) {
    for (int64_t k = 0; k < c; k++) out[k] = parts[k];
    for (int64_t q = 1; q < chunks; q++)
        for (int64_t k = 0; k < c; k++) out[k] += parts[q * c + k];
}

/* ---------------------------------------------------------------- kernels */

dlc_status dlc_batchnorm_forward_train(int64_t m, int64_t c, float eps, float momentum,
                                       const float *x, const float *gamma, const float *beta,
                                       float *y, float *mean, float *invstd,
                                       float *moving_mean, float *moving_var, int relu,
                                       void *workspace, size_t workspace_size) {
    DLC_CHECK(bn_sizes_ok(m, c) && m > 0 && c > 0);
    DLC_CHECK(isfinite(eps) && eps >= 0.0f && isfinite(momentum));
    DLC_CHECK(x != NULL && y != NULL && mean != NULL && invstd != NULL &&
              moving_mean != NULL && moving_var != NULL);
    size_t xb = (size_t)(m * c) * sizeof(float), cb = (size_t)c * sizeof(float);
    const void *ins[3] = {x, gamma, beta};
    size_t inb[3] = {xb, cb, cb};
    void *outs[5] = {y, mean, invstd, moving_mean, moving_var};
    size_t outb[5] = {xb, cb, cb, cb, cb};
    DLC_CHECK(bn_outputs_disjoint(5, outs, outb, 3, ins, inb));
    bn_ws ws;
    dlc_status st = bn_carve(m, c, workspace, workspace_size, &ws);
    if (st != DLC_OK) return st;

    const int64_t rows = bn_chunk_rows(m), chunks = bn_chunks(m);
    const int par = m * c >= BN_PAR_MIN;
    double *stat = ws.b; /* chunk 0 of B holds the reduced statistic (c doubles) */

    /* Pass 1: mean. */
    void (*sum)(int64_t, int64_t, const float *, double *) = DLC_SIMD_PICK(bn_sum);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t q = 0; q < chunks; q++)
        sum(DLC_MIN(rows, m - q * rows), c, x + q * rows * c, ws.a + q * c);
    bn_reduce(chunks, c, ws.a, stat);
    for (int64_t k = 0; k < c; k++) stat[k] /= (double)m;

    /* Pass 2: biased variance about the mean. */
    void (*sqdev)(int64_t, int64_t, const float *, const double *, double *) =
        DLC_SIMD_PICK(bn_sqdev);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t q = 0; q < chunks; q++)
        sqdev(DLC_MIN(rows, m - q * rows), c, x + q * rows * c, stat, ws.a + q * c);
    for (int64_t k = 0; k < c; k++) {
        double mu = stat[k];
        double v = ws.a[k];
        for (int64_t q = 1; q < chunks; q++) v += ws.a[q * c + k];
        v /= (double)m;
        float mf = (float)mu, isf = (float)(1.0 / sqrt(v + (double)eps));
        mean[k] = mf;
        invstd[k] = isf;
        ws.k0[k] = (gamma ? gamma[k] : 1.0f) * isf; /* scale */
        ws.k1[k] = beta ? beta[k] : 0.0f;           /* shift */
        moving_mean[k] = moving_mean[k] * momentum + mf * (1.0f - momentum);
        moving_var[k] = moving_var[k] * momentum + (float)v * (1.0f - momentum);
    }

    /* Pass 3: y = (x - mean) * gamma * invstd + beta. */
    void (*aff)(int64_t, int64_t, int64_t, const float *, const float *, const float *,
                const float *, float *, int) = DLC_SIMD_PICK(bn_affine_block);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t q = 0; q < chunks; q++)
        aff(DLC_MIN(rows, m - q * rows), c, c, x + q * rows * c, mean, ws.k0, ws.k1,
            y + q * rows * c, relu != 0);
    return DLC_OK;
}

dlc_status dlc_batchnorm_forward_infer(int64_t m, int64_t c, float eps, const float *x,
                                       const float *gamma, const float *beta,
                                       const float *moving_mean, const float *moving_var,
                                       float *y, int relu) {
    DLC_CHECK(bn_sizes_ok(m, c) && c > 0);
    DLC_CHECK(isfinite(eps) && eps >= 0.0f);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x != NULL && y != NULL && moving_mean != NULL && moving_var != NULL);
    size_t xb = (size_t)(m * c) * sizeof(float), cb = (size_t)c * sizeof(float);
    DLC_CHECK(bn_disjoint(y, xb, x, xb) && bn_disjoint(y, xb, gamma, cb) &&
              bn_disjoint(y, xb, beta, cb) && bn_disjoint(y, xb, moving_mean, cb) &&
              bn_disjoint(y, xb, moving_var, cb));
    const int64_t rows = bn_chunk_rows(m), chunks = bn_chunks(m);
    const int par = m * c >= BN_PAR_MIN;
    void (*aff)(int64_t, int64_t, int64_t, const float *, const float *, const float *,
                const float *, float *, int) = DLC_SIMD_PICK(bn_affine_block);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t q = 0; q < chunks; q++) {
        int64_t r0 = q * rows, nr = DLC_MIN(rows, m - r0);
        float scale[BN_CBLOCK], shift[BN_CBLOCK];
        for (int64_t k0 = 0; k0 < c; k0 += BN_CBLOCK) {
            int64_t kn = DLC_MIN(BN_CBLOCK, c - k0);
            for (int64_t k = 0; k < kn; k++) {
                float isf = (float)(1.0 / sqrt((double)moving_var[k0 + k] + (double)eps));
                scale[k] = (gamma ? gamma[k0 + k] : 1.0f) * isf;
                shift[k] = beta ? beta[k0 + k] : 0.0f;
            }
            aff(nr, c, kn, x + r0 * c + k0, moving_mean + k0, scale, shift, y + r0 * c + k0,
                relu != 0);
        }
    }
    return DLC_OK;
}

dlc_status dlc_batchnorm_backward(int64_t m, int64_t c, const float *x, const float *dy,
                                  const float *gamma, const float *mean, const float *invstd,
                                  float *dx, float *dgamma, float *dbeta, const float *dy_mask,
                                  int accumulate, void *workspace, size_t workspace_size) {
    DLC_CHECK(bn_sizes_ok(m, c) && m > 0 && c > 0);
    DLC_CHECK(x != NULL && dy != NULL && mean != NULL && invstd != NULL && dx != NULL);
    size_t xb = (size_t)(m * c) * sizeof(float), cb = (size_t)c * sizeof(float);
    const void *ins[6] = {x, dy, gamma, mean, invstd, dy_mask};
    size_t inb[6] = {xb, xb, cb, cb, cb, xb};
    void *outs[3] = {dx, dgamma, dbeta};
    size_t outb[3] = {xb, cb, cb};
    DLC_CHECK(bn_outputs_disjoint(3, outs, outb, 6, ins, inb));
    bn_ws ws;
    dlc_status st = bn_carve(m, c, workspace, workspace_size, &ws);
    if (st != DLC_OK) return st;

    const int64_t rows = bn_chunk_rows(m), chunks = bn_chunks(m);
    const int par = m * c >= BN_PAR_MIN;

    /* Pass 1: per-chunk sum(dy) into A and sum(dy * xhat) into B. */
    void (*sums)(int64_t, int64_t, const float *, const float *, const float *, const float *,
                 const float *, double *, double *) = DLC_SIMD_PICK(bn_bwd_sums);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t q = 0; q < chunks; q++)
        sums(DLC_MIN(rows, m - q * rows), c, x + q * rows * c, dy + q * rows * c,
             dy_mask ? dy_mask + q * rows * c : NULL, mean, invstd, ws.a + q * c, ws.b + q * c);
    for (int64_t k = 0; k < c; k++) {
        double sdy = ws.a[k], sdx = ws.b[k];
        for (int64_t q = 1; q < chunks; q++) sdy += ws.a[q * c + k], sdx += ws.b[q * c + k];
        if (dbeta) dbeta[k] += (float)sdy;
        if (dgamma) dgamma[k] += (float)sdx;
        ws.k0[k] = (gamma ? gamma[k] : 1.0f) * invstd[k];
        ws.k1[k] = (float)(sdy / (double)m);
        ws.k2[k] = (float)(sdx / (double)m);
    }

    /* Pass 2: dx. */
    void (*dxf)(int64_t, int64_t, const float *, const float *, const float *, const float *,
                const float *, const float *, const float *, const float *, float *, int) =
        DLC_SIMD_PICK(bn_bwd_dx);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (par)
    for (int64_t q = 0; q < chunks; q++)
        dxf(DLC_MIN(rows, m - q * rows), c, x + q * rows * c, dy + q * rows * c,
            dy_mask ? dy_mask + q * rows * c : NULL, mean, invstd, ws.k0, ws.k1, ws.k2,
            dx + q * rows * c, accumulate != 0);
    return DLC_OK;
}
