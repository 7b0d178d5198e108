"""From token states to one vector per text: the pooling modes of sentence-transformers folders.

A sentence-transformers model is a transformer plus the modules listed in its ``modules.json``:
``Pooling`` (its ``config.json`` picks CLS, mean or max over tokens) and, often, ``Normalize``
(unit length). The vectors a model was trained to produce are those of *its* pooling, so a
folder's own settings are read and honoured here rather than assuming mean pooling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from transferlab.errors import InputError

POOLINGS = ("mean", "cls", "max")
# sentence-transformers' older configs hold one boolean per mode; newer ones a "pooling_mode" name
_LEGACY_MODES = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def pool_tokens(hidden: torch.Tensor, mask: torch.Tensor, mode: str = "mean", normalize: bool = False) -> torch.Tensor:
    """Pool token states ``(B, T, d)`` over the attention mask ``(B, T)`` into ``(B, d)``.

    ``cls`` takes the first token, ``mean`` averages the real tokens, ``max`` takes each
    dimension's maximum over them (padding never wins: it is set to the dtype's minimum).
    ``normalize`` scales each vector to unit L2 length, as sentence-transformers' ``Normalize``.
    """
    weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    if mode == "cls":
        pooled = hidden[:, 0]
    elif mode == "max":
        pooled = hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).amax(dim=1)
    else:
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2.0, dim=-1) if normalize else pooled


@dataclass(frozen=True)
class SentenceModules:
    """What a sentence-transformers folder says about how it embeds."""

    transformer: Path  # the folder of the Hugging Face model
    pooling: str  # one of POOLINGS
    normalize: bool
    max_length: int | None  # its max_seq_length, if it states one
    config_files: tuple[Path, ...]  # the module configs read (they enter the source's revision)


def read_sentence_modules(folder: Path) -> SentenceModules:
    """Parse ``modules.json`` (or the older ``0_Transformer`` / ``1_Pooling`` layout without it)."""
    listing = folder / "modules.json"
    if listing.is_file():
        modules = _read_json(listing)
        if not isinstance(modules, list):
            raise InputError(f"{listing}: expected a list of modules, found {type(modules).__name__}")
    else:
        inner = "0_Transformer" if (folder / "0_Transformer").is_dir() else ""
        pooling = [{"type": "Pooling", "path": "1_Pooling"}] if (folder / "1_Pooling").is_dir() else []
        modules = [{"type": "Transformer", "path": inner}, *pooling]
    transformer, pooling, normalize = folder, "mean", False
    files = [listing] if listing.is_file() else []
    for module in modules:
        kind, path = str(module.get("type", "")).rsplit(".", 1)[-1], folder / str(module.get("path", ""))
        if kind == "Transformer":
            transformer = path
        elif kind == "Pooling":
            pooling = _pooling_mode(path / "config.json")
            files.append(path / "config.json")
        elif kind == "Normalize":
            normalize = True
        else:
            raise InputError(
                f"{folder}: module {module.get('type')!r} in modules.json is not supported here"
                " (supported: Transformer, Pooling, Normalize); embed with sentence-transformers instead"
            )
    max_length, config = _max_seq_length(transformer)
    return SentenceModules(transformer, pooling, normalize, max_length, tuple(files + config))


def _pooling_mode(config_path: Path) -> str:
    config = _read_json(config_path)
    mode = config.get("pooling_mode")
    if mode is None:
        mode = [name for key, name in _LEGACY_MODES.items() if config.get(key)]
    modes = [mode] if isinstance(mode, str) else list(mode)
    if len(modes) != 1 or modes[0] not in POOLINGS:
        raise InputError(
            f"{config_path}: pooling {modes} is not supported here (one of {', '.join(POOLINGS)});"
            " embed with sentence-transformers instead"
        )
    return modes[0]


def _max_seq_length(transformer: Path) -> tuple[int | None, list[Path]]:
    """The folder's max_seq_length: sentence-transformers < 6 write it in sentence_bert_config.json,
    6 in the tokenizer's ``model_max_length`` (which transformers sets to ~1e30 when unknown)."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        path = transformer / name
        value = _read_json(path).get(key) if path.is_file() else None
        if isinstance(value, int) and 0 < value <= 1_000_000:
            return value, [path]
    return None, []


def _read_json(path: Path) -> dict | list:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} is missing; the sentence-transformers folder is incomplete") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON ({exc})") from None
