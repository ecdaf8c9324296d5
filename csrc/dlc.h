/* dlc.h - the one public C header of dlc's compute kernels.
 *
 * Conventions (see ARCHITECTURE.md):
 *  - Every kernel returns a dlc_status. Kernels never print, exit, assert or allocate.
 *  - Data is float32, C-contiguous, NHWC. Convolution kernels are (kh, kw, c / groups, oc).
 *  - Argument order: shape struct (or sizes), const inputs, outputs, workspace.
 *  - Forward outputs are OVERWRITTEN. Every gradient output (dx, dw, db, dgamma, ...) is
 *    ACCUMULATED (+=), so fan-out in a graph needs no special case: zero them first.
 *  - Forward writes what backward needs into caller buffers (argmax, mean/invstd, masks).
 *  - Scratch memory comes from a caller-provided workspace whose size in BYTES is given by
 *    the family's *_workspace_size() function; pass NULL only when that size is 0.
 *  - Results are bit-identical whatever the thread count: threads only split disjoint
 *    outputs, and reductions use partitions that do not depend on the thread count.
 *  - Ownership: the caller owns every pointer; kernels keep none after returning.
 *  - No Python here: any C program can link the kernel files.
 */
#ifndef DLC_H
#define DLC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DLC_OK = 0,
    DLC_EINVAL = 1, /* an argument is out of range or shapes disagree */
    DLC_ENOMEM = 2  /* a workspace is missing or too small */
} dlc_status;

/* Which condition a shape check found false, so that a caller (the Python binding) can say
 * which argument is wrong without re-deriving the check. The *_fault() functions test their
 * conditions in this order and return the first that fails, DLC_FAULT_NONE if none does;
 * the matching *_check() returns DLC_EINVAL exactly when the fault is not DLC_FAULT_NONE.
 * They never print, allocate or keep the pointer. */
typedef enum {
    DLC_FAULT_NONE = 0,
    DLC_FAULT_NULL = 1,    /* the shape pointer is NULL */
    DLC_FAULT_INPUT = 2,   /* an input size (n, h, w, c; global pooling n, hw, c) is < 1 */
    DLC_FAULT_WINDOW = 3,  /* a window size is < 1: conv kh, kw or oc; pool ph or pw */
    DLC_FAULT_STRIDE = 4,  /* a stride (sh, sw) or a dilation (dh, dw) is < 1 */
    DLC_FAULT_PADDING = 5, /* a pad is < 0 or, for pooling, not smaller than the window */
    DLC_FAULT_GROUPS = 6,  /* groups < 1, or c or oc not divisible by groups */
    DLC_FAULT_RANGE = 7,   /* a size beyond the kernel's index range: conv, a field >= 2**31;
                              pool, h * w, a window or a stride >= 2**31 (argmax is int32);
                              any element count beyond int64 */
    DLC_FAULT_FIT = 8,     /* the (dilated) window is larger than the padded input */
    DLC_FAULT_OUTPUT = 9   /* oh or ow differs from the formula */
} dlc_fault;

/* A static one-line description of a fault ("" for DLC_FAULT_NONE). */
const char *dlc_fault_text(dlc_fault fault);

/* ---------------------------------------------------------------- runtime */

typedef enum {
    DLC_SIMD_GENERIC = 0, /* portable C */
    DLC_SIMD_AVX2 = 1,    /* AVX2 + FMA */
    DLC_SIMD_AVX512 = 2   /* AVX-512F */
} dlc_simd_level;

/* Threads used by every parallel kernel (>= 1). Default: OpenMP's default (OMP_NUM_THREADS). */
dlc_status dlc_set_num_threads(int n);
int dlc_get_num_threads(void);

/* The best SIMD level this CPU supports, detected once. */
dlc_simd_level dlc_simd_detect(void);
/* The level in use; defaults to dlc_simd_detect(). Setting a level above the CPU's is EINVAL. */
dlc_simd_level dlc_simd_get(void);
dlc_status dlc_simd_set(dlc_simd_level level);
const char *dlc_simd_name(dlc_simd_level level);

/* ---------------------------------------------------------------- gemm.c */

/* Row-major SGEMM: C = alpha * op(A) @ op(B) + beta * C, op(A) m x k, op(B) k x n, C m x n.
 * trans_a != 0 means A is stored k x m (lda >= m), else m x k (lda >= k); likewise B.
 * beta == 0 overwrites C without reading it (NaNs in C do not propagate). */
size_t dlc_sgemm_workspace_size(int64_t m, int64_t n, int64_t k);
dlc_status dlc_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc, void *workspace, size_t workspace_size);
/* The same with an epilogue: C = act(alpha * op(A) @ op(B) + beta * C + bias), bias (n floats,
 * one per column, may be NULL) and act the plain ReLU when relu != 0 (x > 0 ? x : 0 * x + 0,
 * dlc_relu_forward's formula). Bit-identical to dlc_sgemm on C preset to the bias with beta 1
 * (when beta is 0) followed by dlc_relu_forward: a fused Dense layer. Same workspace. */
dlc_status dlc_sgemm_ex(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc, const float *bias, int relu, void *workspace,
                        size_t workspace_size);
