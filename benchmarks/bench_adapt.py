"""The feature-level adaptation methods and the unsupervised validators on real shift: 20 Newsgroups.

The classic cross-domain tasks (after Dai, Xue, Yang & Yu 2007): two top-level categories are
the classes, and their sub-groups are split between a source domain and a target domain, so
the label is shared and the vocabulary moves (computer graphics and Windows posts labelled
"comp" in the source, PC and Mac hardware posts in the target).

Per task: minilm-l6 embeddings (first 128 tokens, through the embedding cache), a source pool
the budgets and a 100-example source validation part are drawn from, and a target set split
into an unlabelled pool (what the methods adapt to) and a test half (labels used only to score).
For each budget and seed every method is fitted on the same budget; the table gives target
accuracy (mean over seeds), the gain over source-only with its 95% interval and verdict (paired
by seed and test example, ``transferlab.analysis.compare_arms``), and an in-domain probe trained on
target labels of the same budget (an oracle, for scale). Then each validator's pick: how often
it is the best candidate by target test labels ("best") and how much target accuracy its pick
loses against that best on average ("lost"). The candidates are the methods and, for
subspace alignment and self-training, two values of their main hyper-parameter.

    .venv/bin/python benchmarks/bench_adapt.py [--seeds 5] [--budgets 20,80] [--tasks comp-rec,...]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from machine import machine_line  # noqa: E402

TASKS = {  # name: (class A source groups, class B source groups, class A target groups, class B target groups)
    "comp-rec": (
        ["comp.graphics", "comp.os.ms-windows.misc"],
        ["rec.autos", "rec.motorcycles"],
        ["comp.sys.ibm.pc.hardware", "comp.sys.mac.hardware"],
        ["rec.sport.baseball", "rec.sport.hockey"],
    ),
    "rec-talk": (
        ["rec.autos", "rec.motorcycles"],
        ["talk.politics.guns", "talk.politics.misc"],
        ["rec.sport.baseball", "rec.sport.hockey"],
        ["talk.politics.mideast", "talk.religion.misc"],
    ),
    "sci-talk": (
        ["sci.crypt", "sci.electronics"],
        ["talk.politics.guns", "talk.politics.misc"],
        ["sci.med", "sci.space"],
        ["talk.politics.mideast", "talk.religion.misc"],
    ),
}
CANDIDATES = {  # what the validators choose among: methods and a hyper-parameter each where it matters
    "source-only": ("source-only", {}),
    "coral": ("coral", {}),
    "subspace-alignment k=4": ("subspace-alignment", {"n_components": 4}),
    "subspace-alignment k=16": ("subspace-alignment", {"n_components": 16}),
    "importance-weighting": ("importance-weighting", {}),
    "self-training t=0.7": ("self-training", {"threshold": 0.7}),
    "self-training t=0.9": ("self-training", {"threshold": 0.9}),
}
METHODS = tuple(CANDIDATES)
N_SOURCE, N_TARGET, N_VALIDATION = 400, 800, 100


def domain_task(corpus, groups_a: list[str], groups_b: list[str], n: int, name: str):
    """The examples of the given sub-groups, labelled 0 (groups_a) / 1 (groups_b): a stratified ``n``."""
    from transferlab.data import subsample
    from transferlab.data.task import TaskData, fingerprint_of

    index = {c: i for i, c in enumerate(corpus.classes)}
    a, b = [index[g] for g in groups_a], [index[g] for g in groups_b]
    keep = np.flatnonzero(np.isin(corpus.labels, a + b))
    labels = np.isin(corpus.labels[keep], b).astype(np.int64)
    texts = [corpus.inputs[i] for i in keep]
    task = TaskData(name, texts, labels, ("A", "B"), "text", fingerprint_of(texts, labels, name))
    return subsample(task, n, seed=0)


def embed(tasks, source, cache):
    return [cache.get(source, t).astype(np.float64) for t in tasks]


def run_task(name: str, corpus, source, cache, budgets: list[int], seeds: int) -> dict:
    from transferlab.data import sample_budget

    groups = TASKS[name]
    src = domain_task(corpus, groups[0], groups[1], N_SOURCE + N_VALIDATION, f"{name}-source")
    tgt = domain_task(corpus, groups[2], groups[3], N_TARGET, f"{name}-target")
    X_src, X_tgt = embed([src, tgt], source, cache)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(src))
    val, pool = order[:N_VALIDATION], order[N_VALIDATION:]
    t_order = rng.permutation(len(tgt))
    t_pool, t_test = t_order[: N_TARGET // 2], t_order[N_TARGET // 2 :]
    results = {}
    for budget in budgets:
        for seed in range(seeds):
            chosen = pool[sample_budget(src.labels[pool], budget, seed)]
            oracle = t_pool[sample_budget(tgt.labels[t_pool], budget, seed)]
            results[budget, seed] = run_cell(
                X_src, src.labels, X_tgt, tgt.labels, chosen, val, t_pool, t_test, oracle, seed
            )
    return results


def run_cell(X_src, y_src, X_tgt, y_tgt, chosen, val, t_pool, t_test, oracle, seed) -> dict:
    from transferlab.metrics.density_ratio import domain_classifier_weights
    from transferlab.metrics.validators import validator_scores
    from transferlab.strategies import Examples, create_strategy

    classes = ("A", "B")
    train, pool = Examples(X_src[chosen], y_src[chosen], classes), Examples(X_tgt[t_pool], None, classes)
    source_val = Examples(X_src[val], y_src[val], classes)
    weights = domain_classifier_weights(X_src[val], X_tgt[t_pool], random_state=seed, normalise=False)  # once
    cell = {"correct": {}, "scores": {}, "seconds": {}}
    for method, (name, params) in CANDIDATES.items():
        start = time.perf_counter()
        strategy = create_strategy(name, random_state=seed, **params).fit(train, unlabeled=pool)
        cell["seconds"][method] = time.perf_counter() - start
        cell["correct"][method] = strategy.predict_proba(X_tgt[t_test]).argmax(axis=1) == y_tgt[t_test]
        cell["scores"][method] = validator_scores(strategy, source_val, pool, weights=weights)
    in_domain = create_strategy("linear-probe", random_state=seed).fit(Examples(X_tgt[oracle], y_tgt[oracle], classes))
    cell["correct"]["in-domain (oracle)"] = in_domain.predict_proba(X_tgt[t_test]).argmax(axis=1) == y_tgt[t_test]
    return cell


def report(name: str, results: dict, budgets: list[int], seeds: int) -> None:
    from transferlab.analysis import compare_arms

    print(f"\n{name}: target accuracy (mean of {seeds} seeds), gain over source-only [95% interval] verdict")
    print(f"{'budget':>6} {'method':<25} {'accuracy':>8} {'gain':>7} {'interval':>17}  verdict      fit s")
    for budget in budgets:
        cells = [results[budget, s] for s in range(seeds)]
        base = np.stack([c["correct"]["source-only"] for c in cells]).astype(float)
        for method in [*METHODS, "in-domain (oracle)"]:
            arm = np.stack([c["correct"][method] for c in cells]).astype(float)
            seconds = np.mean([c["seconds"].get(method, np.nan) for c in cells])
            line = f"{budget:>6} {method:<25} {arm.mean():>8.3f}"
            if method != "source-only":
                g = compare_arms(arm, base, bounds=(-1.0, 1.0))
                line += f" {g['gain']:>+7.3f} [{g['lo']:+.3f}, {g['hi']:+.3f}]  {g['verdict']:<12}"
            else:
                line += " " * 40
            print(line + (f" {seconds:5.2f}" if np.isfinite(seconds) else ""))
    print_validators(results, budgets, seeds)


def print_validators(results: dict, budgets: list[int], seeds: int) -> None:
    from transferlab.metrics.validators import VALIDATORS, pick_regret, validator_picks

    print(f"\n{'validator':<12} {'best':>5} {'lost':>6}  picks over budgets x seeds")
    for validator in VALIDATORS:
        picks, hits, lost = [], [], []
        for budget in budgets:
            for s in range(seeds):
                cell = results[budget, s]
                accuracy = {m: float(cell["correct"][m].mean()) for m in METHODS}
                regret = pick_regret(validator_picks(cell["scores"]), accuracy)[validator]
                picks.append(regret["pick"])
                hits.append(regret["is_best"])
                lost.append(regret["accuracy_lost"])
        counts = ", ".join(f"{m} {picks.count(m)}" for m in METHODS if picks.count(m))
        print(f"{validator:<12} {np.mean(hits):>5.2f} {np.mean(lost):>6.3f}  {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budgets", default="20,80")
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    from transferlab.data import load_task
    from transferlab.sources import create_source
    from transferlab.sources.cache import EmbeddingCache

    print(machine_line())
    budgets = [int(b) for b in args.budgets.split(",")]
    corpus, source, cache = load_task("20newsgroups"), create_source("minilm-l6", max_length=128), EmbeddingCache()
    start = time.perf_counter()
    for name in args.tasks.split(","):
        report(name, run_task(name, corpus, source, cache, budgets, args.seeds), budgets, args.seeds)
    print(f"\n{time.perf_counter() - start:.0f} s ({cache.embed_seconds:.0f} s embedding, {cache.misses} misses)")


if __name__ == "__main__":
    main()
