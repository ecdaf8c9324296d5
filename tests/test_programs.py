"""Small complete Keras-style programs (tests/programs/*.py), in the way tutorials and course
notebooks write them with only their imports changed, each run end to end in its own process on
a few hundred real MNIST / Fashion-MNIST images. A program fails by raising (its own asserts
check the results)."""
import glob
import os
import subprocess
import sys

import pytest

from conftest import data_dir

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = sorted(glob.glob(os.path.join(HERE, "programs", "*.py")))
REPO = os.path.dirname(HERE)


@pytest.mark.parametrize("path", PROGRAMS, ids=[os.path.basename(p)[:-3] for p in PROGRAMS])
def test_program_runs(path, tmp_path):
    data = data_dir()
    if data is None:
        pytest.skip("needs MNIST / Fashion-MNIST: set DLC_DATA_DIR or put shared/datasets above the repository")
    env = dict(os.environ, DLC_DATA_DIR=data, MPLBACKEND="Agg", PYTHONHASHSEED="0")
    import dlc

    # run against the dlc these tests import (an install or this source tree, built)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(dlc.__file__)) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, path], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
    assert proc.returncode == 0, f"{os.path.basename(path)} failed:\n{tail}"
    print(f"--- {os.path.basename(path)}\n" + "\n".join(proc.stdout.strip().splitlines()[-3:]))