/* Naive triple loop: the fallback and the test oracle. Needs no workspace. */
dlc_status dlc_sgemm_ref(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                         const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                         float *c, int64_t ldc);

/* ---------------------------------------------------------------- conv2d.c */

typedef struct {
    int64_t n, h, w, c;      /* input  (n, h, w, c) */
    int64_t kh, kw, oc;      /* kernel (kh, kw, c / groups, oc) */
    int64_t sh, sw;          /* strides */
    int64_t dh, dw;          /* dilation */
    int64_t pad_top, pad_bottom, pad_left, pad_right; /* zero padding */
    int64_t groups;          /* c % groups == 0 and oc % groups == 0 */
    int64_t oh, ow;          /* output (n, oh, ow, oc) */
} dlc_conv2d_shape;

/* EINVAL unless every size is positive (pads >= 0) and oh, ow match
 * oh = (h + pad_top + pad_bottom - dh * (kh - 1) - 1) / sh + 1 (>= 1), likewise ow.
 * dlc_conv2d_fault names the first failing condition: NULL, INPUT, WINDOW, STRIDE, PADDING,
 * GROUPS, RANGE (a field >= 2**31), FIT, OUTPUT, RANGE (an element count beyond int64).
 * dlc_conv2d_set_output sets oh, ow by the formula (when every condition before OUTPUT
 * holds; else it leaves them) and returns dlc_conv2d_fault of the result. */
dlc_status dlc_conv2d_check(const dlc_conv2d_shape *s);
dlc_fault dlc_conv2d_fault(const dlc_conv2d_shape *s);
dlc_fault dlc_conv2d_set_output(dlc_conv2d_shape *s);
size_t dlc_conv2d_workspace_size(const dlc_conv2d_shape *s);
/* y = conv(x, w) + b; b may be NULL. */
dlc_status dlc_conv2d_forward(const dlc_conv2d_shape *s, const float *x, const float *w,
                              const float *b, float *y, void *workspace, size_t workspace_size);
/* The fused forms. relu != 0: y = max-style ReLU of (conv + b) (dlc_relu_forward's formula),
 * the bits of the unfused forward followed by a ReLU pass. accumulate != 0: the gradients are
 * added (+=) as below, 0: they are overwritten (dx, dw, db need not be initialised).
 * dy_mask (NULL: none): dy is read as 0 + dy * (dy_mask > 0): dy_mask is the output y of a
 * plain ReLU that produced this convolution's dy, the bits of a ReLU backward pass into a
 * zeroed buffer followed by the unmasked kernel. */
dlc_status dlc_conv2d_forward_ex(const dlc_conv2d_shape *s, const float *x, const float *w,
                                 const float *b, float *y, int relu, void *workspace,
                                 size_t workspace_size);
dlc_status dlc_conv2d_backward_data_ex(const dlc_conv2d_shape *s, const float *dy,
                                       const float *dy_mask, const float *w, float *dx,
                                       int accumulate, void *workspace, size_t workspace_size);
dlc_status dlc_conv2d_backward_weights_ex(const dlc_conv2d_shape *s, const float *x,
                                          const float *dy, const float *dy_mask, float *dw,
                                          float *db, int accumulate, void *workspace,
                                          size_t workspace_size);
/* dx += conv_transpose(dy, w). */
dlc_status dlc_conv2d_backward_data(const dlc_conv2d_shape *s, const float *dy, const float *w,
                                    float *dx, void *workspace, size_t workspace_size);
/* dw += correlation of x and dy; db += sum of dy over n, oh, ow (db may be NULL). */
dlc_status dlc_conv2d_backward_weights(const dlc_conv2d_shape *s, const float *x,
                                       const float *dy, float *dw, float *db, void *workspace,
                                       size_t workspace_size);

/* ---------------------------------------------------------------- pool2d.c */

typedef struct {
    int64_t n, h, w, c;      /* input (n, h, w, c) */
    int64_t ph, pw;          /* pool window */
    int64_t sh, sw;          /* strides */
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    int64_t oh, ow;          /* output (n, oh, ow, c) */
} dlc_pool2d_shape;

/* EINVAL unless sizes are positive and oh = (h + pad_top + pad_bottom - ph) / sh + 1, likewise
 * ow, and every window overlaps the unpadded input (pads < window).
 * dlc_pool2d_fault names the first failing condition: NULL, INPUT, WINDOW, STRIDE, PADDING
 * (< 0 or >= the window), RANGE (h * w, ph, pw, sh or sw beyond int32, or an element count
 * beyond int64), FIT, OUTPUT. dlc_pool2d_set_output sets oh, ow by the formula (when every
 * condition before OUTPUT holds) and returns dlc_pool2d_fault of the result. */
dlc_status dlc_pool2d_check(const dlc_pool2d_shape *s);
dlc_fault dlc_pool2d_fault(const dlc_pool2d_shape *s);
dlc_fault dlc_pool2d_set_output(dlc_pool2d_shape *s);
/* Padded positions never win a max and are excluded from an average's count (Keras/TF). */
/* argmax (n, oh, ow, c) int32: the flat index (ih * w + iw) of the winner within its image;
 * of equal values the first in row-major window order wins; NULL: y only (inference). Outputs
 * must not overlap inputs. */
