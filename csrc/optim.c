/* optim.c - fused optimizer updates over flat float32 buffers, Keras 3 formulas.
 *
 * Each update is elementwise, so any split of the elements among threads gives the same bits.
 * The buffer is cut into fixed chunks; each chunk runs one "range" function chosen once per
 * call from the SIMD level. The AVX2 and AVX-512 paths evaluate the very same expressions, in
 * the same order, as the portable one (no FMA contraction: the build is ISO C11, so
 * -ffp-contract=off, and the intrinsics use separate multiplies and adds), so every path gives
 * bit-identical results; their tails run the portable code.
 *
 * Weight decay is decoupled as in Keras 3: w = w - w * (lr * weight_decay) before the update,
 * skipped entirely when weight_decay == 0.
 */
#include "internal.h"

#include <float.h>
#include <math.h>

#if DLC_X86
#include <immintrin.h>
#endif

#define OPT_CHUNK 8192     /* elements per work item */
#define OPT_PAR_MIN 131072 /* below this one thread is faster than a team */

typedef void (*range_fn)(const void *args, int64_t i0, int64_t i1);

static void run_chunks(int64_t n, range_fn f, const void *args) {
    int64_t nc = (n + OPT_CHUNK - 1) / OPT_CHUNK;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= OPT_PAR_MIN)
    for (int64_t c = 0; c < nc; c++) f(args, c * OPT_CHUNK, DLC_MIN(n, (c + 1) * OPT_CHUNK));
}

static inline int finite_nonneg(float x) { return x >= 0.0f && x <= FLT_MAX; }
static inline int in_unit(float x) { return x >= 0.0f && x <= 1.0f; }      /* [0, 1] */
static inline int in_unit_open(float x) { return x >= 0.0f && x < 1.0f; }  /* [0, 1) */

/* Checks shared by every optimizer. */
static dlc_status common_check(int64_t n, float lr, float weight_decay, const float *w,
                               const float *g) {
    DLC_CHECK(n >= 0);
    DLC_CHECK(finite_nonneg(lr) && finite_nonneg(weight_decay));
    DLC_CHECK(n == 0 || (w != NULL && g != NULL));
    return DLC_OK;
}

/* The decay factor lr * weight_decay, rounded once to float. */
static inline float decay_factor(float lr, float weight_decay) {
    return (float)((double)lr * (double)weight_decay);
}

/* ================================================================ SGD */

typedef struct {
    float lr, momentum, decay;
    int nesterov, has_decay;
    float *w, *v;
    const float *g;
} sgd_args;

/* No square roots: the compiler vectorises these loops on every path, so one version serves. */
static void sgd_range(const void *pa, int64_t i0, int64_t i1) {
    const sgd_args *a = pa;
    float *restrict w = a->w, *restrict v = a->v;
    const float *restrict g = a->g;
    const float lr = a->lr, mu = a->momentum, c = a->decay;
    const int dec = a->has_decay;
    if (mu == 0.0f) {
        for (int64_t i = i0; i < i1; i++) {
            float wi = dec ? w[i] - w[i] * c : w[i];
            w[i] = wi - g[i] * lr;
        }
    } else if (!a->nesterov) {
        for (int64_t i = i0; i < i1; i++) {
            float wi = dec ? w[i] - w[i] * c : w[i];
            float vi = v[i] * mu - g[i] * lr;
            v[i] = vi;
            w[i] = wi + vi;
        }
    } else {
        for (int64_t i = i0; i < i1; i++) {
            float wi = dec ? w[i] - w[i] * c : w[i];
            float vi = v[i] * mu - g[i] * lr;
            v[i] = vi;
            w[i] = wi + (vi * mu - g[i] * lr);
        }
    }
}

dlc_status dlc_sgd_step(int64_t n, float lr, float momentum, int nesterov, float weight_decay,
                        float *w, const float *g, float *v) {
    dlc_status st = common_check(n, lr, weight_decay, w, g);
    if (st != DLC_OK) return st;
    DLC_CHECK(in_unit(momentum));
    DLC_CHECK(n == 0 || momentum == 0.0f || v != NULL);
    if (n == 0) return DLC_OK;
    sgd_args a = {lr, momentum, decay_factor(lr, weight_decay), nesterov != 0,
                  weight_decay != 0.0f, w, v, g};
    run_chunks(n, sgd_range, &a);
    return DLC_OK;
}

