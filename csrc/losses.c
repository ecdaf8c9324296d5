/* losses.c - Keras 3's regression, probabilistic and hinge losses over m samples of k values:
 * mean absolute (percentage) error, mean squared logarithmic error, Huber, log-cosh,
 * Kullback-Leibler divergence, Poisson, hinge, squared hinge, categorical hinge and cosine
 * similarity. The cross-entropies and the mean squared error live in softmax_xent.c.
 *
 * The conventions are softmax_xent.c's: forward writes each row's loss (the mean over the row,
 * or its sum for KL divergence, categorical hinge and cosine similarity, as Keras), backward
 * accumulates scale * d(sum of the row losses) / dx. Rows are independent and each is computed
 * by one thread in a fixed order (row sums in double, one rounding at the end), so results do
 * not depend on the thread count; rows or elements are split among threads only for large
 * problems. No loop here vectorises a reduction, so every SIMD level computes the same bits.
 *
 * Subgradients: where Keras's formula has a kink (|e| in MAE and MAPE, the hinge at 0, the
 * maximum of categorical hinge) the gradient at the kink is 0, like torch's abs; elsewhere the
 * gradient is torch autograd's. At a clip bound (eps in MSLE and KL divergence, 1 in KL
 * divergence) the gradient passes, as torch.clamp's.
 */
#include "internal.h"

#include <math.h>

/* Split rows (or elements) among threads only above this many elements. */
#define LOSS_PAR_MIN 32768

/* m >= 0, k >= 1 and m * k representable. */
#define LOSS_CHECK_SIZES(m, k) DLC_CHECK((m) >= 0 && (k) >= 1 && (m) <= INT64_MAX / (k))

/* eps as the binding allows it: [0, 0.5). */
#define LOSS_CHECK_EPS(eps) DLC_CHECK((eps) >= 0.0f && (eps) < 0.5f)

static inline double sgn(double v) { return (double)(v > 0.0) - (double)(v < 0.0); }

/* ---------------------------------------------------------------- elementwise losses
 *
 * The per-element losses whose row loss is the mean over k: one element function each for the
 * value and for the derivative with respect to the prediction x (t is the label). */

typedef enum { L_MAE, L_MAPE, L_MSLE, L_HUBER, L_LOGCOSH, L_POISSON, L_KLD } elem_kind;

/* log(cosh(e)) without overflow: |e| + log1p(exp(-2|e|)) - log 2. */
static inline double log_cosh(double e) {
    double a = fabs(e);
    return a + log1p(exp(-2.0 * a)) - 0.69314718055994530942;
}

/* The value of one element; p is the hyperparameter (eps, or Huber's delta). */
static inline double elem_value(elem_kind kind, double p, float xf, float tf) {
    double x = xf, t = tf, e, a, b;
    switch (kind) {
    case L_MAE:
        return fabs(x - t);
    case L_MAPE: /* 100 |t - x| / max(|t|, eps) */
        return 100.0 * fabs(t - x) / fmax(fabs(t), p);
    case L_MSLE: /* (log(max(x, eps) + 1) - log(max(t, eps) + 1))^2, the clip in float */
        a = log((double)fmaxf(xf, (float)p) + 1.0);
        b = log((double)fmaxf(tf, (float)p) + 1.0);
        return (a - b) * (a - b);
    case L_HUBER:
        e = x - t;
        a = fabs(e);
        return a <= p ? 0.5 * e * e : p * a - 0.5 * p * p;
    case L_LOGCOSH:
        return log_cosh(x - t);
    case L_POISSON: /* x - t log(x + eps) */
        return x - t * log(x + p);
    case L_KLD: { /* t log(t / x), both clipped to [eps, 1] in float */
        float tc = fminf(fmaxf(tf, (float)p), 1.0f), xc = fminf(fmaxf(xf, (float)p), 1.0f);
        return (double)tc * log((double)tc / (double)xc);
    }
    }
    return 0.0;
}

/* d value / dx. */
static inline double elem_grad(elem_kind kind, double p, float xf, float tf) {
    double x = xf, t = tf, e, a;
    switch (kind) {
    case L_MAE:
        return sgn(x - t);
    case L_MAPE:
        return 100.0 * sgn(x - t) / fmax(fabs(t), p);
    case L_MSLE: {
        float xc = fmaxf(xf, (float)p);
        if (xf < (float)p) return 0.0; /* clipped below eps: constant */
        a = log((double)xc + 1.0) - log((double)fmaxf(tf, (float)p) + 1.0);
        return 2.0 * a / ((double)xc + 1.0);
    }
    case L_HUBER:
        e = x - t;
        return fabs(e) <= p ? e : p * sgn(e);
    case L_LOGCOSH:
        return tanh(x - t);
    case L_POISSON:
        return 1.0 - t / (x + p);
    case L_KLD: {
        if (xf < (float)p || xf > 1.0f) return 0.0;
        float tc = fminf(fmaxf(tf, (float)p), 1.0f);
        return -(double)tc / x;
    }
    }
    return 0.0;
}

