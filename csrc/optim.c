/* optim.c - fused optimizer updates over flat float32 buffers, Keras 3 formulas.
 *
 * Each update is elementwise, so any split of the elements among threads gives the same bits.
 * The buffer is cut into fixed chunks; each chunk runs one "range" function picked once per
 * call for the SIMD level in use.
 *
 * Each optimizer is written once, as an always-inline scalar loop (NAME_loop) that the
 * compiler vectorises (omp simd), compiled for the portable, AVX2+FMA and AVX-512 targets by
 * DLC_SIMD_VARIANTS (internal.h). The loop-invariant switches (weight decay, momentum,
 * centred, amsgrad, ...) are arguments of the loop that NAME_body passes as constants, so each
 * combination becomes its own branch-free vector loop. Every path evaluates the very same
 * expressions in the same order: the build is ISO C11 without fast-math (-ffp-contract=off, so
 * no FMA contraction, and no reassociation), and vector square roots and divisions are
 * correctly rounded like the scalar ones, so every path, tails included, gives bit-identical
 * results. (setup.py passes -fno-math-errno, without which the compiler keeps each sqrtf a
 * scalar libm call for the errno of a negative argument; dlc never reads errno.)
 *
 * Weight decay is decoupled as in Keras 3: w = w - w * (lr * weight_decay) before the update,
 * skipped entirely when weight_decay == 0.
 */
#include "internal.h"

#include <float.h>
#include <math.h>

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

/* NAME_body and its SIMD variants for an optimizer whose one switch is weight decay: it calls
 * the always-inline NAME_loop(a, i0, i1, dec) with dec a constant, so each case is its own
 * loop (Adagrad, Adadelta). */
#define DECAY_ONLY_VARIANTS(NAME)                                                              \
    DLC_INLINE void NAME##_body(const void *pa, int64_t i0, int64_t i1) {                      \
        const NAME##_args *a = pa;                                                             \
        if (a->has_decay)                                                                      \
            NAME##_loop(a, i0, i1, 1);                                                         \
        else                                                                                   \
            NAME##_loop(a, i0, i1, 0);                                                         \
    }                                                                                          \
    DLC_SIMD_VARIANTS(NAME, (const void *pa, int64_t i0, int64_t i1), (pa, i0, i1))

/* ================================================================ SGD */

typedef struct {
    float lr, momentum, decay;
    int nesterov, has_decay;
    float *w, *v;
    const float *g;
} sgd_args;

/* mode 0: plain, 1: momentum, 2: Nesterov momentum; dec: weight decay (constants). No restrict:
 * each element is read before it is written and depends on its own index only (omp simd). */
DLC_INLINE void sgd_loop(const sgd_args *a, int64_t i0, int64_t i1, int mode, int dec) {
    float *w = a->w, *v = a->v;
    const float *g = a->g;
    const float lr = a->lr, mu = a->momentum, c = a->decay;
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) {
        float wi = w[i], gi = g[i];
        if (dec) wi = wi - wi * c;
        if (mode == 0) {
            w[i] = wi - gi * lr;
        } else {
            float vi = v[i] * mu - gi * lr;
            v[i] = vi;
            w[i] = mode == 2 ? wi + (vi * mu - gi * lr) : wi + vi;
        }
    }
}

DLC_INLINE void sgd_body(const void *pa, int64_t i0, int64_t i1) {
    const sgd_args *a = pa;
    const int mode = a->momentum == 0.0f ? 0 : a->nesterov ? 2 : 1;
    switch (mode * 2 + (a->has_decay != 0)) {
    case 0: sgd_loop(a, i0, i1, 0, 0); break;
    case 1: sgd_loop(a, i0, i1, 0, 1); break;
    case 2: sgd_loop(a, i0, i1, 1, 0); break;
    case 3: sgd_loop(a, i0, i1, 1, 1); break;
    case 4: sgd_loop(a, i0, i1, 2, 0); break;
    default: sgd_loop(a, i0, i1, 2, 1); break;
    }
}
DLC_SIMD_VARIANTS(sgd, (const void *pa, int64_t i0, int64_t i1), (pa, i0, i1));

