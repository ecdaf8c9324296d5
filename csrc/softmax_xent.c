/* softmax_xent.c - losses over m samples of k values: fused softmax + cross-entropy (dense and
 * sparse labels), cross-entropy on probabilities, binary cross-entropy and mean squared error.
 *
 * Every row is independent: rows are split among threads when the problem is large, and each
 * row is computed by one thread in a fixed order, so results do not depend on the thread count.
 * Row sums are accumulated in double (one rounding to float at the end).
 *
 * Softmax cross-entropy never takes the log of a rounded probability: with lse = max + log S,
 * S = sum exp(x - max), the loss is sum_j y_j * (lse - x_j), finite for any finite logits.
 */
#include "internal.h"

#include <math.h>

/* Split rows among threads only above this many elements (below it a thread team costs more). */
#define XENT_PAR_MIN 32768

/* Sizes are valid: m >= 0, k >= 1, and pointers are present when there is work. */
#define XENT_CHECK_SIZES(m, k) DLC_CHECK((m) >= 0 && (k) >= 1 && (m) <= INT64_MAX / (k))

/* Softmax of one row into p; returns lse = max + log(sum exp(x - max)) in double. */
static double softmax_row(int64_t k, const float *x, float *p) {
    float mx = x[0];
    for (int64_t j = 1; j < k; j++) mx = x[j] > mx ? x[j] : mx;
    double s = 0.0;
    for (int64_t j = 0; j < k; j++) {
        float e = expf(x[j] - mx);
        p[j] = e;
        s += (double)e;
    }
    double inv = 1.0 / s;
    for (int64_t j = 0; j < k; j++) p[j] = (float)((double)p[j] * inv);
    return (double)mx + log(s);
}

dlc_status dlc_softmax_xent_forward(int64_t m, int64_t k, const float *logits,
                                    const float *labels, float *probs, float *loss) {
    XENT_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(logits && labels && probs && loss);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= XENT_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *x = logits + i * k, *y = labels + i * k;
        double lse = softmax_row(k, x, probs + i * k);
        double l = 0.0;
        for (int64_t j = 0; j < k; j++)
            if (y[j] != 0.0f) l += (double)y[j] * (lse - (double)x[j]);
        loss[i] = (float)l;
    }
    return DLC_OK;
}

dlc_status dlc_softmax_xent_backward(int64_t m, int64_t k, const float *probs,
                                     const float *labels, float scale, float *dlogits) {
    XENT_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(probs && labels && dlogits);
    int64_t n = m * k;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= XENT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) dlogits[i] += scale * (probs[i] - labels[i]);
    return DLC_OK;
}

/* 1 if every label is in [0, k). */
static int labels_in_range(int64_t m, int64_t k, const int32_t *labels) {
    int ok = 1;
    for (int64_t i = 0; i < m; i++) ok &= labels[i] >= 0 && (int64_t)labels[i] < k;
    return ok;
}

dlc_status dlc_softmax_xent_sparse_forward(int64_t m, int64_t k, const float *logits,
                                           const int32_t *labels, float *probs, float *loss) {
    XENT_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(logits && labels && probs && loss);
    DLC_CHECK(labels_in_range(m, k, labels)); /* before any output is written */
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= XENT_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *x = logits + i * k;
        double lse = softmax_row(k, x, probs + i * k);
        loss[i] = (float)(lse - (double)x[labels[i]]);
    }
    return DLC_OK;
}

dlc_status dlc_softmax_xent_sparse_backward(int64_t m, int64_t k, const float *probs,
                                            const int32_t *labels, float scale,
                                            float *dlogits) {
    XENT_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(probs && labels && dlogits);
    DLC_CHECK(labels_in_range(m, k, labels));
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= XENT_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *p = probs + i * k;
        float *d = dlogits + i * k;
        int64_t t = labels[i];
        for (int64_t j = 0; j < k; j++) d[j] += scale * (p[j] - (j == t ? 1.0f : 0.0f));
    }
    return DLC_OK;
}

/* ---------------------------------------------------------------- on probabilities */

/* Keras's clip bounds: [eps, 1 - eps] in float. eps in [0, 0.5). */
#define EPS_CHECK(eps) DLC_CHECK((eps) >= 0.0f && (eps) < 0.5f)

dlc_status dlc_xent_forward(int64_t m, int64_t k, float eps, const float *probs,
                            const float *labels, float *loss) {
    XENT_CHECK_SIZES(m, k);
    EPS_CHECK(eps);
    if (m == 0) return DLC_OK;
    DLC_CHECK(probs && labels && loss);
    const float lo = eps, hi = 1.0f - eps;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= XENT_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *p = probs + i * k, *y = labels + i * k;
        double s = 0.0;
        for (int64_t j = 0; j < k; j++) s += (double)p[j];
        float sf = (float)s;
        double l = 0.0;
        for (int64_t j = 0; j < k; j++) {
            float q = p[j] / sf;
            q = q < lo ? lo : (q > hi ? hi : q);
            l -= (double)y[j] * log((double)q);
        }
        loss[i] = (float)l;
    }
    return DLC_OK;
}

