"""Episodic few-shot evaluation: N-way K-shot episodes of the frozen-feature strategies.

The protocol of the few-shot literature (Vinyals et al. 2016, Snell et al. 2017; 600 episodes,
as in Chen et al. 2019). An episode draws N of the task's classes, K support examples of each
from the labelled training pool and Q queries of each from the test set; the strategy is fitted
on the N*K support embeddings (labels 0..N-1, the N class names) and scored on the N*Q queries.
Any strategy on cached embeddings that does not train the source or read a target pool runs
under it (``linear-probe``, ``knn``, ``prototype``, ``zero-shot``, ...); ``prototype`` is the
prototypical-network baseline the others are compared with (:mod:`transferlab.analysis.episodic`).

Pairing: an episode's classes and queries depend only on (split_seed, seed, episode number), and
its support on those and K (the first K of one random order per class, so the 1-shot support is
part of the 5-shot one). Every source, strategy and K of one seed sees the same episodes, which
is what lets the analysis compare two arms episode by episode.

Cells: one per (source, strategy, K, seed) with role ``episodic`` and budget K (0 for label-free
strategies, which run once per seed); it runs all its episodes and its cell file holds one row
per episode (its accuracy). The ledger, resume and the cell checksums treat it like any other
cell; the regular analysis leaves it out and the ``episodic`` block reads it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transferlab.analysis.episodic import EpisodeView
from transferlab.strategies import Examples, create_strategy, strategy_class
from transferlab.study.planner import PROTOCOL, Cell, cell_key

ROLE = "episodic"


def runs_episodes(cls: Any, modality: str) -> bool:
    """True for a strategy on frozen embeddings of the study's source that trains nothing of it."""
    frozen = cls.input_kind == "features" and cls.uses_source and not cls.trains_backbone
    return frozen and not cls.uses_unlabeled_target and modality in cls.modalities


def episodic_cells(spec: Any, fingerprint: str, modality: str) -> list[Cell]:
    """One cell per (source, frozen strategy, K, seed) of a spec with ``evaluation``."""
    evaluation = spec.evaluation
    settings = {"episodes": evaluation.episodes, "n_way": evaluation.n_way, "queries": evaluation.queries}
    cells = []
    for strategy in spec.strategies + spec.baselines:
        cls = strategy_class(strategy.name)
        if not runs_episodes(cls, modality):
            continue
        for source in spec.sources:
            for shots in evaluation.k_shot if cls.needs_labels else [0]:
                for seed in spec.seed_list:
                    payload = {
                        "protocol": PROTOCOL,
                        "kind": ROLE,
                        "task": spec.task.model_dump(),
                        "data": fingerprint,
                        "source": source.model_dump(),
                        "strategy": strategy.model_dump(),
                        "evaluation": settings,
                        "k_shot": shots,
                        "seed": seed,
                    }
                    cells.append(Cell(cell_key(payload), source, strategy, shots, seed, ROLE, payload))
    return cells


def episode_seed(split_seed: int, seed: int) -> int:
    """The seed of one study seed's episodes (independent of source, strategy and K: the pairing)."""
    return int(np.random.SeedSequence([split_seed, seed, 0xE915]).generate_state(1)[0])


def draw_episode(
    train_by_class: list[np.ndarray],
    test_by_class: list[np.ndarray],
    n_way: int,
    shots: int,
    queries: int,
    key: list[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classes (N,), support indices (N*K,), query indices (N*Q,)), both grouped class by class."""
    rng = np.random.default_rng(key + [0])
    classes = np.sort(rng.choice(len(train_by_class), size=n_way, replace=False))
    query = np.concatenate([rng.choice(test_by_class[c], size=queries, replace=False) for c in classes])
    support_rng = np.random.default_rng(key + [1])  # its own stream: K changes the support, never the rest
    support = np.concatenate([support_rng.permutation(train_by_class[c])[:shots] for c in classes])
    return classes, support.astype(np.int64), query


def episode_accuracies(
    strategy: Any,
    features: tuple[np.ndarray, np.ndarray],
    labels: tuple[np.ndarray, np.ndarray],
    classes: tuple[str, ...],
    evaluation: Any,
    shots: int,
    base: int,
    source: Any,
) -> np.ndarray:
    """Accuracy on each episode's queries of ``strategy`` (an arm) fitted on its support: ``(episodes,)``."""
    (X_train, X_test), (y_train, y_test) = features, labels
    train_by_class = [np.flatnonzero(y_train == c) for c in range(len(classes))]
    test_by_class = [np.flatnonzero(y_test == c) for c in range(len(classes))]
    n_way, queries = evaluation.n_way, evaluation.queries
    y_support, y_query = np.repeat(np.arange(n_way), shots), np.repeat(np.arange(n_way), queries)
    out = np.empty(evaluation.episodes)
    for e in range(evaluation.episodes):
        chosen, support, query = draw_episode(train_by_class, test_by_class, n_way, shots, queries, [base, e])
        model = create_strategy(strategy.name, random_state=(base + e) % 2**32, **strategy.params)
        names = tuple(classes[c] for c in chosen)
        model.fit(Examples(X_train[support], y_support, names), source=source)
        out[e] = float(np.mean(model.predict_proba(X_test[query]).argmax(axis=1) == y_query))
    return out


def run_episodic_cell(cell: Cell, context: Any) -> Any:
    """Run every episode of an episodic cell; its result carries the per-episode accuracies."""
    from transferlab.study.cell import CellResult, peak_rss_mb, reset_peak_rss

    split, spec = context.task(), context.spec
    embed_before = context.cache.embed_seconds
    features, source = context.features(cell.source), context.source(cell.source)
    reset_peak_rss()
    start = time.perf_counter()
    base = episode_seed(spec.task.split_seed, cell.seed)
    labels = (split.train.labels, split.test.labels)
    accuracies = episode_accuracies(
        cell.strategy, features, labels, split.train.classes, spec.evaluation, cell.budget, base, source
    )
    seconds = time.perf_counter() - start
    cost = {
        "fit_seconds": seconds,  # every episode's fit and prediction
        "predict_seconds": 0.0,
        "embed_seconds": context.cache.embed_seconds - embed_before,
        "trainable_params": 0.0,
        "peak_rss_mb": peak_rss_mb(),
        "episodes_per_second": len(accuracies) / seconds if seconds > 0 else 0.0,
    }
    metrics = {"accuracy": float(accuracies.mean()), "episodes": float(len(accuracies))}
    return CellResult(cell.key, metrics, cost, np.zeros((0, 0), dtype=np.float32), episodes=accuracies)


def episode_frame(accuracies: np.ndarray) -> pd.DataFrame:
    """An episodic cell's file: one row per episode."""
    return pd.DataFrame({"episode": np.arange(len(accuracies)), "accuracy": np.asarray(accuracies, dtype=np.float64)})


def load_episodes(out: Path, ledger: Any, keys: list[str]) -> list[EpisodeView]:
    """The finished episodic cells of a run, with their per-episode accuracies."""
    from transferlab.study.rundir import cell_path

    views = []
    for row in ledger.rows(keys):
        if row["role"] == ROLE and row["status"] == "done":
            accuracy = pd.read_parquet(cell_path(out, row["file"]))["accuracy"].to_numpy(np.float64)
            views.append(EpisodeView(row["source"], row["strategy"], int(row["budget"]), int(row["seed"]), accuracy))
    return views