/* ================================================================ Adagrad */

typedef struct {
    float lr, eps, decay;
    int has_decay;
    float *w, *acc;
    const float *g;
} adagrad_args;

static void adagrad_generic(const void *pa, int64_t i0, int64_t i1) {
    const adagrad_args *a = pa;
    for (int64_t i = i0; i < i1; i++) {
        float wi = a->w[i], gi = a->g[i];
        if (a->has_decay) wi = wi - wi * a->decay;
        float acc = a->acc[i] + gi * gi;
        a->acc[i] = acc;
        a->w[i] = wi - (a->lr * gi) / sqrtf(acc + a->eps);
    }
}

#if DLC_X86
DLC_TARGET_AVX2 static void adagrad_avx2(const void *pa, int64_t i0, int64_t i1) {
    const adagrad_args *a = pa;
    const __m256 lr = _mm256_set1_ps(a->lr), eps = _mm256_set1_ps(a->eps);
    const __m256 c = _mm256_set1_ps(a->decay);
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) {
        __m256 w = _mm256_loadu_ps(a->w + i), g = _mm256_loadu_ps(a->g + i);
        if (a->has_decay) w = _mm256_sub_ps(w, _mm256_mul_ps(w, c));
        __m256 acc = _mm256_add_ps(_mm256_loadu_ps(a->acc + i), _mm256_mul_ps(g, g));
        _mm256_storeu_ps(a->acc + i, acc);
        __m256 inc = _mm256_div_ps(_mm256_mul_ps(lr, g), _mm256_sqrt_ps(_mm256_add_ps(acc, eps)));
        _mm256_storeu_ps(a->w + i, _mm256_sub_ps(w, inc));
    }
    adagrad_generic(pa, i, i1);
}

DLC_TARGET_AVX512 static void adagrad_avx512(const void *pa, int64_t i0, int64_t i1) {
    const adagrad_args *a = pa;
    const __m512 lr = _mm512_set1_ps(a->lr), eps = _mm512_set1_ps(a->eps);
    const __m512 c = _mm512_set1_ps(a->decay);
    int64_t i = i0;
    for (; i + 16 <= i1; i += 16) {
        __m512 w = _mm512_loadu_ps(a->w + i), g = _mm512_loadu_ps(a->g + i);
        if (a->has_decay) w = _mm512_sub_ps(w, _mm512_mul_ps(w, c));
        __m512 acc = _mm512_add_ps(_mm512_loadu_ps(a->acc + i), _mm512_mul_ps(g, g));
        _mm512_storeu_ps(a->acc + i, acc);
        __m512 inc = _mm512_div_ps(_mm512_mul_ps(lr, g), _mm512_sqrt_ps(_mm512_add_ps(acc, eps)));
        _mm512_storeu_ps(a->w + i, _mm512_sub_ps(w, inc));
    }
    adagrad_generic(pa, i, i1);
}
#endif

static range_fn adagrad_kernel(void) {
#if DLC_X86
    dlc_simd_level level = dlc_simd_get();
    if (level >= DLC_SIMD_AVX512) return adagrad_avx512;
    if (level >= DLC_SIMD_AVX2) return adagrad_avx2;
#endif
    return adagrad_generic;
}

dlc_status dlc_adagrad_step(int64_t n, float lr, float eps, float weight_decay, float *w,
                            const float *g, float *acc) {
    dlc_status st = common_check(n, lr, weight_decay, w, g);
    if (st != DLC_OK) return st;
    DLC_CHECK(finite_nonneg(eps));
    if (n == 0) return DLC_OK;
    DLC_CHECK(acc != NULL);
    adagrad_args a = {lr, eps, decay_factor(lr, weight_decay), weight_decay != 0.0f, w, acc, g};
    run_chunks(n, adagrad_kernel(), &a);
    return DLC_OK;
}

/* ================================================================ RMSprop */

typedef struct {
    float lr, rho, one_minus_rho, momentum, eps, decay;
    int centered, has_decay;
    float *w, *v, *mom, *avg;
    const float *g;
} rmsprop_args;

