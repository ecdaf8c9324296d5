/* conv2d.c - 2-D convolution (cross-correlation, as Keras and PyTorch), NHWC, groups.
 *
 * x (n, h, w, c), kernel (kh, kw, cg, oc) with cg = c / groups, y (n, oh, ow, oc).
 * Group g reads input channels [g*cg, (g+1)*cg) and writes output channels [g*ocg, (g+1)*ocg)
 * (ocg = oc / groups). Its kernel matrix W_g is K x ocg with K = kh*kw*cg, stored inside the
 * (K, oc) kernel with leading dimension oc.
 *
 * The output pixels (n*oh*ow of them, rows of y) are cut into tiles of P rows (P depends on the
 * shape only). For a tile, im2col builds the P x K matrix of input patches; then
 *   forward          y_tile[:, g]  = col @ W_g (+ b)
 *   backward data    dcol          = dy_tile[:, g] @ W_g^T, scattered back (col2im) into dx
 *   backward weights dW_g         += col^T @ dy_tile[:, g]
 * with dlc_sgemm_serial on per-thread workspace slots. Stride-1 forwards instead run an
 * implicit GEMM on the input itself (conv_forward_implicit: one GEMM whose A rows are the
 * patches read in place, a run of kw*c floats per kernel row, when groups == 1 and dw == 1,
 * else one GEMM per tap). 1x1 stride-1 unpadded convolutions skip im2col: x itself is the
 * matrix. Kernels with a tiny K (c = 1 first layers) use direct register-blocked kernels
 * instead of GEMM (SIMD variants below): they read the interior pixels' patches from x in
 * place (only border pixels are copied into im2col rows), and backward weights sums db in the
 * same pass, so dy is read once.
 *
 * Threads split disjoint outputs only: tiles of y (forward), (image, group) pairs of dx
 * (backward data, so col2im never races), chunks of tiles for backward weights, whose
 * per-chunk partial dW / db sit in the workspace and are added in chunk order. Tiles and chunks
 * depend on the shape alone, so the results are bit-identical for every thread count.
 *
 * col2im's adds are one portable loop compiled per SIMD target (DLC_SIMD_VARIANTS; elementwise
 * adds: the same bits on every path), one contiguous run per kernel row when dw == 1 and
 * groups == 1. Stride-1, groups-1 backward data with c >= 2*oc and 'same'-like padding
 * instead runs the forward engine on dy with the flipped kernel (flip_shape), where that
 * measured faster.
 *
 * Workspace layout: [partials: nchunks * (K*oc + oc) floats][slot 0][slot 1]... with one slot
 * per thread (col tile of P*K floats + the tile GEMM's workspace). The size function sizes the
 * slots for dlc_threads() at the time of the call (the flipped backward data uses [flipped
 * kernel][its own slots] and is sized in as well); a kernel uses as many threads as there are
 * slots in the workspace it is given (at least one, else DLC_ENOMEM).
 */
#include "internal.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if DLC_X86
#include <immintrin.h>
#endif

