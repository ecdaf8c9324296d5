"""Helpers shared by the benchmark scripts (bench_train.py, bench_peers.py): timing, synthetic
data, thread pinning, the FMA ceiling and reading a child process's answer. Not a test."""
from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def time_steps(step, warmup: int, steps: int) -> float:
    """Median milliseconds of `steps` calls of `step()` after `warmup` untimed calls."""
    return statistics.median(time_calls(step, warmup, steps))


def time_calls(step, warmup: int, steps: int) -> list:
    """Milliseconds of each of `steps` calls of `step()` after `warmup` untimed calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def mnist_batch(b: int, seed: int = 0):
    """Random images of MNIST's shape (b, 28, 28, 1) in [0, 1) and one-hot labels (b, 10)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (b, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, b)]
    return x, y


def pinned_env(threads: int, keras_backend: str | None = None) -> dict:
    """The environment for a child process limited to `threads` threads: OpenMP, MKL, TF and
    XLA (JAX) read these before they start their pools; torch, TF and dlc are also told in code."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads),
               TF_CPP_MIN_LOG_LEVEL="2",
               XLA_FLAGS=f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}")
    if keras_backend:
        env["KERAS_BACKEND"] = keras_backend
    return env


def child_answer(proc: subprocess.CompletedProcess):
    """(True, the JSON on a child's last stdout line) or (False, why it failed)."""
    if proc.returncode == 0 and proc.stdout.strip():
        return True, json.loads(proc.stdout.strip().splitlines()[-1])
    err = proc.stderr.strip().splitlines()
    return False, err[-1] if err else f"exit status {proc.returncode}"


def peak_flops_source() -> str | None:
    """The shared tool peak_flops.c: $DLC_PEAK_FLOPS_SRC, else shared/tools beside the repository
    (or beside the main checkout, for a worktree next to it)."""
    if os.environ.get("DLC_PEAK_FLOPS_SRC"):
        return os.environ["DLC_PEAK_FLOPS_SRC"]
    for p in (os.path.join(REPO, "..", "shared", "tools", "peak_flops.c"),
              os.path.join(REPO, "..", "..", "shared", "tools", "peak_flops.c")):
        if os.path.isfile(p):
            return os.path.abspath(p)
    return None


def fma_ceiling(threads: int):
    """(GFLOP/s of the FMA units on `threads` threads, how it was measured) from peak_flops.c,
    built with the flags its header names (-mavx512f where the CPU has it, else -mavx2) -mfma."""
    src = peak_flops_source()
    if src is None or shutil.which("gcc") is None:
        return None, "peak_flops.c or gcc not found: no ceiling"
    with open("/proc/cpuinfo") as f:
        isa = "-mavx512f" if " avx512f" in f.read() else "-mavx2"
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "peak_flops")
        cmd = ["gcc", "-O2", isa, "-mfma", "-fopenmp", src, "-o", exe]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            return None, f"could not build {src}: {proc.stderr.strip()[-200:]}"
        out = subprocess.run([exe], capture_output=True, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS=str(threads))).stdout
    found = {int(t): float(g) for t, g in re.findall(r"threads=(\d+)\s+vector_width=\d+\s+peak_fp32=([\d.]+)", out)}
    if threads in found:
        return found[threads], f"{os.path.basename(src)} ({' '.join(cmd[1:4])}), {threads} threads"
    if found:
        t = max(found)
        return found[t] * threads / t, f"peak_flops.c up to {t} threads, scaled to {threads}"
    return None, "peak_flops.c printed no figure"
