"""Is the TF-IDF baseline tuned as seriously as the arms it is compared with?

On the bundled text sets, at several budgets and seeds, the project's `tfidf-logreg` (n-grams,
min_df and C chosen by cross-validation inside the budget) is set beside a grid of common
TF-IDF + logistic regression settings, each fitted plainly with scikit-learn. The best grid
setting is picked on the test set itself, an oracle no real run has, so "ours - best" is at most
zero in expectation; the aim is to stay within one accuracy point of it. The plain unigram
setting (min_df=1, C=10) is printed too: it is what a careful user would try first.

    python benchmarks/bench_tfidf.py            # bbc-news, 20newsgroups, slo-opinion; budgets 40/160/640; 3 seeds
    python benchmarks/bench_tfidf.py --quick    # one data set, one budget, one seed
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from machine import cpu_model  # noqa: E402
from transferlab.data import load_task, sample_budget, split_task, subsample  # noqa: E402
from transferlab.strategies import Examples, create_strategy  # noqa: E402

GRID = [(ng, md, C) for ng in ((1, 1), (1, 2)) for md in (1, 2) for C in (1.0, 10.0, 100.0)]
PLAIN = ((1, 1), 1, 10.0)


def grid_accuracy(train: list[str], y: np.ndarray, test: list[str], y_test: np.ndarray) -> dict:
    out = {}
    for ng, md, C in GRID:
        vec = TfidfVectorizer(sublinear_tf=True, ngram_range=ng, min_df=min(md, len(train)))
        X = vec.fit_transform(train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(C=C, max_iter=1000).fit(X, y)
        out[(ng, md, C)] = float((model.predict(vec.transform(test)) == y_test).mean())
    return out


def run(name: str, budgets: list[int], seeds: int, max_examples: int) -> list[dict]:
    split = split_task(subsample(load_task(name), max_examples, 0), 0.3, 0)
    rows = []
    for budget in budgets:
        ours, grid = [], []
        for seed in range(seeds):
            index = sample_budget(split.train.labels, budget, seed)
            train = [split.train.inputs[i] for i in index]
            y = split.train.labels[index]
            model = create_strategy("tfidf-logreg", random_state=seed).fit(Examples(train, y, split.train.classes))
            ours.append(float((model.predict_proba(split.test.inputs).argmax(1) == split.test.labels).mean()))
            with threadpool_limits(1):
                grid.append(grid_accuracy(train, y, split.test.inputs, split.test.labels))
        means = {k: float(np.mean([g[k] for g in grid])) for k in GRID}
        best = max(means, key=lambda k: means[k])
        rows.append(
            {
                "data": name,
                "budget": budget,
                "ours": float(np.mean(ours)),
                "best": means[best],
                "best_setting": best,
                "plain": means[PLAIN],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one data set, one budget, one seed")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores")
    sets = [("bbc-news", 1500)] if args.quick else [("bbc-news", 1500), ("20newsgroups", 3000), ("slo-opinion", 1740)]
    budgets, seeds = ([160], 1) if args.quick else ([40, 160, 640], 3)
    start = time.perf_counter()
    header = f"{'data':>13} {'budget':>6} {'ours':>6} {'best grid':>9} {'ours-best':>9} {'plain':>6} {'ours-plain':>10}"
    print(header + "  best setting (oracle)")
    worst = 0.0
    for name, n in sets:
        for r in run(name, budgets, seeds, n):
            gap = r["ours"] - r["best"]
            worst = min(worst, gap)
            ng, md, C = r["best_setting"]
            print(
                f"{r['data']:>13} {r['budget']:>6} {r['ours'] * 100:6.1f} {r['best'] * 100:9.1f} {gap * 100:+9.1f}"
                f" {r['plain'] * 100:6.1f} {(r['ours'] - r['plain']) * 100:+10.1f}  ngrams={ng} min_df={md} C={C:g}"
            )
    took = time.perf_counter() - start
    print(f"largest shortfall against the oracle's best setting: {worst * 100:+.1f} points ({took:.0f} s)")


if __name__ == "__main__":
    main()
