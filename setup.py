"""Build of the C extension dlc._C (the package metadata lives in pyproject.toml).

Flags: -O3, OpenMP, C11, every warning an error. Nothing CPU-specific and no relaxed float
math: the AVX2 and AVX-512 kernels are compiled with function target attributes and chosen at
run time, so one build runs on any x86-64 and gives the same formulas everywhere.
-fno-math-errno changes no value (IEEE square roots are exact; nothing in dlc reads errno): it
lets the compiler vectorise sqrtf, which it otherwise keeps a scalar libm call for the errno of
a negative argument (the optimizer updates in csrc/optim.c rely on it).
DLC_SANITIZE=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer (for the test suite).
"""
import glob
import os

import numpy
from setuptools import Extension, setup

cflags = ["-std=c11", "-O3", "-fopenmp", "-fno-math-errno", "-Wall", "-Wextra", "-Werror",
          "-fno-strict-aliasing"]
ldflags = ["-fopenmp"]
if os.environ.get("DLC_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
           "-fno-omit-frame-pointer", "-g"]
    cflags += san
    ldflags += san

setup(
    ext_modules=[
        Extension(
            "dlc._C",
            sources=sorted(glob.glob(os.path.join("csrc", "*.c"))),
            # Headers are rebuild dependencies; MANIFEST.in ships them in the sdist.
            depends=sorted(glob.glob(os.path.join("csrc", "*.h"))),
            include_dirs=["csrc", numpy.get_include()],
            define_macros=[("_POSIX_C_SOURCE", "200809L")],
            extra_compile_args=cflags,
            extra_link_args=ldflags,
        )
    ],
)
