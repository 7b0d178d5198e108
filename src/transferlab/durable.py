"""Durable files: a crash never leaves a half-written one under its real name.

A file is written to a temporary name in the same folder, flushed to disk (``fsync``), moved
into place with ``os.replace`` (atomic on POSIX), and then the folder itself is flushed, so that
after a power cut the new name points at the whole new content or the old file, never at a
truncated one. Temporary names carry the host and process id (``.<name>.<host>.<pid>.tmp``) so
that the next start can tell a dead writer's leftovers from a live writer's file.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

HOST = socket.gethostname().replace(".", "-")


def tmp_name(path: Path, suffix: str = "") -> Path:
    """The temporary sibling of ``path`` that this process writes before the rename."""
    return path.with_name(f".{path.name}.{HOST}.{os.getpid()}.tmp{suffix}")


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically and durably; returns its sha256 (hex)."""
    tmp = tmp_name(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file, ``fsync`` and ``os.replace``."""
    write_bytes_atomic(path, text.encode("utf-8"))


def sha256_file(path: Path) -> str:
    """The sha256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_stale_tmp(path: Path) -> bool:
    """Whether ``path`` is a temporary file left by a writer on this host that is no longer running.

    Files from other hosts (a cache folder shared by a cluster) are left alone: their writer's
    process cannot be checked from here.
    """
    parts = path.name.split(".")
    if ".tmp" not in path.name or len(parts) < 4:
        return False
    try:
        at = len(parts) - 1 - parts[::-1].index("tmp")  # the last "tmp": a file's own name may hold one
        host, pid = parts[at - 2], int(parts[at - 1])
    except (ValueError, IndexError):
        return False
    return host == HOST and not _alive(pid)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_tmp(folder: Path, recursive: bool = False, every: bool = False) -> int:
    """Delete the temporary files of dead writers under ``folder`` (``every``: all of them); returns how many.

    ``every`` is for a folder only the caller can be writing (a locked run directory).
    """
    if not folder.is_dir():
        return 0
    pattern = "**/.*.tmp*" if recursive else ".*.tmp*"
    removed = 0
    for path in folder.glob(pattern):
        if path.is_file() and not path.is_symlink() and (every or is_stale_tmp(path)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