dlc_status dlc_maxpool2d_forward(const dlc_pool2d_shape *s, const float *x, float *y,
                                 int32_t *argmax);
/* dx += dy routed to argmax. An argmax entry that does not name a position inside its own
 * window contributes nothing (so a corrupt argmax can never write out of bounds). */
dlc_status dlc_maxpool2d_backward(const dlc_pool2d_shape *s, const float *dy,
                                  const int32_t *argmax, float *dx);
/* accumulate == 0: dx = the routed dy (dx need not be initialised). relu_y (NULL: none, only
 * with accumulate == 0): the pooled output of a plain ReLU's result, each routed value times
 * relu_y > 0: the ReLU behind the pooling fused (the bits of a ReLU backward pass after it). */
dlc_status dlc_maxpool2d_backward_ex(const dlc_pool2d_shape *s, const float *dy,
                                     const int32_t *argmax, const float *relu_y, float *dx,
                                     int accumulate);
/* MaxPooling2D then Dropout in one pass: y = dropout(maxpool(x)) with dlc_dropout_forward's
 * stream over the pooled elements, code (n, oh, ow, c) uint8 = the winner's row-major position
 * in its window | 0x80 when kept; the pooled tensor is not written. ph * pw <= 128. Backward:
 * dx (+)= the routed 0 + (kept ? dy / (1 - rate) : 0), times relu_y > 0 when relu_y (the pair's
 * output y of a plain ReLU's result; overwrite only). */
dlc_status dlc_maxpool2d_dropout_forward(const dlc_pool2d_shape *s, const float *x, float rate,
                                         uint64_t seed, uint64_t step, float *y, uint8_t *code);
dlc_status dlc_maxpool2d_dropout_backward(const dlc_pool2d_shape *s, const float *dy,
                                          const uint8_t *code, float rate, const float *relu_y,
                                          float *dx, int accumulate);
dlc_status dlc_avgpool2d_forward(const dlc_pool2d_shape *s, const float *x, float *y);
dlc_status dlc_avgpool2d_backward(const dlc_pool2d_shape *s, const float *dy, float *dx);
/* Global pooling over hw = h * w positions: x (n, hw, c) -> y (n, c). Sizes are valid when
 * dlc_global_pool2d_fault gives NONE: else INPUT (a size < 1) or RANGE (hw >= 2**31, argmax
 * is int32, or n * hw * c beyond int64). */
dlc_fault dlc_global_pool2d_fault(int64_t n, int64_t hw, int64_t c);
dlc_status dlc_global_maxpool2d_forward(int64_t n, int64_t hw, int64_t c, const float *x,
                                        float *y, int32_t *argmax);
/* EINVAL, with dx unchanged, if an argmax entry is outside [0, hw). */
dlc_status dlc_global_maxpool2d_backward(int64_t n, int64_t hw, int64_t c, const float *dy,
                                         const int32_t *argmax, float *dx);
dlc_status dlc_global_avgpool2d_forward(int64_t n, int64_t hw, int64_t c, const float *x,
                                        float *y);
dlc_status dlc_global_avgpool2d_backward(int64_t n, int64_t hw, int64_t c, const float *dy,
                                         float *dx);

/* ---------------------------------------------------------------- batchnorm.c */

/* x is (m, c): every leading axis (n, h, w) flattened into m rows; statistics per channel.
 * gamma / beta may be NULL (scale / center off: gamma = 1, beta = 0). Training forward and
 * backward need m >= 1; outputs must not overlap inputs or each other (EINVAL). Reductions
 * over m use a row partition fixed by m and accumulate in double. */
size_t dlc_batchnorm_workspace_size(int64_t m, int64_t c);
/* Training: batch mean and biased variance; y = gamma * (x - mean) * invstd + beta with
 * invstd = 1 / sqrt(var + eps); writes mean and invstd (c) for backward and updates
 * moving_* = moving_* * momentum + batch_stat * (1 - momentum) (Keras convention, biased var). */
dlc_status dlc_batchnorm_forward_train(int64_t m, int64_t c, float eps, float momentum,
                                       const float *x, const float *gamma, const float *beta,
                                       float *y, float *mean, float *invstd,
                                       float *moving_mean, float *moving_var, int relu,
                                       void *workspace, size_t workspace_size);
/* Inference: normalise with the moving statistics. relu (both forwards): y = ReLU(y) in the
 * same store (a ReLU layer behind the batch norm, fused). */
dlc_status dlc_batchnorm_forward_infer(int64_t m, int64_t c, float eps, const float *x,
                                       const float *gamma, const float *beta,
                                       const float *moving_mean, const float *moving_var,
                                       float *y, int relu);
/* dx += ..., dgamma += sum(dy * xhat), dbeta += sum(dy); dgamma / dbeta may be NULL.
 * dy_mask (may be NULL): the fused ReLU's output; dy is read as 0 + dy * (dy_mask > 0).
 * accumulate == 0: dx = 0 + ... (dx need not be initialised; the gradients still add). */
dlc_status dlc_batchnorm_backward(int64_t m, int64_t c, const float *x, const float *dy,
                                  const float *gamma, const float *mean, const float *invstd,
                                  float *dx, float *dgamma, float *dbeta, const float *dy_mask,
                                  int accumulate, void *workspace, size_t workspace_size);