static int thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int team_size(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* Keras's plain ReLU with dlc_relu_forward's formula: v > 0 ? v : 0 * v + 0. */
static inline float relu1(float v) {
    float lo = 0.0f * v + 0.0f;
    return v > 0.0f ? v : lo;
}

/* Tile rows: a col tile of P x K floats stays within ~512 KB (L2), 32 <= P <= 256. */
#define TILE_BYTES (512 * 1024)
#define TILE_MAX 256
#define TILE_MIN 32
#define DTILE_MAX 1024
/* Backward weights: at most this many chunks, and their partials within PARTIAL_BYTES. */
#define CHUNKS_MAX 16
#define PARTIAL_BYTES ((size_t)32 << 20)
/* Direct (no GEMM) kernel when groups == 1, K <= SMALLK_MAX and oc <= SMALLK_OC. */
#define SMALLK_MAX 16
#define SMALLK_OC 64
/* Implicit-GEMM forward when stride is 1 and either groups == 1 and dw == 1 (one GEMM over
 * all kernel rows, runs of kw*c, rowk) or each GEMM call (one per tap) gets at least this
 * K = c / groups; below it im2col's single long-K GEMM wins. Tune with the packed GEMM. */
#define IMPLICIT_MIN_K 64
/* Backward data by the flipped forward correlation (flip_shape) when c is at least this. */
#define FLIP_MIN_C 16
/* Implicit backward weights: output pixels per unit (about; whole output rows). */
#define BW_PIX 256

typedef struct {
    int64_t cg, ocg, k;        /* channels per group, output channels per group, K */
    int64_t m;                 /* output pixels n*oh*ow */
    int64_t tile;              /* P */
    int64_t dtile;             /* backward data's rows per tile (at most) */
    int64_t ntiles;            /* ceil(m / P) */
    int64_t nchunks;           /* backward-weights chunks */
    int is1x1;                 /* 1x1, stride 1, no padding: x is the im2col matrix */
    int smallk;                /* direct kernel for forward / backward weights */
    size_t partial_bytes;      /* nchunks * (K*oc + oc) floats, aligned */
    size_t col_bytes;          /* P * K floats, aligned (0 for 1x1) */
    size_t gemm_bytes;         /* tile GEMM workspace, aligned */
    size_t slot_bytes;         /* max(col_bytes, slab_bytes + tmp_bytes) + gemm_bytes */
    /* Implicit-GEMM forward (stride 1): see conv_forward_implicit. */
    int implicit;
    int64_t wp;                /* padded input width = virtual output row length */
    int64_t rows_tile;         /* output rows per unit */
    int64_t tiles_img;         /* units per image */
    int64_t slab_rows;         /* padded input rows a unit reads */
    int64_t kstep;             /* K of one GEMM call: cg (one call per tap and group), or
                                  kw*c (rowk: the run per kernel row of its one call) */
    int rowk;                  /* one GEMM with A as a row table of runs (see below) */
    size_t slab_bytes;         /* padded input rows (0 when unpadded: x is read in place) */
    size_t tmp_bytes;          /* virtual output rows */
    size_t gemm_off;           /* offset of the GEMM workspace in a slot */
    size_t fw_bp_bytes;        /* rowk: the kernel packed once for every unit's GEMM (0: no) */
    /* Masked dy of one tile for the paths that read dy through a GEMM (dy_mask). */
    size_t dz_bytes;
    /* Implicit backward weights (bw_ok; see bwdw_implicit): units of bw_rows output rows. */
    int bw_ok;
    int64_t bw_rows, bw_units_img, bw_units, bw_nchunks, bw_srows, bw_np;
    size_t bw_slab_bytes, bw_pr_bytes, bw_b_bytes, bw_a_bytes, bw_bytes;
    /* Direct backward data (bd_ok; see bwdd_direct): the packed kernel, a masked dy image. */
    int bd_ok;
    size_t bd_w_bytes, bd_dz_bytes, bd_bytes;
} plan;

static int mul_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* The conditions of dlc_conv2d_fault up to FIT, in its order; when they hold, *oh and *ow get
 * the formula's output size. */
static dlc_fault conv2d_fault_in(const dlc_conv2d_shape *s, int64_t *oh, int64_t *ow) {
    const int64_t lim = (int64_t)1 << 31;
    if (s == NULL) return DLC_FAULT_NULL;
    if (!(s->n >= 1 && s->h >= 1 && s->w >= 1 && s->c >= 1)) return DLC_FAULT_INPUT;
    if (!(s->kh >= 1 && s->kw >= 1 && s->oc >= 1)) return DLC_FAULT_WINDOW;
    if (!(s->sh >= 1 && s->sw >= 1 && s->dh >= 1 && s->dw >= 1)) return DLC_FAULT_STRIDE;
    if (!(s->pad_top >= 0 && s->pad_bottom >= 0 && s->pad_left >= 0 && s->pad_right >= 0))
        return DLC_FAULT_PADDING;
    if (!(s->groups >= 1 && s->c % s->groups == 0 && s->oc % s->groups == 0))
        return DLC_FAULT_GROUPS;
    if (!(s->n < lim && s->h < lim && s->w < lim && s->c < lim && s->kh < lim && s->kw < lim &&
          s->oc < lim && s->sh < lim && s->sw < lim && s->dh < lim && s->dw < lim &&
          s->pad_top < lim && s->pad_bottom < lim && s->pad_left < lim && s->pad_right < lim &&
          s->groups < lim))
        return DLC_FAULT_RANGE;
    int64_t eh = s->h + s->pad_top + s->pad_bottom - s->dh * (s->kh - 1) - 1;
    int64_t ew = s->w + s->pad_left + s->pad_right - s->dw * (s->kw - 1) - 1;
    if (eh < 0 || ew < 0) return DLC_FAULT_FIT;
    *oh = eh / s->sh + 1, *ow = ew / s->sw + 1;
    return DLC_FAULT_NONE;
}

dlc_fault dlc_conv2d_fault(const dlc_conv2d_shape *s) {
    int64_t oh, ow, t;
    dlc_fault f = conv2d_fault_in(s, &oh, &ow);
    if (f != DLC_FAULT_NONE) return f;
    if (s->oh != oh || s->ow != ow) return DLC_FAULT_OUTPUT;
    /* Every element count must fit in int64 (and so every index). */
    if (!(mul_ok(s->n, s->h, &t) && mul_ok(t, s->w, &t) && mul_ok(t, s->c, &t) &&
          mul_ok(s->n, s->oh, &t) && mul_ok(t, s->ow, &t) && mul_ok(t, s->oc, &t) &&
          mul_ok(s->kh, s->kw, &t) && mul_ok(t, s->c / s->groups, &t) && mul_ok(t, s->oc, &t) &&
          mul_ok(t, TILE_MAX * CHUNKS_MAX * 8, &t)))
        return DLC_FAULT_RANGE;
    return DLC_FAULT_NONE;
}

dlc_fault dlc_conv2d_set_output(dlc_conv2d_shape *s) {
    int64_t oh, ow;
    dlc_fault f = conv2d_fault_in(s, &oh, &ow);
    if (f != DLC_FAULT_NONE) return f;
    s->oh = oh, s->ow = ow;
    return dlc_conv2d_fault(s);
}

dlc_status dlc_conv2d_check(const dlc_conv2d_shape *s) {
    return dlc_conv2d_fault(s) == DLC_FAULT_NONE ? DLC_OK : DLC_EINVAL;
}

/* Output rows per unit of the row-table forward: units of up to ROWK_MAX_PIX pixels (and
 * C within ROWK_C_BYTES), chosen to minimise the rows the GEMM computes when it rounds each
 * unit up to whole ROWK_MR-row panels, plus ROWK_UNIT_COST rows per unit (B is packed once per
 * unit). Depends on the shape only. */
#define ROWK_MAX_PIX 512
#define ROWK_C_BYTES (256 * 1024)
#define ROWK_MR 12
#define ROWK_UNIT_COST 2
static int64_t rowk_rows(const dlc_conv2d_shape *s) {
    int64_t maxpix = DLC_MIN(ROWK_MAX_PIX, ROWK_C_BYTES / (s->oc * (int64_t)sizeof(float)));
    int64_t rmax = DLC_MIN(s->oh, DLC_MAX(1, maxpix / s->ow));
    int64_t best = 1, best_cost = -1;
    for (int64_t rt = rmax; rt >= 1; rt--) {
        int64_t units = (s->oh + rt - 1) / rt, last = s->oh - (units - 1) * rt;
        int64_t full = (rt * s->ow + ROWK_MR - 1) / ROWK_MR, tail = (last * s->ow + ROWK_MR - 1) / ROWK_MR;
        int64_t cost = ((units - 1) * full + tail) * ROWK_MR + ROWK_UNIT_COST * units;
        if (best_cost < 0 || cost < best_cost) best = rt, best_cost = cost;
    }
    return best;
}

/* When the plan's row-table units leave threads idle (a batch of one or a few images: conv2
 * of CNN-MNIST at batch 1 is one 24-row unit, or 21 + 3 rows), the output rows per unit for nt
 * threads: the largest rt <= the plan's (whose workspace is sized for it) that minimises the
 * busiest thread's share of the schedule(static) split, in the cost units of rowk_rows. Only
 * the split changes: every output pixel is the same GEMM row, so y's bits do not. */
static int64_t rowk_rows_for_threads(const dlc_conv2d_shape *s, int64_t rmax, int nt) {
    if (nt <= 1 || s->n * ((s->oh + rmax - 1) / rmax) >= 4 * (int64_t)nt) return rmax;
    int64_t best = rmax, best_cost = -1;
    for (int64_t rt = rmax; rt >= 1; rt--) {
        int64_t tiles = (s->oh + rt - 1) / rt, units = s->n * tiles, last = s->oh - (tiles - 1) * rt;
        int64_t full = (rt * s->ow + ROWK_MR - 1) / ROWK_MR * ROWK_MR + ROWK_UNIT_COST;
        int64_t tail = (last * s->ow + ROWK_MR - 1) / ROWK_MR * ROWK_MR + ROWK_UNIT_COST;
        /* schedule(static): thread t takes units [t*q + min(t, r), ...), q = units / nt */
        int64_t q = units / nt, r = units % nt, worst = 0;
        for (int64_t t = 0, u0 = 0; t < nt; t++) {
            int64_t cnt = q + (t < r), cost = 0;
            for (int64_t u = u0; u < u0 + cnt; u++) cost += (u % tiles == tiles - 1) ? tail : full;
            u0 += cnt;
            worst = DLC_MAX(worst, cost);
        }
        if (best_cost < 0 || worst < best_cost) best = rt, best_cost = worst;
    }
    return best;
}

/* rowk_ok: the implicit forward may use the row-table GEMM (not for the flipped backward
 * data, where it measured slower). */
static void make_plan_ex(const dlc_conv2d_shape *s, plan *p, int rowk_ok) {
    p->cg = s->c / s->groups;
    p->ocg = s->oc / s->groups;
    p->k = s->kh * s->kw * p->cg;
    p->m = s->n * s->oh * s->ow;
    int64_t tile = TILE_BYTES / (p->k * (int64_t)sizeof(float));
    tile = DLC_MAX(TILE_MIN, DLC_MIN(TILE_MAX, tile));
    p->tile = tile;
    p->ntiles = (p->m + tile - 1) / tile;
    p->is1x1 = s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_top == 0 &&
               s->pad_bottom == 0 && s->pad_left == 0 && s->pad_right == 0;
    p->smallk = s->groups == 1 && p->k <= SMALLK_MAX && s->oc <= SMALLK_OC && !p->is1x1;
    int64_t per_chunk = p->k * s->oc + s->oc;
    int64_t budget = (int64_t)(PARTIAL_BYTES / ((size_t)per_chunk * sizeof(float)));
    p->nchunks = DLC_MAX(1, DLC_MIN(DLC_MIN(CHUNKS_MAX, p->ntiles), budget));
    p->partial_bytes = dlc_align_up((size_t)(p->nchunks * per_chunk) * sizeof(float));
    /* Backward data's dcol tile: the same byte budget, more rows (fewer, larger GEMMs). */
    p->dtile = DLC_MAX(TILE_MIN, DLC_MIN(DTILE_MAX, TILE_BYTES / (p->k * (int64_t)sizeof(float))));
    p->col_bytes = p->is1x1 ? 0
                            : dlc_align_up((size_t)(DLC_MAX(tile, p->dtile) * p->k) * sizeof(float));
    size_t g1 = dlc_sgemm_serial_workspace_size(tile, p->ocg, p->k);   /* forward */
    size_t g2 = dlc_sgemm_serial_workspace_size(p->dtile, p->k, p->ocg); /* backward data */
    size_t g3 = dlc_sgemm_serial_workspace_size(p->k, p->ocg, tile);   /* backward weights */
    if (p->is1x1) g2 = dlc_sgemm_serial_workspace_size(tile, p->cg, p->ocg);
    p->wp = s->w + s->pad_left + s->pad_right;
    p->kstep = p->cg;
    int stride1 = s->sh == 1 && s->sw == 1 && !p->is1x1 && !p->smallk;
    p->rowk = rowk_ok && stride1 && s->groups == 1 && s->dw == 1;
    if (p->rowk) p->kstep = s->kw * s->c;
    p->implicit = stride1 && (p->rowk || p->kstep >= IMPLICIT_MIN_K);
    size_t g4 = 0;
    p->slab_bytes = p->tmp_bytes = 0;
    p->fw_bp_bytes = p->rowk ? dlc_sgemm_bpack_bytes(s->oc, s->kh * p->kstep) : 0;
    if (p->fw_bp_bytes) p->fw_bp_bytes += DLC_WS_ALIGN; /* aligned in the workspace */
    if (p->implicit) {
        p->rows_tile = DLC_MIN(s->oh, DLC_MAX(1, TILE_MAX / p->wp));
        if (p->rowk) p->rows_tile = rowk_rows(s);
        p->tiles_img = (s->oh + p->rows_tile - 1) / p->rows_tile;
        p->slab_rows = p->rows_tile - 1 + (s->kh - 1) * s->dh + 1;
        int padded = s->pad_top || s->pad_bottom || s->pad_left || s->pad_right;
        int64_t mv = (p->rows_tile - 1) * p->wp + s->ow;
        if (padded)
            p->slab_bytes = dlc_align_up((size_t)(p->slab_rows * p->wp * s->c) * sizeof(float));
        if (p->rowk) /* the row table of the unit's output pixels; y is written in place */
            p->tmp_bytes = dlc_align_up((size_t)(p->rows_tile * s->ow) * sizeof(int64_t));
        else
            p->tmp_bytes = dlc_align_up((size_t)(mv * s->oc) * sizeof(float));
        g4 = p->rowk ? dlc_sgemm_serial_workspace_size(p->rows_tile * s->ow, s->oc,
                                                       s->kh * p->kstep)
                     : dlc_sgemm_serial_workspace_size(mv, p->ocg, p->kstep);
    }
    p->gemm_bytes = dlc_align_up(DLC_MAX(DLC_MAX(g1, g4), DLC_MAX(g2, g3)));
    p->gemm_off = DLC_MAX(p->col_bytes, p->slab_bytes + p->tmp_bytes);
    p->dz_bytes = dlc_align_up((size_t)(DLC_MAX(tile, p->dtile) * s->oc) * sizeof(float));
    p->slot_bytes = p->gemm_off + p->gemm_bytes + p->dz_bytes;
    /* Implicit backward weights: groups 1, a real window (not 1x1, not the small-K kernel). */
    p->bw_ok = s->groups == 1 && !p->is1x1 && !p->smallk;
    p->bw_bytes = 0;
    if (p->bw_ok) {
        p->bw_rows = DLC_MIN(s->oh, DLC_MAX(1, BW_PIX / s->ow));
        p->bw_units_img = (s->oh + p->bw_rows - 1) / p->bw_rows;
        p->bw_units = s->n * p->bw_units_img;
        p->bw_np = p->bw_rows * s->ow;
        p->bw_nchunks = DLC_MAX(1, DLC_MIN(DLC_MIN(CHUNKS_MAX, p->bw_units), budget));
        p->bw_srows = (p->bw_rows - 1) * s->sh + (s->kh - 1) * s->dh + 1;
        int padded = s->pad_top || s->pad_bottom || s->pad_left || s->pad_right;
        p->bw_slab_bytes =
            padded ? dlc_align_up((size_t)(p->bw_srows * p->wp * s->c) * sizeof(float)) : 0;
        p->bw_pr_bytes = dlc_align_up((size_t)p->bw_np * sizeof(int64_t));
        int64_t ocr = (s->oc + DLC_NR_MAX - 1) / DLC_NR_MAX * DLC_NR_MAX;
        p->bw_b_bytes = dlc_align_up((size_t)(p->bw_np * ocr) * sizeof(float));
        p->bw_a_bytes = dlc_align_up((size_t)(p->bw_np * DLC_MR_MAX) * sizeof(float));
        p->bw_bytes = p->bw_slab_bytes + p->bw_pr_bytes + p->bw_b_bytes + p->bw_a_bytes;
        p->partial_bytes = DLC_MAX(p->partial_bytes,
                                   dlc_align_up((size_t)(p->bw_nchunks * per_chunk) *
                                                sizeof(float)));
    }
    /* Direct backward data: groups 1, a real window; the level's nr must divide c. */
    p->bd_ok = s->groups == 1 && !p->is1x1 && s->c % 8 == 0;
    p->bd_bytes = p->bd_w_bytes = 0;
    if (p->bd_ok) {
        int64_t kr_ = (p->k + DLC_NR_MAX - 1) / DLC_NR_MAX * DLC_NR_MAX;
        p->bd_w_bytes = dlc_align_up((size_t)(kr_ * s->oc) * sizeof(float));
        p->bd_dz_bytes = dlc_align_up((size_t)(s->oh * s->ow * s->oc) * sizeof(float));
        p->bd_bytes = p->bd_dz_bytes;
    }
    p->slot_bytes = DLC_MAX(p->slot_bytes, DLC_MAX(p->bw_bytes, p->bd_bytes));
}

static void make_plan(const dlc_conv2d_shape *s, plan *p) { make_plan_ex(s, p, 1); }

/* Backward data as a forward correlation (stride 1, groups 1): dx = conv(dy padded by
 *   top' = dh*(kh-1) - pad_top, bottom' = dh*(kh-1) - pad_bottom (likewise left', right'),
 *   w'[i, j, o, ci] = w[kh-1-i, kw-1-j, ci, o]),
 * an (n, oh, ow, oc) -> (n, h, w, c) convolution. A negative pad crops dy instead; im2col and the
 * implicit slab read bounds-checked windows, so they take such pads as they are. It runs the
 * forward engine (im2col tiles, or implicit GEMM when oc >= IMPLICIT_MIN_K) adding into dx, with
 * no col2im scatter, but its GEMM has n = c and it multiplies h*w output pixels (the zero
 * border of dy included) where the col2im route multiplies oh*ow. Measured (batch 32, 26x26,
 * 3x3, one thread) it wins only when c >= 2*oc and h*w is within 10% of oh*ow ('same'-like
 * padding): 64->16 by ~18%, 128->32 by ~10%, 64->32 by ~6%; it loses on valid convolutions
 * (conv2 32->64: 4.5 ms vs 3.5 ms) and whenever oc >= c. Never for the 1x1 shortcut, for
 * c < FLIP_MIN_C, or when the flipped plan would take the small-K kernel. Fills fs and fp. */
static int flip_shape(const dlc_conv2d_shape *s, const plan *p, dlc_conv2d_shape *fs,
                      plan *fp) {
    if (s->sh != 1 || s->sw != 1 || s->groups != 1 || p->is1x1 || s->c < FLIP_MIN_C ||
        s->c < 2 * s->oc)
        return 0;
    /* h*w < 2^59 here (n*h*w*c fits in int64 and c >= 16), so the product cannot overflow. */
    if ((s->h * s->w - s->oh * s->ow) * 10 > s->oh * s->ow) return 0;
    const int64_t sph = s->dh * (s->kh - 1), spw = s->dw * (s->kw - 1);
    *fs = (dlc_conv2d_shape){.n = s->n, .h = s->oh, .w = s->ow, .c = s->oc, .kh = s->kh,
                             .kw = s->kw, .oc = s->c, .sh = 1, .sw = 1, .dh = s->dh,
                             .dw = s->dw, .pad_top = sph - s->pad_top,
                             .pad_bottom = sph - s->pad_bottom, .pad_left = spw - s->pad_left,
                             .pad_right = spw - s->pad_right, .groups = 1, .oh = s->h,
                             .ow = s->w};
    make_plan_ex(fs, fp, 0);
    return !fp->smallk && !fp->is1x1;
}

/* Bytes of the flipped kernel at the start of backward data's workspace. */
static size_t flip_kernel_bytes(const dlc_conv2d_shape *s) {
    return dlc_align_up((size_t)(s->kh * s->kw * s->c * s->oc) * sizeof(float));
}

/* Bytes of the masked dy (dy_mask) that follows it. */
static size_t flip_dz_bytes(const dlc_conv2d_shape *s) {
    return dlc_align_up((size_t)(s->n * s->oh * s->ow * s->oc) * sizeof(float));
}

static size_t slots_off(const plan *p);

size_t dlc_conv2d_workspace_size(const dlc_conv2d_shape *s) {
    if (dlc_conv2d_check(s) != DLC_OK) return 0;
    plan p, fp;
    dlc_conv2d_shape fs;
    make_plan(s, &p);
    int64_t slots = DLC_MAX(1, DLC_MIN((int64_t)dlc_threads(), 1024));
    size_t need = slots_off(&p) + (size_t)slots * p.slot_bytes;
    if (flip_shape(s, &p, &fs, &fp)) /* the flipped kernel, a masked dy, the slots */
        need = DLC_MAX(need, flip_kernel_bytes(s) + flip_dz_bytes(s) +
                                 (size_t)slots * fp.slot_bytes);
    return need;
}

/* Threads a kernel may use given the workspace it received, whose slots start at byte off:
 * 0 means too small. */
static int usable_threads_at(const plan *p, size_t off, void *ws, size_t ws_size) {
    size_t need = off + p->slot_bytes;
    if (ws == NULL || ws_size < need || ((uintptr_t)ws % sizeof(float)) != 0) return 0;
    int64_t slots = p->slot_bytes ? (int64_t)((ws_size - off) / p->slot_bytes) : INT64_MAX;
    return (int)DLC_MAX(1, DLC_MIN((int64_t)dlc_threads(), slots));
}

/* Where the slots start in a workspace (after the partials or the packed kernel). */
static size_t slots_off(const plan *p) {
    return DLC_MAX(DLC_MAX(p->partial_bytes, p->bd_w_bytes), p->fw_bp_bytes);
}

static int usable_threads(const plan *p, void *ws, size_t ws_size) {
    return usable_threads_at(p, slots_off(p), ws, ws_size);
}

/* The row-major (image, oy, ox) of flat output pixel q. */
static inline void pixel_of(const dlc_conv2d_shape *s, int64_t q, int64_t *img, int64_t *oy,
                            int64_t *ox) {
    int64_t ohw = s->oh * s->ow;
    *img = q / ohw;
    int64_t r = q - *img * ohw;
    *oy = r / s->ow;
    *ox = r - *oy * s->ow;
}

/* One row of col: the K patch values of the pixel whose window starts at (iy0, ix0). */
static void im2col_pixel(const dlc_conv2d_shape *s, const plan *p, const float *xi,
                         int64_t iy0, int64_t ix0, float *dst) {
    const int64_t cg = p->cg, c = s->c, kw = s->kw;
    for (int64_t i = 0; i < s->kh; i++, dst += kw * cg) {
        int64_t iy = iy0 + i * s->dh;
        if (iy < 0 || iy >= s->h) {
            memset(dst, 0, (size_t)(kw * cg) * sizeof(float));
            continue;
        }
        const float *xrow = xi + iy * s->w * c;
        if (s->dw == 1 && cg == c) {
            /* The taps of one kernel row are contiguous in x: one copy of the valid run. */
            int64_t j0 = ix0 < 0 ? -ix0 : 0;
            int64_t j1 = DLC_MIN(kw, s->w - ix0);
            if (j1 < j0) j1 = j0;
            if (j0 > 0) memset(dst, 0, (size_t)(j0 * cg) * sizeof(float));
            if (j1 > j0)
                memcpy(dst + j0 * cg, xrow + (ix0 + j0) * c,
                       (size_t)((j1 - j0) * cg) * sizeof(float));
            if (kw > j1) memset(dst + j1 * cg, 0, (size_t)((kw - j1) * cg) * sizeof(float));
            continue;
        }
        for (int64_t j = 0; j < kw; j++) {
            int64_t ix = ix0 + j * s->dw;
            float *d = dst + j * cg;
            if (ix < 0 || ix >= s->w)
                memset(d, 0, (size_t)cg * sizeof(float));
            else if (cg == 1)
                *d = xrow[ix * c];
            else
                memcpy(d, xrow + ix * c, (size_t)cg * sizeof(float));
        }
    }
}

/* col (np x K) = the patches of flat output pixels [q0, q0+np) for group g. */
static void im2col_tile(const dlc_conv2d_shape *s, const plan *p, const float *x, int64_t q0,
                        int64_t np, int64_t g, float *col) {
    const int64_t cg = p->cg, c = s->c, kw = s->kw;
    /* Small K: interior pixels gather their K values through precomputed offsets (cheaper
     * than a handful of tiny memcpy calls). */
    enum { GATHER_MAX = 64 };
    int64_t offs[GATHER_MAX];
    const int gather = p->k <= GATHER_MAX;
    if (gather)
        for (int64_t i = 0, kk = 0; i < s->kh; i++)
            for (int64_t j = 0; j < kw; j++)
                for (int64_t ci = 0; ci < cg; ci++, kk++)
                    offs[kk] = (i * s->dh * s->w + j * s->dw) * c + ci;
    const int64_t ylast = (s->kh - 1) * s->dh, xlast = (kw - 1) * s->dw;
    int64_t img, oy, ox;
    pixel_of(s, q0, &img, &oy, &ox);
    for (int64_t r = 0; r < np; r++) {
        float *dst = col + r * p->k;
        const float *xi = x + img * s->h * s->w * c + g * cg;
        int64_t iy0 = oy * s->sh - s->pad_top, ix0 = ox * s->sw - s->pad_left;
        if (gather && iy0 >= 0 && iy0 + ylast < s->h && ix0 >= 0 && ix0 + xlast < s->w) {
            const float *xb = xi + (iy0 * s->w + ix0) * c;
            for (int64_t kk = 0; kk < p->k; kk++) dst[kk] = xb[offs[kk]];
        } else {
            im2col_pixel(s, p, xi, iy0, ix0, dst);
        }
        if (++ox == s->ow) {
            ox = 0;
            if (++oy == s->oh) oy = 0, img++;
        }
    }
}

/* d[0:n] += v[0:n], elementwise: every instance gives the same bits. Blocks of 8 then a plain
 * tail, the shape of the old intrinsics: the compiler vectorises the blocks at each target's
 * width, and the short runs of c = 1 layers (3 floats) stay a few scalar adds. A single
 * `omp simd` loop measured 23% slower on the CNN-MNIST first layer's backward data (AVX2,
 * one thread), its setup for short trip counts dominating. */
DLC_INLINE void add_span(float *restrict d, const float *restrict v, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) d[i + j] += v[i + j];
    for (; i < n; i++) d[i] += v[i];
}

