"""Writing run files so that a crash never leaves a half-written one (see :mod:`transferlab.durable`)."""

from __future__ import annotations

from transferlab.durable import HOST, fsync_dir, remove_stale_tmp, sha256_file, write_atomic, write_bytes_atomic

__all__ = ["HOST", "fsync_dir", "remove_stale_tmp", "sha256_file", "write_atomic", "write_bytes_atomic"]
