/* dropout.c - inverted dropout with a counter-based generator (Philox-4x32-10).
 *
 * The stream: element i gets word (i % 4) of Philox4x32-10 applied to the counter
 * (b_lo, b_hi, step_lo, step_hi), b = i / 4, under the key (seed_lo, seed_hi); the word's 24
 * high bits divided by 2^24 give an exactly representable float in [0, 1).
 * Every value is a pure function of (seed, step, i), so the mask does not depend on how the
 * elements are split among threads.
 */
#include "internal.h"

#include <string.h>

/* Elements per parallel chunk (a multiple of 4) and the size below which one thread runs. */
#define DROPOUT_CHUNK 4096 /* a multiple of 4 * PHILOX_LANES */
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

/* The stream is produced PHILOX_LANES blocks (4 * PHILOX_LANES floats) at a time, in
 * structure-of-arrays form so that the compiler vectorises the rounds across blocks (32x32->64
 * multiplies). The same C is compiled for the portable, AVX2 and AVX-512 paths
 * (DLC_SIMD_VARIANTS, internal.h); it is integer arithmetic, so every path gives the same bits. */
#define PHILOX_LANES 16
#define GROUP (4 * PHILOX_LANES)

typedef void (*uniform_fn)(uint64_t seed, uint64_t step, uint64_t block0, float *u);

/* u[4 * l + j] = uniform of element 4 * (block0 + l) + j, for l < PHILOX_LANES. */
DLC_INLINE void uniform_body(uint64_t seed, uint64_t step, uint64_t block0, float *u) {
    uint32_t c0[PHILOX_LANES], c1[PHILOX_LANES], c2[PHILOX_LANES], c3[PHILOX_LANES];
    for (int l = 0; l < PHILOX_LANES; l++) {
        uint64_t b = block0 + (uint64_t)l;
        c0[l] = (uint32_t)b, c1[l] = (uint32_t)(b >> 32);
        c2[l] = (uint32_t)step, c3[l] = (uint32_t)(step >> 32);
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        if (r > 0) k0 += PHILOX_W0, k1 += PHILOX_W1;
#pragma omp simd
        for (int l = 0; l < PHILOX_LANES; l++) {
            /* high and low halves as separate expressions: the vectoriser's pattern */
            uint32_t a = c0[l], b = c2[l];
            uint32_t hi0 = (uint32_t)(((uint64_t)PHILOX_M0 * a) >> 32), lo0 = PHILOX_M0 * a;
            uint32_t hi1 = (uint32_t)(((uint64_t)PHILOX_M1 * b) >> 32), lo1 = PHILOX_M1 * b;
            uint32_t n0 = hi1 ^ c1[l] ^ k0, n2 = hi0 ^ c3[l] ^ k1;
            c1[l] = lo1;
            c3[l] = lo0;
            c0[l] = n0;
            c2[l] = n2;
        }
    }
    for (int l = 0; l < PHILOX_LANES; l++) {
        u[4 * l + 0] = (float)(c0[l] >> 8) * 0x1.0p-24f;
        u[4 * l + 1] = (float)(c1[l] >> 8) * 0x1.0p-24f;
        u[4 * l + 2] = (float)(c2[l] >> 8) * 0x1.0p-24f;
        u[4 * l + 3] = (float)(c3[l] >> 8) * 0x1.0p-24f;
    }
}

DLC_SIMD_VARIANTS(uniform, (uint64_t seed, uint64_t step, uint64_t block0, float *u),
                  (seed, step, block0, u));

/* v where keep != 0, else +0.0f, by masking the bits (branch-free, so it vectorises; a
 * dropped inf or NaN still gives 0, which multiplying by 0 would not). */
static inline float select_kept(int keep, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= (uint32_t)0 - (uint32_t)(keep != 0);
    memcpy(&v, &bits, sizeof v);
    return v;
}

static inline int64_t nchunks(int64_t n) { return (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK; }

dlc_status dlc_philox_uniform(int64_t n, uint64_t seed, uint64_t step, float *out) {
    DLC_CHECK(n >= 0);
    if (n == 0) return DLC_OK;
    DLC_CHECK(out);
    uniform_fn gen = DLC_SIMD_PICK(uniform);
    int64_t nc = nchunks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= DROPOUT_PAR_MIN)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i1 = DLC_MIN(n, (c + 1) * DROPOUT_CHUNK);
        for (int64_t i = c * DROPOUT_CHUNK; i < i1; i += GROUP) {
            float u[GROUP];
            gen(seed, step, (uint64_t)(i / 4), u);
            int64_t len = DLC_MIN(GROUP, i1 - i);
            for (int64_t j = 0; j < len; j++) out[i + j] = u[j];
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
    uniform_fn gen = DLC_SIMD_PICK(uniform);
    int64_t nc = nchunks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= DROPOUT_PAR_MIN)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i1 = DLC_MIN(n, (c + 1) * DROPOUT_CHUNK);
        for (int64_t i = c * DROPOUT_CHUNK; i < i1; i += GROUP) {
            float u[GROUP];
            gen(seed, step, (uint64_t)(i / 4), u);
            int64_t len = DLC_MIN(GROUP, i1 - i);
#pragma omp simd
            for (int64_t j = 0; j < len; j++) {
                int keep = u[j] >= rate;
                mask[i + j] = (uint8_t)keep;
                y[i + j] = select_kept(keep, x[i + j] * scale);
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
    int64_t nc = nchunks(n);
#pragma omp parallel for schedule(static) num_threads(dlc_threads()) if (n >= DROPOUT_PAR_MIN)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i1 = DLC_MIN(n, (c + 1) * DROPOUT_CHUNK);
#pragma omp simd
        for (int64_t i = c * DROPOUT_CHUNK; i < i1; i++) {
            dx[i] += select_kept(mask[i], dy[i] * scale);
        }
    }
    return DLC_OK;
}