static void rmsprop_generic(const void *pa, int64_t i0, int64_t i1) {
    const rmsprop_args *a = pa;
    const float rho = a->rho, c = a->one_minus_rho;
    for (int64_t i = i0; i < i1; i++) {
        float wi = a->w[i], gi = a->g[i];
        if (a->has_decay) wi = wi - wi * a->decay;
        float v = rho * a->v[i] + c * (gi * gi);
        a->v[i] = v;
        float den;
        if (a->centered) {
            float avg = rho * a->avg[i] + c * gi;
            a->avg[i] = avg;
            den = (v - avg * avg) + a->eps;
        } else {
            den = v + a->eps;
        }
        float inc = (a->lr * gi) / sqrtf(den);
        if (a->momentum > 0.0f) {
            float mo = a->momentum * a->mom[i] + inc;
            a->mom[i] = mo;
            a->w[i] = wi - mo;
        } else {
            a->w[i] = wi - inc;
        }
    }
}

#if DLC_X86
DLC_TARGET_AVX2 static void rmsprop_avx2(const void *pa, int64_t i0, int64_t i1) {
    const rmsprop_args *a = pa;
    const __m256 lr = _mm256_set1_ps(a->lr), rho = _mm256_set1_ps(a->rho);
    const __m256 c = _mm256_set1_ps(a->one_minus_rho), eps = _mm256_set1_ps(a->eps);
    const __m256 mu = _mm256_set1_ps(a->momentum), dc = _mm256_set1_ps(a->decay);
    const int use_mom = a->momentum > 0.0f;
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) {
        __m256 w = _mm256_loadu_ps(a->w + i), g = _mm256_loadu_ps(a->g + i);
        if (a->has_decay) w = _mm256_sub_ps(w, _mm256_mul_ps(w, dc));
        __m256 v = _mm256_add_ps(_mm256_mul_ps(rho, _mm256_loadu_ps(a->v + i)),
                                 _mm256_mul_ps(c, _mm256_mul_ps(g, g)));
        _mm256_storeu_ps(a->v + i, v);
        __m256 den;
        if (a->centered) {
            __m256 avg = _mm256_add_ps(_mm256_mul_ps(rho, _mm256_loadu_ps(a->avg + i)),
                                       _mm256_mul_ps(c, g));
            _mm256_storeu_ps(a->avg + i, avg);
            den = _mm256_add_ps(_mm256_sub_ps(v, _mm256_mul_ps(avg, avg)), eps);
        } else {
            den = _mm256_add_ps(v, eps);
        }
        __m256 inc = _mm256_div_ps(_mm256_mul_ps(lr, g), _mm256_sqrt_ps(den));
        if (use_mom) {
            __m256 mo = _mm256_add_ps(_mm256_mul_ps(mu, _mm256_loadu_ps(a->mom + i)), inc);
            _mm256_storeu_ps(a->mom + i, mo);
            inc = mo;
        }
        _mm256_storeu_ps(a->w + i, _mm256_sub_ps(w, inc));
    }
    rmsprop_generic(pa, i, i1);
}

DLC_TARGET_AVX512 static void rmsprop_avx512(const void *pa, int64_t i0, int64_t i1) {
    const rmsprop_args *a = pa;
    const __m512 lr = _mm512_set1_ps(a->lr), rho = _mm512_set1_ps(a->rho);
    const __m512 c = _mm512_set1_ps(a->one_minus_rho), eps = _mm512_set1_ps(a->eps);
    const __m512 mu = _mm512_set1_ps(a->momentum), dc = _mm512_set1_ps(a->decay);
    const int use_mom = a->momentum > 0.0f;
    int64_t i = i0;
    for (; i + 16 <= i1; i += 16) {
        __m512 w = _mm512_loadu_ps(a->w + i), g = _mm512_loadu_ps(a->g + i);
        if (a->has_decay) w = _mm512_sub_ps(w, _mm512_mul_ps(w, dc));
        __m512 v = _mm512_add_ps(_mm512_mul_ps(rho, _mm512_loadu_ps(a->v + i)),
                                 _mm512_mul_ps(c, _mm512_mul_ps(g, g)));
        _mm512_storeu_ps(a->v + i, v);
        __m512 den;
        if (a->centered) {
            __m512 avg = _mm512_add_ps(_mm512_mul_ps(rho, _mm512_loadu_ps(a->avg + i)),
                                       _mm512_mul_ps(c, g));
            _mm512_storeu_ps(a->avg + i, avg);
            den = _mm512_add_ps(_mm512_sub_ps(v, _mm512_mul_ps(avg, avg)), eps);
        } else {
            den = _mm512_add_ps(v, eps);
        }
        __m512 inc = _mm512_div_ps(_mm512_mul_ps(lr, g), _mm512_sqrt_ps(den));
        if (use_mom) {
            __m512 mo = _mm512_add_ps(_mm512_mul_ps(mu, _mm512_loadu_ps(a->mom + i)), inc);
            _mm512_storeu_ps(a->mom + i, mo);
            inc = mo;
        }
        _mm512_storeu_ps(a->w + i, _mm512_sub_ps(w, inc));
    }
    rmsprop_generic(pa, i, i1);
}
#endif

