"""Studies end to end on real data: outputs, resume after a kill, failed cells, bad input via the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from inprocess import cli
from transferlab.study import parse_spec, run_study
from transferlab.study.ledger import Ledger

FEATURES = ["f0", "f1", "f2", "f3"]


def feature_spec(csv: str, **changes) -> dict:
    spec = {
        "name": "features",
        "task": {"dataset": csv, "feature_columns": FEATURES, "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["linear-probe", "knn", "prototype"],
        "baselines": ["raw-logreg"],
        "budgets": [6, 12, 30],
        "seeds": 3,
    }
    return spec | changes


def process_cli(*args: str) -> subprocess.CompletedProcess:
    """A real ``transferlab`` process, for the few checks of its exit status and stderr as a shell sees them."""
    return subprocess.run([sys.executable, "-m", "transferlab.cli", *args], capture_output=True, text=True, timeout=600)


def test_feature_study_outputs(tmp_path, feature_csv):
    result = run_study(parse_spec(feature_spec(feature_csv)), tmp_path / "run", progress=False)
    assert (result.n_cells, result.ran, result.failed) == (36, 36, [])
    out = tmp_path / "run"
    for name in ("spec.yaml", "ledger.sqlite", "results.parquet", "summary.json", "report.html", "environment.json"):
        assert (out / name).is_file(), name
    results = pd.read_parquet(out / "results.parquet")
    assert set(results["metric"]) >= {"accuracy", "macro-f1", "nll", "ece", "cost.fit_seconds"}
    assert len(results[results.metric == "accuracy"]) == 36
    summary = json.loads((out / "summary.json").read_text())
    probe = [e for e in summary["entries"] if e["strategy"] == "linear-probe" and e["budget"] == 30][0]
    assert probe["lo"] <= probe["mean"] <= probe["hi"]
    assert set(probe["gains"]) == {"raw-logreg"}
    assert probe["gains"]["raw-logreg"]["verdict"] in ("positive", "negative", "inconclusive")
    html = (out / "report.html").read_text()
    assert (
        "<svg" in html
        and "Every comparison" in html
        and "The answer" in html
        and "http" not in html.split("<svg")[0].lower()
    )


def test_rerun_skips_finished_and_reruns_interrupted_cells(tmp_path, feature_csv):
    spec = parse_spec(feature_spec(feature_csv, budgets=[6], seeds=2))
    first = run_study(spec, tmp_path, progress=False)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    key = ledger.rows()[0]["key"]
    ledger.db.execute("UPDATE cells SET status='running' WHERE key=?", (key,))  # as a kill leaves it
    ledger.close()
    second = run_study(spec, tmp_path, progress=False)
    assert (first.ran, second.ran, second.skipped) == (8, 1, 7)
    attempts = {r["key"]: r["attempts"] for r in Ledger(tmp_path / "ledger.sqlite").rows()}
    assert attempts.pop(key) == 2 and set(attempts.values()) == {1}


def test_changed_spec_adds_cells_and_keeps_old_ones(tmp_path, feature_csv):
    run_study(parse_spec(feature_spec(feature_csv, budgets=[6], seeds=1)), tmp_path, progress=False)
    more = run_study(parse_spec(feature_spec(feature_csv, budgets=[6, 12], seeds=1)), tmp_path, progress=False)
    assert (more.ran, more.skipped) == (4, 4)


def test_failed_cell_is_recorded_and_others_go_on(tmp_path, feature_csv, monkeypatch):
    from transferlab.strategies.frozen import Prototype

    real_fit = Prototype.fit

    def fit_that_fails_at_budget_6(self, train, unlabeled=None, source=None):  # a fault no pre-flight can see
        if len(train) == 6:
            raise FloatingPointError("diverged")
        return real_fit(self, train, unlabeled, source)

    monkeypatch.setattr(Prototype, "fit", fit_that_fails_at_budget_6)
    spec = parse_spec(feature_spec(feature_csv, budgets=[6, 12], seeds=1))
    result = run_study(spec, tmp_path, progress=False)
    assert len(result.failed) == 1 and "FloatingPointError: diverged" in result.failed[0][1]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [(f["strategy"], f["budget"]) for f in summary["failed"]] == [("prototype", 6)]
    assert {(e["strategy"], e["budget"]) for e in summary["entries"]} >= {("prototype", 12), ("linear-probe", 6)}


def test_text_study_with_zero_shot(tmp_path, text_csv):
    spec = {
        "name": "text",
        "task": {"dataset": text_csv, "test_size": 0.4},
        "sources": ["minilm-l6"],
        "strategies": ["linear-probe", "zero-shot"],
        "baselines": ["tfidf-logreg"],
        "budgets": [6, 24],
        "seeds": 2,
    }
    run_study(parse_spec(spec), tmp_path, progress=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    zero = [e for e in summary["entries"] if e["strategy"] == "zero-shot"]
    assert [e["budget"] for e in zero] == [6, 24] and all(e["labels_used"] == 0 for e in zero)
    assert zero[0]["mean"] > 0.6  # business / politics / sports by name alone
    assert "tfidf-logreg" in zero[0]["gains"]


def test_kill_9_then_rerun_finishes_without_rerunning(tmp_path, feature_csv):
    spec_path = tmp_path / "study.yaml"
    spec_path.write_text(yaml.safe_dump(feature_spec(feature_csv, budgets=[6, 12, 18, 30], seeds=6)))
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "transferlab.cli", "run", str(spec_path), "--out", str(out), "--quiet"]
    )
    done_before = _wait_for_done(out / "ledger.sqlite", at_least=12, proc=proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = cli("run", str(spec_path), "--out", str(out), "--quiet")
    assert finished.returncode == 0, finished.stderr
    rows = Ledger(out / "ledger.sqlite").rows()
    assert len(rows) == 96 and {r["status"] for r in rows} == {"done"}
    assert all(r["attempts"] == 1 for r in rows if r["key"] in done_before)
    skipped = int(re.search(r"(\d+)\s+already\s+done", finished.stdout).group(1))
    assert len(done_before) <= skipped < 96  # the finished cells were skipped, the rest were run


def _wait_for_done(ledger: Path, at_least: int, proc: subprocess.Popen) -> set[str]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger.exists():
            try:
                with sqlite3.connect(ledger) as db:
                    keys = {k for (k,) in db.execute("SELECT key FROM cells WHERE status='done'")}
            except sqlite3.OperationalError:
                keys = set()
            if len(keys) >= at_least:
                return keys
        time.sleep(0.05)
    pytest.fail("the study finished or stalled before it could be killed")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sources": ["nope"]}, "unknown source 'nope'"),
        ({"budgets": [5000]}, "budget 5000 is larger than the training data"),
        ({"budget_unit": "per_class", "budgets": [50]}, "budget 50 per class needs 50"),
        ({"task": {"dataset": "x.csv"}}, "does not exist"),
        ({"task": {"dataset": "FEATURES", "feature_columns": ["f0", "nope"]}}, "no column 'nope'"),
        ({"strategies": [{"name": "knn", "kk": 2}]}, "strategy 'knn' has no parameter 'kk'"),
        ({"strategies": [{"name": "linear-probe", "C_grid": "big"}]}, "linear-probe: parameter 'C_grid' must be"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, feature_csv, changes, message):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    spec = feature_spec(feature_csv) | changes
    if spec["task"].get("dataset") == "FEATURES":
        spec["task"]["dataset"] = feature_csv
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    proc = cli("run", str(tmp_path / "s.yaml"), "--out", str(out))
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


TEXT_SPEC = {
    "name": "text",
    "task": {"dataset": "TEXT", "test_size": 0.4},
    "sources": ["minilm-l3"],
    "strategies": ["linear-probe"],
    "baselines": ["tfidf-logreg"],
    "budgets": [6],
    "seeds": 1,
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sources": ["tfidf"]}, "source 'tfidf' is fitted on the texts it embeds"),
        ({"sources": ["efficientnet-lite0"]}, "source 'efficientnet-lite0' embeds image inputs, but the task's"),
        ({"strategies": [{"name": "finetune", "lr": -1}]}, "finetune: parameter 'lr' must be a number > 0, got -1"),
        ({"strategies": [{"name": "lora", "target_modules": ["nope"]}]}, "lora: parameter 'target_modules' must be"),
        ({"sources": ["glove-50d"], "strategies": ["lp-ft"]}, "lp-ft: source 'glove-50d' cannot be fine-tuned"),
        ({"sources": ["glove-50d"], "baselines": ["scratch"]}, "scratch: source 'glove-50d' has no architecture"),
        ({"strategies": [{"name": "knn", "k": "ten"}]}, "knn: parameter 'k' must be an integer in [1, "),
        ({"strategies": [{"name": "zero-shot", "template": "news"}]}, "zero-shot: parameter 'template' must be"),
        ({"baselines": [{"name": "tfidf-logreg", "max_features": 0}]}, "tfidf-logreg: parameter 'max_features' must"),
    ],
)
def test_source_dependent_bad_input_stops_before_any_cell(tmp_path, text_csv, changes, message):
    out = tmp_path / "existing"
    out.mkdir()
    spec = TEXT_SPEC | {"task": {"dataset": text_csv, "test_size": 0.4}} | changes
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    proc = cli("run", str(tmp_path / "s.yaml"), "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not any(out.iterdir())


def test_unreadable_spec_and_missing_run_dir(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: [oops\n")
    proc = process_cli("run", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "not readable YAML" in proc.stderr and not (tmp_path / "o").exists()
    proc = process_cli("report", str(tmp_path))
    assert proc.returncode == 2 and "is not a run directory" in proc.stderr


def test_report_rebuilds_from_the_run_directory(tmp_path, feature_csv):
    run_study(parse_spec(feature_spec(feature_csv, budgets=[6], seeds=2)), tmp_path, progress=False)
    (tmp_path / "report.html").unlink()
    (tmp_path / "summary.json").unlink()
    proc = cli("report", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report.html").is_file() and json.loads((tmp_path / "summary.json").read_text())["entries"]


@pytest.mark.parametrize(
    ("command", "expected"), [("sources", "minilm-l6"), ("datasets", "bbc-news"), ("strategies", "zero-shot")]
)
def test_listing_commands(command, expected):
    proc = process_cli(command)
    assert proc.returncode == 0 and expected in proc.stdout


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="per-cell peak memory needs Linux /proc")
def test_peak_memory_is_per_cell_not_per_process():
    import numpy as np

    from transferlab.study.cell import peak_rss_mb, reset_peak_rss

    reset_peak_rss()
    baseline = peak_rss_mb()
    big = np.ones(40_000_000)  # 320 MB, touched
    assert peak_rss_mb() > baseline + 250
    del big
    reset_peak_rss()  # the next cell's window: the freed array no longer counts
    assert peak_rss_mb() < baseline + 100


def test_the_same_cells_give_byte_identical_answers(tmp_path, feature_csv):
    # fit times differ between two runs of the same cells; the answer and the advice must not
    spec = parse_spec(feature_spec(feature_csv, budgets=[6, 30], seeds=2))
    texts = []
    for run in ("a", "b"):
        run_study(spec, tmp_path / run, progress=False)
        summary = json.loads((tmp_path / run / "summary.json").read_text())
        texts.append(json.dumps([summary["decision"], summary["recommendations"], summary["label_equivalence"]]))
    assert texts[0] == texts[1]
    before = (tmp_path / "a" / "summary.json").read_bytes()
    cli("report", str(tmp_path / "a"))
    assert (tmp_path / "a" / "summary.json").read_bytes() == before


def test_run_prints_the_answer(tmp_path, feature_csv):
    spec_path = tmp_path / "study.yaml"
    spec_path.write_text(yaml.safe_dump(feature_spec(feature_csv, budgets=[6], seeds=1)))
    done = cli("run", str(spec_path), "--out", str(tmp_path / "run"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "The answer" in done.stdout and "At 6 labels:" in done.stdout


def test_a_run_with_nothing_left_reads_its_outputs_back(tmp_path, feature_csv, monkeypatch):
    from transferlab.study import outputs

    spec = parse_spec(feature_spec(feature_csv, budgets=[6], seeds=2))
    first = run_study(spec, tmp_path, progress=False)
    summary = (tmp_path / "summary.json").read_bytes()

    def no_cells(*args, **kwargs):
        raise AssertionError("an unchanged run loaded its cells again")

    with monkeypatch.context() as patch:  # nothing changed: no source built, no cell read, no analysis
        patch.setattr(outputs, "load_cells", no_cells)
        patch.setattr("transferlab.study.runner.build_sources", no_cells)
        again = run_study(spec, tmp_path, progress=False)
    assert again.answer == first.answer and (tmp_path / "summary.json").read_bytes() == summary
    (tmp_path / "report.html").unlink()  # an output went missing: computed and written again
    run_study(spec, tmp_path, progress=False)
    assert (tmp_path / "report.html").is_file() and (tmp_path / "summary.json").read_bytes() == summary


def test_a_finished_run_resumes_without_importing_torch(tmp_path, feature_csv):
    spec_path = tmp_path / "study.yaml"
    spec_path.write_text(yaml.safe_dump(feature_spec(feature_csv, budgets=[6], seeds=1)))
    assert cli("run", str(spec_path), "--out", str(tmp_path / "run"), "--quiet").returncode == 0
    probe = (
        "import sys\nfrom transferlab.cli import main\n"
        f"sys.argv = ['transferlab', 'run', {str(spec_path)!r}, '--out', {str(tmp_path / 'run')!r}, '--quiet']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "False", done.stdout + done.stderr
