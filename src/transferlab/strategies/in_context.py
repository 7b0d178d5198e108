"""In-context learning: a causal language model prompted with k labelled examples (Brown et al. 2020).

The prompt is ``instruction``, then k demonstrations from the labelled budget, then the query::

    Input: <text>
    Label: <class name>

    Input: <query text>
    Label:

Each class is scored by the log-probability of its name as the continuation (``" politics"``);
the class probabilities are the softmax of those scores over the classes.

Scoring: ``score="sum"`` (the default) adds the label's token log-probabilities, which is the
model's probability of the whole label string. ``"mean"`` divides by the token count; it is often
used to stop long labels losing, but once a label's first token is chosen its later tokens are
near-certain, so the mean *favours* multi-token labels; sum is the likelihood itself.
``calibrate`` applies contextual calibration (Zhao et al. 2021): the scores of a content-free
query ("N/A") are subtracted, which removes the prompt's prior for some labels.

Demonstrations: k examples from the budget, as balanced over classes as the budget allows, in
a random order drawn from ``random_state``, and the same for every test query (the fixed-prompt
protocol of the papers above; it also lets the demonstrations' keys and values be computed once).
Texts are cut to ``max_chars`` characters so k of them fit in a context window.

The model is a local Hugging Face causal LM folder (``model: <path>``, safetensors only:
:mod:`.lm_local`) or an OpenAI-compatible server (``endpoint: http://host:port``, ``model: <name>``:
:mod:`.lm_endpoint`). Nothing is contacted unless the spec names an endpoint.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.strategies.base import Examples, Strategy, check_int_range, check_positive, register_strategy
from transferlab.strategies.frozen import softmax

CONTENT_FREE = "N/A"


def choose_demonstrations(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` examples balanced over classes (round robin over a random class order), shuffled."""
    queues = {int(c): list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)}
    order = [int(c) for c in rng.permutation(list(queues))]
    chosen: list[int] = []
    while len(chosen) < k and any(queues.values()):
        for c in order:
            if queues[c] and len(chosen) < k:
                chosen.append(int(queues[c].pop()))
    return rng.permutation(np.array(chosen, dtype=np.int64))


def shorten(text: str, max_chars: int) -> str:
    """``text`` on one line, cut to ``max_chars`` characters (at a word boundary when there is one)."""
    flat = " ".join(str(text).split())
    if len(flat) <= max_chars:
        return flat
    cut = flat[:max_chars]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def label_text(name: str) -> str:
    """A class name as the model should read it: ``sci_tech`` -> ``sci tech``."""
    return name.replace("_", " ").strip()


def build_prompt(
    demonstrations: list[tuple[str, str]], query: str, instruction: str, input_prefix: str, label_prefix: str
) -> str:
    """The prompt up to where the label goes (see the module docstring for the layout)."""
    parts = [instruction.strip() + "\n\n"] if instruction.strip() else []
    parts += [f"{input_prefix}{text}\n{label_prefix} {label}\n\n" for text, label in demonstrations]
    parts.append(f"{input_prefix}{query}\n{label_prefix}")
    return "".join(parts)


def label_scores(sums: np.ndarray, counts: np.ndarray, how: str) -> np.ndarray:
    """A label's score from its token log-probabilities: their sum, or their mean (``how="mean"``)."""
    return sums / counts if how == "mean" else sums


def calibrated_softmax(values: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
    """Class probabilities ``(n, C)`` from label scores; with ``prior`` (the content-free query's
    scores, ``(C,)``) divided out: ``p(c | x) / p(c | "N/A")``, renormalised (Zhao et al. 2021)."""
    return softmax(values if prior is None else values - prior[None, :])


@register_strategy("in-context")
class InContext(Strategy):
    """k labelled examples in a causal LM's prompt, labels scored by likelihood (see the module docstring)."""

    uses_source = False
    input_kind = "raw"
    modalities = ("text",)
    modality_required = True

    def __init__(
        self,
        model: str | None = None,
        endpoint: str | None = None,
        k: int = 8,
        max_chars: int = 500,
        instruction: str = "",
        input_prefix: str = "Input: ",
        label_prefix: str = "Label:",
        score: str = "sum",
        calibrate: bool = False,
        batch_size: int = 16,
        timeout: float = 60.0,
        random_state: int | None = None,
    ):
        self.model = model
        self.endpoint = endpoint
        self.k = k
        self.max_chars = max_chars
        self.instruction = instruction
        self.input_prefix = input_prefix
        self.label_prefix = label_prefix
        self.score = score
        self.calibrate = calibrate
        self.batch_size = batch_size
        self.timeout = timeout
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        check_int_range(self.name, "k", self.k, 0, 256)
        check_int_range(self.name, "max_chars", self.max_chars, 20, 100_000)
        check_int_range(self.name, "batch_size", self.batch_size, 1, 4096)
        check_positive(self.name, timeout=self.timeout)
        if self.score not in ("sum", "mean"):
            raise bad_parameter(self.name, "score", self.score, "'sum' or 'mean'")
        if not isinstance(self.model, str) or not self.model:
            raise InputError(
                "in-context needs `model`: a local causal LM folder, or with `endpoint` the served model's name"
                " (no such model installs here: see the README)"
            )
        self._scorer()  # building it checks the folder, or asks the server: either fails here in one line

    def _scorer(self) -> Any:
        if self.endpoint is None:
            from transferlab.strategies.lm_local import LocalCausalLM

            return LocalCausalLM(str(self.model), self.batch_size)
        from transferlab.strategies.lm_endpoint import CompletionsEndpoint, check_endpoint

        check_endpoint(str(self.endpoint), self.timeout)
        return CompletionsEndpoint(str(self.endpoint), str(self.model), self.batch_size, self.timeout)

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> InContext:
        self.check(source)
        rng = np.random.default_rng(self.random_state)
        labels = np.asarray(train.labels)
        index = choose_demonstrations(labels, self.k, rng) if self.k else np.zeros(0, dtype=np.int64)
        self.labels_ = [" " + label_text(c) for c in train.classes]  # continuations: a space, then the name
        self.demonstrations_ = [
            (shorten(train.inputs[i], self.max_chars), label_text(train.classes[labels[i]])) for i in index
        ]
        self.scorer_ = self._scorer()
        self.prior_ = self._values([CONTENT_FREE])[0] if self.calibrate else None  # (C,)
        return self

    def prompt(self, text: str) -> str:
        """The prompt for one query (public so a user can see exactly what the model reads)."""
        query = shorten(text, self.max_chars)
        return build_prompt(self.demonstrations_, query, self.instruction, self.input_prefix, self.label_prefix)

    def _values(self, texts: list[str]) -> np.ndarray:
        """Each label's score after each text: ``(n, C)``."""
        sums, counts = self.scorer_.score([self.prompt(t) for t in texts], self.labels_)  # (n, C) each
        return label_scores(sums, counts, self.score)

    def predict_proba(self, inputs: Any) -> np.ndarray:
        return calibrated_softmax(self._values([str(t) for t in inputs]), self.prior_)