static range_fn rmsprop_kernel(void) {
#if DLC_X86
    dlc_simd_level level = dlc_simd_get();
    if (level >= DLC_SIMD_AVX512) return rmsprop_avx512;
    if (level >= DLC_SIMD_AVX2) return rmsprop_avx2;
#endif
    return rmsprop_generic;
}

dlc_status dlc_rmsprop_step(int64_t n, float lr, float rho, float momentum, float eps,
                            int centered, float weight_decay, float *w, const float *g,
                            float *v, float *mom, float *avg) {
    dlc_status st = common_check(n, lr, weight_decay, w, g);
    if (st != DLC_OK) return st;
    DLC_CHECK(in_unit(rho) && in_unit(momentum) && finite_nonneg(eps));
    if (n == 0) return DLC_OK;
    DLC_CHECK(v != NULL);
    DLC_CHECK(momentum == 0.0f || mom != NULL);
    DLC_CHECK(!centered || avg != NULL);
    rmsprop_args a = {lr,  rho, 1.0f - rho, momentum, eps, decay_factor(lr, weight_decay),
                      centered != 0, weight_decay != 0.0f, w, v, mom, avg, g};
    run_chunks(n, rmsprop_kernel(), &a);
    return DLC_OK;
}

/* ================================================================ Adam */

typedef struct {
    float alpha, c1, c2, eps, decay; /* c1 = 1 - beta1, c2 = 1 - beta2 */
    int amsgrad, has_decay;
    float *w, *m, *v, *vhat;
    const float *g;
} adam_args;

static void adam_generic(const void *pa, int64_t i0, int64_t i1) {
    const adam_args *a = pa;
    for (int64_t i = i0; i < i1; i++) {
        float wi = a->w[i], gi = a->g[i];
        if (a->has_decay) wi = wi - wi * a->decay;
        float m = a->m[i] + (gi - a->m[i]) * a->c1;
        float v = a->v[i] + (gi * gi - a->v[i]) * a->c2;
        a->m[i] = m;
        a->v[i] = v;
        if (a->amsgrad) {
            float h = a->vhat[i] > v ? a->vhat[i] : v; /* as _mm_max_ps(vhat, v) */
            a->vhat[i] = h;
            v = h;
        }
        a->w[i] = wi - (m * a->alpha) / (sqrtf(v) + a->eps);
    }
}

#if DLC_X86
DLC_TARGET_AVX2 static void adam_avx2(const void *pa, int64_t i0, int64_t i1) {
    const adam_args *a = pa;
    const __m256 alpha = _mm256_set1_ps(a->alpha), c1 = _mm256_set1_ps(a->c1);
    const __m256 c2 = _mm256_set1_ps(a->c2), eps = _mm256_set1_ps(a->eps);
    const __m256 dc = _mm256_set1_ps(a->decay);
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) {
        __m256 w = _mm256_loadu_ps(a->w + i), g = _mm256_loadu_ps(a->g + i);
        if (a->has_decay) w = _mm256_sub_ps(w, _mm256_mul_ps(w, dc));
        __m256 m = _mm256_loadu_ps(a->m + i), v = _mm256_loadu_ps(a->v + i);
        m = _mm256_add_ps(m, _mm256_mul_ps(_mm256_sub_ps(g, m), c1));
        v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(g, g), v), c2));
        _mm256_storeu_ps(a->m + i, m);
        _mm256_storeu_ps(a->v + i, v);
        if (a->amsgrad) {
            v = _mm256_max_ps(_mm256_loadu_ps(a->vhat + i), v);
            _mm256_storeu_ps(a->vhat + i, v);
        }
        __m256 upd = _mm256_div_ps(_mm256_mul_ps(m, alpha), _mm256_add_ps(_mm256_sqrt_ps(v), eps));
        _mm256_storeu_ps(a->w + i, _mm256_sub_ps(w, upd));
    }
    adam_generic(pa, i, i1);
}

