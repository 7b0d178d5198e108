"""``rank`` over the five text sources against fine-tuning them: wall times measured in one run.

Run: ``.venv/bin/python benchmarks/bench_rank.py`` (``--n 600`` documents of bbc-news, ``--n-boot``
bootstrap replicates). It prints:

1. ``rank_sources`` on the five text sources (minilm-l6, minilm-l3, e5-multilingual,
   use-multilingual, glove-50d) with a cold cache (embedding included) and then a warm one,
   with and without the bootstrap;
2. one fine-tuning epoch (AdamW, batch 16, the same documents, max_length 256 for minilm-l6 and
   128 for minilm-l3, the sources' own settings) of each fine-tunable candidate, through
   ``transferlab.strategies.torch_train.train_classifier`` with a linear head;
3. the ratio: fine-tuning every candidate once for one epoch / ranking them with a warm cache.

The ratio is a floor of what ranking saves. e5-multilingual, use-multilingual and glove-50d are
frozen engines here (no trainable module), so they cannot be fine-tuned and are not timed; the
"all five" line extrapolates by charging each of them one minilm-l6 epoch (e5-small has twice
minilm-l6's layers, so for it this is an underestimate). A real fine-tuning run also takes several
epochs, a hyper-parameter search and an evaluation pass, none of which is counted.

The machines are shared and noisy: read the ratios, not the absolute seconds. The embedding
cache is a private temporary folder unless ``--cache`` is given.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from transferlab.data import load_task, subsample
from transferlab.ranking import rank_sources
from transferlab.sources import create_source
from transferlab.sources.cache import EmbeddingCache
from transferlab.strategies.torch_train import TrainConfig, train_classifier

TEXT_SOURCES = ["minilm-l6", "minilm-l3", "e5-multilingual", "use-multilingual", "glove-50d"]
FINE_TUNABLE = ["minilm-l6", "minilm-l3"]


def timed_rank(task, sources, cache, n_boot: int) -> float:
    start = time.perf_counter()
    rank_sources(task, sources, n_boot=n_boot, cache=cache)
    return time.perf_counter() - start


def fine_tune_epoch(name: str, task) -> tuple[float, float]:
    """Seconds to tokenise, and to train one epoch of ``name`` with a linear head on ``task``."""
    source = create_source(name)
    backbone = source.backbone()
    start = time.perf_counter()
    items = backbone.prepare(task.inputs)
    prepare_seconds = time.perf_counter() - start
    head = nn.Linear(backbone.dim, task.n_classes)
    start = time.perf_counter()
    train_classifier(backbone, items, np.asarray(task.labels), head, TrainConfig(epochs=1, batch_size=16), seed=0)
    return prepare_seconds, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="bbc-news documents (stratified subsample)")
    parser.add_argument("--n-boot", type=int, default=20, help="bootstrap replicates of the full rank")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder (default: a temp one)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    task = subsample(load_task("bbc-news"), args.n, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(args.cache or Path(tmp))
        sources = {name: create_source(name) for name in TEXT_SOURCES}  # model loading not timed
        print(f"bbc-news, {len(task)} documents, {task.n_classes} classes; sources: {', '.join(TEXT_SOURCES)}")
        cold = timed_rank(task, sources, cache, n_boot=0)
        print(f"rank, cold cache (embedding + scores, no bootstrap): {cold:8.1f} s")
        warm0 = timed_rank(task, sources, cache, n_boot=0)
        print(f"rank, warm cache, no bootstrap:                     {warm0:8.1f} s")
        warm = timed_rank(task, sources, cache, n_boot=args.n_boot)
        print(f"rank, warm cache, {args.n_boot} bootstrap replicates:         {warm:8.1f} s")
    epochs = {}
    for name in FINE_TUNABLE:
        prepare, train = fine_tune_epoch(name, task)
        epochs[name] = prepare + train
        print(f"fine-tune {name}: tokenise {prepare:.1f} s + 1 epoch {train:.1f} s")
    measured = sum(epochs.values())
    all_five = measured + (len(TEXT_SOURCES) - len(FINE_TUNABLE)) * epochs["minilm-l6"]
    print(f"1 epoch of the {len(FINE_TUNABLE)} fine-tunable candidates: {measured:.1f} s")
    print(f"1 epoch of all five, frozen ones charged one minilm-l6 epoch each (extrapolated): {all_five:.1f} s")
    for label, seconds in ((f"warm, {args.n_boot} replicates", warm), ("warm, no bootstrap", warm0)):
        print(
            f"ratio vs rank ({label}): measured {measured / seconds:6.1f}x,"
            f" all five extrapolated {all_five / seconds:6.1f}x"
        )


if __name__ == "__main__":
    main()
