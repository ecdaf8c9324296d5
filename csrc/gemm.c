/* gemm.c - row-major SGEMM. BASELINE: correct, parallel, not yet packed/blocked. */
#include "internal.h"

static dlc_status gemm_check(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                             const float *a, int64_t lda, const float *b, int64_t ldb,
                             const float *c, int64_t ldc) {
    DLC_CHECK(m >= 0 && n >= 0 && k >= 0);
    DLC_CHECK(lda >= DLC_MAX(1, trans_a ? m : k));
    DLC_CHECK(ldb >= DLC_MAX(1, trans_b ? k : n));
    DLC_CHECK(ldc >= DLC_MAX(1, n));
    DLC_CHECK((m == 0 || n == 0) || c != NULL);
    DLC_CHECK((m == 0 || n == 0 || k == 0) || (a != NULL && b != NULL));
    return DLC_OK;
}

/* One row of C, the naive way: shared by the reference and the baseline. */
static void gemm_row(int trans_a, int trans_b, int64_t i, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc) {
    for (int64_t j = 0; j < n; j++) {
        float acc = 0.0f;
        for (int64_t p = 0; p < k; p++) {
            float av = trans_a ? a[p * lda + i] : a[i * lda + p];
            float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
            acc += av * bv;
        }
        float *cij = &c[i * ldc + j];
        *cij = (beta == 0.0f) ? alpha * acc : alpha * acc + beta * *cij;
    }
}

dlc_status dlc_sgemm_ref(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                         const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                         float *c, int64_t ldc) {
    dlc_status st = gemm_check(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (st != DLC_OK) return st;
    for (int64_t i = 0; i < m; i++)
        gemm_row(trans_a, trans_b, i, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return DLC_OK;
}

size_t dlc_sgemm_workspace_size(int64_t m, int64_t n, int64_t k) {
    (void)m, (void)n, (void)k;
    return 0;
}

dlc_status dlc_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc, void *workspace, size_t workspace_size) {
    (void)workspace, (void)workspace_size;
    dlc_status st = gemm_check(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (st != DLC_OK) return st;
#pragma omp parallel for schedule(static) num_threads(dlc_threads())
    for (int64_t i = 0; i < m; i++)
        gemm_row(trans_a, trans_b, i, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return DLC_OK;
}

size_t dlc_sgemm_serial_workspace_size(int64_t m, int64_t n, int64_t k) {
    (void)m, (void)n, (void)k;
    return 0;
}

dlc_status dlc_sgemm_serial(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const float *a, int64_t lda, const float *b,
                            int64_t ldb, float beta, float *c, int64_t ldc, void *workspace,
                            size_t workspace_size) {
    (void)workspace, (void)workspace_size;
    dlc_status st = gemm_check(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (st != DLC_OK) return st;
    for (int64_t i = 0; i < m; i++)
        gemm_row(trans_a, trans_b, i, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return DLC_OK;
}
