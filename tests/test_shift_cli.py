"""``transferlab shift``: JSON and table output on feature and text files, real models, and bad input.

Most calls run in-process with typer's ``CliRunner`` (``standalone_mode=False`` lets the
:class:`InputError` through to be inspected); one subprocess call checks the real exit code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from transferlab.cli import app
from transferlab.errors import InputError

FEATURES = "f0,f1,f2,f3"


def invoke(*args: str):
    return CliRunner().invoke(app, ["shift", *args], standalone_mode=False)


def feature_frame(rng: np.random.Generator, n: int, priors, shift: float = 0.0) -> pd.DataFrame:
    labels = rng.choice(["a", "b", "c"], size=n, p=priors)
    centre = {"a": 0.0, "b": 1.5, "c": 3.0}
    X = np.stack([rng.normal(centre[y], 1.0, 4) for y in labels])
    X[:, 1] += shift
    return pd.DataFrame(X, columns=FEATURES.split(",")).assign(label=labels)


@pytest.fixture(scope="module")
def feature_files(tmp_path_factory) -> dict[str, str]:
    """A source, a label-shifted target, and an unlabelled covariate-shifted target (features)."""
    rng, folder = np.random.default_rng(0), tmp_path_factory.mktemp("shift")
    frames = {
        "source": feature_frame(rng, 240, [1 / 3] * 3),
        "label_shift": feature_frame(rng, 240, [0.7, 0.2, 0.1]),
        "unlabelled": feature_frame(rng, 240, [1 / 3] * 3, shift=1.0).drop(columns="label"),
        "empty": feature_frame(rng, 3, [1 / 3] * 3).iloc[:0],
        "renamed": feature_frame(rng, 30, [1 / 3] * 3).rename(columns={"f3": "g3"}),
    }
    paths = {}
    for name, frame in frames.items():
        paths[name] = str(folder / f"{name}.csv")
        frame.to_csv(paths[name], index=False)
    return paths


@pytest.fixture(scope="module")
def text_files(text_csv, tmp_path_factory) -> tuple[str, str]:
    """The 90 small BBC articles split in two halves of 45."""
    frame = pd.read_csv(text_csv).sample(frac=1.0, random_state=0)
    folder = tmp_path_factory.mktemp("shift-text")
    halves = (folder / "a.csv", folder / "b.csv")
    frame.iloc[:45].to_csv(halves[0], index=False)
    frame.iloc[45:].to_csv(halves[1], index=False)
    return str(halves[0]), str(halves[1])


def test_shift_json_on_feature_files_finds_label_shift(feature_files):
    args = ["--source-data", feature_files["source"], "--target-data", feature_files["label_shift"]]
    result = invoke(*args, "--source", "identity", "--feature-columns", FEATURES, "--n-permutations", "300", "--json")
    assert result.exception is None, result.exception
    payload = json.loads(result.output)
    assert payload["diagnosis"]["kind"] == "label" and payload["target_labelled"]
    assert payload["label_shift"]["classes"] == ["a", "b", "c"]
    estimated, measured = payload["label_shift"]["target_priors"], payload["label_shift"]["measured_target_priors"]
    np.testing.assert_allclose(estimated, measured, atol=0.12)
    # the target's majority class alone errs 30 % of the time: a bound near 0.6 says nothing
    assert payload["bound"]["bound"] > payload["bound"]["chance_error"] and payload["bound"]["status"] == "vacuous"


def test_shift_table_on_an_unlabelled_target(feature_files):
    args = ["--source-data", feature_files["source"], "--target-data", feature_files["unlabelled"]]
    result = invoke(*args, "--source", "identity", "--feature-columns", FEATURES, "--n-permutations", "200")
    assert result.exception is None, result.exception
    out = result.output
    assert "C2ST" in out and "label shift (BBSE)" in out and "unknown without target labels" in out
    assert "diagnosis: covariate shift" in out and "the target has no 'label' column" in out


def test_shift_with_a_real_text_model(text_files):
    result = invoke("--source-data", text_files[0], "--target-data", text_files[1], "--source", "minilm-l3", "--json")
    assert result.exception is None, result.exception
    payload = json.loads(result.output)
    assert (payload["n_source"], payload["n_target"]) == (45, 45)
    assert 0 < payload["mmd"]["p_value"] <= 1 and 0 <= payload["c2st"]["auc"] <= 1
    assert payload["label_shift"]["classes"] == ["business", "politics", "sports"]
    assert payload["diagnosis"]["kind"] == "none"  # two random halves of one file


def test_shift_across_languages_skips_label_shift_and_names_the_labels():
    args = ["--source-data", "bbc-news", "--target-data", "slo-opinion", "--source", "minilm-l3"]
    result = invoke(*args, "--max-examples", "40", "--n-permutations", "200", "--json")
    assert result.exception is None, result.exception
    payload = json.loads(result.output)
    assert payload["label_shift"] is None and payload["bound"] is None
    assert payload["mmd"]["p_value"] < 0.01 and payload["c2st"]["auc"] > 0.9
    assert payload["diagnosis"]["kind"] == "undetermined"
    assert "label sets differ" in payload["notes"][0] and "'Politika'" in payload["notes"][0]


@pytest.mark.parametrize(
    ("target", "extra", "message"),
    [
        ("empty", [], "is empty"),
        ("renamed", [], "renamed.csv: no column 'f3'"),
        ("label_shift", ["--label-column", "y"], "source.csv: no column 'y'"),
        ("label_shift", ["--source", "nope"], "unknown source 'nope'"),
        ("label_shift", ["--max-examples", "2"], "max_examples"),
    ],
)
def test_shift_bad_input_is_one_line_and_writes_nothing(feature_files, target, extra, message):
    cache = Path(__import__("os").environ["TRANSFERLAB_CACHE"])
    before = sorted(cache.rglob("*.npy")) if cache.exists() else []
    args = ["--source-data", feature_files["source"], "--target-data", feature_files[target]]
    result = invoke(*args, "--source", "identity", "--feature-columns", FEATURES, *extra)
    assert isinstance(result.exception, InputError), result.exception
    text = str(result.exception)
    assert message in text and "\n" not in text
    assert (sorted(cache.rglob("*.npy")) if cache.exists() else []) == before


def test_shift_text_data_with_a_feature_source_is_refused_before_loading(text_files):
    result = invoke("--source-data", text_files[0], "--target-data", text_files[1], "--source", "identity")
    assert isinstance(result.exception, InputError)
    assert "source 'identity' embeds features inputs but the data holds text examples" in str(result.exception)


def test_shift_bad_input_exit_code_in_a_subprocess(feature_files):
    args = ["shift", "--source-data", feature_files["source"], "--target-data", feature_files["empty"]]
    done = subprocess.run(
        [sys.executable, "-m", "transferlab.cli", *args, "--source", "identity", "--feature-columns", FEATURES],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("transferlab: error:") and "empty" in lines[0]
