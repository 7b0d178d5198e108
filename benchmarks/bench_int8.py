"""Does ``precision: int8`` change what the demo concludes? Its frozen probes on fp32 and int8 embeddings.

Run: ``.venv/bin/python benchmarks/bench_int8.py`` (``--cache DIR`` to keep the embeddings).

The demo's protocol (``src/transferlab/study/specs/demo-bbc.yaml``): bbc-news, a stratified 1,500
articles, a fixed 30% test split (450 articles), budgets 10 / 40 / 160 / 640 drawn stratified and
nested from the training pool with seeds 0, 1, 2, and the frozen strategies linear-probe, knn and
prototype on minilm-l6 and minilm-l3. Each (source, strategy, budget, seed) is fitted twice, on
the fp32 and on the int8 embeddings of the same texts, with the same labelled examples and the
same ``random_state``.

For every (source, strategy, budget), and pooled per source, it prints the accuracy difference
int8 - fp32 with its 95% interval from :func:`transferlab.analysis.compare_arms` (paired by seed
and by test example: the study's own statistics), and the equivalence verdict at a 1-point
margin: "equivalent" when the whole interval lies inside [-1, +1] points, otherwise "not shown".
It also prints the embedding speed of both precisions (best of the two engines' embeddings of the
1,500 articles, timed once each: the ratio from ``bench_embed.py`` is the careful figure).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

SOURCES = ("minilm-l6", "minilm-l3")
STRATEGIES = ("linear-probe", "knn", "prototype")
BUDGETS = (10, 40, 160, 640)
SEEDS = (0, 1, 2)
MARGIN = 0.01  # one accuracy point


def embed_both(name: str, split, cache) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """``{precision: (train features, test features, seconds)}`` through the cache."""
    from transferlab.sources import create_source

    out = {}
    for precision in ("fp32", "int8"):
        source = create_source(name, precision=precision)
        source.embed(["warm-up: export or load the ONNX graph before the clock starts"])
        misses, start = cache.misses, time.perf_counter()
        train, test = cache.get(source, split.train), cache.get(source, split.test)
        seconds = time.perf_counter() - start if cache.misses > misses else float("nan")
        out[precision] = (train, test, seconds)
    return out


def correct(strategy: str, train_x, train_y, classes, test_x, test_y, seed: int) -> np.ndarray:
    """Per-test-example correctness (n_test,) of one fitted frozen strategy."""
    from transferlab.strategies import Examples, create_strategy

    model = create_strategy(strategy, random_state=seed).fit(Examples(train_x, train_y, classes))
    return (model.predict_proba(test_x).argmax(axis=1) == test_y).astype(float)


def compare_source(name: str, split, features: dict) -> list[dict]:
    """Rows of (strategy, budget, fp32 accuracy, int8 accuracy, comparison), then the pooled row."""
    from transferlab.analysis import compare_arms
    from transferlab.data import sample_budget

    rows, pooled = [], {"fp32": [], "int8": []}
    y_train, y_test, classes = split.train.labels, split.test.labels, split.train.classes
    for strategy in STRATEGIES:
        for budget in BUDGETS:
            scores = {"fp32": [], "int8": []}
            for seed in SEEDS:
                index = sample_budget(y_train, budget, seed)
                for precision, (train_x, test_x, _) in features.items():
                    row = correct(strategy, train_x[index], y_train[index], classes, test_x, y_test, seed)
                    scores[precision].append(row)
            a, b = np.array(scores["int8"]), np.array(scores["fp32"])  # (seeds, n_test)
            pooled["int8"].append(a)
            pooled["fp32"].append(b)
            result = compare_arms(a, b, min_effect=0.0, bounds=(-1.0, 1.0))
            rows.append({"strategy": strategy, "budget": budget, "fp32": b.mean(), "int8": a.mean(), **result})
    a, b = np.concatenate(pooled["int8"], axis=1), np.concatenate(pooled["fp32"], axis=1)
    result = compare_arms(a, b, min_effect=0.0, bounds=(-1.0, 1.0))
    rows.append({"strategy": "all 12 pooled", "budget": "-", "fp32": b.mean(), "int8": a.mean(), **result})
    return rows


def equivalence(result: dict) -> str:
    return "equivalent" if result["lo"] > -MARGIN and result["hi"] < MARGIN else "not shown"


def print_rows(name: str, rows: list[dict]) -> None:
    print(f"\n{name}: accuracy, and int8 - fp32 in points with its 95% interval (paired by seed and example)")
    print(f"  {'strategy':<16}{'budget':>7}{'fp32':>8}{'int8':>8}{'diff':>8}{'95% interval':>18}  at +-1 point")
    for r in rows:
        interval = f"[{100 * r['lo']:+.2f}, {100 * r['hi']:+.2f}]"
        line = f"{r['strategy']:<16}{r['budget']!s:>7}{r['fp32']:>8.3f}{r['int8']:>8.3f}{100 * r['gain']:>+8.2f}"
        print(f"  {line}{interval:>18}  {equivalence(r)}")


def main(argv: list[str] | None = None) -> None:
    from transferlab.data import load_task, split_task, subsample
    from transferlab.sources.cache import EmbeddingCache

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder (default: a temp one)")
    args = parser.parse_args(argv)
    split = split_task(subsample(load_task("bbc-news"), 1500, 0), 0.3, 0)
    print(
        f"bbc-news: {len(split.train)} training pool, {len(split.test)} test articles; budgets {BUDGETS}, seeds {SEEDS}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(args.cache or Path(tmp))
        summary = []
        for name in SOURCES:
            features = embed_both(name, split, cache)
            rows = compare_source(name, split, features)
            print_rows(name, rows)
            fp32_s, int8_s = features["fp32"][2], features["int8"][2]
            summary.append((name, rows, fp32_s, int8_s))
    print("\nsummary")
    for name, rows, fp32_s, int8_s in summary:
        shown = sum(equivalence(r) == "equivalent" for r in rows[:-1])
        speed = f"embedding {fp32_s:.0f} s fp32, {int8_s:.0f} s int8 ({fp32_s / int8_s:.2f}x)"
        print(
            f"  {name}: equivalent at +-1 point in {shown} of {len(rows) - 1} comparisons; pooled: "
            f"{equivalence(rows[-1])}; {speed}"
        )


if __name__ == "__main__":
    main()