/* With q = p / s (s = sum p), c = clip(q): dL/dp_i = (g_i - sum_j g_j q_j) / s where
 * g_j = -y_j / c_j inside the clip range (bounds included, like torch.clamp) and 0 outside. */
dlc_status dlc_xent_backward(int64_t m, int64_t k, float eps, const float *probs,
                             const float *labels, float scale, float *dprobs) {
    XENT_CHECK_SIZES(m, k);
    EPS_CHECK(eps);
    if (m == 0) return DLC_OK;
    DLC_CHECK(probs && labels && dprobs);
    const float lo = eps, hi = 1.0f - eps;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= XENT_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *p = probs + i * k, *y = labels + i * k;
        float *d = dprobs + i * k;
        double s = 0.0;
        for (int64_t j = 0; j < k; j++) s += (double)p[j];
        float sf = (float)s;
        double dot = 0.0; /* sum_j g_j q_j */
        for (int64_t j = 0; j < k; j++) {
            float q = p[j] / sf;
            if (q >= lo && q <= hi) dot -= (double)y[j]; /* g_j q_j = -y_j */
        }
        for (int64_t j = 0; j < k; j++) {
            float q = p[j] / sf;
            double g = (q >= lo && q <= hi) ? -(double)y[j] / (double)q : 0.0;
            d[j] += (float)((double)scale * (g - dot) / (double)sf);
        }
    }
    return DLC_OK;
}

/* ---------------------------------------------------------------- binary cross-entropy */

/* Numerically stable sigmoid. */
static inline double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

dlc_status dlc_bce_forward(int64_t m, int64_t k, int from_logits, float eps, const float *x,
                           const float *labels, float *loss) {
    XENT_CHECK_SIZES(m, k);
    EPS_CHECK(eps);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && loss);
    const float lo = eps, hi = 1.0f - eps;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= XENT_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k, *z = labels + i * k;
        double l = 0.0;
        if (from_logits) {
            for (int64_t j = 0; j < k; j++) {
                double a = xr[j], b = z[j];
                l += (a > 0 ? a : 0.0) - a * b + log1p(exp(-fabs(a)));
            }
        } else {
            for (int64_t j = 0; j < k; j++) {
                float p = xr[j];
                p = p < lo ? lo : (p > hi ? hi : p);
                double b = z[j];
                l -= b * log((double)p) + (1.0 - b) * log(1.0 - (double)p);
            }
        }
        loss[i] = (float)(l / (double)k);
    }
    return DLC_OK;
}

dlc_status dlc_bce_backward(int64_t m, int64_t k, int from_logits, float eps, const float *x,
                            const float *labels, float scale, float *dx) {
    XENT_CHECK_SIZES(m, k);
    EPS_CHECK(eps);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && dx);
    const float lo = eps, hi = 1.0f - eps;
    const double f = (double)scale / (double)k;
    int64_t n = m * k;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= XENT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        double b = labels[i], g;
        if (from_logits) {
            g = sigmoid((double)x[i]) - b;
        } else {
            float p = x[i];
            if (p >= lo && p <= hi) {
                double pd = p;
                g = -(b / pd - (1.0 - b) / (1.0 - pd));
            } else {
                g = 0.0; /* clipped: no gradient (bounds included, like torch.clamp) */
            }
        }
        dx[i] += (float)(f * g);
    }
    return DLC_OK;
}

/* ---------------------------------------------------------------- mean squared error */

dlc_status dlc_mse_forward(int64_t m, int64_t k, const float *x, const float *labels,
                           float *loss) {
    XENT_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && loss);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (m * k >= XENT_PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        const float *xr = x + i * k, *z = labels + i * k;
        double s = 0.0;
        for (int64_t j = 0; j < k; j++) {
            double e = (double)xr[j] - (double)z[j];
            s += e * e;
        }
        loss[i] = (float)(s / (double)k);
    }
    return DLC_OK;
}

dlc_status dlc_mse_backward(int64_t m, int64_t k, const float *x, const float *labels,
                            float scale, float *dx) {
    XENT_CHECK_SIZES(m, k);
    if (m == 0) return DLC_OK;
    DLC_CHECK(x && labels && dx);
    const double f = 2.0 * (double)scale / (double)k;
    int64_t n = m * k;
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= XENT_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] += (float)(f * ((double)x[i] - (double)labels[i]));
    return DLC_OK;
}
