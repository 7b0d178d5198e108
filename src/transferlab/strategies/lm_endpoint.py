"""Scoring label continuations through an OpenAI-compatible completions endpoint.

The server scores its own tokens: each request sends ``context + continuation`` as the prompt to
``POST {endpoint}/v1/completions`` with ``echo: true`` and ``logprobs: 1``, so the response carries
the log-probability of every *prompt* token (``token_logprobs``) with its character offset
(``text_offset``). The continuation's score is the sum over the tokens that start at or after
``len(context)``. ``max_tokens`` is 1 because vLLM refuses 0; the one generated token lies past the
prompt and is ignored.

What the server must support: the legacy completions API with ``echo`` and prompt log-probabilities.
vLLM's OpenAI server does. llama.cpp's ``llama-server`` returned log-probabilities for generated
tokens only when this was written, which makes label scoring impossible; a response without
prompt log-probabilities is refused with one line rather than scored as zeros. Nothing is
contacted unless a spec names an endpoint. A bearer token, if the server needs one, is read
from ``$TRANSFERLAB_API_KEY`` (never from the spec, which is saved with the run).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import numpy as np

from transferlab.errors import InputError

KEY_VARIABLE = "TRANSFERLAB_API_KEY"


def _headers() -> dict[str, str]:
    key = os.environ.get(KEY_VARIABLE)
    return {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})


def _request(url: str, payload: dict[str, Any] | None, timeout: float) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers=_headers(), method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's endpoint
            return json.loads(response.read().decode())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:200].replace("\n", " ")
        raise InputError(f"in-context: {url} answered HTTP {exc.code} ({detail})") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(
            f"in-context: endpoint {url} is unreachable ({reason}); start the server (vLLM) or fix the address"
        ) from None
    except json.JSONDecodeError:
        raise InputError(f"in-context: {url} did not answer JSON; is it an OpenAI-compatible server?") from None


def check_endpoint(endpoint: str, timeout: float) -> None:
    """Raise one line unless ``{endpoint}/v1/models`` answers (the server is up and speaks the API)."""
    if not endpoint.startswith(("http://", "https://")):
        raise InputError(f"in-context: endpoint must be an http:// or https:// address, got {endpoint!r}")
    _request(f"{endpoint.rstrip('/')}/v1/models", None, timeout)


def echo_score(choice: dict[str, Any], start: int, end: int) -> tuple[float, int]:
    """(sum of log-probabilities, token count) of the prompt tokens starting in ``[start, end)``."""
    logprobs = choice.get("logprobs") or {}
    offsets, values = logprobs.get("text_offset"), logprobs.get("token_logprobs")
    # without echo a server returns only the generated token, which starts past the prompt
    if not offsets or not values or len(offsets) != len(values) or min(offsets) >= start:
        raise InputError(
            "in-context: the endpoint returned no log-probabilities for the prompt tokens; it needs"
            " /v1/completions with echo and logprobs (vLLM has them; llama.cpp's server does not yet)"
        )
    inside = [v for o, v in zip(offsets, values, strict=True) if start <= o < end]
    if not inside or any(v is None for v in inside) or start not in offsets:
        raise InputError(
            "in-context: the server's tokens do not start where the label starts (it merged the label with"
            " the prompt); end label_prefix without a space, e.g. 'Label:'"
        )
    return float(sum(inside)), len(inside)


class CompletionsEndpoint:
    """Label scores from an OpenAI-compatible server (see the module docstring)."""

    def __init__(self, endpoint: str, model: str, batch_size: int = 16, timeout: float = 60.0) -> None:
        self.url = f"{endpoint.rstrip('/')}/v1/completions"
        self.model = model
        self.batch_size = batch_size
        self.timeout = timeout

    def score(self, contexts: Sequence[str], continuations: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(sum of label log-probabilities, label token counts), both ``(n_contexts, n_labels)``."""
        pairs = [(a, b) for a in contexts for b in continuations]
        sums, counts = np.zeros(len(pairs)), np.zeros(len(pairs), dtype=np.int64)
        for start in range(0, len(pairs), self.batch_size):
            batch = pairs[start : start + self.batch_size]
            choices = self._complete([a + b for a, b in batch])
            for i, (a, b) in enumerate(batch):
                sums[start + i], counts[start + i] = echo_score(choices[i], len(a), len(a) + len(b))
        shape = (len(contexts), len(continuations))
        return sums.reshape(shape), counts.reshape(shape)

    def _complete(self, prompts: list[str]) -> list[dict[str, Any]]:
        payload = {
            "model": self.model,
            "prompt": prompts,
            "max_tokens": 1,
            "echo": True,
            "logprobs": 1,
            "temperature": 0.0,
        }
        body = _request(self.url, payload, self.timeout)
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or len(choices) != len(prompts):
            raise InputError(f"in-context: {self.url} answered {len(choices or [])} choices for {len(prompts)} prompts")
        return sorted(choices, key=lambda c: int(c.get("index", 0)))