dlc_status dlc_sgd_step(int64_t n, float lr, float momentum, int nesterov, float weight_decay,
                        float *w, const float *g, float *v) {
    dlc_status st = common_check(n, lr, weight_decay, w, g);
    if (st != DLC_OK) return st;
    DLC_CHECK(in_unit(momentum));
    DLC_CHECK(n == 0 || momentum == 0.0f || v != NULL);
    if (n == 0) return DLC_OK;
    sgd_args a = {lr, momentum, decay_factor(lr, weight_decay), nesterov != 0,
                  weight_decay != 0.0f, w, v, g};
    run_chunks(n, DLC_SIMD_PICK(sgd), &a);
    return DLC_OK;
}

/* ================================================================ Adagrad */

typedef struct {
    float lr, eps, decay;
    int has_decay;
    float *w, *acc;
    const float *g;
} adagrad_args;

DLC_INLINE void adagrad_loop(const adagrad_args *a, int64_t i0, int64_t i1, int dec) {
    float *w = a->w, *acc = a->acc;
    const float *g = a->g;
    const float lr = a->lr, eps = a->eps, c = a->decay;
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) {
        float wi = w[i], gi = g[i];
        if (dec) wi = wi - wi * c;
        float ai = acc[i] + gi * gi;
        acc[i] = ai;
        w[i] = wi - (lr * gi) / sqrtf(ai + eps);
    }
}

DECAY_ONLY_VARIANTS(adagrad);

dlc_status dlc_adagrad_step(int64_t n, float lr, float eps, float weight_decay, float *w,
                            const float *g, float *acc) {
    dlc_status st = common_check(n, lr, weight_decay, w, g);
    if (st != DLC_OK) return st;
    DLC_CHECK(finite_nonneg(eps));
    if (n == 0) return DLC_OK;
    DLC_CHECK(acc != NULL);
    adagrad_args a = {lr, eps, decay_factor(lr, weight_decay), weight_decay != 0.0f, w, acc, g};
    run_chunks(n, DLC_SIMD_PICK(adagrad), &a);
    return DLC_OK;
}

/* ================================================================ RMSprop */

typedef struct {
    float lr, rho, one_minus_rho, momentum, eps, decay;
    int centered, has_decay;
    float *w, *v, *mom, *avg;
    const float *g;
} rmsprop_args;

/* cen: centred (avg), mom: momentum > 0 (mom), dec: weight decay (constants). */
DLC_INLINE void rmsprop_loop(const rmsprop_args *a, int64_t i0, int64_t i1, int cen, int mom,
                             int dec) {
    float *w = a->w, *v = a->v, *mo = a->mom, *avg = a->avg;
    const float *g = a->g;
    const float lr = a->lr, rho = a->rho, c = a->one_minus_rho, mu = a->momentum;
    const float eps = a->eps, dc = a->decay;
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) {
        float wi = w[i], gi = g[i];
        if (dec) wi = wi - wi * dc;
        float vi = rho * v[i] + c * (gi * gi);
        v[i] = vi;
        float den;
        if (cen) {
            float ai = rho * avg[i] + c * gi;
            avg[i] = ai;
            den = (vi - ai * ai) + eps;
        } else {
            den = vi + eps;
        }
        float inc = (lr * gi) / sqrtf(den);
        if (mom) {
            float m = mu * mo[i] + inc;
            mo[i] = m;
            inc = m;
        }
        w[i] = wi - inc;
    }
}

DLC_INLINE void rmsprop_body(const void *pa, int64_t i0, int64_t i1) {
    const rmsprop_args *a = pa;
    switch ((a->centered != 0) * 4 + (a->momentum > 0.0f) * 2 + (a->has_decay != 0)) {
    case 0: rmsprop_loop(a, i0, i1, 0, 0, 0); break;
    case 1: rmsprop_loop(a, i0, i1, 0, 0, 1); break;
    case 2: rmsprop_loop(a, i0, i1, 0, 1, 0); break;
    case 3: rmsprop_loop(a, i0, i1, 0, 1, 1); break;
    case 4: rmsprop_loop(a, i0, i1, 1, 0, 0); break;
    case 5: rmsprop_loop(a, i0, i1, 1, 0, 1); break;
    case 6: rmsprop_loop(a, i0, i1, 1, 1, 0); break;
    default: rmsprop_loop(a, i0, i1, 1, 1, 1); break;
    }
}
DLC_SIMD_VARIANTS(rmsprop, (const void *pa, int64_t i0, int64_t i1), (pa, i0, i1));

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
    run_chunks(n, DLC_SIMD_PICK(rmsprop), &a);
    return DLC_OK;
}