/* acc[0:n] += v[r, 0:n] for r = 0 .. rows-1 in order (the bias gradient of a tile). */
DLC_INLINE void add_rows_body(float *restrict acc, const float *restrict v, int64_t rows,
                              int64_t n) {
    for (int64_t r = 0; r < rows; r++) add_span(acc, v + r * n, n);
}
DLC_SIMD_VARIANTS(add_rows,
                  (float *restrict acc, const float *restrict v, int64_t rows, int64_t n),
                  (acc, v, rows, n));
typedef void (*add_rows_fn)(float *, const float *, int64_t, int64_t);

/* dx[img] (group g channels) += the patches in dcol (np x K) of the pixels [r0, r0+np) of
 * image img (r is the pixel index within the image). Every dx element gets its terms in pixel
 * order, then tap order. When the taps of a kernel row are adjacent in dx (dw == 1, one group)
 * their valid run is one add of up to kw*c floats. */
DLC_INLINE void col2im_tile_body(const dlc_conv2d_shape *s, const plan *p, const float *dcol,
                                 int64_t img, int64_t r0, int64_t np, int64_t g, float *dx) {
    const int64_t cg = p->cg, c = s->c, kw = s->kw;
    const int run = s->dw == 1 && cg == c;
    float *dxi = dx + img * s->h * s->w * c + g * cg;
    int64_t oy = r0 / s->ow, ox = r0 - oy * s->ow;
    for (int64_t r = 0; r < np; r++) {
        const float *src = dcol + r * p->k;
        int64_t iy0 = oy * s->sh - s->pad_top, ix0 = ox * s->sw - s->pad_left;
        /* Taps [j0, j1) of a kernel row land inside dx (run case). */
        int64_t j0 = 0, j1 = kw;
        if (run) {
            j0 = ix0 < 0 ? -ix0 : 0;
            j1 = DLC_MAX(j0, DLC_MIN(kw, s->w - ix0));
        }
        for (int64_t i = 0; i < s->kh; i++) {
            int64_t iy = iy0 + i * s->dh;
            if (iy < 0 || iy >= s->h) continue;
            float *drow = dxi + iy * s->w * c;
            const float *srow = src + i * kw * cg;
            if (run) {
                add_span(drow + (ix0 + j0) * c, srow + j0 * cg, (j1 - j0) * cg);
                continue;
            }
            for (int64_t j = 0; j < kw; j++) {
                int64_t ix = ix0 + j * s->dw;
                if (ix < 0 || ix >= s->w) continue;
                add_span(drow + ix * c, srow + j * cg, cg);
            }
        }
        if (++ox == s->ow) ox = 0, oy++;
    }
}
DLC_SIMD_VARIANTS(col2im_tile,
                  (const dlc_conv2d_shape *s, const plan *p, const float *dcol, int64_t img,
                   int64_t r0, int64_t np, int64_t g, float *dx),
                  (s, p, dcol, img, r0, np, g, dx));