/* Row losses: the mean over k (KL divergence: the sum). */
static dlc_status elem_forward(elem_kind kind, double p, int64_t m, int64_t k, const float *x,
                               const float *labels, float *loss) {
    LOSS_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && loss);
    const double inv = kind == L_KLD ? 1.0 : 1.0 / (double)k;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= LOSS_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k, *tr = labels + i * k;
        double s = 0.0;
        for (int64_t j = 0; j < k; j++) s += elem_value(kind, p, xr[j], tr[j]);
        loss[i] = (float)(s * inv);
    }
    return DLC_OK;
}

static dlc_status elem_backward(elem_kind kind, double p, int64_t m, int64_t k, const float *x,
                                const float *labels, float scale, float *dx) {
    LOSS_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && dx);
    const double f = (double)scale / (kind == L_KLD ? 1.0 : (double)k);
    const int64_t n = m * k;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= LOSS_PAR_MIN)
    for (int64_t i = 0; i < n; i++) dx[i] += (float)(f * elem_grad(kind, p, x[i], labels[i]));
    return DLC_OK;
}

/* The public pair of an elementwise loss: dlc_NAME_forward and dlc_NAME_backward check the
 * loss's parameter P (CHECK; none for MAE and log-cosh) and call elem_forward / elem_backward
 * with KIND. ELEM_LOSS_P takes the parameter's name, ELEM_LOSS has none. */
#define ELEM_LOSS_P(NAME, KIND, P, CHECK)                                                       \
    dlc_status dlc_##NAME##_forward(int64_t m, int64_t k, float P, const float *x,              \
                                    const float *labels, float *loss) {                         \
        CHECK;                                                                                  \
        return elem_forward(KIND, P, m, k, x, labels, loss);                                    \
    }                                                                                           \
    dlc_status dlc_##NAME##_backward(int64_t m, int64_t k, float P, const float *x,             \
                                     const float *labels, float scale, float *dx) {             \
        CHECK;                                                                                  \
        return elem_backward(KIND, P, m, k, x, labels, scale, dx);                              \
    }

#define ELEM_LOSS(NAME, KIND)                                                                   \
    dlc_status dlc_##NAME##_forward(int64_t m, int64_t k, const float *x, const float *labels,  \
                                    float *loss) {                                              \
        return elem_forward(KIND, 0.0, m, k, x, labels, loss);                                  \
    }                                                                                           \
    dlc_status dlc_##NAME##_backward(int64_t m, int64_t k, const float *x, const float *labels, \
                                     float scale, float *dx) {                                  \
        return elem_backward(KIND, 0.0, m, k, x, labels, scale, dx);                            \
    }

ELEM_LOSS(mae, L_MAE)
ELEM_LOSS_P(mape, L_MAPE, eps, LOSS_CHECK_EPS(eps))
ELEM_LOSS_P(msle, L_MSLE, eps, LOSS_CHECK_EPS(eps))
/* delta finite, NaN refused */
ELEM_LOSS_P(huber, L_HUBER, delta, DLC_CHECK(delta >= 0.0f && delta <= 3.4e38f))
ELEM_LOSS(log_cosh, L_LOGCOSH)
ELEM_LOSS_P(poisson, L_POISSON, eps, LOSS_CHECK_EPS(eps))
ELEM_LOSS_P(kld, L_KLD, eps, LOSS_CHECK_EPS(eps))

/* ---------------------------------------------------------------- hinge and squared hinge */

/* Keras converts labels to -1/1 (2t - 1) when every label of the batch is 0 or 1. */
static int labels_binary(int64_t n, const float *t) {
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= t[i] == 0.0f || t[i] == 1.0f;
    return ok;
}

static inline float hinge_label(int binary, float t) { return binary ? 2.0f * t - 1.0f : t; }

dlc_status dlc_hinge_forward(int64_t m, int64_t k, int squared, const float *x,
                             const float *labels, float *loss) {
    LOSS_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && loss);
    const int binary = labels_binary(m * k, labels);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= LOSS_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k, *tr = labels + i * k;
        double s = 0.0;
        for (int64_t j = 0; j < k; j++) {
            double h = 1.0 - (double)hinge_label(binary, tr[j]) * (double)xr[j];
            h = h > 0.0 ? h : 0.0;
            s += squared ? h * h : h;
        }
        loss[i] = (float)(s / (double)k);
    }
    return DLC_OK;
}