DLC_TARGET_AVX512 static void adam_avx512(const void *pa, int64_t i0, int64_t i1) {
    const adam_args *a = pa;
    const __m512 alpha = _mm512_set1_ps(a->alpha), c1 = _mm512_set1_ps(a->c1);
    const __m512 c2 = _mm512_set1_ps(a->c2), eps = _mm512_set1_ps(a->eps);
    const __m512 dc = _mm512_set1_ps(a->decay);
    int64_t i = i0;
    for (; i + 16 <= i1; i += 16) {
        __m512 w = _mm512_loadu_ps(a->w + i), g = _mm512_loadu_ps(a->g + i);
        if (a->has_decay) w = _mm512_sub_ps(w, _mm512_mul_ps(w, dc));
        __m512 m = _mm512_loadu_ps(a->m + i), v = _mm512_loadu_ps(a->v + i);
        m = _mm512_add_ps(m, _mm512_mul_ps(_mm512_sub_ps(g, m), c1));
        v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(g, g), v), c2));
        _mm512_storeu_ps(a->m + i, m);
        _mm512_storeu_ps(a->v + i, v);
        if (a->amsgrad) {
            v = _mm512_max_ps(_mm512_loadu_ps(a->vhat + i), v);
            _mm512_storeu_ps(a->vhat + i, v);
        }
        __m512 upd = _mm512_div_ps(_mm512_mul_ps(m, alpha), _mm512_add_ps(_mm512_sqrt_ps(v), eps));
        _mm512_storeu_ps(a->w + i, _mm512_sub_ps(w, upd));
    }
    adam_generic(pa, i, i1);
}
#endif

static range_fn adam_kernel(void) {
#if DLC_X86
    dlc_simd_level level = dlc_simd_get();
    if (level >= DLC_SIMD_AVX512) return adam_avx512;
    if (level >= DLC_SIMD_AVX2) return adam_avx2;
#endif
    return adam_generic;
}

dlc_status dlc_adam_step(int64_t n, float lr, float beta1, float beta2, float eps, int amsgrad,
                         int64_t t, float weight_decay, float *w, const float *g, float *m,
                         float *v, float *vhat) {
    dlc_status st = common_check(n, lr, weight_decay, w, g);
    if (st != DLC_OK) return st;
    DLC_CHECK(in_unit_open(beta1) && in_unit_open(beta2) && finite_nonneg(eps) && t >= 1);
    if (n == 0) return DLC_OK;
    DLC_CHECK(m != NULL && v != NULL && (!amsgrad || vhat != NULL));
    double td = (double)t;
    double alpha = (double)lr * sqrt(1.0 - pow((double)beta2, td)) /
                   (1.0 - pow((double)beta1, td));
    adam_args a = {(float)alpha, 1.0f - beta1, 1.0f - beta2, eps,
                   decay_factor(lr, weight_decay), amsgrad != 0, weight_decay != 0.0f,
                   w, m, v, vhat, g};
    run_chunks(n, adam_kernel(), &a);
    return DLC_OK;
}

/* ================================================================ Adadelta */

typedef struct {
    float lr, rho, one_minus_rho, eps, decay;
    int has_decay;
    float *w, *ag, *ad;
    const float *g;
} adadelta_args;

static void adadelta_generic(const void *pa, int64_t i0, int64_t i1) {
    const adadelta_args *a = pa;
    const float rho = a->rho, c = a->one_minus_rho, eps = a->eps;
    for (int64_t i = i0; i < i1; i++) {
        float wi = a->w[i], gi = a->g[i];
        if (a->has_decay) wi = wi - wi * a->decay;
        float ag = rho * a->ag[i] + c * (gi * gi);
        a->ag[i] = ag;
        float d = -((sqrtf(a->ad[i] + eps) * gi) / sqrtf(ag + eps));
        a->ad[i] = rho * a->ad[i] + c * (d * d);
        a->w[i] = wi + a->lr * d;
    }
}

