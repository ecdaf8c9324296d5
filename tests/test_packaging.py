"""Packaging and the first hour: the sdist holds what building and testing need, the README's
main job has a short form and fails cleanly without data, a failed download leaves no folder."""
import importlib.util
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from dlc.datasets import DatasetNotFoundError, _common, fashion_mnist
from dlc.examples import mnist_cnn
from test_datasets import env, make_set, write_idx_folder  # noqa: F401  (env is a fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _setuptools_is_recent():
    try:
        from importlib.metadata import version

        return int(version("setuptools").split(".")[0]) >= 77 and importlib.util.find_spec("numpy")
    except Exception:
        return False


@pytest.fixture(scope="module")
def sdist_names(tmp_path_factory):
    if importlib.util.find_spec("build") is None:
        pytest.skip("needs the `build` package (in the test extra): pip install -e '.[test]'")
    if not os.path.isfile(os.path.join(ROOT, "pyproject.toml")):
        pytest.skip(f"no pyproject.toml in {ROOT}: not a source tree")
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "build", "--sdist", "--outdir", str(out)]
    if _setuptools_is_recent():  # this environment has the build requirements: no download
        cmd.append("--no-isolation")
    cmd.append(ROOT)
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (sdist,) = [p for p in os.listdir(out) if p.endswith(".tar.gz")]
    with tarfile.open(out / sdist) as t:
        return {n.split("/", 1)[1] for n in t.getnames() if "/" in n}


def test_sdist_holds_headers_license_tests_and_course_material(sdist_names):
    headers = sorted(f"csrc/{f}" for f in os.listdir(os.path.join(ROOT, "csrc")) if f.endswith(".h"))
    assert "csrc/dlc.h" in headers and "csrc/internal.h" in headers
    tests = sorted(f"tests/{f}" for f in os.listdir(os.path.join(ROOT, "tests")) if f.endswith(".py"))
    need = headers + tests + ["LICENSE", "README.md", "MANIFEST.in", "pyproject.toml", "setup.py",
                              ".ci/run", "notebooks/make_notebooks.py", "benchmarks/bench_train.py"]
    need += [f"csrc/{f}" for f in os.listdir(os.path.join(ROOT, "csrc")) if f.endswith(".c")]
    missing = [n for n in need if n not in sdist_names]
    assert not missing, f"the sdist lacks {missing}"
    assert not [n for n in sdist_names if n.endswith((".so", ".pyc"))], "built files in the sdist"


def test_license_is_mit_and_declared():
    with open(os.path.join(ROOT, "LICENSE")) as f:
        text = f.read()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the dlc authors" in text
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        assert 'license-files = ["LICENSE"]' in f.read()


def test_readme_commands_install_editable():
    """The README's two commands: the editable install, so that the clone root (first on
    sys.path under `python -m`) holds the built package."""
    with open(os.path.join(ROOT, "README.md")) as f:
        lines = [line.strip()[2:] for line in f if line.strip().startswith("$ pip install")]
    assert lines[0] == "pip install -e . && python -m dlc.examples.mnist_cnn"
    assert lines[1] == 'pip install -e ".[test]" && pytest -q tests'


# ---------------------------------------------------------------------------- the main job
def test_main_job_short_form_from_environment(env, monkeypatch, capsys):  # noqa: F811
    write_idx_folder(str(env.tmp / "data" / "mnist"), make_set(0, n_train=40, n_test=10))
    monkeypatch.setenv("DLC_DATA_DIR", str(env.tmp / "data"))
    monkeypatch.setenv("DLC_EXAMPLE_EPOCHS", "2")
    monkeypatch.setenv("DLC_EXAMPLE_LIMIT", "16")
    acc = mnist_cnn.main(["--verbose", "0", "--batch-size", "8"])
    out = capsys.readouterr().out
    assert "16 train samples" in out and "10 test samples" in out
    assert 0.0 <= acc <= 1.0


def test_main_job_flags_override_environment(env, monkeypatch, capsys):  # noqa: F811
    write_idx_folder(str(env.tmp / "data" / "mnist"), make_set(1, n_train=40, n_test=10))
    monkeypatch.setenv("DLC_DATA_DIR", str(env.tmp / "data"))
    monkeypatch.setenv("DLC_EXAMPLE_LIMIT", "16")
    mnist_cnn.main(["--verbose", "0", "--epochs", "1", "--limit", "24"])
    assert "24 train samples" in capsys.readouterr().out


@pytest.mark.parametrize("name,value", [("DLC_EXAMPLE_EPOCHS", "zero"), ("DLC_EXAMPLE_LIMIT", "-3")])
def test_main_job_rejects_a_bad_environment_value(monkeypatch, capsys, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as e:
        mnist_cnn.main(["--verbose", "0"])
    assert e.value.code == 2 and name in capsys.readouterr().err


def test_main_job_without_data_prints_where_to_put_it_and_exits_1(env, capsys):  # noqa: F811
    with pytest.raises(SystemExit) as e:
        mnist_cnn.main(["--verbose", "0", "--epochs", "1"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "Could not find or download the MNIST data set" in err
    assert "train-images-idx3-ubyte.gz" in err and "DLC_DATA_DIR" in err
    assert "Traceback" not in err
    assert not (env.home / ".dlc").exists(), "a failed download left a folder behind"


def test_main_job_as_a_user_runs_it_offline(tmp_path):
    """`python -m dlc.examples.mnist_cnn` in a process of its own, with no data and a network
    that refuses at once: one message on stderr, exit code 1, no traceback."""
    home = tmp_path / "home"
    home.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in ("DLC_DATA_DIR", "KERAS_HOME")}
    environment.update(HOME=str(home), http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
                       HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", no_proxy="")
    # The folder holding the dlc package imported here (the clone root, or site-packages).
    where = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(mnist_cnn.__file__))))
    environment["PYTHONPATH"] = where
    res = subprocess.run([sys.executable, "-m", "dlc.examples.mnist_cnn", "--epochs", "1"],
                         cwd=where, env=environment, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert "Could not find or download the MNIST data set" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (home / ".dlc").exists()


# ---------------------------------------------------------------------------- downloads
def test_failed_fashion_download_leaves_no_empty_folder(env):  # noqa: F811
    with pytest.raises(DatasetNotFoundError):
        fashion_mnist.load_data()
    assert not (env.dlc / "fashion-mnist").exists()
    assert not (env.home / ".dlc").exists()


def test_failed_download_keeps_folders_that_existed_and_files_fetched(env):  # noqa: F811
    (env.dlc).mkdir(parents=True)
    splits = make_set(3)
    from test_datasets import gz_files

    blobs = gz_files(splits)
    first = _common.TRAIN_IMAGES
    import hashlib

    urls = {name: (_common.KERAS_BUCKET + name, hashlib.md5(blob).hexdigest(), "md5")
            for name, blob in blobs.items()}
    env.serve({_common.KERAS_BUCKET + first: blobs[first]})  # only the first file is served
    folder = str(env.dlc / "fashion-mnist")
    with pytest.raises(DatasetNotFoundError):
        _common.fetch_files(urls, folder, DatasetNotFoundError)
    assert env.dlc.is_dir()
    assert os.listdir(folder) == [first]  # the fetched file stays (no second download)
    np.testing.assert_equal(os.path.getsize(os.path.join(folder, first)), len(blobs[first]))
