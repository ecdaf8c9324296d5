"""Finding, downloading and decoding the image data sets (shared by mnist and fashion_mnist).

Search order for a data set (first complete match wins):
1. ``$DLC_DATA_DIR/<folder>/`` holding the four original IDX ``.gz`` files;
2. ``~/.dlc/datasets/<folder>/`` (same layout; also where downloads go);
3. Keras's cache, ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``;
4. a download from the URLs Keras uses, checked against the published checksum.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
import zlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

ArrayPair = Tuple[np.ndarray, np.ndarray]
Splits = Tuple[ArrayPair, ArrayPair]

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
IDX_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

KERAS_BUCKET = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049
_CHUNK = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """Raised when a data set is neither on disk nor downloadable (e.g. offline)."""


# ---------------------------------------------------------------------------- locations
def dlc_home_datasets() -> str:
    """Where downloads go: ``~/.dlc/datasets``, or ``<tmp>/.dlc/datasets`` if the home folder
    is not writable."""
    home = os.path.expanduser("~")
    if not os.access(home, os.W_OK):
        home = tempfile.gettempdir()
    return os.path.join(home, ".dlc", "datasets")


def dlc_search_roots() -> List[str]:
    """``~/.dlc/datasets``, then the download folder if that is elsewhere."""
    roots = [os.path.join(os.path.expanduser("~"), ".dlc", "datasets")]
    download_root = dlc_home_datasets()
    if download_root != roots[0]:
        roots.append(download_root)
    return roots


def keras_datasets_dir() -> str:
    """Keras's download cache: ``$KERAS_HOME/datasets``, else ``~/.keras/datasets``."""
    keras_home = os.environ.get("KERAS_HOME")
    if not keras_home:
        keras_home = os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(os.path.expanduser(keras_home), "datasets")


def idx_folders(folder: str, keras_cache: bool) -> List[str]:
    """Where a data set's IDX files may be, in order: `$DLC_DATA_DIR/<folder>`, each search
    root's `<folder>`, and (keras_cache) Keras's cache `<folder>`."""
    folders = []
    env = os.environ.get("DLC_DATA_DIR")
    if env:
        folders.append(os.path.join(os.path.expanduser(env), folder))
    folders += [os.path.join(root, folder) for root in dlc_search_roots()]
    if keras_cache:
        folders.append(os.path.join(keras_datasets_dir(), folder))
    return folders


def find_idx_folder(folders: Sequence[str]) -> Optional[str]:
    """The first folder that holds all four IDX ``.gz`` files, or None."""
    for folder in folders:
        if all(os.path.isfile(os.path.join(folder, name)) for name in IDX_FILES):
            return folder
    return None


