"""Episodic few-shot evaluation: episode drawing, the interval's coverage by simulation, and a study
run end to end (cells, resume, summary block, report section, bad input)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from inprocess import cli
from transferlab.analysis.episodic import EpisodeView, episodic_block, t_interval
from transferlab.errors import InputError
from transferlab.study import parse_spec, run_study
from transferlab.study.episodes import draw_episode


def _by_class(labels: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(labels == c) for c in range(labels.max() + 1)]


def test_episodes_share_classes_and_queries_and_nest_their_support():
    y_train, y_test = np.repeat(np.arange(6), 10), np.repeat(np.arange(6), 8)
    train, test = _by_class(y_train), _by_class(y_test)
    classes, support1, query = draw_episode(train, test, 4, 1, 5, [7, 3])
    classes5, support5, query5 = draw_episode(train, test, 4, 5, 5, [7, 3])
    assert len(set(classes.tolist())) == 4 and np.array_equal(classes, classes5) and np.array_equal(query, query5)
    assert np.array_equal(y_train[support5], np.repeat(classes, 5)) and np.array_equal(
        y_test[query], np.repeat(classes, 5)
    )
    assert set(support1.tolist()) <= set(support5.tolist())  # the 1-shot support is inside the 5-shot one
    assert len(set(query.tolist())) == 20  # queries drawn without replacement
    other = draw_episode(train, test, 4, 1, 5, [7, 4])
    assert not (np.array_equal(other[0], classes) and np.array_equal(other[2], query))


def _prototype_accuracy(X_train, X_test, y_test, support, query, shots, n_way) -> float:
    prototypes = X_train[support].reshape(n_way, shots, -1).mean(axis=1)  # (N, d)
    distances = ((X_test[query][:, None, :] - prototypes[None]) ** 2).sum(-1)  # (N*Q, N)
    return float(np.mean(distances.argmin(axis=1) == np.repeat(np.arange(n_way), len(query) // n_way)))


def test_episode_interval_covers_the_mean_over_episodes_at_the_nominal_rate():
    """Coverage of the t interval over 40 episodes, for the mean over all episodes of these data.

    12 overlapping Gaussian classes (a 5-way 1-shot accuracy near 0.6, with the skew and
    discreteness of real episode accuracies); the target is the mean over 8,000 episodes, whose own
    error (about 0.002) is a tenth of the interval's half-width.
    """
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(12, 8))
    y_train, y_test = np.repeat(np.arange(12), 20), np.repeat(np.arange(12), 15)
    X_train, X_test = centres[y_train] + rng.normal(size=(240, 8)), centres[y_test] + rng.normal(size=(180, 8))
    train, test = _by_class(y_train), _by_class(y_test)

    def accuracy(key: list[int]) -> float:
        _, support, query = draw_episode(train, test, 5, 1, 5, key)
        return _prototype_accuracy(X_train, X_test, y_test, support, query, 1, 5)

    truth = np.mean([accuracy([1, e]) for e in range(8_000)])
    covered = []
    for rep in range(300):
        values = np.array([accuracy([2, rep, e]) for e in range(40)])
        interval = t_interval(values, 0.95)
        covered.append(interval.lo <= truth <= interval.hi)
    coverage = float(np.mean(covered))
    assert abs(coverage - 0.95) < 3 * np.sqrt(0.95 * 0.05 / 300), coverage  # within 3 binomial sd (0.038)


def test_episodic_block_pairs_arms_episode_by_episode():
    proto = [EpisodeView("s", "prototype", 1, seed, np.array([0.2, 0.4, 0.6, 0.8])) for seed in (0, 1)]
    probe = [EpisodeView("s", "linear-probe", 1, seed, np.array([0.3, 0.5, 0.7, 0.9])) for seed in (0, 1)]
    zero = [EpisodeView("s", "zero-shot", 0, 0, np.array([0.1, 0.1, 0.2, 0.2]))]
    block = episodic_block(proto + probe + zero, {"n_way": 5, "queries": 3, "episodes": 4}, 0.95, 0.0)
    rows = {(r["strategy"], r["shots"]): r for r in block["rows"]}
    gain = rows[("linear-probe", 1)]["gain"]
    assert gain["gain"] == pytest.approx(0.1) and gain["lo"] == pytest.approx(0.1) and gain["verdict"] == "positive"
    assert rows[("prototype", 1)]["gain"] is None and rows[("linear-probe", 1)]["n_episodes"] == 8
    assert (
        rows[("zero-shot", 0)]["vs"] == "prototype 1-shot" and rows[("zero-shot", 0)]["gain"]["verdict"] == "negative"
    )
    assert rows[("prototype", 1)]["chance"] == pytest.approx(0.2)


def _spec(csv: str, **changes) -> dict:
    spec = {
        "name": "episodes",
        "task": {"dataset": csv, "feature_columns": ["f0", "f1", "f2", "f3"], "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["prototype", "linear-probe", {"name": "knn", "k": 3}],
        "baselines": ["raw-logreg"],
        "budgets": [12],
        "seeds": 2,
        "evaluation": {"episodes": 12, "n_way": 2, "k_shot": [1, 3], "queries": 4},
    }
    return spec | changes


def test_episodic_study_runs_resumes_and_reports(tmp_path, feature_csv):
    spec = parse_spec(_spec(feature_csv))
    first = run_study(spec, tmp_path, progress=False)
    # regular cells: 3 strategies x 2 seeds + raw-logreg x 2 seeds; episodic: 3 strategies x 2 K x 2 seeds
    assert (first.n_cells, first.ran, first.failed) == (8 + 12, 20, [])
    again = run_study(spec, tmp_path, progress=False)
    assert again.ran == 0 and again.skipped == 20
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert all(e["budget"] == 12 for e in summary["entries"])  # episodic cells stay out of the regular analysis
    rows = {(r["strategy"], r["shots"]): r for r in summary["episodic"]["rows"]}
    assert set(rows) == {(s, k) for s in ("prototype", "linear-probe", "knn(k=3)") for k in (1, 3)}
    row = rows[("linear-probe", 3)]
    assert row["n_episodes"] == 24 and row["lo"] <= row["mean"] <= row["hi"] and row["vs"] == "prototype 3-shot"
    assert row["gain"]["verdict"] in ("positive", "negative", "inconclusive")
    cell_files = [pd.read_parquet(p) for p in (tmp_path / "cells").glob("*.parquet")]
    assert sum(list(f.columns) == ["episode", "accuracy"] and len(f) == 12 for f in cell_files) == 12
    html = (tmp_path / "report.html").read_text()
    assert "Few-shot episodes (2-way)" in html and "gain over the prototypical network" in html
    proc = cli("report", str(tmp_path))
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("evaluation", "message"),
    [
        ({"n_way": 4}, "evaluation: n_way 4 is more than the task's 3 classes"),
        ({"queries": 30}, "evaluation: queries 30 needs 30 examples of every class in the test set"),
        ({"k_shot": [0]}, "k_shot must be an integer >= 1 or a list of them"),
    ],
)
def test_impossible_episodes_are_refused_before_any_cell(tmp_path, feature_csv, evaluation, message):
    with pytest.raises(InputError, match=re.escape(message)):
        run_study(parse_spec(_spec(feature_csv, evaluation={"n_way": 2, "queries": 4} | evaluation)), tmp_path)
    assert not any(tmp_path.iterdir())


def test_more_shots_than_the_smallest_class_is_one_line_and_exit_2(tmp_path, feature_csv):
    spec = _spec(feature_csv, evaluation={"episodes": 5, "n_way": 2, "k_shot": 50, "queries": 4})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "transferlab.cli", "run", str(tmp_path / "s.yaml"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "evaluation: k_shot 50 needs 50 examples of every class in the training pool, but class" in proc.stderr
    assert not out.exists()
