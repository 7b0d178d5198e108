"""The bundled validation of the rankings: does each transferability score order the candidates
the way a linear probe's held-out accuracy does?

Run: ``.venv/bin/python benchmarks/validate_rankings.py`` (about 15 minutes on 2 shared cores
with a cold embedding cache, a few minutes warm). Prints, per data set, the candidates with
their outcome and consensus rank, then one markdown table: Kendall's tau / weighted tau / top-1
hit of every score on every data set.

Protocol
--------
* Data (stratified subsamples, seed 0): bbc-news 400 articles (5 topics), 20newsgroups 400 posts
  (20 groups), slo-opinion 400 Slovenian comments (4 topics), digits 500 images (10 classes).
  Every text is cut to its first 1,000 characters (``--max-chars``), for every candidate alike:
  e5-multilingual embeds a whole BBC article (~570 tokens) at under 1 document a second on these
  shared cores, and the cut keeps the run near 15 minutes.
* Candidates. Text: minilm-l6 (its embedding layers 0-5 and the last, 6), minilm-l3,
  e5-multilingual, use-multilingual, glove-50d, tfidf (fitted on the subsample, transductive:
  it sees the texts, never the labels). Images: efficientnet-lite0/1/2 at 112 px, each at its
  stem, at the last block of every stage (where the width changes) and at the head.
* Scores: every registered transferability score but hscore-raw, on the whole subsample
  (``rank_sources``, no bootstrap). LEEP and NCE need the source's ImageNet classifier, so they
  score only the three whole image networks (n = 3 in the table) and no text candidate.
* Outcome (the ground truth): the study's ``linear-probe`` strategy (standardise, logistic
  regression with C chosen by 5-fold CV inside the training part) on the same frozen features,
  mean held-out accuracy over a stratified 3-fold cross-validation of the same subsample, done
  with two fold shuffles (seeds 0 and 1) and averaged. The two shuffles ranked against each other
  give a noise ceiling: how well the outcome agrees with itself. Fine-tuning
  outcomes are not included: fine-tuning 3 x 12 text and 27 image candidates does not fit in the
  time budget on 2 CPU cores.
* linear-cv (a 5-fold cross-validated logistic regression with fixed C) is nearly the same
  procedure as the outcome, so its agreement is high by construction: it is the expensive
  empirical reference the cheap scores are trying to match, not an independent check.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from transferlab.analysis.rank_agreement import kendall_tau, top1_hit, weighted_tau
from transferlab.data import TaskData, fingerprint_of, load_task, subsample
from transferlab.ranking import RankResult, agreement, rank_sources
from transferlab.ranking.layers import cache_key_layer
from transferlab.sources import Source, create_source
from transferlab.sources.cache import EmbeddingCache
from transferlab.strategies import Examples, create_strategy

TEXT_SETS = {"bbc-news": 400, "20newsgroups": 400, "slo-opinion": 400}
IMAGE_SETS = {"digits": 500}
TEXT_SOURCES = ["minilm-l6", "minilm-l3", "e5-multilingual", "use-multilingual", "glove-50d", "tfidf"]
IMAGE_SOURCES = ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]
OUTER_FOLDS = 3
SEEDS = (0, 1)  # fold shuffles of the outcome: averaged, and compared with each other (noise ceiling)


def stage_ends(source: Source) -> list[str]:
    """Stem, the last block of each stage (its output width differs from the next block's), head."""
    blocks = source.model._blocks  # type: ignore[attr-defined]
    widths = [int(block._project_conv.out_channels) for block in blocks]
    ends = [f"block-{i}" for i in range(len(blocks)) if i == len(blocks) - 1 or widths[i] != widths[i + 1]]
    return ["stem", *ends, "head"]


def probe_accuracy(features: np.ndarray, task: TaskData, seed: int = 0) -> float:
    """Held-out accuracy of the study's linear probe, mean over a stratified K-fold split."""
    folds = StratifiedKFold(OUTER_FOLDS, shuffle=True, random_state=seed)
    accuracies = []
    for train, test in folds.split(features, task.labels):
        probe = create_strategy("linear-probe", random_state=seed)
        probe.fit(Examples(features[train], task.labels[train], task.classes))
        accuracies.append(float(np.mean(probe.predict_proba(features[test]).argmax(1) == task.labels[test])))
    return float(np.mean(accuracies))


def outcomes_of(
    result: RankResult, sources: dict[str, Source], task: TaskData, cache: EmbeddingCache
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Probe accuracy of every ranked candidate (mean over the fold seeds), and per seed."""
    per_seed: dict[str, dict[str, float]] = {str(seed): {} for seed in SEEDS}
    with threadpool_limits(limits=1, user_api="blas"):
        for row in result.rows:
            source = sources[row.source]
            features = cache.get(source, task, cache_key_layer(source, row.layer))
            for seed in SEEDS:
                per_seed[str(seed)][row.candidate] = probe_accuracy(features, task, seed)
    outcomes = {c: float(np.mean([per_seed[str(seed)][c] for seed in SEEDS])) for c in per_seed[str(SEEDS[0])]}
    return outcomes, per_seed


def noise_ceiling(per_seed: dict[str, dict[str, float]]) -> dict[str, object]:
    """How well the outcome agrees with itself: seed-0 folds ranked against seed-1 folds."""
    first, second = (per_seed[str(seed)] for seed in SEEDS[:2])
    return {
        "n": len(first),
        "kendall_tau": kendall_tau(first, second),
        "weighted_tau": weighted_tau(first, second),
        "top1_hit": top1_hit(first, second),
    }


def regret(result: RankResult, outcomes: dict[str, float]) -> dict[str, float]:
    """Per score: best outcome minus the outcome of the candidate the score ranks first."""
    best = max(outcomes.values())
    found = {}
    for metric in [*result.metrics, "consensus"]:
        scores = result.scores(metric)
        if len(scores) >= 2:
            found[metric] = best - outcomes[max(scores, key=scores.get)]
    return found


def cut_texts(task: TaskData, max_chars: int) -> TaskData:
    """The same examples with every text cut to ``max_chars`` characters (a new fingerprint)."""
    texts = [t[:max_chars] for t in task.inputs]
    fingerprint = fingerprint_of(texts, task.labels, f"{task.fingerprint}-cut{max_chars}")
    return replace(task, inputs=texts, fingerprint=fingerprint)


def validate(
    name: str, n: int, source_names: list[str], cache: EmbeddingCache, max_chars: int
) -> tuple[RankResult, dict[str, float], dict[str, dict]]:
    """Rank the candidates on one data set, measure their outcomes, and compare."""
    task = subsample(load_task(name), n, seed=0)
    if task.modality == "text":
        task = cut_texts(task, max_chars)
    sources = {s: create_source(s) for s in source_names}
    if task.modality == "image":
        layers = {label: stage_ends(source) for label, source in sources.items()}
    else:
        layers = {"minilm-l6": "all"}
    start = time.perf_counter()
    result = rank_sources(task, sources, layers=layers, n_boot=0, cache=cache)
    rank_seconds = time.perf_counter() - start
    start = time.perf_counter()
    outcomes, per_seed = outcomes_of(result, sources, task, cache)
    probe_seconds = time.perf_counter() - start
    print(f"\n### {name}: {len(task)} examples, {task.n_classes} classes, {len(result.rows)} candidates")
    print(f"rank (embedding + scores) {rank_seconds:.0f} s; outcome probes {probe_seconds:.0f} s\n")
    print("| candidate | probe accuracy | consensus rank |\n|---|---|---|")
    for candidate, accuracy in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        row = next(r for r in result.rows if r.candidate == candidate)
        print(f"| {candidate} | {accuracy:.3f} | {row.rank} |")
    tops = []
    for metric in [*result.metrics, "consensus"]:
        scores = result.scores(metric)
        if scores:
            top = max(scores, key=scores.get)
            tops.append(f"{metric} → {top} ({outcomes[top]:.3f})")
    print("\ntop-1 per score (its probe accuracy): " + "; ".join(tops))
    for note in result.notes:
        print(f"note: {note}")
    table = agreement(result, outcomes) | {"probe seed 0 vs 1 (noise ceiling)": noise_ceiling(per_seed)}
    return result, regret(result, outcomes), table


def cell(row: dict) -> str:
    if row["kendall_tau"] is None:
        return "-"
    hit = "yes" if row["top1_hit"] else "no"
    n = f" (n={row['n']})" if row["n"] <= 3 else ""
    return f"{row['kendall_tau']:+.2f} / {row['weighted_tau']:+.2f} / {hit}{n}"


def print_table(tables: dict[str, dict[str, dict]]) -> None:
    """Rows: scores; columns: data sets; cells: Kendall tau / weighted tau / top-1 hit."""
    metrics = list(dict.fromkeys(m for table in tables.values() for m in table))
    print("\n| score | " + " | ".join(tables) + " | mean Kendall tau |")
    print("|---" * (len(tables) + 2) + "|")
    for metric in metrics:
        rows = [tables[name].get(metric) for name in tables]
        taus = [r["kendall_tau"] for r in rows if r and r["kendall_tau"] is not None and r["n"] > 3]
        mean = f"{np.mean(taus):+.2f}" if taus else "-"
        print(f"| {metric} | " + " | ".join(cell(r) if r else "-" for r in rows) + f" | {mean} |")


def print_regret(regrets: dict[str, dict[str, float]]) -> None:
    metrics = list(dict.fromkeys(m for r in regrets.values() for m in r))
    print("\n| score | " + " | ".join(regrets) + " |")
    print("|---" * (len(regrets) + 1) + "|")
    for metric in metrics:
        cells = [f"{r[metric]:.3f}" if metric in r else "-" for r in regrets.values()]
        print(f"| {metric} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder (default: the user's)")
    parser.add_argument("--max-chars", type=int, default=1000, help="characters kept of each text")
    args = parser.parse_args(argv)
    cache = EmbeddingCache(args.cache) if args.cache else EmbeddingCache()
    start = time.perf_counter()
    tables, regrets = {}, {}
    for name, n in TEXT_SETS.items():
        _, regrets[name], tables[name] = validate(name, n, TEXT_SOURCES, cache, args.max_chars)
    for name, n in IMAGE_SETS.items():
        _, regrets[name], tables[name] = validate(name, n, IMAGE_SOURCES, cache, args.max_chars)
    print("\nKendall tau / weighted tau / top-1 hit of each score's ranking against linear-probe accuracy")
    print_table(tables)
    print("\nRegret: accuracy of the best candidate minus that of each score's top-ranked one")
    print_regret(regrets)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
