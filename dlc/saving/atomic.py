"""Atomic file writes: the one way dlc writes a file.

`atomic_write(path, write)` calls `write(f)` on a new temporary file in the target's folder,
flushes and fsyncs it, renames it over the target with `os.replace` (atomic on POSIX and on
Windows) and fsyncs the folder so that the rename itself survives a power cut. A crash at any
moment leaves either the old file or the new one, never a torn one (a killed writer's
temporary file is removed by the next save of the same file). A write that fails part
way (an exception in `write`, a full disk, `RLIMIT_FSIZE`) raises, removes the temporary file
and leaves the old file as it was.

Example:

>>> atomic_write("notes.txt", lambda f: f.write(b"hello"))
"""
from __future__ import annotations

import errno
import hashlib
import os
import secrets
import socket
from typing import Any, BinaryIO, Callable, List, Union

PathLike = Union[str, "os.PathLike[str]"]

# Every temporary file is `.<target name>.dlc-tmp-<host>-<pid>-<random hex>`: the host and
# process that write it, so that a later save can remove what a killed writer left behind.
TEMP_MARK = ".dlc-tmp-"
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def temp_name(path: str) -> str:
    """A fresh temporary path beside `path` (same folder, so that the rename stays on one
    file system)."""
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}{TEMP_MARK}{_HOST}-{os.getpid()}-{secrets.token_hex(6)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temps(path: str) -> List[str]:
    """Removes the temporary files of `path` left by writers of this host that no longer run
    (killed mid-save); returns their names. Files of live writers and other hosts stay."""
    folder, base = os.path.split(os.path.abspath(path))
    prefix = f".{base}{TEMP_MARK}{_HOST}-"
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                os.unlink(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def _fsync_folder(folder: str) -> None:
    """Makes a rename inside `folder` durable (where the platform can open folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open a folder; its rename is durable on its own
        return
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems refuse fsync on folders
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def atomic_write(path: PathLike, write: Callable[[BinaryIO], Any], overwrite: bool = True) -> None:
    """Writes a file through `write(f)` so that `path` holds the old content or the new one,
    never a mix, whatever happens.

    Args:
        path: the file to (re)write; its folder must exist.
        write: called once with a binary file object open for writing (seekable).
        overwrite: if False and `path` exists, raise `FileExistsError` (checked atomically
            at the moment the new file is put in place, so two writers cannot both win).

    Raises:
        FileExistsError: `overwrite=False` and `path` exists.
        OSError: the write failed (disk full, file size limit, permissions); `path` is
            unchanged and no temporary file is left.
        Any exception `write` raises, with the same guarantees.

    Example:

    >>> atomic_write("model.keras", lambda f: f.write(payload))
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot write {path!r}: it is an existing directory")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} exists and overwrite=False; pass overwrite=True to replace it")
    remove_stale_temps(path)
    mode = None
    try:
        mode = os.stat(path).st_mode & 0o7777  # keep the permissions of the file replaced
    except OSError:
        pass
    while True:
        tmp = temp_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if `path` appeared meanwhile: no writer silently replaces another.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(f"{path!r} exists and overwrite=False; pass overwrite=True to "
                                      f"replace it") from None
            except OSError:  # no hard links on this file system: best effort
                if os.path.exists(path):
                    raise FileExistsError(f"{path!r} exists and overwrite=False") from None
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def atomic_write_bytes(path: PathLike, data: bytes, overwrite: bool = True) -> None:
    """`atomic_write` of a bytes payload."""
    atomic_write(path, lambda f: f.write(data), overwrite=overwrite)