typedef void (*col2im_fn)(const dlc_conv2d_shape *, const plan *, const float *, int64_t,
                          int64_t, int64_t, int64_t, float *);

/* ------------------------------------------------------------ direct small-K kernels
 * Forward:          y[r, :] = b + sum_k col[r, k] * w[k, :]    (k ascending)
 * Backward weights: acc[k, :] += col[r, k] * dy[r, :]           (r ascending)
 * Each output element is accumulated in the same order by every variant; the SIMD variants
 * use fused multiply-add, the portable one a multiply then an add. */

static void smallk_fwd_generic(int64_t np, int64_t k, int64_t oc, const float *src, int64_t rs,
                               const int64_t *offs, const float *w, const float *b, float *y,
                               int relu) {
    for (int64_t r = 0; r < np; r++) {
        float *yr = y + r * oc;
        const float *sr = src + r * rs;
        for (int64_t o = 0; o < oc; o++) yr[o] = b ? b[o] : 0.0f;
        for (int64_t kk = 0; kk < k; kk++) {
            float a = sr[offs[kk]];
            const float *wk = w + kk * oc;
            for (int64_t o = 0; o < oc; o++) yr[o] += a * wk[o];
        }
        if (relu)
            for (int64_t o = 0; o < oc; o++) yr[o] = relu1(yr[o]);
    }
}

static void smallk_bwdw_generic(int64_t np, int64_t k, int64_t oc, const float *src, int64_t rs,
                                const int64_t *offs, const float *dy, float *acc, float *bacc) {
    for (int64_t r = 0; r < np; r++) {
        const float *sr = src + r * rs, *dr = dy + r * oc;
        for (int64_t kk = 0; kk < k; kk++) {
            float a = sr[offs[kk]];
            float *ak = acc + kk * oc;
            for (int64_t o = 0; o < oc; o++) ak[o] += a * dr[o];
        }
        if (bacc)
            for (int64_t o = 0; o < oc; o++) bacc[o] += dr[o];
    }
}

#if DLC_X86
/* R rows x NB vectors of 8 columns; NB and R are constants after inlining. */
DLC_TARGET_AVX2 static inline __attribute__((always_inline)) void
smallk_fwd_avx2_block(int R, int NB, int64_t k, int64_t oc, const float *src, int64_t rs,
                      const int64_t *offs, const float *w, const __m256 *bias,
                      const __m256i *mask, float *y, int relu) {
    __m256 acc[4][2];
    for (int i = 0; i < R; i++)
        for (int v = 0; v < NB; v++) acc[i][v] = bias[v];
    for (int64_t kk = 0; kk < k; kk++) {
        __m256 wv[2];
        for (int v = 0; v < NB; v++) wv[v] = _mm256_maskload_ps(w + kk * oc + 8 * v, mask[v]);
        const float *sp = src + offs[kk];
        for (int i = 0; i < R; i++) {
            __m256 a = _mm256_broadcast_ss(sp + i * rs);
            for (int v = 0; v < NB; v++) acc[i][v] = _mm256_fmadd_ps(a, wv[v], acc[i][v]);
        }
    }
    const __m256 z = _mm256_setzero_ps();
    for (int i = 0; i < R; i++)
        for (int v = 0; v < NB; v++) {
            __m256 t = acc[i][v];
            if (relu) /* v > 0 ? v : 0 * v + 0 */
                t = _mm256_blendv_ps(_mm256_add_ps(_mm256_mul_ps(z, t), z), t,
                                     _mm256_cmp_ps(t, z, _CMP_GT_OQ));
            _mm256_maskstore_ps(y + i * oc + 8 * v, mask[v], t);
        }
}

DLC_TARGET_AVX2 static void smallk_fwd_avx2(int64_t np, int64_t k, int64_t oc,
                                            const float *src, int64_t rs, const int64_t *offs,
                                            const float *w, const float *b, float *y, int relu) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t o0 = 0; o0 < oc; o0 += 16) {
        __m256i mask[2];
        __m256 bias[2];
        for (int v = 0; v < 2; v++) {
            int64_t rem = DLC_MAX(0, DLC_MIN(oc - o0 - 8 * v, 8));
            mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), lane);
            bias[v] = b ? _mm256_maskload_ps(b + o0 + 8 * v, mask[v]) : _mm256_setzero_ps();
        }
        const float *wo = w + o0;
        float *yo = y + o0;
        int64_t r = 0;
        if (oc - o0 > 8) {
            for (; r + 4 <= np; r += 4)
                smallk_fwd_avx2_block(4, 2, k, oc, src + r * rs, rs, offs, wo, bias, mask,
                                      yo + r * oc, relu);
            for (; r < np; r++)
                smallk_fwd_avx2_block(1, 2, k, oc, src + r * rs, rs, offs, wo, bias, mask,
                                      yo + r * oc, relu);
        } else {
            for (; r + 4 <= np; r += 4)
                smallk_fwd_avx2_block(4, 1, k, oc, src + r * rs, rs, offs, wo, bias, mask,
                                      yo + r * oc, relu);
            for (; r < np; r++)
                smallk_fwd_avx2_block(1, 1, k, oc, src + r * rs, rs, offs, wo, bias, mask,
                                      yo + r * oc, relu);
        }
    }
}

DLC_TARGET_AVX2 static void smallk_bwdw_avx2(int64_t np, int64_t k, int64_t oc,
                                             const float *src, int64_t rs, const int64_t *offs,
                                             const float *dy, float *acc, float *bacc) {
    for (int64_t o0 = 0; o0 < oc; o0 += 8) {
        int64_t rem = oc - o0;
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)DLC_MIN(rem, 8)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 av[SMALLK_MAX], bv = _mm256_setzero_ps();
        for (int64_t kk = 0; kk < k; kk++) av[kk] = _mm256_maskload_ps(acc + kk * oc + o0, mask);
        for (int64_t r = 0; r < np; r++) {
            const float *sr = src + r * rs;
            __m256 d = _mm256_maskload_ps(dy + r * oc + o0, mask);
            for (int64_t kk = 0; kk < k; kk++)
                av[kk] = _mm256_fmadd_ps(_mm256_broadcast_ss(sr + offs[kk]), d, av[kk]);
            bv = _mm256_add_ps(bv, d);
        }
        for (int64_t kk = 0; kk < k; kk++) _mm256_maskstore_ps(acc + kk * oc + o0, mask, av[kk]);
        if (bacc)
            _mm256_maskstore_ps(bacc + o0, mask,
                                _mm256_add_ps(_mm256_maskload_ps(bacc + o0, mask), bv));
    }
}

/* R rows x NB vectors of 16 columns; NB and R are constants after inlining. */
DLC_TARGET_AVX512 static inline __attribute__((always_inline)) void
smallk_fwd_avx512_block(int R, int NB, int64_t k, int64_t oc, const float *src, int64_t rs,
                        const int64_t *offs, const float *w, const __m512 *bias,
                        const __mmask16 *mask, float *y, int relu) {
    __m512 acc[6][2];
    for (int i = 0; i < R; i++)
        for (int v = 0; v < NB; v++) acc[i][v] = bias[v];
    for (int64_t kk = 0; kk < k; kk++) {
        __m512 wv[2];
        for (int v = 0; v < NB; v++) wv[v] = _mm512_maskz_loadu_ps(mask[v], w + kk * oc + 16 * v);
        const float *sp = src + offs[kk];
        for (int i = 0; i < R; i++) {
            __m512 a = _mm512_set1_ps(sp[i * rs]);
            for (int v = 0; v < NB; v++) acc[i][v] = _mm512_fmadd_ps(a, wv[v], acc[i][v]);
        }
    }
    const __m512 z = _mm512_setzero_ps();
    for (int i = 0; i < R; i++)
        for (int v = 0; v < NB; v++) {
            __m512 t = acc[i][v];
            if (relu) /* v > 0 ? v : 0 * v + 0 */
                t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, z, _CMP_GT_OQ),
                                         _mm512_add_ps(_mm512_mul_ps(z, t), z), t);
            _mm512_mask_storeu_ps(y + i * oc + 16 * v, mask[v], t);
        }
}

DLC_TARGET_AVX512 static void smallk_fwd_avx512(int64_t np, int64_t k, int64_t oc,
                                                const float *src, int64_t rs,
                                                const int64_t *offs, const float *w,
                                                const float *b, float *y, int relu) {
    for (int64_t o0 = 0; o0 < oc; o0 += 32) {
        __mmask16 mask[2];
        __m512 bias[2];
        for (int v = 0; v < 2; v++) {
            int64_t rem = DLC_MAX(0, DLC_MIN(oc - o0 - 16 * v, 16));
            mask[v] = (__mmask16)((1u << rem) - 1);
            bias[v] = b ? _mm512_maskz_loadu_ps(mask[v], b + o0 + 16 * v) : _mm512_setzero_ps();
        }
        const float *wo = w + o0;
        float *yo = y + o0;
        int64_t r = 0;
        if (oc - o0 > 16) {
            for (; r + 6 <= np; r += 6)
                smallk_fwd_avx512_block(6, 2, k, oc, src + r * rs, rs, offs, wo, bias, mask,
                                        yo + r * oc, relu);
            for (; r < np; r++)
                smallk_fwd_avx512_block(1, 2, k, oc, src + r * rs, rs, offs, wo, bias, mask,
                                        yo + r * oc, relu);
        } else {
            for (; r + 6 <= np; r += 6)
                smallk_fwd_avx512_block(6, 1, k, oc, src + r * rs, rs, offs, wo, bias, mask,
                                        yo + r * oc, relu);
            for (; r < np; r++)
                smallk_fwd_avx512_block(1, 1, k, oc, src + r * rs, rs, offs, wo, bias, mask,
                                        yo + r * oc, relu);
        }
    }
}

/* NB vectors of 16 columns (a constant after inlining) from column o0 on: k + 1 accumulators
 * per vector (the last one sums dy for the bias), dy read once per row. */
