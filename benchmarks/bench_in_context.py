"""In-context label scoring: the shared-prefix cache against scoring every full sequence.

``in-context`` scores each (query, label) pair by the label's log-probability after a prompt
whose k demonstrations are the same for every query. Ours computes the demonstrations' keys and
values once and runs only query + label per pair (``strategies/lm_local.py``); the reference runs
one full forward pass per pair (``direct_scores``). Both on the same randomly initialised GPT-2
built from a config (6 layers, 384 wide: the compute of a small real model; no causal LM installs
here), the same BBC prompts and labels. The scores must agree; the ratio is the speed-up.

    .venv/bin/python benchmarks/bench_in_context.py [--k 8] [--queries 12]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402
from transferlab.data import load_task, subsample  # noqa: E402
from transferlab.strategies import Examples, create_strategy  # noqa: E402
from transferlab.strategies.lm_local import LocalCausalLM, direct_scores  # noqa: E402


def build_model(folder: Path, texts: list[str]) -> None:
    """A byte-level BPE tokenizer trained on ``texts`` and a random 6-layer GPT-2 of its vocabulary."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=8000, special_tokens=["<|endoftext|>"], initial_alphabet=alphabet)
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(folder)
    ids = {"bos_token_id": fast.eos_token_id, "eos_token_id": fast.eos_token_id}
    config = GPT2Config(vocab_size=len(fast), n_positions=2048, n_embd=384, n_layer=6, n_head=6, **ids)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).eval().save_pretrained(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=8, help="demonstrations in the prompt")
    parser.add_argument("--queries", type=int, default=12)
    args = parser.parse_args(argv)
    print(machine_line(), f"; torch threads {torch.get_num_threads()}", sep="")
    task = subsample(load_task("bbc-news"), 200, seed=0)
    texts = [str(t) for t in task.inputs]
    with tempfile.TemporaryDirectory() as tmp:
        build_model(Path(tmp), texts)
        strategy = create_strategy("in-context", model=tmp, k=args.k, max_chars=400, random_state=0)
        strategy.fit(Examples(texts[:100], task.labels[:100], task.classes))
        contexts = [strategy.prompt(t) for t in texts[100 : 100 + args.queries]]
        labels = strategy.labels_
        scorer = LocalCausalLM(tmp, batch_size=16)
        scorer.score(contexts[:1], labels)  # load the model once, outside both timings
        start = time.perf_counter()
        ours, _ = scorer.score(contexts, labels)
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        reference = direct_scores(tmp, contexts, labels)
        reference_s = time.perf_counter() - start
        lengths = [len(ids) for ids in scorer_tokens(tmp, contexts)]
    pairs = len(contexts) * len(labels)
    print(f"{args.k} demonstrations, prompts of {min(lengths)}-{max(lengths)} tokens, {pairs} (query, label) pairs")
    print(f"{'scorer':<28} {'seconds':>8} {'pairs/s':>8}")
    print(f"{'ours (shared-prefix cache)':<28} {ours_s:>8.2f} {pairs / ours_s:>8.1f}")
    print(f"{'full sequence per pair':<28} {reference_s:>8.2f} {pairs / reference_s:>8.1f}")
    print(f"speed-up: {reference_s / ours_s:.1f}x; max |score difference| {np.abs(ours - reference).max():.2e} nats")
    return 0


def scorer_tokens(folder: str, contexts: list[str]) -> list[list[int]]:
    from transferlab.strategies.lm_local import load_causal_lm

    _, tokenizer = load_causal_lm(folder)
    return tokenizer(contexts)["input_ids"]


if __name__ == "__main__":
    raise SystemExit(main())
