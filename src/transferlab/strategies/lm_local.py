"""Scoring label continuations with a local Hugging Face causal language model.

``score(contexts, continuations)`` returns, for every context (a prompt ending where the label
goes) and every candidate continuation (``" sport"``, ``" politics"``, ...), the sum of the
log-probabilities of the continuation's tokens given the context, and the number of those tokens.

Tokenisation follows the usual log-likelihood protocol: the context is tokenised as one string
(with the model's special tokens, e.g. a BOS), the continuation on its own without special tokens,
and the two id lists are concatenated, so a label is always the same tokens whatever precedes it.

Speed: every prompt of a study starts with the same k demonstrations, often most of its tokens.
Their keys and values are computed once (the longest token prefix all contexts share) and
reused for every (query, label) sequence, which is then only the query and the label long
(``benchmarks/bench_in_context.py`` measures it against scoring every full sequence).
Sequences are right-padded and run without an attention mask: with causal attention a real token
never sees the padding after it, so the scores are exact; :func:`direct_scores` is the plain
reference (one full forward pass per pair) the tests compare with.

Loading is safe: safetensors only, ``trust_remote_code`` never (:mod:`transferlab.sources.hf_loading`).
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from transferlab.errors import InputError
from transferlab.sources.hf_loading import load_config, load_model


def check_causal_lm_folder(path: str) -> Path:
    """The folder of a local causal LM, checked without loading the weights; one line if it cannot work."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise InputError(
            f"in-context: model folder {str(folder.resolve())!r} does not exist; give a local Hugging Face"
            " causal LM folder (config.json, tokenizer, *.safetensors) or an endpoint"
        )
    folder = folder.resolve()
    if not sorted(folder.glob("*.safetensors")):
        raise InputError(
            f"in-context: no *.safetensors weights in {str(folder)!r}; only safetensors are loaded:"
            " convert the weights (model.save_pretrained(folder, safe_serialization=True))"
        )
    config = load_config(str(folder), folder)
    # encoders such as BERT are in the causal-LM mapping too (as decoders), so the checkpoint's own
    # architectures say what it was trained as: a BertModel is not a language model to prompt
    heads = [a for a in getattr(config, "architectures", None) or [] if "CausalLM" in a or "LMHeadModel" in a]
    if getattr(config, "model_type", None) not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or (
        config.architectures and not heads
    ):
        raise InputError(
            f"in-context: {str(folder)!r} holds a {config.model_type!r} model, not a causal language model"
            " (GPT-2, Llama, Qwen, Mistral, ...); in-context learning scores labels with a decoder"
        )
    return folder


@functools.lru_cache(maxsize=2)
def load_causal_lm(folder: str) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) of a checked folder, loaded once per process."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = check_causal_lm_folder(folder)
    config = load_config(str(path), path)
    model = load_model(AutoModelForCausalLM, str(path), path, config).eval()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"in-context: the tokenizer of {str(path)!r} does not load ({exc})") from None
    return model, tokenizer


def context_length(model: Any) -> int | None:
    """The most positions the model can attend to (None when its config does not say)."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def tokenize_pairs(
    tokenizer: Any, contexts: Sequence[str], continuations: Sequence[str]
) -> tuple[list[list[int]], list[list[int]]]:
    """Context ids (one string, with special tokens) and continuation ids (alone, without)."""
    ctx = [list(ids) for ids in tokenizer(list(contexts), add_special_tokens=True)["input_ids"]]
    cont = [list(ids) for ids in tokenizer(list(continuations), add_special_tokens=False)["input_ids"]]
    empty = [c for c, ids in zip(continuations, cont, strict=True) if not ids]
    if empty:
        raise InputError(f"in-context: the label {empty[0]!r} tokenises to nothing; give the class a visible name")
    return ctx, cont


def shared_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix every sequence shares, leaving each at least one token."""
    first = sequences[0]
    limit = min(len(s) for s in sequences) - 1  # the remainder must predict the first label token
    n = 0
    while n < limit and all(s[n] == first[n] for s in sequences):
        n += 1
    return max(n, 0)


