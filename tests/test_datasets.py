"""dlc.datasets: the real files, the search order, IDX validation and the (faked) download."""
import gzip
import hashlib
import importlib.util
import io
import os
import struct

import numpy as np
import pytest

from conftest import data_dir
from dlc.datasets import DatasetNotFoundError, _common, fashion_mnist, mnist

IDX = _common.IDX_FILES
REAL_DATA = data_dir()  # read before any test changes DLC_DATA_DIR


# ---------------------------------------------------------------------------- helpers
def idx_images(x):
    x = np.asarray(x, dtype=np.uint8)
    return struct.pack(">IIII", 2051, *x.shape) + x.tobytes()


def idx_labels(y):
    y = np.asarray(y, dtype=np.uint8)
    return struct.pack(">II", 2049, y.shape[0]) + y.tobytes()


def make_set(seed, n_train=12, n_test=5):
    """A small fake data set; `seed` makes sets from different locations distinguishable."""
    rng = np.random.default_rng(seed)
    return ((rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, n_train, dtype=np.uint8)),
            (rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, n_test, dtype=np.uint8)))


def gz_files(splits):
    (xtr, ytr), (xte, yte) = splits
    raw = {_common.TRAIN_IMAGES: idx_images(xtr), _common.TRAIN_LABELS: idx_labels(ytr),
           _common.TEST_IMAGES: idx_images(xte), _common.TEST_LABELS: idx_labels(yte)}
    return {name: gzip.compress(data, mtime=0) for name, data in raw.items()}


def write_idx_folder(folder, splits, skip=()):
    os.makedirs(folder, exist_ok=True)
    for name, blob in gz_files(splits).items():
        if name not in skip:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(blob)


def npz_bytes(splits):
    (xtr, ytr), (xte, yte) = splits
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    return buf.getvalue()


def assert_splits_equal(got, expected):
    for (gx, gy), (ex, ey) in zip(got, expected):
        assert gx.dtype == np.uint8 and gy.dtype == np.uint8
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)


class FakeResponse(io.BytesIO):
    """Stands in for urllib's response: read(n) and close()."""