DLC_TARGET_AVX512 static inline __attribute__((always_inline)) void
smallk_bwdw_avx512_block(int NB, int64_t np, int64_t k, int64_t oc, int64_t o0, const float *src,
                         int64_t rs, const int64_t *offs, const float *dy, float *acc,
                         float *bacc) {
    __mmask16 mask[2];
    __m512 av[SMALLK_MAX][2], bv[2];
    for (int v = 0; v < NB; v++) {
        int64_t rem = DLC_MAX(0, DLC_MIN(oc - o0 - 16 * v, 16));
        mask[v] = (__mmask16)((1u << rem) - 1);
        bv[v] = _mm512_setzero_ps();
        for (int64_t kk = 0; kk < k; kk++)
            av[kk][v] = _mm512_maskz_loadu_ps(mask[v], acc + kk * oc + o0 + 16 * v);
    }
    for (int64_t r = 0; r < np; r++) {
        const float *sr = src + r * rs;
        __m512 d[2];
        for (int v = 0; v < NB; v++) {
            d[v] = _mm512_maskz_loadu_ps(mask[v], dy + r * oc + o0 + 16 * v);
            bv[v] = _mm512_add_ps(bv[v], d[v]);
        }
        for (int64_t kk = 0; kk < k; kk++) {
            __m512 a = _mm512_set1_ps(sr[offs[kk]]);
            for (int v = 0; v < NB; v++) av[kk][v] = _mm512_fmadd_ps(a, d[v], av[kk][v]);
        }
    }
    for (int v = 0; v < NB; v++) {
        for (int64_t kk = 0; kk < k; kk++)
            _mm512_mask_storeu_ps(acc + kk * oc + o0 + 16 * v, mask[v], av[kk][v]);
        if (bacc)
            _mm512_mask_storeu_ps(bacc + o0 + 16 * v, mask[v],
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(mask[v], bacc + o0 + 16 * v),
                                                bv[v]));
    }
}

DLC_TARGET_AVX512 static void smallk_bwdw_avx512(int64_t np, int64_t k, int64_t oc,
                                                 const float *src, int64_t rs,
                                                 const int64_t *offs, const float *dy,
                                                 float *acc, float *bacc) {
    /* Two vectors per pass while their 2 * (k + 1) accumulators fit the 32 registers. */
    const int wide = 2 * (k + 1) <= 28;
    for (int64_t o0 = 0; o0 < oc;) {
        if (wide && oc - o0 > 16) {
            smallk_bwdw_avx512_block(2, np, k, oc, o0, src, rs, offs, dy, acc, bacc);
            o0 += 32;
        } else {
            smallk_bwdw_avx512_block(1, np, k, oc, o0, src, rs, offs, dy, acc, bacc);
            o0 += 16;
        }
    }
}
#endif

/* y[r, :] = b + sum_k src[r * rs + offs[k]] * w[k, :] for r < np (then ReLU when relu). */
typedef void (*smallk_fwd_fn)(int64_t np, int64_t k, int64_t oc, const float *src, int64_t rs,
                              const int64_t *offs, const float *w, const float *b, float *y,
                              int relu);
static const smallk_fwd_fn smallk_fwd_variants[DLC_SIMD_NLEVELS] =
    DLC_SIMD_TABLE(smallk_fwd_generic, smallk_fwd_avx2, smallk_fwd_avx512);

/* acc[kk, :] += sum_r src[r * rs + offs[kk]] * dy[r, :] and, if bacc, bacc += sum_r dy[r, :],
 * for r < np. */
typedef void (*smallk_bwdw_fn)(int64_t np, int64_t k, int64_t oc, const float *src, int64_t rs,
                               const int64_t *offs, const float *dy, float *acc, float *bacc);
static const smallk_bwdw_fn smallk_bwdw_variants[DLC_SIMD_NLEVELS] =
    DLC_SIMD_TABLE(smallk_bwdw_generic, smallk_bwdw_avx2, smallk_bwdw_avx512);

/* The small-K kernels over the flat pixels [q0, q0+np) (groups == 1): seg(ctx, r, n, src, rs,
 * offs) is called for consecutive segments of n pixels starting at pixel q0 + r, whose patch
 * value kk is src[i * rs + offs[kk]] for the segment's pixel i. Runs of interior pixels of one
 * output row read x in place (rs = sw*c, offs the tap offsets); border pixels are first copied
 * to im2col rows in col (rs = K, identity offsets). */
typedef void (*smallk_seg_fn)(void *ctx, int64_t r, int64_t n, const float *src, int64_t rs,
                              const int64_t *offs);

static void smallk_tile(const dlc_conv2d_shape *s, const plan *p, const float *x, int64_t q0,
                        int64_t np, float *col, smallk_seg_fn seg, void *ctx) {
    const int64_t c = s->c, k = p->k;
    int64_t offs[SMALLK_MAX], ident[SMALLK_MAX];
    for (int64_t i = 0, kk = 0; i < s->kh; i++)
        for (int64_t j = 0; j < s->kw; j++)
            for (int64_t ci = 0; ci < c; ci++, kk++)
                offs[kk] = (i * s->dh * s->w + j * s->dw) * c + ci;
    for (int64_t kk = 0; kk < k; kk++) ident[kk] = kk;
    const int64_t ylast = (s->kh - 1) * s->dh, xlast = (s->kw - 1) * s->dw;
    /* Interior columns: ox*sw - pad_left >= 0 and ox*sw - pad_left + xlast < w. */
    int64_t lo = (s->pad_left + s->sw - 1) / s->sw;
    int64_t hi = s->w - 1 - xlast + s->pad_left >= 0
                     ? (s->w - 1 - xlast + s->pad_left) / s->sw + 1 : 0;
    hi = DLC_MIN(hi, s->ow);
    lo = DLC_MIN(lo, hi);
    int64_t img, oy, ox;
    pixel_of(s, q0, &img, &oy, &ox);
    int64_t r = 0;
    while (r < np) {
        int64_t run = DLC_MIN(np - r, s->ow - ox);
        const float *xi = x + img * s->h * s->w * c;
        int64_t iy0 = oy * s->sh - s->pad_top;
        int rowin = iy0 >= 0 && iy0 + ylast < s->h;
        int64_t a = rowin ? DLC_MAX(ox, lo) : ox + run;
        int64_t e = rowin ? DLC_MIN(ox + run, hi) : ox + run;
        if (e < a) a = e = ox + run;
        /* [ox, a) border, [a, e) interior, [e, ox + run) border. */
        int64_t nb = a - ox;
        for (int64_t t = 0; t < nb; t++)
            im2col_pixel(s, p, xi, iy0, (ox + t) * s->sw - s->pad_left, col + t * k);
        if (nb) seg(ctx, r, nb, col, k, ident);
        if (e > a)
            seg(ctx, r + nb, e - a, xi + (iy0 * s->w + a * s->sw - s->pad_left) * c,
                s->sw * c, offs);
        int64_t na = ox + run - e;
        for (int64_t t = 0; t < na; t++)
            im2col_pixel(s, p, xi, iy0, (e + t) * s->sw - s->pad_left, col + t * k);
        if (na) seg(ctx, r + run - na, na, col, k, ident);
        r += run;
        ox += run;
        if (ox == s->ow) {
            ox = 0;
            if (++oy == s->oh) oy = 0, img++;
        }
    }
}

/* Forward segment: y rows of the segment = b + patches x w, by the picked kernel fn. */
typedef struct {
    smallk_fwd_fn fn;
    int64_t k, oc;
    const float *w, *b;
    float *y;
    int relu;
} smallk_fwd_ctx;

static void smallk_fwd_seg(void *ctx, int64_t r, int64_t n, const float *src, int64_t rs,
                           const int64_t *offs) {
    const smallk_fwd_ctx *f = (const smallk_fwd_ctx *)ctx;
    f->fn(n, f->k, f->oc, src, rs, offs, f->w, f->b, f->y + r * f->oc, f->relu);
}

/* Backward-weights segment: dW partial += patches^T x dy rows, db partial += dy rows, by the
 * picked kernel fn. */
typedef struct {
    smallk_bwdw_fn fn;
    int64_t k, oc;
    const float *dy;
    float *acc, *bacc;
} smallk_bwdw_ctx;

static void smallk_bwdw_seg(void *ctx, int64_t r, int64_t n, const float *src, int64_t rs,
                            const int64_t *offs) {
    const smallk_bwdw_ctx *f = (const smallk_bwdw_ctx *)ctx;
    f->fn(n, f->k, f->oc, src, rs, offs, f->dy + r * f->oc, f->acc, f->bacc);
}


/* ------------------------------------------------------------ forward */

/* Implicit-GEMM forward for stride 1. Over the padded input of width wp, output pixel
 * (oy, ox) is virtual pixel v = oy * wp + ox, and the patch values of kernel tap (i, j) for
 * consecutive v are consecutive rows of stride c starting at ((i*dh) * wp + j*dw) * c: a
 * strided view of the input is the GEMM's A, with no im2col (the GEMM packs it). Virtual pixels
 * with ox >= ow are computed into tmp and dropped. A unit is rows_tile output rows of one image;
 * with padding its input rows are first copied, zero-padded, into the slab. The taps are summed
 * by successive GEMM calls (beta = 1), one per tap and group (k = cg). When groups == 1 and
 * dw == 1 (rowk) there are no virtual pixels and one GEMM does the unit: the kw taps of
 * kernel row i are kw*c consecutive floats of the (padded) input, so a pixel's patch row
 * (K = kh*kw*c) is kh runs of kw*c floats, dh input rows apart, read in place through a row
 * table (dlc_sgemm_serial_rows, one entry per real output pixel); B is the whole (K, oc)
 * kernel and C is y itself, preset to the bias (the micro-kernel keeps its sums in registers
 * over all kh runs). acc: y += the result (b unused).
 * The pads may be negative (backward data's flipped shape): the slab then crops the input. */
