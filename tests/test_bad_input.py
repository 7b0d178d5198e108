"""The bad-input corpus: every command, tried as a new user would, with broken specs, data and options.

The property, for every case: either the command runs (exit 0, or 1 when cells failed), or it
prints exactly one line on stderr (``transferlab: error: ...``, never a traceback), exits with
code 2, and writes nothing. Most cases call ``transferlab.cli.main`` in-process (a subprocess
would import torch again, seconds each); a few run the real console command. Hypothesis
generates specs and CSV files on top of the hand-written cases.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inprocess import cli

FEATURES = ["f0", "f1", "f2", "f3"]


def base_spec(dataset: str) -> dict:
    return {
        "name": "bad",
        "task": {"dataset": dataset, "feature_columns": FEATURES, "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["knn"],
        "budgets": [6],
        "seeds": 1,
    }


def invoke(args: list[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    done = cli(*args)
    return done.returncode, done.stdout, done.stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_one_line_exit_2(code: int, err: str, expected: str = "") -> None:
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}: {err[-2000:]}"
    assert len(lines) == 1 and lines[0].startswith("transferlab: error: "), err[-2000:]
    assert expected in lines[0], lines[0]


def assert_runs_or_refuses(code: int, err: str, out: Path) -> None:
    """The property: it ran, or one line, exit 2 and nothing written."""
    if code in (0, 1):
        assert (out / "summary.json").is_file()
        return
    assert_one_line_exit_2(code, err)
    assert not out.exists(), f"a refused run wrote {sorted(p.name for p in out.iterdir())}"


def write(path: Path, content: str | bytes) -> str:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


# ------------------------------------------------------------------ run: the spec
SPEC_CASES = [
    ({"sourcess": ["identity"]}, "unknown key 'sourcess'"),
    ({"seeds": [0, 0]}, "seed 0 is listed twice"),
    ({"seeds": [-1]}, "a list of seeds must hold integers >= 0"),
    ({"seeds": 0}, "seeds must be >= 1"),
    ({"seeds": []}, "a list of seeds must hold integers >= 0"),
    ({"task": "TASK|split_seed=-1"}, "task.split_seed: Input should be greater than or equal to 0"),
    ({"strategies": ["knn", "knn"]}, "'knn' is listed twice"),
    ({"strategies": ["knn"], "baselines": ["knn"]}, "'knn' is listed twice"),
    ({"sources": ["identity", "identity"]}, "sources: 'identity' is listed twice"),
    ({"budgets": [0]}, "budgets must be positive integers"),
    ({"budgets": []}, "budgets"),
    ({"budgets": [500]}, "budget 500 is larger than the training data"),
    ({"task": "TASK|test_size=1.5"}, "task.test_size"),
    ({"executor": "spark"}, "executor: Input should be 'local' or 'ray'"),
    ({"workers": 0}, "workers: Input should be greater than or equal to 1"),
    ({"cell_timeout": -5}, "cell_timeout: Input should be greater than 0"),
    ({"max_retries": -1}, "max_retries: Input should be greater than or equal to 0"),
    ({"name": "my study"}, "name: String should match pattern"),
    ({"name": None}, "name"),
    ({"primary_metric": "f1"}, "primary_metric"),
    ({"confidence": 1.5}, "confidence"),
    ({"transferability": ["nope"]}, "unknown transferability score 'nope'"),
    ({"strategies": [{"name": "knn", "kk": 3}]}, "strategy 'knn' has no parameter 'kk'"),
    ({"strategies": ["nope"]}, "unknown strategy 'nope'"),
    ({"task": "TASK|feature_columns=['f0', 'zz']"}, "no column 'zz'"),
    ({"task": "TASK|label_column=nope"}, "no column 'nope'"),
]


def spec_with(feature_csv: str, change: dict) -> dict:
    spec = base_spec(feature_csv)
    for key, value in change.items():
        if isinstance(value, str) and value.startswith("TASK|"):
            field, _, raw = value[5:].partition("=")
            spec["task"][field] = yaml.safe_load(raw)
        elif value is None:
            spec.pop(key)
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize(("change", "expected"), SPEC_CASES, ids=[str(c[0])[:40] for c in SPEC_CASES])
def test_bad_spec(tmp_path, feature_csv, change, expected):
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(yaml.safe_dump(spec_with(feature_csv, change)))
    code, _, err = invoke(["run", str(spec_path), "-o", str(tmp_path / "out")])
    assert_one_line_exit_2(code, err, expected)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ run: the data
HEADER = "f0,f1,f2,f3,label\n"
ROWS = "".join(f"{i % 7},{i % 5},{i % 3},{i % 2},{'abc'[i % 3]}\n" for i in range(60))
DATA_CASES = [
    ("extra-first.csv", HEADER + "1,2,3,4,a,extra\n" + ROWS, "line 2 has 6 fields but the header has 5"),
    ("extra-later.csv", HEADER + ROWS + "1,2,3,4,a,extra\n", "line 62 has 6 fields but the header has 5"),
    ("semicolon.csv", (HEADER + ROWS).replace(",", ";"), "the file looks separated by ';', not ','"),
    ("tabs.csv", (HEADER + ROWS).replace(",", "\t"), "looks separated by '\\t', not ','; name it .tsv"),
    ("latin1.csv", (HEADER + ROWS.replace("a\n", "\xe9\n", 1)).encode("latin-1"), "is not UTF-8 text"),
    ("empty.csv", b"", "is empty"),
    ("header-only.csv", HEADER, "is empty"),
    ("one-class.csv", HEADER + "".join(f"{i},1,2,3,a\n" for i in range(20)), "at least 2 classes, found only 'a'"),
    ("text-features.csv", HEADER + ROWS.replace("0,", "x,", 3), "feature columns must be numeric"),
    ("nan.csv", HEADER + ROWS + "inf,1,2,3,a\n", "have NaN or infinite features"),
    ("data.xlsx", b"PK\x03\x04", "unknown extension"),
    ("missing.npz", None, "does not exist"),
    ("pickled.npz", "PICKLE", "not a .npz of plain arrays"),
    ("nothing.csv", None, "does not exist"),
]


@pytest.mark.parametrize(("name", "content", "expected"), DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data(tmp_path, name, content, expected):
    data = tmp_path / name
    if content == "PICKLE":
        np.savez(data, X=np.array([{"a": 1}] * 4, dtype=object), y=np.arange(4))
    elif content is not None:
        write(data, content)
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(yaml.safe_dump(base_spec(str(data))))
    code, _, err = invoke(["run", str(spec_path), "-o", str(tmp_path / "out")])
    assert_one_line_exit_2(code, err, expected)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("- a list\n- not a mapping\n", "expected a mapping of keys"),
        ("name: [oops\n", "not readable YAML"),
        (None, "does not exist"),
    ],
)
def test_bad_spec_file(tmp_path, content, expected):
    spec_path = tmp_path / "s.yaml"
    if content is not None:
        spec_path.write_text(content)
    code, _, err = invoke(["run", str(spec_path), "-o", str(tmp_path / "out")])
    assert_one_line_exit_2(code, err, expected)


# ------------------------------------------------------------------ run: options and the out folder
OPTION_CASES = [
    (["--executor", "bogus"], "executor: Input should be 'local' or 'ray'"),
    (["--workers", "0"], "workers: Input should be greater than or equal to 1"),
    (["--workers", "two"], "Invalid value for '--workers'"),
    (["--cell-timeout", "-1"], "cell_timeout: Input should be greater than 0"),
    (["--address", "10.0.0.1:6379"], "--address names a Ray cluster; add --executor ray"),
    (["--executor", "ray", "--address", "127.0.0.1:1"], "cannot reach the Ray cluster at '127.0.0.1:1'"),
    (["--executor", "ray", "--address", "head-node"], "expected HOST:PORT of a Ray cluster's head"),
    (["--executr", "ray"], "No such option: --executr"),
]


@pytest.mark.parametrize(("options", "expected"), OPTION_CASES, ids=[" ".join(c[0]) for c in OPTION_CASES])
def test_bad_run_option(tmp_path, feature_csv, options, expected):
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(yaml.safe_dump(base_spec(feature_csv)))
    code, _, err = invoke(["run", str(spec_path), "-o", str(tmp_path / "out"), *options])
    assert_one_line_exit_2(code, err, expected)
    assert not (tmp_path / "out").exists()


def test_out_is_a_file(tmp_path, feature_csv):
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(yaml.safe_dump(base_spec(feature_csv)))
    code, _, err = invoke(["run", str(spec_path), "-o", write(tmp_path / "f", "x")])
    assert_one_line_exit_2(code, err, "is a file; give a directory")


# ------------------------------------------------------------------ usage, report, status
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["rnu"], "No such command 'rnu'. Did you mean 'run'?"),
        (["run"], "Missing argument 'spec'"),
        (["stauts", "x"], "No such command 'stauts'"),
        (["report"], "Missing argument 'run_dir'"),
        (["rank", "--dataset", "bbc-news"], "Missing option '--sources'"),
    ],
)
def test_usage_errors_are_one_line(args, expected):
    code, _, err = invoke(args)
    assert_one_line_exit_2(code, err, expected)


@pytest.mark.parametrize("command", ["report", "status"])
@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p, "is not a run directory"),  # an empty folder
        (lambda p: p / "missing", "is not a run directory"),
        (lambda p: Path(write(p / "file.txt", "x")), "is not a run directory"),
        (lambda p: (write(p / "ledger.sqlite", b"garbage" * 100), write(p / "spec.yaml", "name: x"), p)[2], ""),
    ],
    ids=["empty", "missing", "file", "garbage-ledger"],
)
def test_report_and_status_on_what_is_not_a_run(tmp_path, command, make, expected):
    target = make(tmp_path)
    before = snapshot(tmp_path)
    code, _, err = invoke([command, str(target)])
    assert_one_line_exit_2(code, err, expected)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ rank and shift
def test_bad_rank_and_shift_inputs(tmp_path, feature_csv):
    semicolon = write(tmp_path / "semi.csv", "text;label\nhello;a\nworld;b\n")
    latin = write(tmp_path / "latin.csv", "text,label\nh\xe9llo,a\nworld,b\n".encode("latin-1"))
    columns = ["--feature-columns", "f0,f1,f2,f3"]
    cases = [
        (["rank", "--dataset", "missing.csv", "--sources", "glove-50d"], "does not exist"),
        (["rank", "--dataset", semicolon, "--sources", "glove-50d"], "looks separated by ';'"),
        (["rank", "--dataset", latin, "--sources", "glove-50d"], "is not UTF-8 text"),
        (["rank", "--dataset", "bbc-news", "--sources", "nope"], "unknown source 'nope'"),
        (["rank", "--dataset", "bbc-news", "--sources", "glove-50d", "--max-examples", "1"], "at least 2"),
        (
            ["rank", "--dataset", "bbc-news", "--sources", "glove-50d", "--out", str(tmp_path / "no" / "r.json")],
            "--out",
        ),
        (["rank", "--dataset", "bbc-news", "--sources", "glove-50d", "--validate", str(tmp_path)], ""),
        (["shift", "--source-data", "missing.csv", "--target-data", feature_csv], "does not exist"),
        (["shift", "--source-data", semicolon, "--target-data", semicolon], "looks separated by ';'"),
        (
            ["shift", "--source-data", feature_csv, "--target-data", feature_csv, *columns, "--source", "nope"],
            "unknown",
        ),
        (["shift", "--source-data", feature_csv, "--target-data", feature_csv, "--alpha", "2"], "alpha"),
        (["shift", "--source-data", feature_csv, "--target-data", feature_csv, "--max-examples", "1"], ""),
    ]
    before = snapshot(tmp_path)
    for args, expected in cases:  # one at a time: the first failure names its command
        code, _, err = invoke(args)
        assert_one_line_exit_2(code, err, expected)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ a few real processes
@pytest.mark.parametrize(
    ("args", "expected"),
    [(["rnu"], "Did you mean 'run'?"), (["run", "spec.yaml", "--executr", "ray"], "No such option: --executr")],
)
def test_usage_errors_in_a_real_process(args, expected):
    command = Path(sys.executable).parent / "transferlab"  # the console script, as a user runs it
    proc = subprocess.run([str(command), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and expected in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------ generated specs and CSVs
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 700) | st.floats(-2, 2, allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)
SPEC_KEYS = ["name", "sources", "strategies", "baselines", "budgets", "seeds", "workers", "executor", "bogus"]
CHOICES = {  # mostly plausible values, so that a good share of the generated specs really run
    "name": st.sampled_from(["ok", "a b", "", "x.y-z", "-x"]) | VALUES,
    "sources": st.sampled_from([["identity"], ["nope"], [], "identity", [{"name": "identity"}]]),
    "strategies": st.sampled_from([["knn"], ["knn", "knn"], ["prototype", "knn"], [{"name": "knn", "k": 0}], []]),
    "baselines": st.sampled_from([[], ["raw-logreg"], ["tfidf-logreg"], ["knn"]]),
    "budgets": st.lists(st.integers(-2, 80), max_size=3),
    "seeds": st.one_of(st.integers(-1, 2), st.lists(st.integers(-1, 2), max_size=3)),
    "workers": st.integers(0, 2),
    "executor": st.sampled_from(["local", "spark", ""]),
}


@st.composite
def specs(draw, dataset: str) -> dict:
    spec = base_spec(dataset)
    for key in draw(st.lists(st.sampled_from(SPEC_KEYS), max_size=3, unique=True)):
        spec[key] = draw(CHOICES.get(key, VALUES))
    if draw(st.booleans()):
        field = draw(st.sampled_from(["test_size", "split_seed", "label_column", "max_examples"]))
        spec["task"][field] = draw(st.sampled_from([0.3, 0, -1, 40, "label", None]) | VALUES)
    return spec


SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@SETTINGS
@given(data=st.data())
def test_generated_specs_run_or_fail_in_one_line(feature_csv, data):
    spec = data.draw(specs(feature_csv))
    with tempfile.TemporaryDirectory() as folder:
        spec_path = Path(folder) / "s.yaml"
        spec_path.write_text(yaml.safe_dump(spec))
        out = Path(folder) / "out"
        code, _, err = invoke(["run", str(spec_path), "-o", str(out), "--quiet"])
        assert_runs_or_refuses(code, err, out)


NUMBER = st.floats(-5, 5, width=32).map(lambda x: f"{x:.3g}")
ODD = st.sampled_from(["", "nan", "inf", "x,y", '"q', ";", "\t", "é", "1e400"])
LABEL = st.sampled_from(["a", "b", "c"]) | st.sampled_from(["", "a,b", "é", '"'])
ROW = st.one_of(  # mostly well-formed rows, some with an odd cell, a missing label or an extra field
    st.tuples(NUMBER, NUMBER, NUMBER, LABEL).map(list),
    st.tuples(NUMBER | ODD, NUMBER | ODD, NUMBER, LABEL).map(list),
    st.lists(NUMBER | ODD, min_size=2, max_size=6),
)


@SETTINGS
@given(
    rows=st.lists(ROW, min_size=0, max_size=40),
    separator=st.sampled_from([",", ",", ",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8", "latin-1"]),
)
def test_generated_csv_files_run_or_fail_in_one_line(rows, separator, encoding):
    with tempfile.TemporaryDirectory() as folder:
        lines = [separator.join(["f0", "f1", "f2", "label"])] + [separator.join(r) for r in rows]
        data = Path(folder) / "d.csv"
        data.write_bytes(("\n".join(lines) + "\n").encode(encoding, errors="replace"))
        spec = base_spec(str(data)) | {"budgets": [3]}
        spec["task"]["feature_columns"] = ["f0", "f1", "f2"]
        spec_path = Path(folder) / "s.yaml"
        spec_path.write_text(yaml.safe_dump(spec))
        out = Path(folder) / "out"
        code, _, err = invoke(["run", str(spec_path), "-o", str(out), "--quiet"])
        assert_runs_or_refuses(code, err, out)


def test_a_generated_valid_csv_does_run(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(30, 3)), columns=["f0", "f1", "f2"]).assign(label=list("abc") * 10)
    frame.to_csv(tmp_path / "d.csv", index=False)
    spec = base_spec(str(tmp_path / "d.csv")) | {"budgets": [3]}
    spec["task"]["feature_columns"] = ["f0", "f1", "f2"]
    (tmp_path / "s.yaml").write_text(json.dumps(spec))
    code, _, err = invoke(["run", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out"), "--quiet"])
    assert code == 0, err
    shutil.rmtree(tmp_path / "out")