@pytest.fixture
def env(monkeypatch, tmp_path):
    """An empty home, no DLC_DATA_DIR, Keras's cache under the home, and no network at all."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DLC_DATA_DIR", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    requested = []

    def no_network(url):
        requested.append(url)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(_common, "_open_url", no_network)

    class Env:
        pass

    e = Env()
    e.tmp, e.home, e.requested = tmp_path, home, requested
    e.dlc = home / ".dlc" / "datasets"
    e.keras = home / ".keras" / "datasets"

    def serve(files):
        """Replaces the opener with one serving `url -> bytes`."""
        def opener(url):
            requested.append(url)
            if url not in files:
                raise OSError(f"404 {url}")
            return FakeResponse(files[url])
        monkeypatch.setattr(_common, "_open_url", opener)

    e.serve = serve
    return e


# ---------------------------------------------------------------------------- the real data
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _real_dir():
    d = REAL_DATA
    if d is None:
        pytest.skip("no data sets folder: set DLC_DATA_DIR or put shared/datasets above the repository")
    return d


@pytest.mark.parametrize("name,loader,train_counts,test_counts,means", [
    ("mnist", mnist.load_data, MNIST_TRAIN_COUNTS, MNIST_TEST_COUNTS, (33.318, 33.791)),
    ("fashion-mnist", fashion_mnist.load_data, [6000] * 10, [1000] * 10, (72.940, 73.147)),
])
def test_real_data(env, monkeypatch, name, loader, train_counts, test_counts, means):
    root = _real_dir()
    if not os.path.isdir(os.path.join(root, name)):
        pytest.skip(f"{name} is not in {root}")
    monkeypatch.setenv("DLC_DATA_DIR", root)
    (x_train, y_train), (x_test, y_test) = loader()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))
    assert np.bincount(y_train, minlength=10).tolist() == train_counts
    assert np.bincount(y_test, minlength=10).tolist() == test_counts
    assert round(float(x_train.mean()), 3) == means[0]
    assert round(float(x_test.mean()), 3) == means[1]
    assert x_train.min() == 0 and x_train.max() == 255
    assert x_train.flags.writeable and x_train.flags.c_contiguous
    assert not os.path.exists(env.home / ".dlc")  # nothing written, nothing downloaded
    assert env.requested == []


def test_fashion_md5_constants_match_the_real_files():
    root = _real_dir()
    folder = os.path.join(root, "fashion-mnist")
    if not os.path.isdir(folder):
        pytest.skip(f"fashion-mnist is not in {root}")
    for name, md5 in fashion_mnist._MD5.items():
        with open(os.path.join(folder, name), "rb") as f:
            assert hashlib.md5(f.read()).hexdigest() == md5, name


def test_urls_and_sha256_match_keras_source():
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("keras is not installed")
    root = list(spec.submodule_search_locations)[0]
    src = {}
    for name in ("mnist", "fashion_mnist"):
        path = os.path.join(root, "src", "datasets", f"{name}.py")
        if not os.path.isfile(path):
            pytest.skip(f"keras source layout unknown: {path}")
        with open(path) as f:
            src[name] = f.read()
    assert mnist._SHA256 in src["mnist"]
    assert _common.KERAS_BUCKET in src["mnist"] and _common.KERAS_BUCKET in src["fashion_mnist"]
    assert 'base + fname' in src["fashion_mnist"]  # the gz files sit at the bucket's root


# ---------------------------------------------------------------------------- search order
def test_dlc_data_dir_comes_first(env, monkeypatch):
    a, b = make_set(1), make_set(2)
    write_idx_folder(env.tmp / "data" / "mnist", a)
    write_idx_folder(env.dlc / "mnist", b)
    monkeypatch.setenv("DLC_DATA_DIR", str(env.tmp / "data"))
    assert_splits_equal(mnist.load_data(), a)
    monkeypatch.delenv("DLC_DATA_DIR")
    assert_splits_equal(mnist.load_data(), b)


@pytest.mark.parametrize("missing", [None, _common.TEST_LABELS])
def test_dlc_data_dir_without_the_files_falls_through(env, monkeypatch, missing):
    data = env.tmp / "data"
    if missing is None:
        data.mkdir()  # set, but empty
    else:
        write_idx_folder(data / "fashion-mnist", make_set(3), skip=(missing,))
    monkeypatch.setenv("DLC_DATA_DIR", str(data))
    b = make_set(4)
    write_idx_folder(env.dlc / "fashion-mnist", b)
    assert_splits_equal(fashion_mnist.load_data(), b)
    assert env.requested == []


def test_mnist_keras_cache(env, monkeypatch):
    a, b = make_set(5), make_set(6)
    env.keras.mkdir(parents=True)
    (env.keras / "mnist.npz").write_bytes(npz_bytes(a))
    assert_splits_equal(mnist.load_data(), a)
    keras_home = env.tmp / "kh"
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "mnist.npz").write_bytes(npz_bytes(b))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    assert_splits_equal(mnist.load_data(), b)  # $KERAS_HOME replaces ~/.keras
    (keras_home / "datasets" / "digits.npz").write_bytes(npz_bytes(a))
    assert_splits_equal(mnist.load_data(path="digits.npz"), a)
    assert env.requested == []


def test_mnist_dlc_home_gz_beats_keras_cache(env):
    a, b = make_set(7), make_set(8)
    env.keras.mkdir(parents=True)
    (env.keras / "mnist.npz").write_bytes(npz_bytes(a))
    write_idx_folder(env.dlc / "mnist", b)
    assert_splits_equal(mnist.load_data(), b)


def test_fashion_keras_cache(env, monkeypatch):
    a = make_set(9)
    keras_home = env.tmp / "kh"
    write_idx_folder(keras_home / "datasets" / "fashion-mnist", a)
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    assert_splits_equal(fashion_mnist.load_data(), a)
    assert env.requested == []


# ---------------------------------------------------------------------------- download (faked)
def test_mnist_download_good_checksum(env, monkeypatch, capsys):
    a = make_set(10)
    blob = npz_bytes(a)
    monkeypatch.setattr(mnist, "_SHA256", hashlib.sha256(blob).hexdigest())
    env.serve({mnist._URL: blob})
    assert_splits_equal(mnist.load_data(), a)
    assert env.requested == [
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"]
    assert (env.dlc / "mnist.npz").read_bytes() == blob
    assert os.listdir(env.dlc) == ["mnist.npz"]  # no temporary file left behind
    assert "Downloading data from" in capsys.readouterr().out
    env.serve({})  # a second load reads the downloaded copy
    assert_splits_equal(mnist.load_data(), a)
    assert len(env.requested) == 1


def test_mnist_download_bad_checksum(env, monkeypatch):
    blob = npz_bytes(make_set(11))
    monkeypatch.setattr(mnist, "_SHA256", hashlib.sha256(blob + b"x").hexdigest())
    env.serve({mnist._URL: blob})
    with pytest.raises(ValueError, match="sha256"):
        mnist.load_data()
    assert not env.dlc.exists() or os.listdir(env.dlc) == []


def test_fashion_download_good_and_bad_checksums(env, monkeypatch):
    a = make_set(12)
    files = gz_files(a)
    md5 = {name: hashlib.md5(blob).hexdigest() for name, blob in files.items()}
    urls = {_common.KERAS_BUCKET + name: blob for name, blob in files.items()}

    bad = dict(md5, **{_common.TEST_IMAGES: "0" * 32})
    monkeypatch.setattr(fashion_mnist, "_MD5", bad)
    env.serve(urls)
    with pytest.raises(ValueError, match=r"md5.*t10k-images|t10k-images.*md5"):
        fashion_mnist.load_data()
    folder = env.dlc / "fashion-mnist"
    assert _common.TEST_IMAGES not in os.listdir(folder)
    assert all(not n.startswith(".part") for n in os.listdir(folder))

    monkeypatch.setattr(fashion_mnist, "_MD5", md5)
    env.requested.clear()
    assert_splits_equal(fashion_mnist.load_data(), a)
    # Files already fetched are not fetched again.
    assert env.requested == [_common.KERAS_BUCKET + n
                             for n in (_common.TEST_IMAGES, _common.TEST_LABELS)]
    assert sorted(os.listdir(folder)) == sorted(IDX)
    expected_urls = {"https://storage.googleapis.com/tensorflow/tf-keras-datasets/" + n
                     for n in IDX}
    assert set(urls) == expected_urls


def test_offline_error_says_where_to_put_the_files(env, monkeypatch):
    monkeypatch.setenv("DLC_DATA_DIR", str(env.tmp / "nowhere"))
    for loader, folder in ((mnist.load_data, "mnist"), (fashion_mnist.load_data,
                                                          "fashion-mnist")):
        with pytest.raises(DatasetNotFoundError) as info:
            loader()
        msg = str(info.value)
        assert isinstance(info.value, FileNotFoundError)
        assert "network disabled in tests" in msg
        assert str(env.dlc / folder) in msg
        assert "DLC_DATA_DIR" in msg and str(env.tmp / "nowhere") in msg
        assert all(name in msg for name in IDX)
    assert len(env.requested) == 2


# ---------------------------------------------------------------------------- validation
def _write_raw(folder, name, raw, compress=True):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(gzip.compress(raw, mtime=0) if compress else raw)


@pytest.mark.parametrize("case,pattern", [
    ("bad magic", "magic number 2049, expected 2051"),
    ("truncated pixels", "truncated"),
    ("trailing bytes", "trailing bytes"),
    ("short header", "shorter than the 16-byte header"),
    ("truncated gzip", "not a valid gzip file"),
    ("not gzip", "not a valid gzip file"),
    ("count mismatch", "expected 11 labels"),
    ("wrong image size", r"shape \(n, 28, 28\)"),
])
def test_corrupt_files_raise_value_error_naming_the_file(env, monkeypatch, case, pattern):
    a = make_set(13, n_train=11)
    folder = env.tmp / "data" / "mnist"
    write_idx_folder(folder, a)
    (xtr, ytr), _ = a
    name = _common.TRAIN_IMAGES
    good = idx_images(xtr)
    if case == "bad magic":
        _write_raw(folder, name, struct.pack(">I", 2049) + good[4:])
    elif case == "truncated pixels":
        _write_raw(folder, name, good[:-10])
    elif case == "trailing bytes":
        _write_raw(folder, name, good + b"\0")
    elif case == "short header":
        _write_raw(folder, name, good[:10])
    elif case == "truncated gzip":
        _write_raw(folder, name, gzip.compress(good)[:-40], compress=False)
    elif case == "not gzip":
        _write_raw(folder, name, good, compress=False)
    elif case == "count mismatch":
        name = _common.TRAIN_LABELS
        _write_raw(folder, name, idx_labels(ytr[:-1]))
    elif case == "wrong image size":
        _write_raw(folder, name, idx_images(np.zeros((11, 28, 27), np.uint8)))
    monkeypatch.setenv("DLC_DATA_DIR", str(env.tmp / "data"))
    with pytest.raises(ValueError, match=pattern) as info:
        mnist.load_data()
    assert str(folder / name) in str(info.value)


def test_corrupt_labels_magic_and_range(env, monkeypatch):
    folder = env.tmp / "data" / "fashion-mnist"
    a = make_set(14)
    write_idx_folder(folder, a)
    (_, ytr), _ = a
    _write_raw(folder, _common.TRAIN_LABELS, struct.pack(">I", 2051) + idx_labels(ytr)[4:])
    monkeypatch.setenv("DLC_DATA_DIR", str(env.tmp / "data"))
    with pytest.raises(ValueError, match="not an IDX label file"):
        fashion_mnist.load_data()
    bad = ytr.copy()
    bad[0] = 10
    _write_raw(folder, _common.TRAIN_LABELS, idx_labels(bad))
    with pytest.raises(ValueError, match="label 10 out of range"):
        fashion_mnist.load_data()


def test_corrupt_npz(env):
    env.keras.mkdir(parents=True)
    (env.keras / "mnist.npz").write_bytes(npz_bytes(make_set(15))[:-100])
    with pytest.raises(ValueError, match=r"mnist\.npz: not a valid \.npz"):
        mnist.load_data()
    buf = io.BytesIO()
    np.savez(buf, x_train=np.zeros((2, 28, 28), np.uint8))
    (env.keras / "mnist.npz").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="missing arrays"):
        mnist.load_data()


def test_mnist_path_must_be_a_file_name(env):
    with pytest.raises(ValueError, match="file name"):
        mnist.load_data(path="../mnist.npz")
