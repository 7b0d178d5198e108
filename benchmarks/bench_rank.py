"""``rank``'s bootstrap against the plain implementation it replaced, and ``rank`` against fine-tuning.

Run: ``.venv/bin/python benchmarks/bench_rank.py`` (``--n 600`` bbc-news documents, ``--n-boot 20``
replicates, ``--fine-tune`` for part 2). The five text sources (minilm-l6, minilm-l3,
e5-multilingual, use-multilingual, glove-50d) are embedded once (not timed), then:

1. **The bootstrap, side by side.** Every default score of every source with ``--n-boot``
   paired replicates, computed three ways on the same features: the *reference* (the code before
   this change: scikit-learn's ``PCA`` for GBC and N-LEEP, ``LedoitWolf`` for the H-score,
   ``cross_val_score`` for the linear probe, the all-columns sort of resampled rows, BLAS on one
   thread and OpenMP left at its default), *ours* in one process, and *ours* on one worker process
   per CPU. It prints seconds per score and in total, the speed-ups, and the largest difference
   between the reference's replicates and ours (they must agree to 1e-6: the same numbers).
   ``rank``'s default went from 20 replicates to 10; with ``--n-boot 20`` it also times ours at
   10, so the last line is the old default against the new one.
2. **``rank`` against fine-tuning** (``--fine-tune``): ``rank_sources`` cold and warm, with and
   without the bootstrap, against one fine-tuning epoch (AdamW, batch 16) of each fine-tunable
   candidate. That ratio is a floor of what ranking saves: the frozen engines cannot be
   fine-tuned, and a real run needs several epochs and a search.

The machines are shared and noisy: read the ratios (measured in one run, alternating), not the
absolute seconds. The embedding cache is a private temporary folder unless ``--cache`` is given.
"""

from __future__ import annotations

import argparse
import inspect
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

TEXT_SOURCES = ["minilm-l6", "minilm-l3", "e5-multilingual", "use-multilingual", "glove-50d"]
FINE_TUNABLE = ["minilm-l6", "minilm-l3"]
TOLERANCE = 1e-6


# ---------------------------------------------------------------- the reference (the previous code)


