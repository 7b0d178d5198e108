"""Loading a user's Hugging Face model safely, and naming the files its embeddings depend on.

Safety. Weights load from safetensors when the folder has them, else from ``pytorch_model*.bin``
through ``torch.load(weights_only=True)`` (transformers' loader, called here with
``weights_only=True`` and ``use_safetensors`` set from the files present, so neither is left to a
default). A pickle that would run code is refused by that unpickler before anything runs, and
the refusal becomes one line. ``trust_remote_code`` is always ``False``: a config that needs the
repository's own Python code, or names a model type this transformers does not know, is refused
with one line instead of a traceback (or, with transformers' default, an interactive prompt).

Revision. A source's cache key must change whenever its embeddings can: the weights, and also
``config.json`` (``num_hidden_layers`` changes the output with the same weight file), the
tokenizer files, an image processor's config, and sentence-transformers' module and pooling
configs. :func:`revision_files` lists all of them.

Hub ids. ``hf:<x>`` with no folder ``x`` here is tried as a hub id when it looks like one
(``org/name``): with the network that downloads it. When that fails too, the error says both what
was tried (the local path, then the hub id) and why.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

from transferlab.errors import InputError, first_line

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
# Files besides the weights that change what a model embeds (tokenisation, architecture, pooling).
CONFIG_SUFFIXES = (".json", ".txt", ".model", ".tiktoken")


def locate(path: str) -> tuple[Path | None, str]:
    """(local folder or None, what to pass to ``from_pretrained``); a hopeless path fails here."""
    folder = Path(path).expanduser()
    if folder.is_dir():
        return folder.resolve(), str(folder.resolve())
    if folder.exists():
        raise InputError(f"model {path!r} is a file; give the folder that holds config.json and the weights")
    if not HUB_ID.match(path) or path.startswith((".", "~")):
        raise InputError(f"model folder {str(folder.resolve())!r} does not exist; check the path")
    return None, path


def tried(path: str, folder: Path | None, exc: BaseException) -> str:
    """What loading ``path`` tried, for an error line: the folder, or the local path then the hub id."""
    reason = first_line(exc)
    if folder is not None:
        return f"model folder {str(folder)!r}: {reason}"
    return (
        f"model {path!r}: no local folder {str(Path(path).expanduser().resolve())!r}, and as a Hugging Face"
        f" hub id it failed ({reason}); downloading needs the network"
    )


def load_config(path: str, folder: Path | None) -> Any:
    """The model's ``PretrainedConfig``; custom code or an unknown model type is one line."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=False)
    except ValueError as exc:
        text = str(exc)
        if "trust_remote_code" in text or "custom code" in text or _has_auto_map(folder):
            raise InputError(
                f"{_where(path, folder)}: its config needs the repository's own Python code (auto_map),"
                " which transferlab never runs (no trust_remote_code); use an architecture transformers ships"
            ) from None
        if "does not recognize" in text or "Unrecognized model" in text or "model_type" in text:
            raise InputError(
                f"{_where(path, folder)}: the model type in its config.json is not one this transformers knows"
                f" ({first_line(exc)}); upgrade transformers or use a supported architecture"
            ) from None
        raise InputError(tried(path, folder, exc)) from None
    except OSError as exc:
        raise InputError(tried(path, folder, exc)) from None


def _has_auto_map(folder: Path | None) -> bool:
    """True when the folder's config.json maps Auto classes to the repository's own code."""
    try:
        return folder is not None and "auto_map" in json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def load_model(auto_class: Any, path: str, folder: Path | None, config: Any) -> Any:
    """``auto_class.from_pretrained`` with safetensors or ``weights_only`` torch files, never remote code."""
    use_safetensors = None if folder is None else bool(weight_files(folder)[0].suffix == ".safetensors")
    try:
        return auto_class.from_pretrained(
            path, config=config, trust_remote_code=False, use_safetensors=use_safetensors, weights_only=True
        )
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        files = ", ".join(p.name for p in weight_files(folder)) if folder is not None else path
        raise InputError(
            f"{_where(path, folder)}: refused to load {files}: not a plain tensor file (torch.load with"
            f" weights_only=True rejected it: {first_line(exc)}); convert the weights to safetensors"
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(tried(path, folder, exc)) from None


def weight_files(folder: Path) -> list[Path]:
    """The weight files that load: ``*.safetensors`` if any, else ``pytorch_model*.bin``."""
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    if not files:
        raise InputError(f"no weights (*.safetensors or pytorch_model*.bin) in {folder}")
    return files


def revision_files(folder: Path, extra: tuple[Path, ...] = ()) -> list[Path]:
    """Every file that changes the embedding: weights, configs, tokenizer and processor files."""
    configs = [p for p in folder.iterdir() if p.is_file() and p.suffix in CONFIG_SUFFIXES]
    return sorted(set(weight_files(folder) + configs + [p for p in extra if p.is_file()]))


def _where(path: str, folder: Path | None) -> str:
    return f"model folder {str(folder)!r}" if folder is not None else f"model {path!r}"
