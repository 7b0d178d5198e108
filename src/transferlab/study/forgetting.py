"""Forgetting: how much a fine-tuned text encoder loses on a task it was good at before.

The held-out task is fixed and bundled: 200 posts of ``20newsgroups``, 50 from each of two
pairs of neighbouring groups (graphics / X Window, cars / motorcycles), truncated to 128
tokens. Neighbouring groups keep the probe off its ceiling (four unrelated groups scored 98%
before any fine-tuning, which leaves no room to see forgetting); 200 posts keep the cost per
cell to one embedding pass of 200 short texts.
Its score is the 5-fold cross-validated accuracy of a logistic regression on the encoder's
embeddings; ``forgetting = score(before) - score(after)``, so a positive value is accuracy lost.
The "before" score depends only on the source's weights and preprocessing, so it is computed
once per source revision (its embeddings also go through the embedding cache).
"""

from __future__ import annotations

import copy
import time
from functools import lru_cache
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from transferlab.data import TaskData
from transferlab.errors import InputError

GROUPS = ("comp.graphics", "comp.windows.x", "rec.autos", "rec.motorcycles")
N_EXAMPLES = 200
MAX_LENGTH = 128
_BEFORE: dict[tuple[str, str, str], float] = {}


@lru_cache(maxsize=1)
def forgetting_task() -> TaskData:
    """The fixed held-out task: 50 posts from each of :data:`GROUPS` (seed 0)."""
    from transferlab.data import load_bundled, subsample

    news = load_bundled("20newsgroups")
    keep = np.flatnonzero(np.isin(np.asarray(news.classes)[news.labels], GROUPS))
    return subsample(news.subset(keep), N_EXAMPLES, seed=0)


def probe_accuracy(features: np.ndarray, labels: np.ndarray, n_folds: int = 5) -> float:
    """Mean accuracy of a standardised logistic regression over stratified folds (seed 0)."""
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    return float(cross_val_score(model, features, labels, cv=folds, scoring="accuracy").mean())


def probe_view(source: Any) -> Any:
    """The source with :data:`MAX_LENGTH` tokens (same weights; its preprocessing says so)."""
    if getattr(source, "modality", None) != "text" or not hasattr(source, "max_length"):
        raise InputError(f"forgetting is measured for text encoders; source {getattr(source, 'name', source)!r} is not")
    view = copy.copy(source)
    view.max_length = MAX_LENGTH
    return view


def held_out_score(source: Any, cache: Any = None) -> float:
    """Probe accuracy of ``source``'s embeddings on the held-out task (cached embeddings if ``cache``)."""
    task, view = forgetting_task(), probe_view(source)
    features = cache.get(view, task) if cache is not None else view.embed(task.inputs)
    return probe_accuracy(np.asarray(features), task.labels)


def score_before(source: Any, cache: Any = None) -> float:
    """:func:`held_out_score` of a pretrained source, computed once per revision and preprocessing."""
    view = probe_view(source)
    key = (view.name, view.revision, view.preprocessing)
    if key not in _BEFORE:
        _BEFORE[key] = held_out_score(source, cache)
    return _BEFORE[key]


def forgetting(before: Any, after: Any, cache: Any = None) -> dict[str, float]:
    """``forgetting = before - after`` probe accuracy on the held-out task, both scores and the seconds spent.

    ``after`` (the fine-tuned encoder) is embedded directly, never cached: its weights are
    specific to one cell.
    """
    start = time.perf_counter()
    score_0 = score_before(before, cache)
    score_1 = held_out_score(after)
    return {
        "forgetting": round(score_0 - score_1, 12) + 0.0,  # same 200 posts: a tie is 0.0, not -1e-16 or -0.0
        "heldout_before": score_0,
        "heldout_after": score_1,
        "forgetting_seconds": time.perf_counter() - start,
    }