/* ---------------------------------------------------------------- activations.c */

/* Elementwise over n values. Backward gets both x (the input) and y (the forward output) and
 * accumulates dx += dy * f'(x). Every forward here (softmax too) may run in place: y == x
 * exactly; any other overlap of y and x is EINVAL, as is dx overlapping an input. */
/* ReLU, Keras 3's general form: y = max_value if x >= max_value; x if threshold < x < max;
 * negative_slope * (x - threshold) otherwise. max_value = INFINITY for none. LeakyReLU is
 * negative_slope = alpha, threshold 0. The derivative at x == threshold is negative_slope
 * (0 for the plain ReLU at x == 0, as torch and TensorFlow), so for the plain ReLU the
 * backward may be given y in place of x. */
dlc_status dlc_relu_forward(int64_t n, float negative_slope, float threshold, float max_value,
                            const float *x, float *y);
dlc_status dlc_relu_backward(int64_t n, float negative_slope, float threshold, float max_value,
                             const float *x, const float *dy, float *dx);
/* accumulate == 0: dx = 0 + dy * relu'(x) (the bits accumulate gives on a zeroed dx). */
dlc_status dlc_relu_backward_ex(int64_t n, float negative_slope, float threshold,
                                float max_value, const float *x, const float *dy, float *dx,
                                int accumulate);
/* ELU: x if x > 0 else alpha * (exp(x) - 1) (computed with expm1). Backward uses
 * f'(x) = y + alpha for x <= 0. */
dlc_status dlc_elu_forward(int64_t n, float alpha, const float *x, float *y);
dlc_status dlc_elu_backward(int64_t n, float alpha, const float *x, const float *y,
                            const float *dy, float *dx);
/* Sigmoid, stable for large |x| (exp only of -|x|); backward dx += dy * y * (1 - y).
 * Tanh backward: dx += dy * (1 - y^2). */
dlc_status dlc_sigmoid_forward(int64_t n, const float *x, float *y);
dlc_status dlc_sigmoid_backward(int64_t n, const float *y, const float *dy, float *dx);
dlc_status dlc_tanh_forward(int64_t n, const float *x, float *y);
dlc_status dlc_tanh_backward(int64_t n, const float *y, const float *dy, float *dx);
/* SiLU (swish): y = x * sigmoid(x); backward dx += dy * s * (1 + x * (1 - s)), s = sigmoid(x)
 * recomputed from x. GELU, Keras's exact form: y = x * Phi(x) = 0.5 * x * erfc(-x / sqrt(2));
 * backward dx += dy * (Phi(x) + x * phi(x)). Both backwards read x, not y. */
dlc_status dlc_silu_forward(int64_t n, const float *x, float *y);
dlc_status dlc_silu_backward(int64_t n, const float *x, const float *dy, float *dx);
dlc_status dlc_gelu_forward(int64_t n, const float *x, float *y);
dlc_status dlc_gelu_backward(int64_t n, const float *x, const float *dy, float *dx);
/* Softmax over the last axis of (m, k), max-subtracted. */
dlc_status dlc_softmax_forward(int64_t m, int64_t k, const float *x, float *y);
/* dx += y * (dy - sum(dy * y)) per row. */
dlc_status dlc_softmax_backward(int64_t m, int64_t k, const float *y, const float *dy,
                                float *dx);

/* ---------------------------------------------------------------- softmax_xent.c */

/* Losses over m samples. loss (m) receives each sample's loss; the caller averages.
 * Backward accumulates d(scale * sum of per-sample losses) into dx, where scale is the caller's
 * upstream factor (1 / m for a mean). EINVAL unless m >= 0, k >= 1 and eps is in [0, 0.5).
 * At a clip bound (eps or 1 - eps) the gradient passes, as torch.clamp's; beyond it, it is 0. */

/* Fused softmax + categorical cross-entropy on logits (m, k). labels: one-hot or soft (m, k). */
dlc_status dlc_softmax_xent_forward(int64_t m, int64_t k, const float *logits,
                                    const float *labels, float *probs, float *loss);
/* dlogits += scale * (probs - labels): the gradient when every row of labels sums to 1. */
dlc_status dlc_softmax_xent_backward(int64_t m, int64_t k, const float *probs,
                                     const float *labels, float scale, float *dlogits);
/* The same with integer labels (m) in [0, k); EINVAL on a label out of range. */
dlc_status dlc_softmax_xent_sparse_forward(int64_t m, int64_t k, const float *logits,
                                           const int32_t *labels, float *probs, float *loss);
dlc_status dlc_softmax_xent_sparse_backward(int64_t m, int64_t k, const float *probs,
                                            const int32_t *labels, float scale,
                                            float *dlogits);
/* Categorical cross-entropy on probabilities (Keras from_logits=False on a non-softmax output):
 * p / sum(p) clipped to [eps, 1 - eps], loss = -sum(labels * log p). */
dlc_status dlc_xent_forward(int64_t m, int64_t k, float eps, const float *probs,
                            const float *labels, float *loss);
dlc_status dlc_xent_backward(int64_t m, int64_t k, float eps, const float *probs,
                             const float *labels, float scale, float *dprobs);
