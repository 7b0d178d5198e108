"""``transferlab monitor``: the exported arm, the estimators, the alarm rate, the history, the CLI, bad input.

A small feature study (``identity`` source, three Gaussian classes) stands in where a model is not
the point; one test runs the real minilm-l3 on BBC articles and Slovenian comments. Rates the
code claims (the alarm level, interval coverage) are checked by simulation with a 99.9 %
binomial tolerance, as in ``test_shift.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from transferlab.cli import app
from transferlab.errors import InputError
from transferlab.monitor import check_batch, check_batches, init_monitor, label_batch, load_profile, monitor_report
from transferlab.monitor.alarms import is_alert, per_batch_level
from transferlab.monitor.batch_tests import shift_tests
from transferlab.monitor.estimate import atc_threshold, estimate_accuracy
from transferlab.study import parse_spec, run_study
from transferlab.study.export_arm import export_arm, save_arm
from transferlab.study.heads import Head, head_from_strategy

FEATURES = ["f0", "f1", "f2", "f3"]
CENTRES = {"a": 0.0, "b": 1.5, "c": 3.0}


def feature_frame(rng: np.random.Generator, n: int, shift: float = 0.0, labelled: bool = True) -> pd.DataFrame:
    labels = rng.choice(list(CENTRES), size=n)
    X = np.stack([rng.normal(CENTRES[y], 1.0, 4) for y in labels])
    X[:, 1] += shift
    frame = pd.DataFrame(X, columns=FEATURES)
    return frame.assign(label=labels) if labelled else frame


def binomial_upper(n: int, rate: float) -> float:
    return stats.binom.interval(0.999, n, rate)[1] / n


@pytest.fixture(scope="module")
def feature_run(tmp_path_factory) -> Path:
    """A finished feature study: linear probe, kNN and prototype on 30 labels, 150 test rows."""
    folder = tmp_path_factory.mktemp("monitor-study")
    feature_frame(np.random.default_rng(0), 300).to_csv(folder / "data.csv", index=False)
    spec = {
        "name": "features",
        "task": {"dataset": str(folder / "data.csv"), "feature_columns": FEATURES, "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["linear-probe", "knn", "prototype"],
        "budgets": [30],
        "seeds": 1,
    }
    run_study(parse_spec(spec), folder / "run", progress=False)
    return folder / "run"


@pytest.fixture()
def monitor(feature_run, tmp_path) -> Path:
    init_monitor(feature_run, "identity/linear-probe/30", tmp_path / "monitor", batch_size=20, calibration_batches=5)
    return tmp_path / "monitor"


def write_batches(folder: Path, shifts: list[float], seed: int = 1, labelled: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, shift in enumerate(shifts):
        feature_frame(rng, 40, shift, labelled).to_csv(folder / f"batch-{i:02d}.csv", index=False)
    return folder


# ---------------------------------------------------------------- the exported arm


@pytest.mark.parametrize("strategy", ["linear-probe", "knn", "prototype"])
def test_refit_and_saved_head_reproduce_the_stored_cell_predictions(feature_run, tmp_path, strategy):
    export = export_arm(feature_run, f"identity/{strategy}/30")
    assert export.max_difference < 1e-5
    save_arm(export, tmp_path)
    loaded = Head.load(tmp_path)  # from safetensors + JSON alone
    np.testing.assert_allclose(loaded.predict_proba(export.test_features), export.test_proba, atol=1e-5)
    assert json.loads((tmp_path / "arm.json").read_text())["cell_key"] == export.cell.key


def test_export_refuses_an_unknown_arm_and_an_arm_that_trains_its_backbone(feature_run):
    with pytest.raises(InputError, match="not an arm of this study; its arms: identity/knn/30"):
        export_arm(feature_run, "identity/linear-probe/999")
    with pytest.raises(InputError, match="expected <source>/<strategy>/<budget>"):
        export_arm(feature_run, "identity-linear-probe")
    with pytest.raises(InputError, match="'finetune' cannot be exported for monitoring; supported: linear-probe"):
        head_from_strategy("finetune", None)


# ---------------------------------------------------------------- estimators


def calibrated(rng: np.random.Generator, n: int, sharpness: float) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of 3 classes and whether the top class was right, drawn so the model is calibrated."""
    proba = rng.dirichlet(np.full(3, 1.0 / sharpness), size=n)
    correct = rng.random(n) < proba.max(axis=1)
    return proba, correct