def old_canonical_order(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    order = np.argsort(X[:, 0], kind="stable")
    first = X[order, 0]
    return order if np.all(first[1:] != first[:-1]) else np.lexsort((y, *X.T[::-1]))


def gbc_reference(X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.decomposition import PCA

    from transferlab.metrics.separability import gbc

    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] > 64:  # reduced first, as before; gbc() then skips its own reduction
        X = PCA(n_components=min(64, X.shape[0]), svd_solver="full").fit_transform(X)
    return gbc(X, y)


def hscore_reference(X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.covariance import LedoitWolf

    from transferlab.metrics.separability import _class_means
    from transferlab.metrics.transfer_inputs import check_transfer_inputs

    X, y, n_classes = check_transfer_inputs("hscore", X, y)
    X = X - X.mean(axis=0)
    shrunk = LedoitWolf(assume_centered=True).fit(X)
    means, freq = _class_means(X, y, n_classes)
    solved = np.linalg.solve(shrunk.covariance_, means.T)
    return float((1.0 - shrunk.shrinkage_) * np.sum(freq * np.einsum("cd,dc->c", means, solved)))


def nleep_reference(X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    from transferlab.metrics.leep import _leep
    from transferlab.metrics.transfer_inputs import check_transfer_inputs

    X, y, n_classes = check_transfer_inputs("nleep", X, y)
    order = old_canonical_order(X, y)
    X, y = X[order], y[order]
    reduced = PCA(n_components=0.8, svd_solver="full").fit_transform(X)
    mixture = GaussianMixture(min(5 * n_classes, len(y)), covariance_type="diag", random_state=0).fit(reduced)
    return _leep(mixture.predict_proba(reduced), y, n_classes)


def linear_cv_reference(X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from transferlab.metrics.transfer_inputs import check_transfer_inputs, first_appearance_codes

    X, y, _ = check_transfer_inputs("linear-cv", X, y)
    order = old_canonical_order(X, y)
    X, y = X[order], first_appearance_codes(y[order])
    split = StratifiedKFold(n_splits=min(5, int(np.bincount(y).min())), shuffle=True, random_state=0)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return float(np.mean(cross_val_score(probe, X, y, cv=split, scoring="accuracy")))


REFERENCE: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "gbc": gbc_reference,
    "hscore": hscore_reference,
    "nleep": nleep_reference,
    "linear-cv": linear_cv_reference,
}


# ---------------------------------------------------------------- part 1: the bootstrap


def embed_all(task, cache) -> dict[str, np.ndarray]:
    """Each text source's features on ``task`` (through the cache; not timed)."""
    from transferlab.sources import create_source

    return {name: cache.get(create_source(name), task) for name in TEXT_SOURCES}


def feature_scores() -> list[str]:
    """The default scores that read features (LEEP and NCE need a source classifier: none here)."""
    from transferlab.metrics.base import get_metric
    from transferlab.ranking import default_metrics

    return [name for name in default_metrics() if get_metric(name).needs[0] == "features"]


def run_reference(features: dict[str, np.ndarray], labels: np.ndarray, n_boot: int) -> tuple[dict, dict]:
    """Replicates and seconds per score with the reference functions, as the old ``rank`` ran them."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    from transferlab.metrics.base import get_metric
    from transferlab.metrics.uncertainty import bootstrap_scores

    reps, seconds = {}, {}
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in feature_scores():
            metric = REFERENCE.get(name, get_metric(name))
            start = time.perf_counter()
            for source, X in features.items():
                metric(X, labels)  # the full-sample score, as rank computes it
                reps[name, source] = bootstrap_scores(metric, {source: X}, labels, n_boot, 0)[source]
            seconds[name] = time.perf_counter() - start
    return reps, seconds


def run_ours(features: dict[str, np.ndarray], labels: np.ndarray, n_boot: int, n_jobs: int) -> tuple[dict, float, dict]:
    """Replicates per score with ``rank``'s own scoring path on ``n_jobs`` processes, the wall
    seconds, and the seconds each score took (summed over its tasks, whichever process ran them)."""
    from transferlab.metrics.base import get_metric
    from transferlab.ranking.scoring import score_pairs

    tasks = [(get_metric(m), X, source) for m in feature_scores() for source, X in features.items()]
    start = time.perf_counter()
    outcomes = score_pairs(tasks, labels, n_boot, 0, n_jobs)
    seconds = time.perf_counter() - start
    per_score: dict[str, float] = {}
    for (metric, _, _), outcome in zip(tasks, outcomes, strict=True):
        per_score[metric.name] = per_score.get(metric.name, 0.0) + outcome[3]
    return {(m.name, src): out[1] for (m, _, src), out in zip(tasks, outcomes, strict=True)}, seconds, per_score


def largest_difference(reference: dict, ours: dict) -> float:
    """Largest |difference| of the recentred replicates (ours are recentred on the point score)."""
    worst = 0.0
    for key, ref in reference.items():
        mine = ours[key]
        ref = ref - ref.mean()  # compare spreads around each mean, as rank reports them
        worst = max(worst, float(np.abs(ref - (mine - mine.mean())).max()))
    return worst


def bootstrap_part(task, cache, n_boot: int) -> None:
    """Part 1: print per-score seconds, totals and speed-ups, and the agreement check."""
    from transferlab.ranking import rank_sources

    features = embed_all(task, cache)
    labels = np.asarray(task.labels)
    cores = os.cpu_count() or 1
    print(f"\n1. bootstrap of every default score, {n_boot} replicates x {len(features)} sources:")
    reference, ref_seconds = run_reference(features, labels, n_boot)
    ours1, seconds1, per_score = run_ours(features, labels, n_boot, 1)
    oursn, secondsn, _ = run_ours(features, labels, n_boot, cores)
    total = sum(ref_seconds.values())
    print(f"   {'score':<14}{'reference s':>12}{'ours s':>9}{'speed-up':>10}")
    for name, seconds in ref_seconds.items():
        print(f"   {name:<14}{seconds:>12.1f}{per_score[name]:>9.1f}{seconds / per_score[name]:>9.1f}x")
    print(f"   reference, all scores      {total:7.1f} s")
    print(f"   ours, 1 process            {seconds1:7.1f} s   speed-up {total / seconds1:5.1f}x")
    print(f"   ours, {cores} processes          {secondsn:7.1f} s   speed-up {total / secondsn:5.1f}x")
    diff = max(largest_difference(reference, ours1), largest_difference(reference, oursn))
    verdict = "the same numbers" if diff <= TOLERANCE else "DIFFERENT"
    print(f"   largest |reference - ours| over all replicates: {diff:.1e} ({verdict}, tolerance {TOLERANCE:g})")
    default = inspect.signature(rank_sources).parameters["n_boot"].default
    if default != n_boot:  # rank's default changed too: the old default against the new one
        _, seconds_default, _ = run_ours(features, labels, default, 1)
        print(f"   ours, 1 process, {default} replicates (rank's default now) {seconds_default:7.1f} s")
        print(f"   reference at {n_boot} replicates / ours at {default}: {total / seconds_default:5.1f}x")


# ---------------------------------------------------------------- part 2: rank against fine-tuning


def timed_rank(task, sources, cache, n_boot: int) -> float:
    from transferlab.ranking import rank_sources

    start = time.perf_counter()
    rank_sources(task, sources, n_boot=n_boot, cache=cache)
    return time.perf_counter() - start


def fine_tune_epoch(name: str, task) -> tuple[float, float]:
    """Seconds to tokenise, and to train one epoch of ``name`` with a linear head on ``task``."""
    from torch import nn

    from transferlab.sources import create_source
    from transferlab.strategies.torch_train import TrainConfig, train_classifier

    backbone = create_source(name).backbone()
    start = time.perf_counter()
    items = backbone.prepare(task.inputs)
    prepare_seconds = time.perf_counter() - start
    head = nn.Linear(backbone.dim, task.n_classes)
    start = time.perf_counter()
    train_classifier(backbone, items, np.asarray(task.labels), head, TrainConfig(epochs=1, batch_size=16), seed=0)
    return prepare_seconds, time.perf_counter() - start


def fine_tune_part(task, cache, n_boot: int) -> None:
    """Part 2: rank cold and warm, with and without the bootstrap, against one fine-tuning epoch."""
    from transferlab.sources import create_source

    sources = {name: create_source(name) for name in TEXT_SOURCES}  # model loading not timed
    print("\n2. rank against fine-tuning:")
    cold = timed_rank(task, sources, cache, n_boot=0)
    print(f"   rank, cold cache (embedding + scores, no bootstrap): {cold:8.1f} s")
    warm0 = timed_rank(task, sources, cache, n_boot=0)
    print(f"   rank, warm cache, no bootstrap:                     {warm0:8.1f} s")
    warm = timed_rank(task, sources, cache, n_boot=n_boot)
    print(f"   rank, warm cache, {n_boot} bootstrap replicates:         {warm:8.1f} s")
    epochs = {}
    for name in FINE_TUNABLE:
        prepare, train = fine_tune_epoch(name, task)
        epochs[name] = prepare + train
        print(f"   fine-tune {name}: tokenise {prepare:.1f} s + 1 epoch {train:.1f} s")
    measured = sum(epochs.values())
    all_five = measured + (len(TEXT_SOURCES) - len(FINE_TUNABLE)) * epochs["minilm-l6"]
    print(f"   1 epoch of the {len(FINE_TUNABLE)} fine-tunable candidates: {measured:.1f} s")
    print(f"   1 epoch of all five, frozen ones charged one minilm-l6 epoch each (extrapolated): {all_five:.1f} s")
    for label, seconds in ((f"warm, {n_boot} replicates", warm), ("warm, no bootstrap", warm0)):
        ratio = f"measured {measured / seconds:6.1f}x, all five extrapolated {all_five / seconds:6.1f}x"
        print(f"   ratio vs rank ({label}): {ratio}")


def main(argv: list[str] | None = None) -> None:
    import torch

    from transferlab.data import load_task, subsample
    from transferlab.sources.cache import EmbeddingCache

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="bbc-news documents (stratified subsample)")
    parser.add_argument("--n-boot", type=int, default=20, help="bootstrap replicates")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder (default: a temp one)")
    parser.add_argument("--fine-tune", action="store_true", help="also time rank against fine-tuning (minutes)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    task = subsample(load_task("bbc-news"), args.n, seed=0)
    print(f"bbc-news, {len(task)} documents, {task.n_classes} classes; sources: {', '.join(TEXT_SOURCES)}")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (a shared machine skews every number)")
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(args.cache or Path(tmp))
        bootstrap_part(task, cache, args.n_boot)
        if args.fine_tune:
            fine_tune_part(task, cache, args.n_boot)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