static dlc_status conv_forward_implicit(const dlc_conv2d_shape *s, const plan *p,
                                        const float *x, const float *w, const float *b,
                                        float *y, int acc, int relu, float *bpk, char *slots,
                                        int nt) {
    const int64_t c = s->c, oc = s->oc, wp = p->wp;
    const int padded = p->slab_bytes != 0;
    plan sp;
    if (p->rowk) { /* few units: split the images' rows finer so no thread idles */
        int64_t rt = rowk_rows_for_threads(s, p->rows_tile, nt);
        if (rt != p->rows_tile) {
            sp = *p;
            sp.rows_tile = rt;
            sp.tiles_img = (s->oh + rt - 1) / rt;
            p = &sp;
        }
    }
    const int64_t units = s->n * p->tiles_img;
    /* Slab columns [j0, j1) hold input columns [j0 - pad_left, j1 - pad_left). */
    const int64_t j0 = DLC_MAX(0, s->pad_left);
    const int64_t j1 = DLC_MAX(j0, DLC_MIN(wp, s->pad_left + s->w));
    int err = 0;
#pragma omp parallel num_threads(nt)
    {
    /* rowk: every unit multiplies by the same (K, oc) kernel; the team packs it once (bpk:
     * room for it at the start of the workspace, or NULL) */
    if (p->rowk && bpk) {
        dlc_sgemm_bpack_part(0, oc, s->kh * p->kstep, w, oc, bpk, thread_num(), team_size());
#pragma omp barrier
    }
#pragma omp for schedule(static)
    for (int64_t u = 0; u < units; u++) {
        char *slot = slots + (size_t)thread_num() * p->slot_bytes;
        float *slab = (float *)slot;
        float *tmp = (float *)(slot + p->slab_bytes);
        void *gws = slot + p->gemm_off;
        int64_t img = u / p->tiles_img, oy0 = (u - img * p->tiles_img) * p->rows_tile;
        int64_t rows = DLC_MIN(p->rows_tile, s->oh - oy0);
        int64_t mv = (rows - 1) * wp + s->ow;
        int64_t srows = rows - 1 + (s->kh - 1) * s->dh + 1;
        const float *xi = x + img * s->h * s->w * c;
        const float *src = xi + oy0 * s->w * c;
        if (padded) {
            for (int64_t sr = 0; sr < srows; sr++) {
                float *d = slab + sr * wp * c;
                int64_t iy = oy0 + sr - s->pad_top;
                if (iy < 0 || iy >= s->h) {
                    memset(d, 0, (size_t)(wp * c) * sizeof(float));
                    continue;
                }
                memset(d, 0, (size_t)(j0 * c) * sizeof(float));
                memcpy(d + j0 * c, xi + (iy * s->w + j0 - s->pad_left) * c,
                       (size_t)((j1 - j0) * c) * sizeof(float));
                memset(d + j1 * c, 0, (size_t)((wp - j1) * c) * sizeof(float));
            }
            src = slab;
        }
        if (p->rowk) {
            /* groups == 1, dw == 1: the patch rows of the unit's output pixels are runs of
             * the (padded) input, listed in a row table (no virtual pixels), and the GEMM
             * writes straight into y. */
            int64_t *arow = (int64_t *)tmp, np = rows * s->ow;
            for (int64_t r = 0, q = 0; r < rows; r++)
                for (int64_t ox = 0; ox < s->ow; ox++, q++) arow[q] = (r * wp + ox) * c;
            float *yu = y + ((img * s->oh + oy0) * s->ow) * oc;
            /* One GEMM over all kernel rows: A's row is kh runs of kstep = kw*c floats, one
             * per kernel row, dh input rows apart; B is the whole (K, oc) kernel. The bias
             * and the ReLU are the GEMM's epilogue (the bits of y preset to b, beta 1, and a
             * ReLU pass). */
            dlc_status gs = dlc_sgemm_serial_rows_bp_epi(
                0, np, oc, s->kh * p->kstep, 1.0f, src, arow, p->kstep, s->dh * wp * c, w, oc,
                bpk, acc ? 1.0f : 0.0f, yu, oc, acc ? NULL : b, relu, gws, p->gemm_bytes);
            if (gs != DLC_OK) {
#pragma omp atomic write
                err = 1;
            }
            continue;
        }
        int first = 1;
        for (int64_t g = 0; g < s->groups; g++) {
            first = 1;
            for (int64_t i = 0; i < s->kh; i++)
                for (int64_t j = 0; j < s->kw; j++) {
                    const float *a = src + (i * s->dh * wp + j * s->dw) * c + g * p->cg;
                    const float *bm = w + (i * s->kw + j) * p->cg * oc + g * p->ocg;
                    dlc_status gs = dlc_sgemm_serial(0, 0, mv, p->ocg, p->kstep, 1.0f, a, c, bm,
                                                     oc, first ? 0.0f : 1.0f, tmp + g * p->ocg,
                                                     oc, gws, p->gemm_bytes);
                    first = 0;
                    if (gs != DLC_OK) {
#pragma omp atomic write
                        err = 1;
                    }
                }
        }
        for (int64_t r = 0; r < rows; r++) {
            float *yr = y + ((img * s->oh + oy0 + r) * s->ow) * oc;
            const float *tr = tmp + r * wp * oc;
            if (acc) {
                for (int64_t q = 0; q < s->ow * oc; q++) yr[q] += tr[q];
            } else if (b) {
                for (int64_t q = 0; q < s->ow; q++)
                    for (int64_t o = 0; o < oc; o++) yr[q * oc + o] = tr[q * oc + o] + b[o];
            } else {
                memcpy(yr, tr, (size_t)(s->ow * oc) * sizeof(float));
            }
            if (relu && !acc)
                for (int64_t q = 0; q < s->ow * oc; q++) yr[q] = relu1(yr[q]);
        }
    }
    }
    return err ? DLC_EINVAL : DLC_OK;
}

/* The forward engine on plan p: y = conv(x, w) + b, or y += conv(x, w) when acc (b unused;
 * never with the small-K kernel). The pads of s may be negative (see flip_shape). */
static dlc_status conv_forward_run(const dlc_conv2d_shape *s, const plan *p, const float *x,
                                   const float *w, const float *b, float *y, int acc, int relu,
                                   float *bpk, char *slots, int nt) {
    if (p->implicit) return conv_forward_implicit(s, p, x, w, b, y, acc, relu, bpk, slots, nt);
    const int64_t oc = s->oc;
    const smallk_fwd_fn smallk = DLC_SIMD_PICK(smallk_fwd);
    int err = 0;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t t = 0; t < p->ntiles; t++) {
        char *slot = slots + (size_t)thread_num() * p->slot_bytes;
        float *col = (float *)slot;
        void *gws = slot + p->gemm_off;
        int64_t q0 = t * p->tile, np = DLC_MIN(p->tile, p->m - q0);
        float *yt = y + q0 * oc;
        if (p->smallk) {
            smallk_fwd_ctx f = {smallk, p->k, oc, w, b, yt, relu};
            smallk_tile(s, p, x, q0, np, col, smallk_fwd_seg, &f);
            continue;
        }
        for (int64_t g = 0; g < s->groups; g++) {
            const float *a = x + q0 * s->c + g * p->cg;
            int64_t lda = s->c;
            if (!p->is1x1) {
                im2col_tile(s, p, x, q0, np, g, col);
                a = col, lda = p->k;
            }
            dlc_status gs = dlc_sgemm_serial(0, 0, np, p->ocg, p->k, 1.0f, a, lda,
                                             w + g * p->ocg, oc, acc ? 1.0f : 0.0f,
                                             yt + g * p->ocg, oc, gws, p->gemm_bytes);
            if (gs != DLC_OK) {
#pragma omp atomic write
                err = 1;
            }
        }
        if (b && !acc)
            for (int64_t r = 0; r < np; r++)
                for (int64_t o = 0; o < oc; o++) yt[r * oc + o] += b[o];
        if (relu && !acc)
            for (int64_t q = 0; q < np * oc; q++) yt[q] = relu1(yt[q]);
    }
    return err ? DLC_EINVAL : DLC_OK;
}

dlc_status dlc_conv2d_forward_ex(const dlc_conv2d_shape *s, const float *x, const float *w,
                                 const float *b, float *y, int relu, void *workspace,
                                 size_t workspace_size) {
    dlc_status st = dlc_conv2d_check(s);
    if (st != DLC_OK) return st;
    DLC_CHECK(x != NULL && w != NULL && y != NULL);
    plan p;
    make_plan(s, &p);
    int nt = usable_threads(&p, workspace, workspace_size);
    if (nt < 1) return DLC_ENOMEM;
    float *bpk = NULL; /* the packed kernel, 64-byte aligned (B's rows are 16 floats) */
    if (p.fw_bp_bytes)
        bpk = (float *)(((uintptr_t)workspace + DLC_WS_ALIGN - 1) &
                        ~(uintptr_t)(DLC_WS_ALIGN - 1));
    return conv_forward_run(s, &p, x, w, b, y, 0, relu != 0, bpk,
                            (char *)workspace + slots_off(&p), nt);
}

dlc_status dlc_conv2d_forward(const dlc_conv2d_shape *s, const float *x, const float *w,
                              const float *b, float *y, void *workspace, size_t workspace_size) {
    return dlc_conv2d_forward_ex(s, x, w, b, y, 0, workspace, workspace_size);
}

/* ------------------------------------------------------------ backward data */

/* Flipped kernel w'[i, j, o, ci] = w[kh-1-i, kw-1-j, ci, o] (groups == 1). */
static void flip_kernel(const dlc_conv2d_shape *s, const float *w, float *wf) {
    const int64_t c = s->c, oc = s->oc, taps = s->kh * s->kw;
    for (int64_t t = 0; t < taps; t++) {
        const float *src = w + (taps - 1 - t) * c * oc;
        float *dst = wf + t * oc * c;
        for (int64_t o = 0; o < oc; o++)
            for (int64_t ci = 0; ci < c; ci++) dst[o * c + ci] = src[ci * oc + o];
    }
}

/* ------------------------------------------------------------ ReLU masks
 * dz = 0 + dy * (y > 0 ? 1 : 0): dlc_relu_backward's value (plain ReLU, y its output) written
 * into a zeroed buffer, so a backward that reads dy through the mask gives the bits of a ReLU
 * backward pass followed by the unmasked kernel. */
DLC_INLINE float relu_mask1(float dy, float y) {
    uint32_t m = 0u - (uint32_t)(y > 0.0f), one;
    float f = 1.0f, d;
    memcpy(&one, &f, sizeof one);
    one &= m;
    memcpy(&d, &one, sizeof d);
    return 0.0f + dy * d;
}
DLC_INLINE void mask_rows_body(int64_t n, const float *restrict dy, const float *restrict y,
                               float *restrict dz) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dz[i] = relu_mask1(dy[i], y[i]);
}
DLC_SIMD_VARIANTS(mask_rows,
                  (int64_t n, const float *restrict dy, const float *restrict y,
                   float *restrict dz),
                  (n, dy, y, dz));
typedef void (*mask_rows_fn)(int64_t, const float *, const float *, float *);

/* ------------------------------------------------------------ backward data */

/* Direct backward data (bd_ok, a level with direct kernels and nr dividing c, or c = 8 with
 * 8-wide tiles through direct_add8): for tap (ki, kj) and channel block cb (nr channels), the
 * output pixels of one output row whose input column ox * sw - pad_left + kj * dw lies inside
 * dx, [oxa, oxb), are cut into tiles of mr (the last one shorter); a tile's contribution
 * dy_rows @ W^T[:, tap, cb] (k = oc) lands on input pixels sw apart in one input row: a
 * register tile of dx with row stride sw * c, added in place (direct with beta 1, or
 * direct_add: the same operations per element for fewer rows). No dcol buffer, no col2im.
 * W^T is packed once, shared by the threads. A unit is (image, channel block): it owns those
 * dx values, which get their terms in (k block, output row, ki, kj, output pixel) order
 * whatever the thread count. dy_mask: dy is first masked into the slot (one image). */