@pytest.mark.parametrize("sharpness", [1.0, 3.0])
def test_estimators_recover_the_accuracy_of_a_calibrated_model(sharpness):
    """AC and DoC are exact for a model calibrated on the batch, whatever its confidence; ATC when nothing moved."""
    rng = np.random.default_rng(0)
    ref_p, ref_correct = calibrated(rng, 4000, 1.0)
    batch_p, _ = calibrated(rng, 4000, sharpness)  # sharper: accuracy E[max p] is higher
    truth = float(batch_p.max(axis=1).mean())
    exact = ("confidence", "doc", "atc") if sharpness == 1.0 else ("confidence", "doc")
    for e in estimate_accuracy(ref_p, ref_correct, batch_p, n_boot=200):
        assert e.lo <= e.accuracy <= e.hi
        if e.method in exact:
            assert abs(e.accuracy - truth) < 0.03, (e.method, e.accuracy, truth)


def test_atc_threshold_leaves_the_reference_accuracy_above_it():
    scores = np.linspace(-1.0, 0.0, 101)
    correct = np.arange(101) >= 30  # accuracy 71/101
    t = atc_threshold(scores, correct)
    assert np.mean(scores > t) == pytest.approx(71 / 101)
    assert atc_threshold(scores, np.ones(101, bool)) == -np.inf


def test_importance_weighted_estimate_follows_a_covariate_shift():
    rng = np.random.default_rng(1)
    X_ref, X_batch = rng.normal(0.0, 1.0, (1500, 2)), rng.normal([1.0, 0.0], 1.0, (1500, 2))
    right = 1.0 / (1.0 + np.exp(-2.0 * X_ref[:, 0]))  # p(correct | x) rises with x0
    correct = rng.random(1500) < right
    truth = float(np.mean(1.0 / (1.0 + np.exp(-2.0 * X_batch[:, 0]))))
    proba = np.tile([0.5, 0.5], (1500, 1))
    iw = estimate_accuracy(proba, correct, proba, X_ref, X_batch, n_boot=50)[-1]
    assert iw.method == "iw" and abs(iw.accuracy - truth) < 0.05 and iw.effective_sample_size < 1500
    assert abs(float(correct.mean()) - truth) > 0.15  # unweighted, the reference would be far off


@pytest.mark.parametrize("method", ["atc", "doc"])
def test_bootstrap_intervals_cover_the_accuracy_without_shift(method):
    """Calibrated model, no shift: the interval should cover the expected accuracy about 95 % of the time."""
    rng, covered, n_sims = np.random.default_rng(2), 0, 300
    truth = 11 / 18  # E[max of Dirichlet(1, 1, 1)] = (1 + 1/2 + 1/3) / 3
    for _ in range(n_sims):
        ref_p, ref_correct = calibrated(rng, 200, 1.0)
        batch_p, _ = calibrated(rng, 100, 1.0)
        e = next(e for e in estimate_accuracy(ref_p, ref_correct, batch_p, n_boot=200) if e.method == method)
        covered += e.lo <= truth <= e.hi
    low, _ = stats.binom.interval(0.999, n_sims, 0.95)
    assert covered >= low - 0.02 * n_sims, covered  # bootstrap percentile intervals run slightly short


# ---------------------------------------------------------------- alarms


