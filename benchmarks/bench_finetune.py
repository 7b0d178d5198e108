"""Fine-tuning throughput: our ``finetune`` loop against Hugging Face ``Trainer``, side by side.

Same model (all-MiniLM-L6-v2 from ``minilm_l6_path()``), same 256 BBC articles (a stratified
subsample), max_length 128, batch size 16, one epoch, AdamW (fused, as the Trainer's default)
at lr 5e-5 with weight decay 0.01 and one linear warm-up step, no validation split, no
evaluation, no checkpoints. Each side is timed from raw texts to a trained model (tokenising
included); the runs alternate, and the best of ``--repeats`` is kept for each.

What differs is what each does per step: ours tokenises once, batches similar lengths together
(shuffled buckets), pads each batch to its own longest text and mean-pools; the Trainer's
default sampler is random, so ``DataCollatorWithPadding`` pads each batch to its longest text
of a random mix, and ``BertForSequenceClassification`` adds the pooler and a classifier.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/bench_finetune.py [--repeats 2]

Run it on an otherwise idle machine: with 2 threads on 2 cores any other busy process stalls
every OpenMP barrier.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

N_DOCS, MAX_LENGTH, BATCH, LR, EPOCHS, WEIGHT_DECAY = 256, 128, 16, 5e-5, 1, 0.01


def load_data() -> tuple[list[str], np.ndarray]:
    """A stratified 256-article subsample of BBC News (5 topics)."""
    from transferlab.data import load_task, subsample

    task = subsample(load_task("bbc-news"), N_DOCS, seed=0)
    return list(task.inputs), np.asarray(task.labels)


def run_ours(texts: list[str], labels: np.ndarray) -> tuple[float, dict]:
    """Seconds for ``finetune`` (tokenising included) and its training stats."""
    from transferlab.sources import create_source
    from transferlab.strategies import Examples, create_strategy

    source = create_source("minilm-l6")
    strategy = create_strategy(
        "finetune",
        random_state=0,
        lr=LR,
        head_lr=LR,
        epochs=EPOCHS,
        batch_size=BATCH,
        max_steps=None,
        max_length=MAX_LENGTH,
        weight_decay=WEIGHT_DECAY,
        validation_fraction=0.0,
    )
    train = Examples(texts, labels, tuple(str(c) for c in range(int(labels.max()) + 1)))
    start = time.perf_counter()
    strategy.fit(train, source=source)
    return time.perf_counter() - start, strategy.train_stats_


def run_trainer(texts: list[str], labels: np.ndarray) -> tuple[float, dict]:
    """Seconds for ``Trainer.train`` (tokenising included) on the same data and settings."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from transferlab.sources.zoo_text import minilm_l6_path

    path = str(minilm_l6_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=int(labels.max()) + 1)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=BATCH,
            num_train_epochs=EPOCHS,
            learning_rate=LR,
            weight_decay=WEIGHT_DECAY,
            warmup_steps=1,  # ours: max(1, int(0.1 * 16 steps)) = 1
            use_cpu=True,
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            dataloader_num_workers=0,
            seed=0,
        )
        start = time.perf_counter()
        encoded = tokenizer(texts, truncation=True, max_length=MAX_LENGTH)
        dataset = [
            {"input_ids": ids, "attention_mask": mask, "labels": int(y)}
            for ids, mask, y in zip(encoded["input_ids"], encoded["attention_mask"], labels, strict=True)
        ]
        trainer = Trainer(
            model=model, args=args, train_dataset=dataset, data_collator=DataCollatorWithPadding(tokenizer)
        )
        result = trainer.train()
        seconds = time.perf_counter() - start
    return seconds, {"steps": result.global_step, "optim": str(args.optim), "train_loss": result.training_loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each side; best kept")
    repeats = parser.parse_args().repeats
    texts, labels = load_data()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print(f"{N_DOCS} BBC articles, max_length {MAX_LENGTH}, batch {BATCH}, {EPOCHS} epoch, lr {LR}")
    best = {"ours": np.inf, "trainer": np.inf}
    for _ in range(repeats):
        for name, run in (("ours", run_ours), ("trainer", run_trainer)):
            seconds, stats = run(texts, labels)
            best[name] = min(best[name], seconds)
            print(f"  {name:8s} {seconds:7.1f} s  {N_DOCS / seconds:6.2f} examples/s  {stats}")
    ours, trainer = N_DOCS / best["ours"], N_DOCS / best["trainer"]
    print(f"ours:    {ours:.2f} examples/s (best of {repeats})")
    print(f"Trainer: {trainer:.2f} examples/s (best of {repeats})")
    print(f"ratio ours / Trainer: {ours / trainer:.2f}x")


if __name__ == "__main__":
    main()
