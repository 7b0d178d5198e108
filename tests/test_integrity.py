"""Integrity: a damaged cell file or cache entry is detected by its checksum and recomputed, never served.

Also: the ledger is durable (synchronous=FULL), leftovers of killed writers are cleaned at the
next start, and a finished cell whose file is missing or empty no longer makes a run crash.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from transferlab.data import TaskData, fingerprint_of
from transferlab.durable import HOST, is_stale_tmp
from transferlab.errors import InputError
from transferlab.sources import create_source
from transferlab.sources.cache import EmbeddingCache, checksum_path, embedding_key
from transferlab.study import parse_spec, run_study
from transferlab.study.ledger import Ledger
from transferlab.study.rebuild import rebuild_report

FEATURES = ["f0", "f1", "f2", "f3"]


def spec_of(csv: str) -> dict:
    return {
        "name": "integrity",
        "task": {"dataset": csv, "feature_columns": FEATURES, "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["knn", "prototype"],
        "budgets": [6],
        "seeds": 2,
    }


def flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at % len(data)] ^= 0xFF
    path.write_bytes(bytes(data))


def ledger_rows(out: Path) -> dict[str, dict]:
    ledger = Ledger(out / "ledger.sqlite")
    try:
        return {r["key"]: r for r in ledger.rows()}
    finally:
        ledger.close()


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: flip_byte(p, len(p.read_bytes()) // 2),  # a bit rot in the middle
        lambda p: p.write_bytes(p.read_bytes()[:100]),  # truncated
        lambda p: p.write_bytes(b""),  # empty
        lambda p: p.unlink(),  # missing
    ],
    ids=["flipped", "truncated", "empty", "missing"],
)
def test_a_damaged_cell_file_is_detected_and_the_cell_computed_again(tmp_path, feature_csv, damage):
    spec = parse_spec(spec_of(feature_csv))
    run_study(spec, tmp_path, progress=False)
    before = ledger_rows(tmp_path)
    victim = sorted(before)[0]
    assert all(len(r["sha256"]) == 64 for r in before.values())  # recorded when each file was written
    damage(tmp_path / before[victim]["file"])
    again = run_study(spec, tmp_path, progress=False)
    assert again.ran == 1 and again.failed == []
    after = ledger_rows(tmp_path)
    assert (after[victim]["status"], after[victim]["attempts"]) == ("done", 2)
    assert after[victim]["metrics"] == before[victim]["metrics"]
    assert any("missing or damaged file" in n for n in json.loads((tmp_path / "summary.json").read_text())["notes"])

    summary = (tmp_path / "summary.json").read_bytes()
    damage(tmp_path / after[victim]["file"])
    with pytest.raises(InputError, match=r"1 finished cell\(s\) .* cannot be read .* run the study into this folder"):
        rebuild_report(tmp_path)  # never builds a report from it, never crashes
    assert (tmp_path / "summary.json").read_bytes() == summary  # nothing replaced
    assert run_study(spec, tmp_path, progress=False).ran == 1  # the refused report marked it to run again


def test_a_ledger_written_before_checksums_gets_them_and_a_broken_file_is_rerun(tmp_path, feature_csv):
    spec = parse_spec(spec_of(feature_csv))
    run_study(spec, tmp_path, progress=False)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.db.execute("UPDATE cells SET sha256 = NULL")  # as an older version left it
    keys = sorted(r["key"] for r in ledger.rows())
    ledger.close()
    (tmp_path / "cells" / f"{keys[0]}.parquet").write_bytes(b"")  # the crash the review found
    again = run_study(spec, tmp_path, progress=False)
    assert again.ran == 1
    assert all(r["sha256"] for r in ledger_rows(tmp_path).values())


def test_the_ledger_is_durable(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        ledger.close()


def _task(texts: list[str]) -> TaskData:
    labels = np.arange(len(texts)) % 2
    return TaskData("t", texts, labels, ("a", "b"), "text", fingerprint_of(texts, labels))


@pytest.fixture(scope="module")
def glove():
    return create_source("glove-50d")  # a real source that embeds in milliseconds


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: flip_byte(p, -7),  # inside the float data: still a valid .npy, so only the checksum sees it
        lambda p: p.write_bytes(p.read_bytes()[:-10]),
        lambda p: p.write_bytes(b""),  # a 0-byte entry used to fail every cell of its source (EOFError)
        lambda p: checksum_path(p).unlink(),  # an entry from before checksums, or a crash between the renames
    ],
    ids=["flipped", "truncated", "empty", "no-checksum"],
)
def test_a_damaged_cache_entry_is_recomputed_never_served(tmp_path, glove, damage):
    task = _task(["the match ended in a draw", "shares fell sharply", "parliament votes today"])
    cache = EmbeddingCache(tmp_path)
    good = cache.get(glove, task)
    path = cache.path(embedding_key(glove, None, task.fingerprint))
    damage(path)
    again = EmbeddingCache(tmp_path)
    served = again.get(glove, task)
    assert (again.misses, again.hits) == (1, 0)
    assert np.array_equal(served, good)
    third = EmbeddingCache(tmp_path)
    assert np.array_equal(third.get(glove, task), good) and third.hits == 1  # repaired in place


def test_leftovers_of_killed_writers_are_removed_at_the_next_start(tmp_path, feature_csv):
    spec = parse_spec(spec_of(feature_csv))
    out, cache_root = tmp_path / "run", tmp_path / "cache"
    run_study(spec, out, cache=EmbeddingCache(cache_root), progress=False)
    dead = 2**22 + 12345  # above the default pid_max of 2**22: no process has it
    left = [
        out / f".summary.json.{HOST}.{dead}.tmp",
        out / "cells" / f".abc.parquet.{HOST}.{dead}.tmp",
        out / ".results.parquet.tmp",  # the name an older version used
    ]
    shard = cache_root / "embeddings" / "ab"
    shard.mkdir(parents=True)
    stale, live, other_host = (
        shard / f".x.npy.{HOST}.{dead}.tmp",
        shard / f".y.npy.{HOST}.{os.getpid()}.tmp",
        shard / f".z.npy.other-host.{dead}.tmp",
    )
    for path in [*left, stale, live, other_host]:
        path.write_bytes(b"partial")
    assert is_stale_tmp(stale) and not is_stale_tmp(live) and not is_stale_tmp(other_host)
    run_study(spec, out, cache=EmbeddingCache(cache_root), progress=False)
    assert not any(p.exists() for p in [*left, stale])
    assert live.exists() and other_host.exists()  # a live writer's file, and one this host cannot judge