/* Binary cross-entropy, elementwise over (m, k), per-sample loss is the mean over k.
 * from_logits != 0: stable max(x,0) - x*z + log1p(exp(-|x|)); else p clipped to [eps, 1-eps]. */
dlc_status dlc_bce_forward(int64_t m, int64_t k, int from_logits, float eps, const float *x,
                           const float *labels, float *loss);
dlc_status dlc_bce_backward(int64_t m, int64_t k, int from_logits, float eps, const float *x,
                            const float *labels, float scale, float *dx);
/* Mean squared error, per-sample loss is the mean over k of (x - labels)^2. */
dlc_status dlc_mse_forward(int64_t m, int64_t k, const float *x, const float *labels,
                           float *loss);
dlc_status dlc_mse_backward(int64_t m, int64_t k, const float *x, const float *labels,
                            float scale, float *dx);

/* ---------------------------------------------------------------- dropout.c */

/* Inverted dropout: mask[i] = 1 if uniform(seed, step, i) >= rate else 0, keyed by a
 * counter-based generator (Philox-4x32-10) so the mask does not depend on threads.
 * y = x * mask / (1 - rate), computed as mask ? x * s : 0 with s = 1 / (1 - rate) in float
 * (a dropped element is 0 even if x is inf or NaN). rate in [0, 1). */
dlc_status dlc_dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t step,
                               const float *x, float *y, uint8_t *mask);
/* dx += dy * mask / (1 - rate). */
dlc_status dlc_dropout_backward(int64_t n, float rate, const uint8_t *mask, const float *dy,
                                float *dx);
/* accumulate == 0: dx = 0 + dy * mask / (1 - rate); relu_y (NULL: none, overwrite only): the
 * dropout's input, a plain ReLU's output: dx = 0 + that * (relu_y > 0), the ReLU fused. */
dlc_status dlc_dropout_backward_ex(int64_t n, float rate, const uint8_t *mask, const float *dy,
                                   const float *relu_y, float *dx, int accumulate);
/* n uniform floats in [0, 1) from the same generator (for tests and initializers):
 * uniform(seed, step, i) = (word i % 4 of Philox4x32-10 with counter
 * (b_lo, b_hi, step_lo, step_hi), b = i / 4, and key (seed_lo, seed_hi)) >> 8, times 2^-24. */
dlc_status dlc_philox_uniform(int64_t n, uint64_t seed, uint64_t step, float *out);
/* One block of Philox4x32-10 (Random123's philox4x32_R(10, ctr, key)): for known-answer tests. */
dlc_status dlc_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* ---------------------------------------------------------------- elementwise.c */

/* The executor's data movement as kernels (so a step can run as kernel calls only). Outputs
 * must not overlap inputs. y = value; y = x; y += x (n floats). */
dlc_status dlc_fill(int64_t n, float value, float *y);
dlc_status dlc_copy(int64_t n, const float *x, float *y);
dlc_status dlc_add_into(int64_t n, const float *x, float *y);
/* y[j] (+)= sum over rows i (in order) of x[i * n + j], x (m, n): a bias gradient. */
dlc_status dlc_colsum(int64_t m, int64_t n, const float *x, float *y, int accumulate);
/* y[r * ldy + j] (+)= x[r * ldx + j], r < rows, j < cols: concatenation and its backward. */
dlc_status dlc_copy2d(int64_t rows, int64_t cols, const float *x, int64_t ldx, float *y,
                      int64_t ldy, int accumulate);

/* ---------------------------------------------------------------- optim.c */

/* One fused update over flat buffers of n parameters, Keras 3 formulas. w and the state
 * buffers are updated in place; g is read only; no buffer may overlap another. weight_decay
 * (decoupled, as Keras 3): w -= lr * weight_decay * w before the update (skipped when 0).
 * EINVAL unless lr, weight_decay and eps are finite and >= 0, momentum and rho are in [0, 1],
 * beta1 and beta2 in [0, 1), t >= 1, and every buffer the update needs is present.
 * A state buffer the configuration does not use (v with momentum 0, ...) is left untouched. */
/* SGD: momentum == 0: w -= lr * g. Else v = momentum * v - lr * g;
 * w += v (or, nesterov, w += momentum * v - lr * g). v may be NULL when momentum == 0. */
dlc_status dlc_sgd_step(int64_t n, float lr, float momentum, int nesterov, float weight_decay,
                        float *w, const float *g, float *v);
/* Adagrad: acc += g^2; w -= lr * g / sqrt(acc + eps). */
dlc_status dlc_adagrad_step(int64_t n, float lr, float eps, float weight_decay, float *w,
                            const float *g, float *acc);
/* RMSprop: v = rho * v + (1 - rho) * g^2; centered: a = rho * a + (1 - rho) * g,
 * den = v - a^2 + eps, else den = v + eps; inc = lr * g / sqrt(den);
 * momentum > 0: mom = momentum * mom + inc, w -= mom; else w -= inc.
 * mom may be NULL when momentum == 0, avg may be NULL unless centered. */
dlc_status dlc_rmsprop_step(int64_t n, float lr, float rho, float momentum, float eps,
                            int centered, float weight_decay, float *w, const float *g,
                            float *v, float *mom, float *avg);
