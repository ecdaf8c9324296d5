"""Time dlc's compute kernels against PyTorch on the same thread count, in one run.

    python benchmarks/bench_kernels.py [--threads N] [--repeats R]

Rows: SGEMM 512^3 and 1024^3, then the two convolutions of the Keras CNN-MNIST network at
batch 128 (forward, backward-data, backward-weights + bias). Each figure is the median of
several timed repeats after warm-up runs (time.perf_counter). The fraction of peak uses the
machine's fp32 peak for that thread count, measured by compiling the shared tool
peak_flops.c ($DLC_PEAK_FLOPS_SRC, else ../shared/tools/peak_flops.c next to the repository).

Not part of the test suite: timings on a shared machine are noisy; run it when it is idle.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # time this checkout's dlc, not another one on the path
from dlc import _C  # noqa: E402

# A second FMA ceiling, written here with twelve accumulators that start from different values.
# peak_flops.c starts its twelve chains from identical values, so gcc merges them into a single
# chain: its loop then runs one FMA per FMA latency and the printed figure (counted as twelve)
# can be above the FMA units' throughput. Both figures are printed; see the note in the output.
FMA_CEILING_SRC = r"""
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#if defined(__AVX512F__)
typedef __m512 vec;
#define W 16
#define FMA _mm512_fmadd_ps
#define SET1 _mm512_set1_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
typedef __m256 vec;
#define W 8
#define FMA _mm256_fmadd_ps
#define SET1 _mm256_set1_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif
static float run(long iters, float seed) {
    vec a = SET1(1.0000001f), b = SET1(0.9999999f), c[12];
    for (int i = 0; i < 12; i++) c[i] = SET1(seed + (float)i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) c[i] = FMA(a, c[i], b);
    }
    vec s = c[0];
    for (int i = 1; i < 12; i++) s = ADD(s, c[i]);
    float out[W];
    STORE(out, s);
    return out[0];
}
int main(int argc, char **argv) {
    const long iters = 50000000L;
    int t = omp_get_max_threads();
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime(), guard = 0;
#pragma omp parallel num_threads(t) reduction(+ : guard)
        guard += run(iters, (float)argc);
        double dt = omp_get_wtime() - t0, g = 2.0 * 12 * W * (double)iters * t / dt / 1e9;
        if (g > best) best = g;
        if (guard == 0.125) printf("%s", argv[0]);
    }
    printf("threads=%d vector_width=%d fma_ceiling_fp32=%.1f GFLOP/s\n", t, W, best);
    return 0;
}
"""


def cpu_has_avx512f():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f" in f.read()
    except OSError:
        return bool(_C.cpu_features().get("avx512f"))


def build_and_run(src_path, threads, tmp, name):
    """Compile a peak program with gcc and return its stdout, or (None, reason)."""
    flags = ["-mavx512f", "-mfma"] if cpu_has_avx512f() else ["-mavx2", "-mfma"]
    exe = os.path.join(tmp, name)
    cmd = ["gcc", "-O2", *flags, "-fopenmp", src_path, "-o", exe]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        return None, f"could not build {src_path}: {getattr(e, 'stderr', '') or e}"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([exe], check=True, capture_output=True, text=True, env=env).stdout
    return out, None


def measure_peaks(threads):
    """(peak_flops.c figure for `threads`, FMA ceiling, notes)."""
    notes = []
    candidates = [os.environ.get("DLC_PEAK_FLOPS_SRC")] if os.environ.get(
        "DLC_PEAK_FLOPS_SRC") else [
        os.path.join(REPO, "..", "shared", "tools", "peak_flops.c"),
        os.path.join(REPO, "..", "..", "shared", "tools", "peak_flops.c"),  # from a worktree
    ]
    src = next((os.path.abspath(p) for p in candidates if os.path.isfile(p)),
               os.path.abspath(candidates[0]))
    peak = ceiling = None
    if shutil.which("gcc") is None:
        return None, None, ["gcc not found: peak not measured, GFLOP/s only"]
    with tempfile.TemporaryDirectory() as tmp:
        if os.path.isfile(src):
            out, err = build_and_run(src, threads, tmp, "peak_flops")
            if out is None:
                notes.append(err + "; GFLOP/s only")
            else:
                found = {int(t): float(g) for t, g in
                         re.findall(r"threads=(\d+)\s+vector_width=\d+\s+peak_fp32=([\d.]+)", out)}
                if threads in found:
                    peak = found[threads]
                elif found:
                    t_max = max(found)
                    peak = found[t_max] * threads / t_max
                    notes.append(f"peak_flops.c reported up to {t_max} threads; scaled linearly")
        else:
            notes.append(f"peak_flops.c not found at {src} (set DLC_PEAK_FLOPS_SRC); "
                         "GFLOP/s only")
        csrc = os.path.join(tmp, "fma_ceiling.c")
        with open(csrc, "w") as f:
            f.write(FMA_CEILING_SRC)
        out, err = build_and_run(csrc, threads, tmp, "fma_ceiling")
        if out is not None:
            m = re.search(r"fma_ceiling_fp32=([\d.]+)", out)
            ceiling = float(m.group(1)) if m else None
    return peak, ceiling, notes


def median_time(fn, repeats, warmup=2, min_total=0.2):
    for _ in range(warmup):
        fn()
    times = []
    while len(times) < repeats or (sum(times) < min_total and len(times) < 10 * repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def frac(gflops, peak):
    return f"{100.0 * gflops / peak:5.1f}%" if peak else "   n/a"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="threads for dlc and torch (default: all cores)")
    ap.add_argument("--repeats", type=int, default=7, help="timed repeats per row (median)")
    args = ap.parse_args()
    nt = args.threads

    import torch

    _C.set_num_threads(nt)
    torch.set_num_threads(nt)
    peak, ceiling, notes = measure_peaks(nt)

    feats = _C.cpu_features()
    print(f"dlc bench: threads={nt}  simd={feats['simd']}  torch {torch.__version__} "
          f"(threads={torch.get_num_threads()})")
    if peak:
        print(f"fp32 peak from peak_flops.c ({nt} threads): {peak:.1f} GFLOP/s")
    if ceiling:
        print(f"fp32 FMA ceiling, independent chains ({nt} threads): {ceiling:.1f} GFLOP/s")
        if peak and peak > 1.2 * ceiling:
            print("  note: peak_flops.c starts its 12 FMA chains from equal values, gcc merges "
                  "them into one\n  latency-bound chain and the figure exceeds what the FMA "
                  "units can issue; '%ceil'\n  is the fraction of the independent-chain ceiling.")
    for n in notes:
        print("note:", n)
    print()

    rng = np.random.default_rng(0)
    hdr = (f"{'kernel':<38}{'dlc ms':>9}{'GFLOP/s':>9}{'%peak':>8}{'%ceil':>8}"
           f"{'torch ms':>10}{'GFLOP/s':>9}{'dlc/torch':>11}")
    print(hdr)
    print("-" * len(hdr))

    def row(name, flops, t_dlc, t_torch):
        g = flops / t_dlc / 1e9
        gt = flops / t_torch / 1e9
        print(f"{name:<38}{t_dlc * 1e3:9.3f}{g:9.1f}{frac(g, peak):>8}{frac(g, ceiling):>8}"
              f"{t_torch * 1e3:10.3f}{gt:9.1f}{t_torch / t_dlc:10.2f}x")

    for s in (512, 1024):
        a = rng.standard_normal((s, s)).astype(np.float32)
        b = rng.standard_normal((s, s)).astype(np.float32)
        c = np.empty((s, s), np.float32)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tc = torch.empty(s, s)
        t_dlc = median_time(lambda: _C.gemm(a, b, c), args.repeats)
        t_torch = median_time(lambda: torch.mm(ta, tb, out=tc), args.repeats)
        row(f"gemm {s}x{s}x{s}", 2.0 * s ** 3, t_dlc, t_torch)

    if not hasattr(_C, "conv2d_forward"):
        print("conv2d: the conv kernels are not built in this dlc._C (no conv2d_forward); "
              "conv rows skipped")
        return

    geo = dict(strides=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0), groups=1)
    layers = [("conv1 28x28x1->3x3x32", (128, 28, 28, 1), 32),
              ("conv2 26x26x32->3x3x64", (128, 26, 26, 32), 64)]
    for name, (n, h, w, cin), oc in layers:
        kh = kw = 3
        oh, ow = h - kh + 1, w - kw + 1
        flops = 2.0 * n * oh * ow * oc * kh * kw * cin
        x = rng.standard_normal((n, h, w, cin)).astype(np.float32)
        wt = (0.1 * rng.standard_normal((kh, kw, cin, oc))).astype(np.float32)
        bias = rng.standard_normal(oc).astype(np.float32)
        y = np.empty((n, oh, ow, oc), np.float32)
        dy = rng.standard_normal((n, oh, ow, oc)).astype(np.float32)
        dx = np.zeros_like(x)
        dw = np.zeros_like(wt)
        db = np.zeros_like(bias)
        # torch: NCHW contiguous, as a torch user holds them
        tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        tw = torch.from_numpy(np.ascontiguousarray(wt.transpose(3, 2, 0, 1)))
        tb = torch.from_numpy(bias)
        tdy = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 3, 1, 2)))
        conv_bw = torch.ops.aten.convolution_backward

        def t_fwd():
            return torch.nn.functional.conv2d(tx, tw, tb)

        def t_bwd_data():
            return conv_bw(tdy, tx, tw, [oc], [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                           [True, False, False])

        def t_bwd_weights():
            return conv_bw(tdy, tx, tw, [oc], [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                           [False, True, True])

        with torch.no_grad():
            cases = [
                ("fwd", lambda: _C.conv2d_forward(x, wt, bias, y, **geo), t_fwd),
                ("bwd data", lambda: _C.conv2d_backward_data(dy, wt, dx, **geo), t_bwd_data),
                ("bwd weights+bias",
                 lambda: _C.conv2d_backward_weights(x, dy, dw, db, **geo), t_bwd_weights),
            ]
            for pas, f_dlc, f_torch in cases:
                t_dlc = median_time(f_dlc, args.repeats)
                t_torch = median_time(f_torch, args.repeats)
                row(f"{name} {pas}", flops, t_dlc, t_torch)


if __name__ == "__main__":
    main()
