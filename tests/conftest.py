"""Shared fixtures: offline mode, a private embedding cache, small real data."""

from __future__ import annotations

import os
from collections.abc import Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest workers on the two cores: one thread each, or torch's and BLAS's
    # pools (two threads each by default) oversubscribe the machine and both workers crawl
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test session embeds into its own cache, never the user's.

    Session-scoped, so it is set before any module- or session-scoped fixture embeds data.
    """
    before = os.environ.get("TRANSFERLAB_CACHE")
    os.environ["TRANSFERLAB_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    yield
    if before is None:
        os.environ.pop("TRANSFERLAB_CACHE", None)
    else:
        os.environ["TRANSFERLAB_CACHE"] = before


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


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray (2 CPUs, loopback only) for the session, started the way the ray executor starts it.

    The executor finds it running and leaves it up (it shuts down only a Ray it started), so
    the Ray tests pay Ray's start-up once.
    """
    ray = pytest.importorskip("ray")
    from transferlab.study.ray_executor import start_ray

    started = start_ray(None, workers=2)
    yield ray
    if started:
        ray.shutdown()