/* Adam at step t >= 1: alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m += (g - m)(1 - b1);
 * v += (g^2 - v)(1 - b2); amsgrad: vhat = max(vhat, v) used for v; w -= alpha * m / (sqrt(v) + eps).
 * vhat may be NULL unless amsgrad. */
dlc_status dlc_adam_step(int64_t n, float lr, float beta1, float beta2, float eps, int amsgrad,
                         int64_t t, float weight_decay, float *w, const float *g, float *m,
                         float *v, float *vhat);
/* Adadelta: ag = rho * ag + (1 - rho) * g^2; d = -sqrt(ad + eps) / sqrt(ag + eps) * g;
 * ad = rho * ad + (1 - rho) * d^2; w += lr * d. */
dlc_status dlc_adadelta_step(int64_t n, float lr, float rho, float eps, float weight_decay,
                             float *w, const float *g, float *acc_grad, float *acc_delta);

/* ---------------------------------------------------------------- image.c */

/* Image resampling and intensity kernels of the preprocessing and augmentation layers. */
typedef struct {
    int64_t n, h, w, c; /* input  (n, h, w, c) */
    int64_t oh, ow;     /* output (n, oh, ow, c) */
} dlc_warp_shape;

typedef enum { DLC_INTERP_NEAREST = 0, DLC_INTERP_BILINEAR = 1 } dlc_interpolation;
/* How a tap outside the image is read (Keras 3's fill modes, applied per tap as its torch
 * backend does): CONSTANT, the fill value; NEAREST, the edge pixel (a a | a b c d | d d);
 * REFLECT, about the edge (b a | a b c d | d c); WRAP, from the opposite edge (c d | a b c d | a b). */
typedef enum {
    DLC_FILL_CONSTANT = 0, DLC_FILL_NEAREST = 1, DLC_FILL_REFLECT = 2, DLC_FILL_WRAP = 3
} dlc_fill_mode;

/* EINVAL unless every size is >= 1, h, w, oh, ow are below 2**24 (pixel coordinates are exact
 * floats) and every element count fits in int64. dlc_image_warp_fault names the first failing
 * condition: NULL, INPUT (a size < 1), RANGE. */
dlc_fault dlc_image_warp_fault(const dlc_warp_shape *s);
dlc_status dlc_image_warp_check(const dlc_warp_shape *s);
/* Per-sample projective resampling, NHWC float32. transform is (n, 8): for sample b the row
 * [a0 a1 a2 b0 b1 b2 c0 c1] (Keras's layout) maps output pixel (x = column, y = row) to the
 * input point u = (a0 x + a1 y + a2) / k, v = (b0 x + b1 y + b2) / k, k = c0 x + c1 y + 1,
 * each computed in float in that order, then clamped to [-2**30, 2**30] (NaN to -2**30).
 * Bilinear: the taps floor(v) + {0, 1} by floor(u) + {0, 1} with weights (1 - t, t),
 * t = u - floor(u), summed in the order (0,0), (0,1), (1,0), (1,1); nearest: the tap
 * floor(u + 0.5), floor(v + 0.5). Each tap is read through fill_mode; with CONSTANT an outside
 * tap reads fill_value. y must not overlap x or transform. */
dlc_status dlc_image_warp_forward(const dlc_warp_shape *s, int interpolation, int fill_mode,
                                  float fill_value, const float *x, const float *transform,
                                  float *y);
/* The adjoint (the gradient with respect to x): dx += warp^T(dy), each tap's weight times dy
 * added to the pixel it read (nothing for a constant fill). Per sample, in output pixel then
 * tap order, so the sums do not depend on threads (threads split the samples). */
dlc_status dlc_image_warp_backward(const dlc_warp_shape *s, int interpolation, int fill_mode,
                                   const float *dy, const float *transform, float *dx);

/* Per-sample contrast and brightness of x (n, hw, c): with m[b, ch] the mean of channel ch of
 * sample b over its hw pixels (accumulated in double) when center != 0, else 0,
 * y = clip((x - m) * factor[b] + m + delta[b], lo, hi). mean (n, c) receives m. RandomContrast
 * is center = 1, delta = 0; RandomBrightness center = 0, factor = 1 (y = clip(x + delta)).
 * EINVAL unless lo <= hi (neither NaN). y must not overlap the inputs. */
dlc_status dlc_image_adjust_forward(int64_t n, int64_t hw, int64_t c, int center, float lo,
                                    float hi, const float *x, const float *factor,
                                    const float *delta, float *y, float *mean);
/* dx += the gradient: g = dy where lo <= z <= hi (z the unclipped value), else 0;
 * dx = g * factor + (1 - factor) * sum_pixels(g) / hw per channel when center != 0. */
dlc_status dlc_image_adjust_backward(int64_t n, int64_t hw, int64_t c, int center, float lo,
                                     float hi, const float *x, const float *factor,
                                     const float *delta, const float *mean, const float *dy,
                                     float *dx);

/* x viewed as (outer, k, inner): y = (x - sub[j]) * mul[j] + add[j] for the elements with
 * middle index j, or (x - sub[j]) / mul[j] + add[j] when divide != 0 (Normalization,
 * Rescaling). y may be x (in place) or must not overlap it. */