# ---------------------------------------------------------------------------- decoding
def _read_gz(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(f"{path}: not a valid gzip file (corrupt or truncated download?): "
                         f"{e}") from None


def parse_idx(data: bytes, path: str, expect_images: bool) -> np.ndarray:
    """Decodes an IDX image (magic 2051) or label (magic 2049) file held in ``data``.

    Raises ValueError, naming ``path``, if the header or the size does not match.
    """
    kind = "image" if expect_images else "label"
    magic_expected = _IMAGES_MAGIC if expect_images else _LABELS_MAGIC
    header_len = 16 if expect_images else 8
    if len(data) < header_len:
        raise ValueError(f"{path}: truncated IDX {kind} file: {len(data)} bytes, shorter than "
                         f"the {header_len}-byte header")
    header = np.frombuffer(data, dtype=">u4", count=header_len // 4)
    magic = int(header[0])
    if magic != magic_expected:
        raise ValueError(f"{path}: not an IDX {kind} file: magic number {magic}, expected "
                         f"{magic_expected}")
    dims = tuple(int(d) for d in header[1:])
    if expect_images and (dims[1] == 0 or dims[2] == 0):
        raise ValueError(f"{path}: IDX image file with zero-sized images {dims[1]}x{dims[2]}")
    expected = header_len + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{path}: IDX {kind} file {what}: header says {dims} "
                         f"({expected} bytes), file has {len(data)} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def load_idx_folder(folder: str, image_shape: Tuple[int, int] = (28, 28),
                    num_classes: int = 10) -> Splits:
    """Reads the four IDX ``.gz`` files of ``folder`` into Keras's tuple of uint8 arrays."""
    out: List[np.ndarray] = []
    for name in IDX_FILES:
        path = os.path.join(folder, name)
        out.append(parse_idx(_read_gz(path), path, expect_images="images" in name))
    x_train, y_train, x_test, y_test = out
    for x, y, xname, yname in ((x_train, y_train, TRAIN_IMAGES, TRAIN_LABELS),
                               (x_test, y_test, TEST_IMAGES, TEST_LABELS)):
        _check_pair(x, y, os.path.join(folder, xname), os.path.join(folder, yname),
                    image_shape, num_classes)
    return (x_train, y_train), (x_test, y_test)


def load_npz(path: str, image_shape: Tuple[int, int] = (28, 28),
             num_classes: int = 10) -> Splits:
    """Reads a Keras-style ``.npz`` (keys x_train, y_train, x_test, y_test); no pickles."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            present = set(f.files)
            arrays = [np.asarray(f[k]) for k in keys if k in present]
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as e:  # zipfile.BadZipFile, zlib.error, EOFError, pickled content...
        raise ValueError(f"{path}: not a valid .npz file (corrupt or truncated?): {e}") from None
    missing = [k for k in keys if k not in present]
    if missing:
        raise ValueError(f"{path}: missing arrays {missing}")
    x_train, y_train, x_test, y_test = arrays
    for x, y in ((x_train, y_train), (x_test, y_test)):
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise ValueError(f"{path}: expected uint8 arrays, found {x.dtype} and {y.dtype}")
        _check_pair(x, y, path, path, image_shape, num_classes)
    return (x_train, y_train), (x_test, y_test)


def _check_pair(x: np.ndarray, y: np.ndarray, xpath: str, ypath: str,
                image_shape: Tuple[int, int], num_classes: int) -> None:
    if x.ndim != 3 or x.shape[1:] != tuple(image_shape):
        raise ValueError(f"{xpath}: expected images of shape (n, {image_shape[0]}, "
                         f"{image_shape[1]}), found {x.shape}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{ypath}: expected {x.shape[0]} labels to match the images in "
                         f"{xpath}, found shape {y.shape}")
    if y.size and int(y.max()) >= num_classes:
        raise ValueError(f"{ypath}: label {int(y.max())} out of range for {num_classes} "
                         "classes")


# ---------------------------------------------------------------------------- download
def _open_url(url: str):
    """Opens ``url`` for reading (the one network access of the package; tests replace it)."""
    import urllib.request  # lazy: keeps `import dlc` fast

    return urllib.request.urlopen(url, timeout=60)


def download(url: str, dest: str, checksum: str, algorithm: str) -> str:
    """Downloads ``url`` to ``dest``, verifying its ``algorithm`` hex digest.

    The bytes go to a temporary file beside ``dest`` that is renamed only after the checksum
    matches; on a mismatch the file is deleted and ValueError is raised.
    """
    folder = os.path.dirname(dest)
    os.makedirs(folder, exist_ok=True)
    digest = hashlib.new(algorithm)
    sys.stdout.write(f"Downloading data from {url}\n")
    sys.stdout.flush()
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            response = _open_url(url)
            try:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()
        got = digest.hexdigest()
        if got != checksum.lower():
            raise ValueError(f"Downloaded file from {url} failed its {algorithm} check "
                             f"(expected {checksum}, got {got}); the file was deleted. "
                             "Please retry, or place the file by hand.")
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return dest


def not_found_message(dataset: str, folder: str, extra: str, reason: str) -> str:
    dlc_dir = os.path.join(dlc_search_roots()[0], folder)
    env = os.environ.get("DLC_DATA_DIR")
    env_note = (f" (DLC_DATA_DIR is set to {env!r}, but {os.path.join(env, folder)} "
                "does not hold all four files)" if env else "")
    return (f"Could not find or download the {dataset} data set ({reason}).\n"
            f"Put the four original IDX files\n    " + "\n    ".join(IDX_FILES) + "\n"
            f"in the folder {dlc_dir}\n"
            f"or in <dir>/{folder}/ and set the environment variable DLC_DATA_DIR=<dir>"
            f"{env_note}.{extra}")


def fetch_files(urls: Dict[str, Tuple[str, str, str]], folder: str,
                on_error: Callable[[str], Exception]) -> None:
    """Downloads each missing ``name -> (url, checksum, algorithm)`` into ``folder``.

    A failed download leaves no trace: the folders it created (``folder`` and any missing
    parent, e.g. ``~/.dlc/datasets/fashion-mnist``) are removed again if they are still empty,
    so a later search does not stop at an empty folder and the user is not misled by one.
    """
    created = _missing_dirs(folder)
    try:
        for name, (url, checksum, algorithm) in urls.items():
            dest = os.path.join(folder, name)
            if os.path.isfile(dest):
                continue
            try:
                download(url, dest, checksum, algorithm)
            except ValueError:  # checksum mismatch: a clear message already
                raise
            except Exception as e:  # URLError, timeouts, HTTP protocol errors, disk errors
                raise on_error(f"download of {url} failed: {e}") from e
    except BaseException:
        _remove_empty(created)
        raise


def _missing_dirs(folder: str) -> List[str]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    path = os.path.abspath(folder)
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _remove_empty(folders: Sequence[str]) -> None:
    """Removes each folder of ``folders`` (deepest first) that exists and is empty."""
    for path in folders:
        try:
            os.rmdir(path)  # only succeeds on an empty folder
        except OSError:
            pass