def test_false_alarm_rate_on_unshifted_batches_stays_at_the_level():
    rng, level, n_batches = np.random.default_rng(3), 0.05, 150
    ref = feature_frame(rng, 120)
    X_ref, y_ref = ref[FEATURES].to_numpy(), pd.factorize(ref.label, sort=True)[0]
    centres = np.array([[c] * 4 for c in CENTRES.values()])

    def proba(X: np.ndarray) -> np.ndarray:  # a fixed classifier: softmax of minus the distance to each centre
        d = -((X[:, None, :] - centres[None]) ** 2).sum(-1)
        e = np.exp(d - d.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    alarms = 0
    for i in range(n_batches):
        X = feature_frame(rng, 30)[FEATURES].to_numpy()
        block = shift_tests(X_ref, y_ref, proba(X_ref), X, proba(X), None, ["a", "b", "c"], level, 99, 100, i)
        alarms += is_alert(block)
    assert alarms / n_batches <= binomial_upper(n_batches, level)


def test_permutations_are_enough_for_the_mmd_to_reach_the_bonferroni_threshold():
    from transferlab.monitor.batch_tests import MAX_PERMUTATIONS, N_TESTS, permutations_for

    for level in (0.05, 0.01, 0.002):
        assert 1.0 / (permutations_for(level, 300) + 1) <= level / N_TESTS / 5
    assert permutations_for(1e-6, 300) == MAX_PERMUTATIONS and permutations_for(0.05, 5000) == 5000


def test_per_batch_level_spends_the_rate_over_planned_batches():
    assert per_batch_level(0.01) == 0.01
    assert per_batch_level(0.05, planned_batches=50) == pytest.approx(0.001)
    with pytest.raises(InputError, match="false_alarm_rate"):
        per_batch_level(0.7)


def test_init_records_the_calibration_and_a_shift_alerts(monitor, tmp_path):
    profile = load_profile(monitor)
    calibration = profile.header["calibration"]
    assert calibration["n_batches"] == 5 and 0.0 <= calibration["lo"] <= calibration["hi"] <= 1.0
    results = check_batches(monitor, write_batches(tmp_path / "traffic", [0.0, 3.0]))
    assert [r["alert"] for r in results] == [False, True]
    assert results[1]["diagnosis"]["kind"] in ("covariate", "covariate+label", "undetermined")
    readapt = next(r for r in results[1]["remedies"] if r["action"].startswith("re-adapt"))
    spec = parse_spec(yaml.safe_load(Path(readapt["spec_file"]).read_text()))  # the command's spec is valid
    assert spec.task.target_dataset == results[1]["path"] and "coral" in [a.name for a in spec.strategies]


# ---------------------------------------------------------------- history


def test_a_failure_mid_check_leaves_no_row(monitor, tmp_path, monkeypatch):
    import transferlab.monitor.check as check

    def broken(*args, **kwargs):
        raise RuntimeError("killed mid-check")

    monkeypatch.setattr(check, "estimate_accuracy", broken)
    with pytest.raises(RuntimeError, match="killed"):
        check_batches(monitor, write_batches(tmp_path / "traffic", [0.0]))
    import sqlite3

    with sqlite3.connect(monitor / "history.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM batches").fetchone()[0] == 0


def test_labels_later_record_the_measured_accuracy_and_each_error(monitor, tmp_path):
    rng = np.random.default_rng(5)
    frame = feature_frame(rng, 40)
    result = check_batch(monitor, frame.drop(columns="label"), batch_id="served")
    assert result["measured"] is None
    frame[["label"]].to_csv(tmp_path / "labels.csv", index=False)
    labelled = label_batch(monitor, "served", tmp_path / "labels.csv")
    assert 0.5 < labelled["measured"]["accuracy"] <= 1.0 and set(labelled["errors"]) == {
        "confidence",
        "atc",
        "doc",
        "iw",
    }
    import sqlite3

    with sqlite3.connect(monitor / "history.sqlite") as db:
        row = db.execute("SELECT measured_accuracy, error_atc FROM estimate_errors WHERE batch_id='served'").fetchone()
    assert row[0] == pytest.approx(labelled["measured"]["accuracy"]) and row[1] == pytest.approx(
        labelled["errors"]["atc"]
    )


# ---------------------------------------------------------------- CLI and bad input


def invoke(*args: str):
    return CliRunner().invoke(app, ["monitor", *args], standalone_mode=False)


def test_cli_init_check_label_report(feature_run, tmp_path):
    folder = tmp_path / "m"
    result = invoke("init", "--run", str(feature_run), "--arm", "identity/knn/30", "--out", str(folder),
                    "--batch-size", "20", "--calibration-batches", "3")  # fmt: skip
    assert result.exception is None, result.exception
    assert (
        "calibration: " in result.output and "alarms: each batch is checked at false-alarm rate 0.01" in result.output
    )
    traffic = write_batches(tmp_path / "traffic", [0.0, 0.0], labelled=True)
    result = invoke("check", str(folder), "--batch", str(traffic), "--json")
    assert result.exception is None, result.exception
    payload = json.loads(result.output)
    assert [r["batch_id"] for r in payload] == ["batch-00", "batch-01"] and payload[0]["measured"]["n"] == 40
    assert {e["method"] for e in payload[0]["estimates"]} == {"confidence", "atc", "doc", "iw"}
    pd.read_csv(traffic / "batch-00.csv")[["label"]].to_csv(tmp_path / "labels.csv", index=False)
    result = invoke("label", str(folder), "--batch-id", "batch-00", "--labels", str(tmp_path / "labels.csv"))
    assert result.exception is None and "measured accuracy" in result.output
    result = invoke("report", str(folder))
    assert result.exception is None
    html = (folder / "report.html").read_text()
    assert "<svg" in html and "batch-01" in html and "What the numbers can and cannot promise" in html


def test_bad_batches_are_one_line_and_write_nothing(monitor, tmp_path):
    rng = np.random.default_rng(6)
    good = feature_frame(rng, 30, labelled=False)
    cases = {
        "extra": (good.assign(extra=1.0), "other columns than the reference"),
        "one": (good.iloc[:1], "has 1 example"),
        "unknown": (good.assign(label="z"), "not classes of the arm"),
    }
    for name, (frame, message) in cases.items():
        folder = write_batches(tmp_path / name, [0.0])
        frame.to_csv(folder / "batch-99.csv", index=False)
        with pytest.raises(InputError, match=message):
            check_batches(monitor, folder)  # the good first file is not recorded either
    (tmp_path / "empty.csv").write_text("f0,f1,f2,f3\n")
    with pytest.raises(InputError, match="is empty"):
        check_batches(monitor, tmp_path / "empty.csv")
    assert monitor_report(monitor).is_file() and "No batch checked yet" in (monitor / "report.html").read_text()


def test_not_a_profile_and_a_corrupted_profile(monitor, tmp_path):
    with pytest.raises(InputError, match="is not a monitor folder"):
        load_profile(tmp_path)
    data = bytearray((monitor / "reference.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (monitor / "reference.safetensors").write_bytes(bytes(data))
    with pytest.raises(InputError, match="damaged: reference.safetensors does not match its checksum"):
        load_profile(monitor)
    (monitor / "monitor.json").write_text("{not json")
    with pytest.raises(InputError, match="damaged: monitor.json is not readable JSON"):
        load_profile(monitor)


def test_exit_code_2_and_one_line_in_a_real_process(tmp_path):
    (tmp_path / "b.csv").write_text("f0\n1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "transferlab.cli",
            "monitor",
            "check",
            str(tmp_path),
            "--batch",
            str(tmp_path / "b.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "is not a monitor folder" in proc.stderr


# ---------------------------------------------------------------- a real text model


def test_minilm_l3_monitor_flags_slovenian_traffic(text_csv, tmp_path):
    spec = {
        "name": "bbc-small",
        "task": {"dataset": text_csv, "text_column": "text", "test_size": 0.5},
        "sources": ["minilm-l3"],
        "strategies": ["linear-probe"],
        "budgets": [30],
        "seeds": 1,
    }
    run_study(parse_spec(spec), tmp_path / "run", progress=False)
    init_monitor(tmp_path / "run", "minilm-l3/linear-probe/30", tmp_path / "m", calibration_batches=0)
    from transferlab.data import load_task

    slovenian = load_task("slo-opinion")
    texts = [t[:300] for t in slovenian.inputs[:20]]
    result = check_batch(tmp_path / "m", pd.DataFrame({"text": texts}), batch_id="sl")
    assert result["alert"] and result["tests"]["c2st"]["auc"] > 0.8
    assert all(0.0 <= e["lo"] <= e["accuracy"] <= e["hi"] <= 1.0 for e in result["estimates"])