dlc_status dlc_normalize_forward(int64_t outer, int64_t k, int64_t inner, int divide,
                                 const float *x, const float *sub, const float *mul,
                                 const float *add, float *y);
/* dx += dy * mul[j] (or dy / mul[j]). */
dlc_status dlc_normalize_backward(int64_t outer, int64_t k, int64_t inner, int divide,
                                  const float *mul, const float *dy, float *dx);
/* ================================================================ more layers and losses
 * losses.c (Keras's regression, probabilistic and hinge losses), and the kernels of the
 * regularisation and locally connected layers, each family under its own heading. */

/* ---------------------------------------------------------------- losses.c */

/* As the losses of softmax_xent.c: x (m, k) predictions, labels (m, k), loss (m) receives each
 * row's loss, backward accumulates dx += scale * d(sum of row losses) / dx. EINVAL unless
 * m >= 0, k >= 1 (and eps in [0, 0.5), delta finite and >= 0). Row losses are the mean over k
 * of the element losses unless said otherwise. Where the formula has a kink (|e|, a hinge at
 * 0, a maximum) the gradient there is 0; at a clip bound it passes, as torch.clamp's. */
/* Mean absolute error |x - t|. */
dlc_status dlc_mae_forward(int64_t m, int64_t k, const float *x, const float *labels,
                           float *loss);
dlc_status dlc_mae_backward(int64_t m, int64_t k, const float *x, const float *labels,
                            float scale, float *dx);
/* Mean absolute percentage error 100 |t - x| / max(|t|, eps). */
dlc_status dlc_mape_forward(int64_t m, int64_t k, float eps, const float *x, const float *labels,
                            float *loss);
dlc_status dlc_mape_backward(int64_t m, int64_t k, float eps, const float *x,
                             const float *labels, float scale, float *dx);
/* Mean squared logarithmic error (log(max(x, eps) + 1) - log(max(t, eps) + 1))^2. */
dlc_status dlc_msle_forward(int64_t m, int64_t k, float eps, const float *x, const float *labels,
                            float *loss);
dlc_status dlc_msle_backward(int64_t m, int64_t k, float eps, const float *x,
                             const float *labels, float scale, float *dx);
/* Huber: e = x - t, 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2. */
dlc_status dlc_huber_forward(int64_t m, int64_t k, float delta, const float *x,
                             const float *labels, float *loss);
dlc_status dlc_huber_backward(int64_t m, int64_t k, float delta, const float *x,
                              const float *labels, float scale, float *dx);
/* log(cosh(x - t)), computed as |e| + log1p(exp(-2|e|)) - log 2 (no overflow); d/dx tanh(e). */
dlc_status dlc_log_cosh_forward(int64_t m, int64_t k, const float *x, const float *labels,
                                float *loss);
dlc_status dlc_log_cosh_backward(int64_t m, int64_t k, const float *x, const float *labels,
                                 float scale, float *dx);
/* Poisson: x - t log(x + eps). */
dlc_status dlc_poisson_forward(int64_t m, int64_t k, float eps, const float *x,
                               const float *labels, float *loss);
dlc_status dlc_poisson_backward(int64_t m, int64_t k, float eps, const float *x,
                                const float *labels, float scale, float *dx);
/* Kullback-Leibler divergence, the SUM over k of t log(t / x), t and x clipped to [eps, 1]. */
dlc_status dlc_kld_forward(int64_t m, int64_t k, float eps, const float *x, const float *labels,
                           float *loss);
dlc_status dlc_kld_backward(int64_t m, int64_t k, float eps, const float *x,
                            const float *labels, float scale, float *dx);
/* Hinge max(1 - y x, 0) (squared != 0: its square), y = 2t - 1 when every label of the batch
 * is 0 or 1 (Keras's conversion), else y = t. */
dlc_status dlc_hinge_forward(int64_t m, int64_t k, int squared, const float *x,
                             const float *labels, float *loss);
dlc_status dlc_hinge_backward(int64_t m, int64_t k, int squared, const float *x,
                              const float *labels, float scale, float *dx);
/* Categorical hinge per row: max(max_j((1 - t_j) x_j) - sum_j t_j x_j + 1, 0); the gradient
 * of the maximum goes to its first index. */
dlc_status dlc_categorical_hinge_forward(int64_t m, int64_t k, const float *x,
                                         const float *labels, float *loss);
dlc_status dlc_categorical_hinge_backward(int64_t m, int64_t k, const float *x,
                                          const float *labels, float scale, float *dx);
/* Cosine similarity per row: -(x / max(||x||, eps)) . (t / max(||t||, eps)); eps > 0. */
dlc_status dlc_cosine_similarity_forward(int64_t m, int64_t k, float eps, const float *x,
                                         const float *labels, float *loss);
dlc_status dlc_cosine_similarity_backward(int64_t m, int64_t k, float eps, const float *x,
                                          const float *labels, float scale, float *dx);

/* ---------------------------------------------------------------- locally_connected.c */

/* Locally connected (unshared) 2-D convolution, Keras 2's LocallyConnected2D (implementation
 * 1's layout), NHWC, 'valid': every output position p = oy * ow + ox has its own filters.
 * x (n, h, w, c); w (oh * ow, kh * kw * c, f), the patch flattened as (kh, kw, c);
 * b (oh, ow, f) or NULL; y (n, oh, ow, f) with oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1. */