/* ================================================================ Adam */

typedef struct {
    float alpha, c1, c2, eps, decay; /* c1 = 1 - beta1, c2 = 1 - beta2 */
    int amsgrad, has_decay;
    float *w, *m, *v, *vhat;
    const float *g;
} adam_args;

/* ams: amsgrad (vhat), dec: weight decay (constants). */
DLC_INLINE void adam_loop(const adam_args *a, int64_t i0, int64_t i1, int ams, int dec) {
    float *w = a->w, *m = a->m, *v = a->v, *vhat = a->vhat;
    const float *g = a->g;
    const float alpha = a->alpha, c1 = a->c1, c2 = a->c2, eps = a->eps, dc = a->decay;
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) {
        float wi = w[i], gi = g[i], mi = m[i], vi = v[i];
        if (dec) wi = wi - wi * dc;
        mi = mi + (gi - mi) * c1;
        vi = vi + (gi * gi - vi) * c2;
        m[i] = mi;
        v[i] = vi;
        if (ams) {
            float h = vhat[i];
            vi = h > vi ? h : vi; /* max(vhat, v); v when either is NaN */
            vhat[i] = vi;
        }
        w[i] = wi - (mi * alpha) / (sqrtf(vi) + eps);
    }
}

DLC_INLINE void adam_body(const void *pa, int64_t i0, int64_t i1) {
    const adam_args *a = pa;
    switch ((a->amsgrad != 0) * 2 + (a->has_decay != 0)) {
    case 0: adam_loop(a, i0, i1, 0, 0); break;
    case 1: adam_loop(a, i0, i1, 0, 1); break;
    case 2: adam_loop(a, i0, i1, 1, 0); break;
    default: adam_loop(a, i0, i1, 1, 1); break;
    }
}
DLC_SIMD_VARIANTS(adam, (const void *pa, int64_t i0, int64_t i1), (pa, i0, i1));

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
    run_chunks(n, DLC_SIMD_PICK(adam), &a);
    return DLC_OK;
}

/* ================================================================ Adadelta */

typedef struct {
    float lr, rho, one_minus_rho, eps, decay;
    int has_decay;
    float *w, *ag, *ad;
    const float *g;
} adadelta_args;

DLC_INLINE void adadelta_loop(const adadelta_args *a, int64_t i0, int64_t i1, int dec) {
    float *w = a->w, *ag = a->ag, *ad = a->ad;
    const float *g = a->g;
    const float lr = a->lr, rho = a->rho, c = a->one_minus_rho, eps = a->eps, dc = a->decay;
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) {
        float wi = w[i], gi = g[i], di = ad[i];
        if (dec) wi = wi - wi * dc;
        float gs = rho * ag[i] + c * (gi * gi);
        ag[i] = gs;
        float d = -((sqrtf(di + eps) * gi) / sqrtf(gs + eps));
        ad[i] = rho * di + c * (d * d);
        w[i] = wi + lr * d;
    }
}

DECAY_ONLY_VARIANTS(adadelta);

dlc_status dlc_adadelta_step(int64_t n, float lr, float rho, float eps, float weight_decay,
                             float *w, const float *g, float *acc_grad, float *acc_delta) {
    dlc_status st = common_check(n, lr, weight_decay, w, g);
    if (st != DLC_OK) return st;
    DLC_CHECK(in_unit(rho) && finite_nonneg(eps));
    if (n == 0) return DLC_OK;
    DLC_CHECK(acc_grad != NULL && acc_delta != NULL);
    adadelta_args a = {lr, rho, 1.0f - rho, eps, decay_factor(lr, weight_decay),
                       weight_decay != 0.0f, w, acc_grad, acc_delta, g};
    run_chunks(n, DLC_SIMD_PICK(adadelta), &a);
    return DLC_OK;
}