def continuation_logprobs(logits: torch.Tensor, ids: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor) -> Any:
    """Sum of log p(continuation token) per row.

    logits (B, T, V) over a batch of [context remainder + continuation] rows; ids (B, T);
    ``starts[b]`` is where row b's continuation begins (>= 1) and ``lengths[b]`` how long it is.
    Token t is predicted by the logits at t - 1.
    """
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    positions = torch.arange(ids.shape[1])[None, :]  # (1, T)
    in_label = (positions >= starts[:, None]) & (positions < (starts + lengths)[:, None])  # (B, T)
    predicted = logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]  # (B, T-1): log p(token t | < t)
    return (predicted * in_label[:, 1:]).sum(dim=1)  # (B,)


def cache_argument(model: Any, cache: Any) -> dict[str, Any]:
    """The keyword a model's forward takes its key/value cache by: ``cache`` since transformers 5.2x,
    ``past_key_values`` before (and deprecated after)."""
    if cache is None:
        return {}
    return {"cache": cache} if "cache" in inspect.signature(model.forward).parameters else {"past_key_values": cache}


class LocalCausalLM:
    """Label scores from a local causal LM folder (see the module docstring)."""

    def __init__(self, folder: str, batch_size: int = 16) -> None:
        self.folder = str(check_causal_lm_folder(folder))
        self.batch_size = batch_size

    def score(self, contexts: Sequence[str], continuations: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(sum of label log-probabilities, label token counts), both ``(n_contexts, n_labels)``."""
        model, tokenizer = load_causal_lm(self.folder)
        ctx, cont = tokenize_pairs(tokenizer, contexts, continuations)
        self._check_length(model, ctx, cont)
        shared = shared_prefix_length(ctx)
        cache = self._prefix_cache(model, ctx[0][:shared]) if shared else None
        pairs = [(q, c) for q in range(len(ctx)) for c in range(len(cont))]
        out = np.zeros(len(pairs))
        per_batch = max(1, self.batch_size)
        with torch.inference_mode():
            for start in range(0, len(pairs), per_batch):
                batch = pairs[start : start + per_batch]
                rows = [(ctx[q][shared:], cont[c]) for q, c in batch]
                out[start : start + len(batch)] = self._run(model, rows, cache)
        counts = np.array([[len(c) for c in cont]] * len(ctx), dtype=np.int64)
        return out.reshape(len(ctx), len(cont)), counts

    def _prefix_cache(self, model: Any, prefix: list[int]) -> Any:
        with torch.inference_mode():
            output = model(input_ids=torch.tensor([prefix]), use_cache=True)
        return output.cache if hasattr(output, "cache") else output.past_key_values

    def _run(self, model: Any, rows: list[tuple[list[int], list[int]]], cache: Any) -> np.ndarray:
        longest = max(len(a) + len(b) for a, b in rows)
        ids = torch.zeros((len(rows), longest), dtype=torch.long)  # right padding: never attended to
        for r, (a, b) in enumerate(rows):
            ids[r, : len(a) + len(b)] = torch.tensor(a + b)
        past = None
        if cache is not None:
            past = copy.deepcopy(cache)
            past.batch_repeat_interleave(len(rows))
        logits = model(input_ids=ids, use_cache=past is not None, **cache_argument(model, past)).logits  # (B, T, V)
        starts = torch.tensor([len(a) for a, _ in rows])
        lengths = torch.tensor([len(b) for _, b in rows])
        return continuation_logprobs(logits, ids, starts, lengths).numpy()

    @staticmethod
    def _check_length(model: Any, ctx: list[list[int]], cont: list[list[int]]) -> None:
        limit, longest = context_length(model), max(map(len, ctx)) + max(map(len, cont))
        if limit is not None and longest > limit:
            raise InputError(
                f"in-context: a prompt with its label is {longest} tokens, more than the model's context of"
                f" {limit}; lower k (fewer demonstrations) or max_chars (shorter texts)"
            )


def direct_scores(folder: str, contexts: Sequence[str], continuations: Sequence[str]) -> np.ndarray:
    """Reference: one full forward pass per (context, continuation), no cache, no batching."""
    model, tokenizer = load_causal_lm(str(check_causal_lm_folder(folder)))
    ctx, cont = tokenize_pairs(tokenizer, contexts, continuations)
    out = np.zeros((len(ctx), len(cont)))
    with torch.inference_mode():
        for q, a in enumerate(ctx):
            for c, b in enumerate(cont):
                logp = torch.log_softmax(model(input_ids=torch.tensor([a + b])).logits[0].float(), -1)  # (T, V)
                out[q, c] = sum(float(logp[len(a) + j - 1, t]) for j, t in enumerate(b))
    return out