#if DLC_X86
DLC_TARGET_AVX2 static void adadelta_avx2(const void *pa, int64_t i0, int64_t i1) {
    const adadelta_args *a = pa;
    const __m256 lr = _mm256_set1_ps(a->lr), rho = _mm256_set1_ps(a->rho);
    const __m256 c = _mm256_set1_ps(a->one_minus_rho), eps = _mm256_set1_ps(a->eps);
    const __m256 dc = _mm256_set1_ps(a->decay), sign = _mm256_set1_ps(-0.0f);
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) {
        __m256 w = _mm256_loadu_ps(a->w + i), g = _mm256_loadu_ps(a->g + i);
        if (a->has_decay) w = _mm256_sub_ps(w, _mm256_mul_ps(w, dc));
        __m256 ag = _mm256_add_ps(_mm256_mul_ps(rho, _mm256_loadu_ps(a->ag + i)),
                                  _mm256_mul_ps(c, _mm256_mul_ps(g, g)));
        _mm256_storeu_ps(a->ag + i, ag);
        __m256 ad = _mm256_loadu_ps(a->ad + i);
        __m256 d = _mm256_div_ps(_mm256_mul_ps(_mm256_sqrt_ps(_mm256_add_ps(ad, eps)), g),
                                 _mm256_sqrt_ps(_mm256_add_ps(ag, eps)));
        d = _mm256_xor_ps(d, sign); /* exact negation, as unary minus */
        ad = _mm256_add_ps(_mm256_mul_ps(rho, ad), _mm256_mul_ps(c, _mm256_mul_ps(d, d)));
        _mm256_storeu_ps(a->ad + i, ad);
        _mm256_storeu_ps(a->w + i, _mm256_add_ps(w, _mm256_mul_ps(lr, d)));
    }
    adadelta_generic(pa, i, i1);
}

DLC_TARGET_AVX512 static void adadelta_avx512(const void *pa, int64_t i0, int64_t i1) {
    const adadelta_args *a = pa;
    const __m512 lr = _mm512_set1_ps(a->lr), rho = _mm512_set1_ps(a->rho);
    const __m512 c = _mm512_set1_ps(a->one_minus_rho), eps = _mm512_set1_ps(a->eps);
    const __m512 dc = _mm512_set1_ps(a->decay), sign = _mm512_set1_ps(-0.0f);
    int64_t i = i0;
    for (; i + 16 <= i1; i += 16) {
        __m512 w = _mm512_loadu_ps(a->w + i), g = _mm512_loadu_ps(a->g + i);
        if (a->has_decay) w = _mm512_sub_ps(w, _mm512_mul_ps(w, dc));
        __m512 ag = _mm512_add_ps(_mm512_mul_ps(rho, _mm512_loadu_ps(a->ag + i)),
                                  _mm512_mul_ps(c, _mm512_mul_ps(g, g)));
        _mm512_storeu_ps(a->ag + i, ag);
        __m512 ad = _mm512_loadu_ps(a->ad + i);
        __m512 d = _mm512_div_ps(_mm512_mul_ps(_mm512_sqrt_ps(_mm512_add_ps(ad, eps)), g),
                                 _mm512_sqrt_ps(_mm512_add_ps(ag, eps)));
        d = _mm512_xor_ps(d, sign); /* exact negation, as unary minus (avx512dq) */
        ad = _mm512_add_ps(_mm512_mul_ps(rho, ad), _mm512_mul_ps(c, _mm512_mul_ps(d, d)));
        _mm512_storeu_ps(a->ad + i, ad);
        _mm512_storeu_ps(a->w + i, _mm512_add_ps(w, _mm512_mul_ps(lr, d)));
    }
    adadelta_generic(pa, i, i1);
}
#endif

static range_fn adadelta_kernel(void) {
#if DLC_X86
    dlc_simd_level level = dlc_simd_get();
    if (level >= DLC_SIMD_AVX512) return adadelta_avx512;
    if (level >= DLC_SIMD_AVX2) return adadelta_avx2;
#endif
    return adadelta_generic;
}

dlc_status dlc_adadelta_step(int64_t n, float lr, float rho, float eps, float weight_decay,
                             float *w, const float *g, float *acc_grad, float *acc_delta) {
    dlc_status st = common_check(n, lr, weight_decay, w, g);
    if (st != DLC_OK) return st;
    DLC_CHECK(in_unit(rho) && finite_nonneg(eps));
    if (n == 0) return DLC_OK;
    DLC_CHECK(acc_grad != NULL && acc_delta != NULL);
    adadelta_args a = {lr, rho, 1.0f - rho, eps, decay_factor(lr, weight_decay),
                       weight_decay != 0.0f, w, acc_grad, acc_delta, g};
    run_chunks(n, adadelta_kernel(), &a);
    return DLC_OK;
}
