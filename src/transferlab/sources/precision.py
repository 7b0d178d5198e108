"""Which engine and numeric precision a torch text encoder embeds with, checked when it is built.

=========  =======  ======================================================================
precision  engine   what runs
=========  =======  ======================================================================
fp32       torch    the module under ``torch.inference_mode`` (the reference)
fp32       onnx     the same weights exported to ONNX, run by onnxruntime; checked equal to
                    torch (``transferlab.sources.onnx_engine``); the bundled text encoders'
                    default on CPUs without AVX-512, where it was 1.4-1.6x faster (torch
                    was faster on AVX-512: :func:`faster_fp32_engine`)
int8       onnx     dynamic int8 quantization of the Linear layers (opt-in; about 2x faster
                    than fp32 onnx; fidelity in ``benchmarks/bench_int8.py``)
bf16       torch    ``torch.autocast`` bfloat16 (opt-in), only on CPUs with native bf16
=========  =======  ======================================================================

bf16 on a CPU without native support is refused, not run: emulated, it was 6x *slower* than
fp32, and silently falling back to fp32 would make the same spec give different embeddings (and
cache keys) on different machines. The error names the fast alternative, int8.
"""

from __future__ import annotations

from pathlib import Path

from transferlab.errors import InputError, bad_parameter

PRECISIONS = ("fp32", "bf16", "int8")
ENGINES = ("torch", "onnx")
_NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags() -> set[str]:
    """The CPU feature flags Linux reports (empty where ``/proc/cpuinfo`` cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def native_bf16() -> bool:
    """True when the CPU multiplies bf16 in hardware (avx512_bf16 or AMX)."""
    return any(flag in cpu_flags() for flag in _NATIVE_BF16_FLAGS)


def resolve_engine(name: str, precision: str, engine: str | None, default: str = "torch") -> str:
    """The engine a text encoder runs ``precision`` on; one line of error for a bad pair.

    ``engine=None`` takes ``default`` for fp32, onnx for int8 and torch for bf16.
    """
    if precision not in PRECISIONS:
        raise bad_parameter(name, "precision", precision, f"one of {PRECISIONS}")
    if engine is not None and engine not in ENGINES:
        raise bad_parameter(name, "engine", engine, f"one of {ENGINES}")
    needs = {"int8": "onnx", "bf16": "torch"}.get(precision)
    if needs is not None and engine not in (None, needs):
        raise InputError(f"{name}: precision {precision!r} runs on engine {needs!r}, got engine {engine!r}")
    if precision == "bf16" and not native_bf16():
        raise InputError(
            f"{name}: precision 'bf16' needs a CPU with native bf16 (avx512_bf16 or amx_bf16), and this one"
            " has neither (emulated bf16 ran 6x slower than fp32); fix: use precision 'int8' for speed, or 'fp32'"
        )
    return needs or engine or default


def faster_fp32_engine() -> str:
    """The fp32 engine ``benchmarks/bench_embed.py`` measured faster on CPUs like this one.

    It depends on the CPU, so no single default is right: on an AVX2-only AMD EPYC, onnxruntime's
    fused graph embedded 1.4-1.6x faster than torch; on an AVX-512 Intel Xeon torch's own kernels
    were faster (minilm-l6 40.8 against 26.4 documents/s, minilm-l3 163 against 133). The two
    engines agree to 4e-7, and the engine is part of the cache key.
    """
    return "torch" if "avx512f" in cpu_flags() else "onnx"


def with_default_engine(params: dict, engine: str) -> dict:
    """``params`` with ``engine`` as the default for fp32 (int8 and bf16 pick their own engine).

    A bundled source passes the engine its benchmark found faster (``benchmarks/bench_embed.py``).
    """
    if params.get("precision", "fp32") == "fp32":
        params.setdefault("engine", engine)
    return params
