/* dropout.c - inverted dropout with a counter-based generator (Philox-4x32-10).
 *
 * The stream: element i gets word (i % 4) of Philox4x32-10 applied to the counter
 * (b_lo, b_hi, step_lo, step_hi), b = i / 4, under the key (seed_lo, seed_hi); the word's 24
 * high bits divided by 2^24 give an exactly representable float in [0, 1).
 * Every value is a pure function of (seed, step, i), so the mask does not depend on how the
 * elements are split among threads.
 */
#include "internal.h"

/* Elements per parallel chunk (a multiple of 4) and the size below which one thread runs. */
#define DROPOUT_CHUNK 4096
#define DROPOUT_PAR_MIN 65536

/* Philox-4x32 constants (Salmon et al., SC11): round multipliers and Weyl key increments. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void philox_block(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) k0 += PHILOX_W0, k1 += PHILOX_W1; /* key schedule before rounds 2..10 */
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

dlc_status dlc_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    DLC_CHECK(ctr && key && out);
    philox_block(ctr, key, out);
    return DLC_OK;
}

/* The 4 uniforms of block b of the (seed, step) stream. */
static inline void uniform4(uint64_t seed, uint64_t step, uint64_t b, float u[4]) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)step,
                             (uint32_t)(step >> 32)};
    uint32_t r[4];
    philox_block(ctr, key, r);
    for (int j = 0; j < 4; j++) u[j] = (float)(r[j] >> 8) * 0x1.0p-24f;
}

static inline int64_t nchunks(int64_t n) { return (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK; }

dlc_status dlc_philox_uniform(int64_t n, uint64_t seed, uint64_t step, float *out) {
    DLC_CHECK(n >= 0);
    if (n == 0) return DLC_OK;
    DLC_CHECK(out);
    int64_t nc = nchunks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= DROPOUT_PAR_MIN)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i1 = DLC_MIN(n, (c + 1) * DROPOUT_CHUNK);
        for (int64_t i = c * DROPOUT_CHUNK; i < i1; i += 4) {
            float u[4];
            uniform4(seed, step, (uint64_t)(i / 4), u);
            for (int64_t j = 0; j < 4 && i + j < i1; j++) out[i + j] = u[j];
        }
    }
    return DLC_OK;
}

dlc_status dlc_dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t step,
                               const float *x, float *y, uint8_t *mask) {
    DLC_CHECK(n >= 0);
    DLC_CHECK(rate >= 0.0f && rate < 1.0f); /* also refuses NaN */
    if (n == 0) return DLC_OK;
    DLC_CHECK(x && y && mask);
    const float scale = 1.0f / (1.0f - rate);
    int64_t nc = nchunks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= DROPOUT_PAR_MIN)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i1 = DLC_MIN(n, (c + 1) * DROPOUT_CHUNK);
        for (int64_t i = c * DROPOUT_CHUNK; i < i1; i += 4) {
            float u[4];
            uniform4(seed, step, (uint64_t)(i / 4), u);
            for (int64_t j = 0; j < 4 && i + j < i1; j++) {
                int keep = u[j] >= rate;
                mask[i + j] = (uint8_t)keep;
                /* a dropped element is 0 even when x is inf or NaN */
                y[i + j] = keep ? x[i + j] * scale : 0.0f;
            }
        }
    }
    return DLC_OK;
}

dlc_status dlc_dropout_backward(int64_t n, float rate, const uint8_t *mask, const float *dy,
                                float *dx) {
    DLC_CHECK(n >= 0);
    DLC_CHECK(rate >= 0.0f && rate < 1.0f);
    if (n == 0) return DLC_OK;
    DLC_CHECK(mask && dy && dx);
    const float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= DROPOUT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) dx[i] += mask[i] ? dy[i] * scale : 0.0f;
    return DLC_OK;
}
