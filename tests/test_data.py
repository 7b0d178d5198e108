"""Data loaders, bundled sets, fingerprints, splits and nested stratified budgets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transferlab.data import (
    DATASETS,
    load_task,
    sample_budget,
    split_task,
    stratified_order,
    task_from_arrays,
)
from transferlab.errors import InputError


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"text": [f"doc {i}" for i in range(20)], "label": ["x", "y"] * 10})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl", ".tsv"])
def test_file_formats_load_the_same_task(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    frame = _frame()
    {".csv": lambda: frame.to_csv(path, index=False), ".parquet": lambda: frame.to_parquet(path),
     ".jsonl": lambda: frame.to_json(path, orient="records", lines=True),
     ".tsv": lambda: frame.to_csv(path, sep="\t", index=False)}[suffix]()  # fmt: skip
    task = load_task(str(path))
    assert task.modality == "text"
    assert task.classes == ("x", "y")
    assert task.inputs[:2] == ["doc 0", "doc 1"]
    assert task.labels.tolist()[:4] == [0, 1, 0, 1]


def test_feature_columns_and_npz(tmp_path, feature_csv):
    task = load_task(feature_csv, feature_columns=["f0", "f1", "f2", "f3"])
    assert task.modality == "features" and task.inputs.shape == (120, 4) and task.inputs.dtype == np.float32
    np.savez(tmp_path / "arrays.npz", X=task.inputs, y=task.labels)
    again = load_task(str(tmp_path / "arrays.npz"))
    assert again.inputs.shape == (120, 4) and again.n_classes == 3


def test_fingerprint_is_content_based(feature_csv):
    a = load_task(feature_csv, feature_columns=["f0", "f1"])
    b = load_task(feature_csv, feature_columns=["f0", "f1"])
    c = load_task(feature_csv, feature_columns=["f0", "f2"])
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.subset(np.arange(5)).fingerprint != a.subset(np.arange(6)).fingerprint


@pytest.mark.parametrize(
    ("name", "n", "n_classes"), [("bbc-news", 2225, 5), ("20newsgroups", 18821, 20), ("digits", 1797, 10)]
)
def test_bundled_sets(name, n, n_classes):
    task = load_task(name)
    assert len(task) == n and task.n_classes == n_classes
    assert DATASETS[name].modality == task.modality
    assert np.bincount(task.labels).min() > 0


def test_split_column_is_used(tmp_path):
    frame = _frame().assign(part=["train"] * 14 + ["test"] * 6)
    frame.to_csv(tmp_path / "s.csv", index=False)
    split = split_task(load_task(str(tmp_path / "s.csv"), split_column="part"))
    assert (len(split.train), len(split.test)) == (14, 6)


def test_split_is_stratified_and_fixed():
    task = load_task("bbc-news")
    a, b = split_task(task, 0.3, seed=0), split_task(task, 0.3, seed=0)
    assert a.test.fingerprint == b.test.fingerprint
    share = np.bincount(a.test.labels) / np.bincount(task.labels)
    assert np.allclose(share, 0.3, atol=0.01)


def test_budgets_are_nested_and_stratified():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    for seed in range(5):
        samples = [set(sample_budget(labels, b, seed)) for b in (4, 10, 40, 80)]
        assert all(small <= large for small, large in zip(samples, samples[1:], strict=False))
        counts = np.bincount(labels[list(samples[2])], minlength=4)
        assert counts.min() >= 1 and np.abs(counts - 40 * np.array([50, 30, 15, 5]) / 100).max() <= 1.0
    assert sorted(stratified_order(labels, 0)) == list(range(100))


def test_per_class_budgets_are_nested():
    labels = np.repeat(np.arange(3), 10)
    small, large = sample_budget(labels, 2, 7, per_class=True), sample_budget(labels, 5, 7, per_class=True)
    assert set(small) <= set(large)
    assert np.bincount(labels[large]).tolist() == [5, 5, 5]


@pytest.mark.parametrize(
    ("budget", "per_class", "match"),
    [
        (500, False, "larger than the training data"),
        (2, False, "smaller than the number of classes"),
        (11, True, "has 10"),
    ],  # fmt: skip
)
def test_budget_errors(budget, per_class, match):
    with pytest.raises(InputError, match=match):
        sample_budget(np.repeat(np.arange(3), 10), budget, 0, per_class)


def test_bad_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_task(str(tmp_path / "empty.csv"))
    _frame().to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(InputError, match="no column 'body'; the columns are: text, label"):
        load_task(str(tmp_path / "d.csv"), text_column="body")
    _frame().assign(label="only").to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(InputError, match="at least 2 classes, found only 'only'"):
        load_task(str(tmp_path / "one.csv"))
    with pytest.raises(InputError, match="does not exist"):
        load_task(str(tmp_path / "missing.csv"))
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(InputError, match="unknown extension"):
        load_task(str(tmp_path / "d.xlsx"))


def test_nan_and_inf_features_rejected():
    X = np.ones((6, 2))
    X[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN or infinite.*row 3"):
        task_from_arrays(X, np.array([0, 1] * 3))
    X[3, 1] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        task_from_arrays(X, np.array([0, 1] * 3))
