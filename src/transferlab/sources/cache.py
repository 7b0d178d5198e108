"""Content-addressed embedding cache: computed once, never stale.

The key hashes the source's revision (its weights), the layer, the preprocessing (max length,
pooling, precision, image size) and the data's fingerprint; any change to one of them is a new
key, so an old entry can never be served for new weights or data. Entries are ``.npy`` files
(no pickle: ``allow_pickle=False`` on load), written to a temporary name, flushed and moved into
place with ``os.replace`` so a crash never leaves a half-written entry under a real key.

Each entry has a sidecar ``<key>.npy.sha256`` holding the sha256 of its bytes, written after the
entry. An entry is served only when its bytes match: a truncated, empty or altered file (a full
disk, a bad copy, a crash between the two renames) is recomputed and replaced, never served. An
entry without a sidecar (written before checksums existed) is recomputed once.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from transferlab.data.task import TaskData
from transferlab.durable import remove_stale_tmp, write_bytes_atomic
from transferlab.sources.base import Source


def default_cache_dir() -> Path:
    """``$TRANSFERLAB_CACHE`` or ``~/.cache/transferlab``."""
    return Path(os.environ.get("TRANSFERLAB_CACHE", Path.home() / ".cache" / "transferlab"))


def embedding_key(source: Source, layer: str | None, fingerprint: str) -> str:
    """The cache key of one (source weights, layer, preprocessing, data) combination."""
    parts = [source.name, source.revision, layer or "last", source.preprocessing, fingerprint]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass
class EmbeddingCache:
    """Embeddings on disk under ``root/embeddings``; counts hits, misses and seconds spent embedding."""

    root: Path = field(default_factory=default_cache_dir)
    hits: int = 0
    misses: int = 0
    embed_seconds: float = 0.0

    def path(self, key: str) -> Path:
        return Path(self.root) / "embeddings" / key[:2] / f"{key}.npy"

    def get(self, source: Source, task: TaskData, layer: str | None = None) -> np.ndarray:
        """Embeddings of ``task.inputs`` by ``source`` at ``layer``: from disk, or computed and stored."""
        path = self.path(embedding_key(source, layer, task.fingerprint))
        cached = self._load(path, len(task))
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        start = time.perf_counter()
        features = np.ascontiguousarray(source.embed(task.inputs, layer=layer), dtype=np.float32)
        self.embed_seconds += time.perf_counter() - start
        self._store(path, features)
        return features

    def clean_leftovers(self) -> int:
        """Remove temporary files of writers on this host that died mid-write; returns how many."""
        return remove_stale_tmp(Path(self.root) / "embeddings", recursive=True)

    @staticmethod
    def _load(path: Path, n_rows: int) -> np.ndarray | None:
        try:
            data = path.read_bytes()
            expected = checksum_path(path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None  # absent, or written before checksums: recompute
        if hashlib.sha256(data).hexdigest() != expected:
            return None  # truncated or damaged: recompute, never serve
        try:
            features = np.load(io.BytesIO(data), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        ok = features.ndim == 2 and features.shape[0] == n_rows and features.dtype == np.float32
        return features if ok and np.isfinite(features).all() else None

    @staticmethod
    def _store(path: Path, features: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, features, allow_pickle=False)
        digest = write_bytes_atomic(path, buffer.getvalue())
        write_bytes_atomic(checksum_path(path), digest.encode("ascii"))  # after the entry: see the docstring


def checksum_path(path: Path) -> Path:
    """The sidecar holding the sha256 of an entry's bytes."""
    return path.with_name(path.name + ".sha256")