typedef struct {
    int64_t n, h, w, c; /* input (n, h, w, c) */
    int64_t kh, kw, f;  /* window and filters per position */
    int64_t sh, sw;     /* strides */
    int64_t oh, ow;     /* output (n, oh, ow, f) */
} dlc_local2d_shape;

/* dlc_local2d_fault names the first failing condition: NULL, INPUT, WINDOW (kh, kw or f < 1),
 * STRIDE, FIT (the window larger than the input), OUTPUT (oh, ow differ from the formula),
 * RANGE (an element count beyond int64). dlc_local2d_set_output sets oh, ow by the formula
 * (when every condition before OUTPUT holds) and returns the fault of the result. */
dlc_fault dlc_local2d_fault(const dlc_local2d_shape *s);
dlc_fault dlc_local2d_set_output(dlc_local2d_shape *s);
dlc_status dlc_local2d_check(const dlc_local2d_shape *s);
/* y = the unshared convolution of x plus b (overwritten). */
dlc_status dlc_local2d_forward(const dlc_local2d_shape *s, const float *x, const float *w,
                               const float *b, float *y);
/* dx += the input gradient. */
dlc_status dlc_local2d_backward_data(const dlc_local2d_shape *s, const float *dy, const float *w,
                                     float *dx);
/* dw += the kernel gradient; db += the sum of dy over the batch (db may be NULL). */
dlc_status dlc_local2d_backward_weights(const dlc_local2d_shape *s, const float *x,
                                        const float *dy, float *dw, float *db);

/* ---------------------------------------------------------------- layernorm.c */

/* Layer normalisation of x viewed as (m, k): every leading axis flattened into m rows, the
 * normalised axes into k >= 1 columns; statistics per row (biased variance, in double), gamma
 * and beta (k) per column, either may be NULL (scale / center off). Outputs must not overlap
 * inputs. Forward: y = (x - mean) * invstd * gamma + beta, invstd = 1 / sqrt(var + eps),
 * eps >= 0; writes mean and invstd (m) for backward. */
dlc_status dlc_layernorm_forward(int64_t m, int64_t k, float eps, const float *x,
                                 const float *gamma, const float *beta, float *y, float *mean,
                                 float *invstd);
/* dx += invstd * (g - mean(g) - xhat * mean(g * xhat)) per row, g = dy * gamma, xhat the
 * normalised x; dgamma += sum over rows of dy * xhat, dbeta += sum of dy. dx, dgamma and dbeta
 * may each be NULL (not wanted). */
dlc_status dlc_layernorm_backward(int64_t m, int64_t k, const float *x, const float *dy,
                                  const float *gamma, const float *mean, const float *invstd,
                                  float *dx, float *dgamma, float *dbeta);

/* ---------------------------------------------------------------- noise.c */

/* Random regularisation from dropout.c's stream (Philox-4x32-10 keyed by seed, step, index),
 * so results do not depend on threads. normal(seed, step, i): Box-Muller on the uniforms
 * u1 = uniform(seed, step, 2j), u2 = uniform(seed, step, 2j + 1), j = i / 2, in double:
 * sqrt(-2 log(1 - u1)) times cos(2 pi u2) for even i, sin(2 pi u2) for odd i (|z| <= 5.77). */
dlc_status dlc_philox_normal(int64_t n, uint64_t seed, uint64_t step, float *out);
/* y = x + stddev * normal(i); stddev finite and >= 0; y must not overlap x. */
dlc_status dlc_gaussian_noise_forward(int64_t n, float stddev, uint64_t seed, uint64_t step,
                                      const float *x, float *y);
/* noise = 1 + stddev * normal(i), y = x * noise (Keras's GaussianDropout: stddev =
 * sqrt(rate / (1 - rate))); backward dx += dy * noise. */
dlc_status dlc_gaussian_dropout_forward(int64_t n, float stddev, uint64_t seed, uint64_t step,
                                        const float *x, float *y, float *noise);
dlc_status dlc_gaussian_dropout_backward(int64_t n, const float *noise, const float *dy,
                                         float *dx);
/* Spatial dropout: x holds n samples of c channels at hw positions, (n, hw, c) channels-last
 * or (n, c, hw) channels_first; mask (n, c) keeps channel ch of sample i when
 * uniform(seed, step, i * c + ch) >= rate (dlc_dropout_forward's mask for an (n, c) array),
 * y = mask ? x / (1 - rate) : 0 (0 even for inf or NaN), rate in [0, 1). Backward
 * dx += mask ? dy / (1 - rate) : 0. */
dlc_status dlc_spatial_dropout_forward(int64_t n, int64_t hw, int64_t c, int channels_first,
                                       float rate, uint64_t seed, uint64_t step, const float *x,
                                       float *y, uint8_t *mask);
dlc_status dlc_spatial_dropout_backward(int64_t n, int64_t hw, int64_t c, int channels_first,
                                        float rate, const uint8_t *mask, const float *dy,
                                        float *dx);

#ifdef __cplusplus
}
#endif
#endif /* DLC_H */
