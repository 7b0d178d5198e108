"""Shared fixtures: offline mode, a private embedding cache, small real data."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test session embeds into its own cache, never the user's."""
    root = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("TRANSFERLAB_CACHE", str(root))


@pytest.fixture(scope="session")
def feature_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 3-class feature task (120 rows, 4 informative columns) as CSV."""
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 40)
    centres = {"a": 0.0, "b": 1.5, "c": 3.0}
    X = np.stack([rng.normal(centres[y], 1.0, 4) for y in labels])
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)]).assign(label=labels)
    path = tmp_path_factory.mktemp("data") / "features.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="session")
def text_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small real text task: 90 BBC articles (3 topics), cut to their first 300 characters."""
    from transferlab.data import load_task, subsample

    task = load_task("bbc-news")
    keep = np.isin(task.labels, [0, 2, 3])  # business, politics, sports
    small = subsample(task.subset(np.flatnonzero(keep)), 90, seed=0)
    frame = pd.DataFrame({"text": [t[:300] for t in small.inputs], "label": [small.classes[i] for i in small.labels]})
    path = tmp_path_factory.mktemp("data") / "bbc_small.csv"
    frame.to_csv(path, index=False)
    return str(path)
