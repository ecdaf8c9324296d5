"""Time dlc's compute kernels against PyTorch on the same thread count, in one run.

    python benchmarks/bench_kernels.py [--threads N] [--repeats R]

Rows: SGEMM 512^3 and 1024^3, then the two convolutions of the Keras CNN-MNIST network at
batch 128 (forward, backward-data, backward-weights + bias). torch is timed in a child process
(two OpenMP runtimes in one process spin against each other), with NCHW and channels-last
tensors; the ratio is against torch's faster layout. Each figure is the median of
several timed repeats after warm-up runs (time.perf_counter). The fraction of peak uses the
machine's fp32 peak for that thread count, measured by compiling the shared tool
peak_flops.c ($DLC_PEAK_FLOPS_SRC, else ../shared/tools/peak_flops.c next to the repository).

Not part of the test suite: timings on a shared machine are noisy; run it when it is idle.
"""
import argparse
import json
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


CONV_LAYERS = [("conv1 28x28x1->3x3x32", (128, 28, 28, 1), 32),
               ("conv2 26x26x32->3x3x64", (128, 26, 26, 32), 64)]
CONV_PASSES = ("fwd", "bwd data", "bwd weights+bias")


def conv_data(shape, oc, seed=0):
    rng = np.random.default_rng(seed)
    n, h, w, cin = shape
    oh, ow = h - 2, w - 2
    x = rng.standard_normal((n, h, w, cin)).astype(np.float32)
    wt = (0.1 * rng.standard_normal((3, 3, cin, oc))).astype(np.float32)
    bias = rng.standard_normal(oc).astype(np.float32)
    dy = rng.standard_normal((n, oh, ow, oc)).astype(np.float32)
    return x, wt, bias, dy


def torch_times(threads, repeats):
    """{row name: {layout: seconds}} for torch, timed in this process (a child of main(): torch's
    OpenMP runtime and dlc's would otherwise spin against each other on the same cores)."""
    import torch

    torch.set_num_threads(threads)
    out = {}
    for s in (512, 1024):
        rng = np.random.default_rng(0)
        ta = torch.from_numpy(rng.standard_normal((s, s)).astype(np.float32))
        tb = torch.from_numpy(rng.standard_normal((s, s)).astype(np.float32))
        tc = torch.empty(s, s)
        out[f"gemm {s}x{s}x{s}"] = {"": median_time(lambda: torch.mm(ta, tb, out=tc), repeats)}
    conv_bw = torch.ops.aten.convolution_backward
    for name, shape, oc in CONV_LAYERS:
        x, wt, bias, dy = conv_data(shape, oc)
        for layout in ("nchw", "channels_last"):
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
            tw = torch.from_numpy(wt).permute(3, 2, 0, 1).contiguous(memory_format=fmt)
            tdy = torch.from_numpy(dy).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
            tbias = torch.from_numpy(bias)
            fns = {
                "fwd": lambda: torch.nn.functional.conv2d(tx, tw, tbias),
                "bwd data": lambda: conv_bw(tdy, tx, tw, [oc], [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                                            [True, False, False]),
                "bwd weights+bias": lambda: conv_bw(tdy, tx, tw, [oc], [1, 1], [0, 0], [1, 1], False,
                                                    [0, 0], 1, [False, True, True]),
            }
            with torch.no_grad():
                for pas in CONV_PASSES:
                    out.setdefault(f"{name} {pas}", {})[layout] = median_time(fns[pas], repeats)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="threads for dlc and torch (default: all cores)")
    ap.add_argument("--repeats", type=int, default=7, help="timed repeats per row (median)")
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    nt = args.threads
    if args.torch_only:
        print(json.dumps(torch_times(nt, args.repeats)))
        return

    _C.set_num_threads(nt)
    peak, ceiling, notes = measure_peaks(nt)
    rows = []  # (name, flops, dlc seconds)
    rng = np.random.default_rng(0)
    for s in (512, 1024):
        a = rng.standard_normal((s, s)).astype(np.float32)
        b = rng.standard_normal((s, s)).astype(np.float32)
        c = np.empty((s, s), np.float32)
        rows.append((f"gemm {s}x{s}x{s}", 2.0 * s ** 3, median_time(lambda: _C.gemm(a, b, c), args.repeats)))
    geo = dict(strides=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0), groups=1)
    for name, shape, oc in CONV_LAYERS:
        x, wt, bias, dy = conv_data(shape, oc)
        n, h, w, cin = shape
        flops = 2.0 * n * (h - 2) * (w - 2) * oc * 9 * cin
        y = np.empty_like(dy)
        dx, dw, db = np.zeros_like(x), np.zeros_like(wt), np.zeros_like(bias)
        fns = {"fwd": lambda: _C.conv2d_forward(x, wt, bias, y, **geo),
               "bwd data": lambda: _C.conv2d_backward_data(dy, wt, dx, **geo),
               "bwd weights+bias": lambda: _C.conv2d_backward_weights(x, dy, dw, db, **geo)}
        for pas in CONV_PASSES:
            rows.append((f"{name} {pas}", flops, median_time(fns[pas], args.repeats)))

    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-only", "--threads", str(nt),
                           "--repeats", str(args.repeats)], capture_output=True, text=True)
    if proc.returncode != 0:
        notes.append("torch timings failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1])
        torch_t, torch_version = {}, "not available"
    else:
        torch_t = json.loads(proc.stdout.strip().splitlines()[-1])
        torch_version = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                                       capture_output=True, text=True).stdout.strip()

    feats = _C.cpu_features()
    print(f"dlc bench: threads={nt}  simd={feats['simd']}  torch {torch_version} (threads={nt}, "
          f"timed in its own process)")
    if peak:
        print(f"fp32 peak from peak_flops.c ({nt} threads): {peak:.1f} GFLOP/s")
    if ceiling:
        print(f"fp32 FMA ceiling, independent chains ({nt} threads): {ceiling:.1f} GFLOP/s")
        if peak and peak > 1.2 * ceiling:
            print("  note: peak_flops.c starts its 12 FMA chains from equal values, gcc merges "
                  "them into one\n  latency-bound chain and the figure exceeds what the FMA "
                  "units can issue; '%ceil'\n  is the fraction of the independent-chain ceiling.")
    for n_ in notes:
        print("note:", n_)
    print()
    hdr = (f"{'kernel':<38}{'dlc ms':>9}{'GFLOP/s':>9}{'%peak':>8}{'%ceil':>8}"
           f"{'torch NCHW':>11}{'torch NHWC':>11}{'vs best':>9}")
    print(hdr)
    print("-" * len(hdr))
    for name, flops, t in rows:
        g = flops / t / 1e9
        tt = torch_t.get(name, {})
        nchw = tt.get("nchw", tt.get(""))
        nhwc = tt.get("channels_last")
        best = min(v for v in (nchw, nhwc) if v is not None) if tt else None
        fmt = lambda v: f"{v * 1e3:11.3f}" if v is not None else f"{'-':>11}"
        ratio = f"{best / t:8.2f}x" if best else f"{'-':>9}"
        print(f"{name:<38}{t * 1e3:9.3f}{g:9.1f}{frac(g, peak):>8}{frac(g, ceiling):>8}"
              f"{fmt(nchw)}{fmt(nhwc)}{ratio}")
    print("\ntorch columns: milliseconds with NCHW (torch's default) and channels_last (NHWC, dlc's layout)"
          " tensors;\n'vs best' = torch's faster layout time / dlc time (> 1: dlc is faster).")


if __name__ == "__main__":
    main()