static dlc_status bwdd_direct(const dlc_conv2d_shape *s, const plan *p, const dlc_ukernel *kr,
                              const float *dy, const float *ymask, const float *w, float *dx,
                              int accumulate, float *wpack, char *slots, int nt) {
    const int64_t c = s->c, oc = s->oc, K = p->k, ohw = s->oh * s->ow, hwc = s->h * s->w * c;
    /* channel blocks of the level's nr, or of 8 (direct_add8 for every tile) */
    const int mr = kr->mr, nr = c % kr->nr == 0 ? kr->nr : 8, w8 = nr != kr->nr;
    const int64_t kcb = dlc_gemm_k_block(oc), ncb = c / nr, panels = K / nr;
    /* W^T (oc x K) in k blocks of kcb rows of oc, each as K / nr panels of kcb x nr. */
    for (int64_t kb = 0; kb < oc; kb += kcb)
        kr->pack_b(1, w, oc, kb, DLC_MIN(kcb, oc - kb), 0, K, nr, 0, panels, wpack + kb * K);
    const mask_rows_fn maskf = DLC_SIMD_PICK(mask_rows);
    const int64_t units = s->n * ncb;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t u = 0; u < units; u++) {
        char *slot = slots + (size_t)thread_num() * p->slot_bytes;
        float *dz = (float *)slot;
        int64_t img = u / ncb, cb = u - img * ncb;
        float *dxi = dx + img * hwc + cb * nr;
        const float *dyi = dy + img * ohw * oc;
        if (ymask) {
            maskf(ohw * oc, dyi, ymask + img * ohw * oc, dz);
            dyi = dz;
        }
        if (!accumulate)
            for (int64_t q = 0; q < s->h * s->w; q++)
                memset(dxi + q * c, 0, (size_t)nr * sizeof(float));
        for (int64_t kb = 0; kb < oc; kb += kcb) {
            int64_t kc = DLC_MIN(kcb, oc - kb);
            for (int64_t oy = 0; oy < s->oh; oy++) {
                const float *dyr = dyi + oy * s->ow * oc + kb;
                for (int64_t ki = 0; ki < s->kh; ki++) {
                    int64_t iy = oy * s->sh - s->pad_top + ki * s->dh;
                    if (iy < 0 || iy >= s->h) continue;
                    float *dxr = dxi + iy * s->w * c;
                    for (int64_t kj = 0; kj < s->kw; kj++) {
                        int64_t q = ((ki * s->kw + kj) * c + cb * nr) / nr;
                        const float *bp = wpack + kb * K + q * kc * nr;
                        /* output pixel ox lands on input column ox * sw + off: the valid
                         * ones [oxa, oxb) in tiles of mr, the last one shorter */
                        int64_t off = kj * s->dw - s->pad_left;
                        int64_t oxa = off >= 0 ? 0 : (-off + s->sw - 1) / s->sw;
                        int64_t oxb = s->w - 1 - off >= 0
                                          ? DLC_MIN(s->ow, (s->w - 1 - off) / s->sw + 1) : 0;
                        for (int64_t ox0 = oxa; ox0 < oxb; ox0 += mr) {
                            int64_t rows = DLC_MIN((int64_t)mr, oxb - ox0);
                            const float *ar = dyr + ox0 * oc;
                            float *d = dxr + (ox0 * s->sw + off) * c;
                            if (w8)
                                kr->direct_add8((int)rows, kc, ar, oc, bp, d, s->sw * c);
                            else if (rows == mr)
                                kr->direct(kc, ar, oc, bp, d, s->sw * c, 1.0f, 1.0f, NULL, 0);
                            else
                                kr->direct_add((int)rows, kc, ar, oc, bp, d, s->sw * c);
                        }
                    }
                }
            }
        }
    }
    return DLC_OK;
}

dlc_status dlc_conv2d_backward_data_ex(const dlc_conv2d_shape *s, const float *dy,
                                       const float *dy_mask, const float *w, float *dx,
                                       int accumulate, void *workspace,
                                       size_t workspace_size) {
    dlc_status st = dlc_conv2d_check(s);
    if (st != DLC_OK) return st;
    DLC_CHECK(dy != NULL && w != NULL && dx != NULL);
    plan p;
    make_plan(s, &p);
    const dlc_ukernel *kr = dlc_ukernel_pick();
    dlc_conv2d_shape fs;
    plan fp;
    const int flip = flip_shape(s, &p, &fs, &fp);
    /* direct: whole nr-channel blocks, or c = 8 and oc <= 8 (one block of 8; the col2im
     * route measured faster with more 8-wide blocks, 14x14 24->32 3x3 7.1 vs 8.8 ms, and at
     * 2 threads with oc = 16, 14x14 8->16 5x5 2.53 vs 2.70 ms) */
    if (p.bd_ok && kr->conv_direct && kr->direct_add &&
        (s->c % kr->nr == 0 || (kr->direct_add8 && !flip && s->c < kr->nr && s->oc <= 8))) {
        int nt = usable_threads(&p, workspace, workspace_size);
        if (nt < 1) return DLC_ENOMEM;
        return bwdd_direct(s, &p, kr, dy, dy_mask, w, dx, accumulate, (float *)workspace,
                           (char *)workspace + slots_off(&p), nt);
    }
    const size_t dx_bytes = (size_t)(s->n * s->h * s->w * s->c) * sizeof(float);
    if (flip) {
        /* dx += forward correlation of dy with the flipped kernel, built in the workspace
         * (after it, dy masked by dy_mask when given). */
        size_t wf_bytes = flip_kernel_bytes(s), dz_bytes = flip_dz_bytes(s);
        int nt = usable_threads_at(&fp, wf_bytes + dz_bytes, workspace, workspace_size);
        if (nt < 1) return DLC_ENOMEM;
        float *wf = (float *)workspace;
        flip_kernel(s, w, wf);
        if (dy_mask) {
            float *dz = (float *)((char *)workspace + wf_bytes);
            const mask_rows_fn maskf = DLC_SIMD_PICK(mask_rows);
            const int64_t total = s->n * s->oh * s->ow * s->oc, blk = 16384;
#pragma omp parallel for schedule(static) num_threads(nt)
            for (int64_t i = 0; i < total; i += blk)
                maskf(DLC_MIN(blk, total - i), dy + i, dy_mask + i, dz + i);
            dy = dz;
        }
        if (!accumulate) memset(dx, 0, dx_bytes);
        return conv_forward_run(&fs, &fp, dy, wf, NULL, dx, 1, 0, NULL,
                                (char *)workspace + wf_bytes + dz_bytes, nt);
    }
    int nt = usable_threads(&p, workspace, workspace_size);
    if (nt < 1) return DLC_ENOMEM;
    char *slots = (char *)workspace + slots_off(&p);
    const int64_t oc = s->oc, c = s->c;
    const mask_rows_fn maskf = DLC_SIMD_PICK(mask_rows);
    int err = 0;
    if (p.is1x1) {
        /* dx rows are the output pixels: dx_tile[:, g] (+)= dy_tile[:, g] @ W_g^T. */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t t = 0; t < p.ntiles; t++) {
            char *slot = slots + (size_t)thread_num() * p.slot_bytes;
            void *gws = slot + p.gemm_off;
            float *dz = (float *)(slot + p.gemm_off + p.gemm_bytes);
            int64_t q0 = t * p.tile, np = DLC_MIN(p.tile, p.m - q0);
            const float *dyt = dy + q0 * oc;
            if (dy_mask) {
                maskf(np * oc, dyt, dy_mask + q0 * oc, dz);
                dyt = dz;
            }
            for (int64_t g = 0; g < s->groups; g++) {
                dlc_status gs = dlc_sgemm_serial(0, 1, np, p.cg, p.ocg, 1.0f, dyt + g * p.ocg, oc,
                                                 w + g * p.ocg, oc, accumulate ? 1.0f : 0.0f,
                                                 dx + q0 * c + g * p.cg, c, gws, p.gemm_bytes);
                if (gs != DLC_OK) {
#pragma omp atomic write
                    err = 1;
                }
            }
        }
        return err ? DLC_EINVAL : DLC_OK;
    }
    /* One unit = one (image, group): it owns dx[img][:, :, g channels], so col2im never races.
     * Within a unit the tiles run in order, so every dx element sums in a fixed order. */
    const int64_t ohw = s->oh * s->ow;
    const int64_t tiles_img = (ohw + p.dtile - 1) / p.dtile;
    const int64_t tile_img = (ohw + tiles_img - 1) / tiles_img;
    const int64_t units = s->n * s->groups;
    const col2im_fn col2im = DLC_SIMD_PICK(col2im_tile);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t u = 0; u < units; u++) {
        char *slot = slots + (size_t)thread_num() * p.slot_bytes;
        float *dcol = (float *)slot;
        void *gws = slot + p.gemm_off;
        float *dz = (float *)(slot + p.gemm_off + p.gemm_bytes);
        int64_t img = u / s->groups, g = u - img * s->groups;
        if (!accumulate) {
            float *dxi = dx + img * s->h * s->w * c + g * p.cg;
            for (int64_t q = 0; q < s->h * s->w; q++)
                memset(dxi + q * c, 0, (size_t)p.cg * sizeof(float));
        }
        for (int64_t r0 = 0; r0 < ohw; r0 += tile_img) {
            int64_t np = DLC_MIN(tile_img, ohw - r0);
            const float *dyt = dy + (img * ohw + r0) * oc;
            if (dy_mask) {
                maskf(np * oc, dyt, dy_mask + (img * ohw + r0) * oc, dz);
                dyt = dz;
            }
            dlc_status gs = dlc_sgemm_serial(0, 1, np, p.k, p.ocg, 1.0f, dyt + g * p.ocg, oc,
                                             w + g * p.ocg, oc, 0.0f, dcol, p.k, gws,
                                             p.gemm_bytes);
            if (gs != DLC_OK) {
#pragma omp atomic write
                err = 1;
            }
            col2im(s, &p, dcol, img, r0, np, g, dx);
        }
    }
    return err ? DLC_EINVAL : DLC_OK;
}

dlc_status dlc_conv2d_backward_data(const dlc_conv2d_shape *s, const float *dy, const float *w,
                                    float *dx, void *workspace, size_t workspace_size) {
    return dlc_conv2d_backward_data_ex(s, dy, NULL, w, dx, 1, workspace, workspace_size);
}

/* ------------------------------------------------------------ backward weights */

/* dy rows [0, np) (masked by ymask when given) into panels of nr columns, dst[q][p * nr + j]
 * (kc = np), zero past oc; and db[o] += each row's values, row by row. */
DLC_INLINE void pack_dy_body(int64_t np, int64_t oc, int nr, const float *restrict dy,
                             const float *restrict ym, float *restrict dst,
                             float *restrict db) {
    const int64_t panels = (oc + nr - 1) / nr;
    for (int64_t p = 0; p < np; p++) {
        const float *d = dy + p * oc, *m = ym ? ym + p * oc : NULL;
        for (int64_t q = 0; q < panels; q++) {
            float *o = dst + q * np * nr + p * nr;
            int64_t j0 = q * nr, cols = DLC_MIN((int64_t)nr, oc - j0);
            if (m) {
#pragma omp simd
                for (int64_t j = 0; j < cols; j++) o[j] = relu_mask1(d[j0 + j], m[j0 + j]);
            } else {
#pragma omp simd
                for (int64_t j = 0; j < cols; j++) o[j] = d[j0 + j];
            }
            for (int64_t j = cols; j < nr; j++) o[j] = 0.0f;
            if (db)
#pragma omp simd
                for (int64_t j = 0; j < cols; j++) db[j0 + j] += o[j];
        }
    }
}
DLC_SIMD_VARIANTS(pack_dy,
                  (int64_t np, int64_t oc, int nr, const float *restrict dy,
                   const float *restrict ym, float *restrict dst, float *restrict db),
                  (np, oc, nr, dy, ym, dst, db));