dlc_status dlc_hinge_backward(int64_t m, int64_t k, int squared, const float *x,
                              const float *labels, float scale, float *dx) {
    LOSS_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && dx);
    const int64_t n = m * k;
    const int binary = labels_binary(n, labels);
    const double f = (double)scale / (double)k;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= LOSS_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        double y = hinge_label(binary, labels[i]);
        double h = 1.0 - y * (double)x[i];
        double g = h > 0.0 ? (squared ? -2.0 * h * y : -y) : 0.0;
        dx[i] += (float)(f * g);
    }
    return DLC_OK;
}

/* ---------------------------------------------------------------- categorical hinge */

/* loss = max(neg - pos + 1, 0), pos = sum(t * x), neg = max((1 - t) * x); *arg = the first
 * index of the maximum. */
static double cat_hinge_row(int64_t k, const float *x, const float *t, int64_t *arg) {
    double pos = 0.0, neg = -INFINITY;
    int64_t a = 0;
    for (int64_t j = 0; j < k; j++) {
        pos += (double)t[j] * (double)x[j];
        double v = (1.0 - (double)t[j]) * (double)x[j];
        if (v > neg) neg = v, a = j;
    }
    *arg = a;
    double l = neg - pos + 1.0;
    return l > 0.0 ? l : 0.0;
}

dlc_status dlc_categorical_hinge_forward(int64_t m, int64_t k, const float *x,
                                         const float *labels, float *loss) {
    LOSS_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && loss);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= LOSS_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        int64_t a;
        loss[i] = (float)cat_hinge_row(k, x + i * k, labels + i * k, &a);
    }
    return DLC_OK;
}

/* Where the loss is positive: d/dx_j = -t_j, plus (1 - t_a) at the maximum's index a. */
dlc_status dlc_categorical_hinge_backward(int64_t m, int64_t k, const float *x,
                                          const float *labels, float scale, float *dx) {
    LOSS_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && dx);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= LOSS_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k, *tr = labels + i * k;
        float *d = dx + i * k;
        int64_t a;
        if (cat_hinge_row(k, xr, tr, &a) <= 0.0) continue;
        for (int64_t j = 0; j < k; j++) {
            double g = -(double)tr[j] + (j == a ? 1.0 - (double)tr[j] : 0.0);
            d[j] += (float)((double)scale * g);
        }
    }
    return DLC_OK;
}

/* ---------------------------------------------------------------- cosine similarity */

/* One row: the inverse norms of x and t as Keras's l2 normalisation applies them,
 * v * min(1 / ||v||, 1 / eps) = v / max(||v||, eps), and x . t; returns 1 when ||x|| <= eps
 * (x's normalisation is then the constant 1 / eps). */
static int cosine_row(int64_t k, const float *x, const float *t, double eps, double *ix,
                      double *it, double *dot) {
    double sx = 0.0, st = 0.0, d = 0.0;
    for (int64_t j = 0; j < k; j++) {
        sx += (double)x[j] * (double)x[j];
        st += (double)t[j] * (double)t[j];
        d += (double)x[j] * (double)t[j];
    }
    double nx = sqrt(sx), nt = sqrt(st);
    *ix = nx > eps ? 1.0 / nx : 1.0 / eps;
    *it = nt > eps ? 1.0 / nt : 1.0 / eps;
    *dot = d;
    return !(nx > eps);
}

dlc_status dlc_cosine_similarity_forward(int64_t m, int64_t k, float eps, const float *x,
                                         const float *labels, float *loss) {
    LOSS_CHECK_SIZES(m, k);
    LOSS_CHECK_EPS(eps);
    DLC_CHECK(eps > 0.0f);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && loss);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= LOSS_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        double ix, it, dot;
        (void)cosine_row(k, x + i * k, labels + i * k, eps, &ix, &it, &dot);
        loss[i] = (float)(-dot * ix * it);
    }
    return DLC_OK;
}

/* With xh = x * ix, th = t * it: for ||x|| > eps, dL/dx = -(th - (th . xh) xh) * ix; for
 * ||x|| <= eps (the normalisation is the constant 1 / eps), dL/dx = -th / eps. */
dlc_status dlc_cosine_similarity_backward(int64_t m, int64_t k, float eps, const float *x,
                                          const float *labels, float scale, float *dx) {
    LOSS_CHECK_SIZES(m, k);
    LOSS_CHECK_EPS(eps);
    DLC_CHECK(eps > 0.0f);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && dx);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= LOSS_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k, *tr = labels + i * k;
        float *d = dx + i * k;
        double ix, it, dot;
        const int clipped = cosine_row(k, xr, tr, eps, &ix, &it, &dot);
        const double c = clipped ? 0.0 : dot * ix * it; /* th . xh */
        for (int64_t j = 0; j < k; j++) {
            double g = -((double)tr[j] * it - c * (double)xr[j] * ix) * ix;
            d[j] += (float)((double)scale * g);
        }
    }
    return DLC_OK;
}