typedef void (*pack_dy_fn)(int64_t, int64_t, int, const float *, const float *, float *,
                           float *);

/* Implicit backward weights (bw_ok and a level with kt_rows): a unit is bw_rows output rows of
 * one image (np pixels, consecutive rows of dy); units are cut into bw_nchunks chunks fixed by
 * the shape, each with its partial dW (K x oc, row stride oc) and db. For a unit: the input rows
 * it reads (a zero-padded copy in the slot when the convolution pads), a row table pr of its
 * pixels' patch origins, and dy packed into nr-wide panels (masked, and summed into db, on the
 * way). Then dW[kk, :] (+)= sum_p src[pr[p] + koff(kk)] dy[p, :]: the patch index kk runs
 * through runs of consecutive floats of the input (kw*c per kernel row when dw == 1, c per tap
 * otherwise), cut into mr-row tiles; a tile is kt_rows over all np pixels, B panel by B panel.
 * A run's last rows (fewer than mr) are packed and go through fn. */
static dlc_status bwdw_implicit(const dlc_conv2d_shape *s, const plan *p, const dlc_ukernel *kr,
                                const float *x, const float *dy, const float *ymask,
                                float *partials, int has_db, char *slots, int nt) {
    const int64_t c = s->c, oc = s->oc, K = p->k, per_chunk = K * oc + oc;
    const int mr = kr->mr, nr = kr->nr;
    const int64_t panels = (oc + nr - 1) / nr;
    const int padded = p->bw_slab_bytes != 0;
    const int64_t wp = padded ? p->wp : s->w; /* the row length of what pr indexes */
    const int64_t seglen = s->dw == 1 ? s->kw * c : c, nruns = s->dw == 1 ? s->kh : s->kh * s->kw;
    const int64_t nch = p->bw_nchunks, units = p->bw_units;
    const pack_dy_fn packf = DLC_SIMD_PICK(pack_dy);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t ch = 0; ch < nch; ch++) {
        char *slot = slots + (size_t)thread_num() * p->slot_bytes;
        float *slab = (float *)slot;
        int64_t *pr = (int64_t *)(slot + p->bw_slab_bytes);
        float *bpk = (float *)(slot + p->bw_slab_bytes + p->bw_pr_bytes);
        float *apk = (float *)(slot + p->bw_slab_bytes + p->bw_pr_bytes + p->bw_b_bytes);
        float *pw = partials + ch * per_chunk, *pb = pw + K * oc;
        int64_t u0 = ch * units / nch, u1 = (ch + 1) * units / nch;
        for (int64_t o = 0; o < oc; o++) pb[o] = 0.0f;
        for (int64_t u = u0; u < u1; u++) {
            const float beta = u == u0 ? 0.0f : 1.0f;
            int64_t img = u / p->bw_units_img, oy0 = (u - img * p->bw_units_img) * p->bw_rows;
            int64_t rows = DLC_MIN(p->bw_rows, s->oh - oy0), np = rows * s->ow;
            int64_t iy0 = oy0 * s->sh - s->pad_top; /* the unit's first input row */
            const float *xi = x + img * s->h * s->w * c, *src;
            if (padded) {
                int64_t srows = (rows - 1) * s->sh + (s->kh - 1) * s->dh + 1;
                for (int64_t r = 0; r < srows; r++) {
                    float *d = slab + r * wp * c;
                    int64_t iy = iy0 + r;
                    memset(d, 0, (size_t)(wp * c) * sizeof(float));
                    if (iy >= 0 && iy < s->h)
                        memcpy(d + s->pad_left * c, xi + iy * s->w * c,
                               (size_t)(s->w * c) * sizeof(float));
                }
                src = slab;
            } else {
                src = xi + iy0 * s->w * c;
            }
            for (int64_t r = 0, q = 0; r < rows; r++)
                for (int64_t ox = 0; ox < s->ow; ox++, q++)
                    pr[q] = (r * s->sh * wp + ox * s->sw) * c;
            const int64_t q0 = (img * s->oh + oy0) * s->ow;
            packf(np, oc, nr, dy + q0 * oc, ymask ? ymask + q0 * oc : NULL, bpk,
                  has_db ? pb : NULL);
            for (int64_t q = 0; q < panels; q++) {
                const float *bp = bpk + q * np * nr;
                int64_t cols = DLC_MIN((int64_t)nr, oc - q * nr);
                for (int64_t run = 0; run < nruns; run++) {
                    int64_t ki = s->dw == 1 ? run : run / s->kw, kj = s->dw == 1 ? 0 : run % s->kw;
                    const float *a = src + (ki * s->dh * wp + kj * s->dw) * c;
                    for (int64_t t0 = 0; t0 < seglen; t0 += mr) {
                        int64_t trows = DLC_MIN((int64_t)mr, seglen - t0);
                        float *cq = pw + (run * seglen + t0) * oc + q * nr;
                        if (trows == mr && cols == nr) {
                            kr->kt_rows(np, a + t0, pr, bp, cq, oc, 1.0f, beta);
                            continue;
                        }
                        float t[DLC_MR_MAX * DLC_NR_MAX];
                        const float *ap = apk;
                        if (trows == mr) {
                            if (beta != 0.0f) {
                                memset(t, 0, sizeof t);
                                for (int64_t i = 0; i < trows; i++)
                                    memcpy(t + i * nr, cq + i * oc, (size_t)cols * sizeof(float));
                            }
                            kr->kt_rows(np, a + t0, pr, bp, t, nr, 1.0f, beta);
                            for (int64_t i = 0; i < trows; i++)
                                memcpy(cq + i * oc, t + i * nr, (size_t)cols * sizeof(float));
                            continue;
                        }
                        for (int64_t pp = 0; pp < np; pp++) {
                            const float *sp = a + t0 + pr[pp];
                            for (int i = 0; i < mr; i++)
                                apk[pp * mr + i] = i < trows ? sp[i] : 0.0f;
                        }
                        dlc_ukr_tile(kr, np, ap, bp, cq, oc, trows, cols, 1.0f, beta, NULL, 0);
                    }
                }
            }
        }
    }
    return DLC_OK;
}

dlc_status dlc_conv2d_backward_weights_ex(const dlc_conv2d_shape *s, const float *x,
                                          const float *dy, const float *dy_mask, float *dw,
                                          float *db, int accumulate, void *workspace,
                                          size_t workspace_size) {
    dlc_status st = dlc_conv2d_check(s);
    if (st != DLC_OK) return st;
    DLC_CHECK(x != NULL && dy != NULL && dw != NULL);
    plan p;
    make_plan(s, &p);
    int nt = usable_threads(&p, workspace, workspace_size);
    if (nt < 1) return DLC_ENOMEM;
    float *partials = (float *)workspace;
    char *slots = (char *)workspace + slots_off(&p);
    const int64_t oc = s->oc, kw_elems = p.k * oc, per_chunk = kw_elems + oc;
    const dlc_ukernel *kr = dlc_ukernel_pick();
    const int implicit = p.bw_ok && kr->kt_rows != NULL;
    const int64_t nch = implicit ? p.bw_nchunks : p.nchunks;
    int err = 0;
    if (implicit) {
        dlc_status is = bwdw_implicit(s, &p, kr, x, dy, dy_mask, partials, db != NULL, slots, nt);
        if (is != DLC_OK) return is;
    } else {
        const smallk_bwdw_fn smallk = DLC_SIMD_PICK(smallk_bwdw);
        const add_rows_fn add_rows = DLC_SIMD_PICK(add_rows);
        const mask_rows_fn maskf = DLC_SIMD_PICK(mask_rows);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t ch = 0; ch < nch; ch++) {
            char *slot = slots + (size_t)thread_num() * p.slot_bytes;
            float *col = (float *)slot;
            void *gws = slot + p.gemm_off;
            float *dz = (float *)(slot + p.gemm_off + p.gemm_bytes);
            float *pw = partials + ch * per_chunk, *pb = pw + kw_elems;
            int64_t t0 = ch * p.ntiles / nch, t1 = (ch + 1) * p.ntiles / nch;
            if (p.smallk) memset(pw, 0, (size_t)kw_elems * sizeof(float));
            for (int64_t o = 0; o < oc; o++) pb[o] = 0.0f;
            for (int64_t t = t0; t < t1; t++) {
                int64_t q0 = t * p.tile, np = DLC_MIN(p.tile, p.m - q0);
                const float *dyt = dy + q0 * oc;
                if (dy_mask) {
                    maskf(np * oc, dyt, dy_mask + q0 * oc, dz);
                    dyt = dz;
                }
                if (p.smallk) {
                    smallk_bwdw_ctx f = {smallk, p.k, oc, dyt, pw, db ? pb : NULL};
                    smallk_tile(s, &p, x, q0, np, col, smallk_bwdw_seg, &f);
                    continue;
                }
                if (db) add_rows(pb, dyt, np, oc);
                for (int64_t g = 0; g < s->groups; g++) {
                    const float *a = x + q0 * s->c + g * p.cg;
                    int64_t lda = s->c;
                    if (!p.is1x1) {
                        im2col_tile(s, &p, x, q0, np, g, col);
                        a = col, lda = p.k;
                    }
                    dlc_status gs = dlc_sgemm_serial(1, 0, p.k, p.ocg, np, 1.0f, a, lda,
                                                     dyt + g * p.ocg, oc, t == t0 ? 0.0f : 1.0f,
                                                     pw + g * p.ocg, oc, gws, p.gemm_bytes);
                    if (gs != DLC_OK) {
#pragma omp atomic write
                        err = 1;
                    }
                }
            }
        }
    }
    if (err) return DLC_EINVAL;
    /* Fixed-order reduction of the chunk partials, split over disjoint elements. */
    const int64_t total = db ? per_chunk : kw_elems;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t e = 0; e < total; e++) {
        float sum = partials[e];
        for (int64_t ch = 1; ch < nch; ch++) sum += partials[ch * per_chunk + e];
        float *out = e < kw_elems ? dw + e : db + (e - kw_elems);
        *out = accumulate ? *out + sum : sum;
    }
    return DLC_OK;
}

dlc_status dlc_conv2d_backward_weights(const dlc_conv2d_shape *s, const float *x,
                                       const float *dy, float *dw, float *db, void *workspace,
                                       size_t workspace_size) {
    return dlc_conv2d_backward_weights_ex(s, x, dy, NULL, dw, db, 1, workspace, workspace_size);
}
