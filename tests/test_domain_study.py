"""Domain studies end to end: the split, the target-label guard, target budgets, the three blocks, bad input.

The data: a 3-class feature task in two domains, ``books`` and ``kitchen``; the kitchen features
are scaled and moved (a covariate shift with the same class mix), so the shift tests must fire
and CORAL has something to correct. The ``identity`` source keeps a whole study to seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from transferlab.cli import app
from transferlab.data.shifted import ANGLES, load_digits_rotation, upsample
from transferlab.errors import InputError
from transferlab.strategies import STRATEGIES, Examples, create_strategy, register_strategy
from transferlab.strategies.frozen import LinearProbe
from transferlab.strategies.target_guard import TargetLabelsHiddenError, UnlabelledTarget
from transferlab.study import parse_spec, run_study
from transferlab.study.cell import CellContext, load_split
from transferlab.study.domain_cell import domain_inputs
from transferlab.study.planner import plan_cells
from transferlab.study.spec import TaskSpec

FEATURES = ["f0", "f1", "f2", "f3"]


@pytest.fixture(scope="module")
def domain_csv(tmp_path_factory) -> str:
    """120 rows per domain (40 per class); kitchen = books features x 1.5, moved."""
    rng = np.random.default_rng(0)
    frames = []
    for domain, scale, offset in (("books", 1.0, 0.0), ("kitchen", 1.5, np.array([2.0, -1.0, 0.5, 1.0]))):
        labels = np.repeat(["a", "b", "c"], 40)
        centres = {"a": 0.0, "b": 1.5, "c": 3.0}
        X = np.stack([rng.normal(centres[y], 1.0, 4) for y in labels]) * scale + offset
        frames.append(pd.DataFrame(X, columns=FEATURES).assign(label=labels, domain=domain))
    path = tmp_path_factory.mktemp("domains") / "reviews.csv"
    pd.concat(frames).to_csv(path, index=False)
    return str(path)


def domain_spec(csv: str, **changes) -> dict:
    task = {
        "dataset": csv,
        "feature_columns": FEATURES,
        "domain_column": "domain",
        "source_domains": ["books"],
        "target_domains": ["kitchen"],
    }
    spec = {
        "name": "domains",
        "task": task | changes.pop("task", {}),
        "sources": ["identity"],
        "strategies": ["source-only", "coral", "self-training"],
        "baselines": ["target-only"],
        "budgets": [9],
        "target_budgets": [0, 6],
        "seeds": 2,
    }
    return spec | changes


def test_the_split_keeps_source_and_target_apart(domain_csv):
    split = load_split(parse_spec(domain_spec(domain_csv)).task)
    assert split.is_domain and not split.transductive
    assert set(split.train.domains) == set(split.source_val.domains) == {"books"}
    assert set(split.unlabeled.domains) == set(split.test.domains) == {"kitchen"}
    # source: 70 / 30 (test_size 0.3); target: 50 / 50 (target_test_size 0.5); all stratified
    assert (len(split.train), len(split.source_val), len(split.unlabeled), len(split.test)) == (84, 36, 60, 60)
    assert np.bincount(split.test.labels).tolist() == [20, 20, 20]
    rows = [set(map(tuple, np.asarray(p.inputs).round(6))) for p in split.parts()]
    assert sum(len(r) for r in rows) == len(set().union(*rows)) == 240  # no example in two parts


def test_target_budgets_are_nested_labelled_target_rows_and_leave_the_pool(domain_csv):
    spec = parse_spec(domain_spec(domain_csv, target_budgets=[0, 6, 12]))
    context = CellContext(spec)
    split = context.task()
    cells, _ = plan_cells(spec, "fp", "features")
    probe = {c.target_budget: c for c in cells if c.strategy.name == "coral" and c.seed == 0}
    assert probe[6].arm_label == "coral +6 target" and "target_budget" not in probe[0].payload
    found = {}
    for t, cell in probe.items():
        train, unlabeled, test = domain_inputs(cell, context, "features", np.arange(9), adapts=True)
        target_rows = np.asarray(train.inputs)[train.domains == "target"]
        assert len(target_rows) == t and len(unlabeled) == len(split.unlabeled) - t
        assert np.asarray(test).shape == (len(split.test), 4)
        found[t] = {tuple(r) for r in target_rows.round(6)}
        assert not found[t] & {tuple(r) for r in np.asarray(unlabeled.inputs).round(6)}  # labelled rows left the pool
    assert found[6] <= found[12]


def test_transductive_adapts_to_the_test_inputs_on_the_same_test_set(domain_csv):
    inductive = parse_spec(domain_spec(domain_csv))
    transductive = parse_spec(domain_spec(domain_csv, task={"transductive": True}))
    context = CellContext(transductive)
    cell = next(c for c in plan_cells(transductive, "fp", "features")[0] if c.strategy.name == "coral")
    _, unlabeled, test = domain_inputs(cell, context, "features", np.arange(9), adapts=True)
    assert np.array_equal(np.asarray(unlabeled.inputs), np.asarray(test))
    assert np.array_equal(load_split(inductive.task).test.labels, context.task().test.labels)
    keys = [plan_cells(s, "fp", "features")[0][0].key for s in (inductive, transductive)]
    assert keys[0] != keys[1]


def test_the_domain_keys_stay_out_of_a_plain_tasks_cell_keys():
    plain = TaskSpec(dataset="x.csv", domain_column="domain")
    assert not {"source_domains", "target_domains", "target_dataset", "transductive"} & set(plain.model_dump())


def test_the_guard_hides_target_labels_from_fit():
    pool = UnlabelledTarget(np.zeros((5, 2)), ("a", "b"))
    assert len(pool) == 5 and pool.classes == ("a", "b")
    with pytest.raises(TargetLabelsHiddenError, match="target labels are not available to fit"):
        _ = pool.labels
    assert "labels" not in pool.__dict__


class PeekingProbe(LinearProbe):
    """A strategy that tries to train on the target pool's labels: its cells must fail."""

    uses_unlabeled_target = True

    def fit(self, train, unlabeled=None, source=None):
        stolen = np.asarray(unlabeled.labels)
        return super().fit(Examples(np.asarray(unlabeled.inputs), stolen, train.classes))


def test_a_strategy_that_reads_target_labels_fails_its_cells(domain_csv, tmp_path):
    register_strategy("peeking-probe")(PeekingProbe)
    try:
        spec = parse_spec(domain_spec(domain_csv, strategies=["source-only", "peeking-probe"], baselines=[]))
        result = run_study(spec, tmp_path / "run", progress=False)
    finally:
        STRATEGIES._factories.pop("peeking-probe")  # keep the registry's contract test to the real strategies
    failed = [(cell, error) for cell, error in result.failed if "peeking-probe" in cell]
    assert len(failed) == 4 and len(result.failed) == 4  # 1 budget x 2 target budgets x 2 seeds
    assert all("TargetLabelsHiddenError: target labels are not available to fit" in error for _, error in failed)


def test_a_domain_study_reports_shift_adaptation_and_validators(domain_csv, tmp_path):
    result = run_study(parse_spec(domain_spec(domain_csv)), tmp_path / "run", progress=False)
    assert result.failed == [] and result.n_cells == 14  # 3 strategies x 2 target budgets x 2 seeds + target-only
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["task"]["domains"]["n_target_test"] == 60
    shift = summary["shift"]["identity"]
    assert shift["mmd"]["p_value"] < 0.01 and shift["diagnosis"]["kind"] == "covariate"
    assert shift["bound"]["status"] in ("informative", "borderline", "vacuous") and shift["bound"]["target_error"] > 0
    groups = {(g["budget"], g["target_budget"]): g for g in summary["adaptation"]["groups"]}
    assert set(groups) == {(9, 0), (9, 6)}
    coral = next(r for r in groups[9, 0]["rows"] if r["strategy"] == "coral")
    assert coral["reference"] == "source-only" and coral["gain"]["lo"] <= coral["gain"]["gain"] <= coral["gain"]["hi"]
    assert len(coral["per_seed"]) == 2 and coral["gain"]["verdict"] in ("positive", "negative", "inconclusive")
    assert (
        next(r for r in groups[9, 6]["rows"] if r["strategy"] == "coral +6 target")["reference"]
        == "source-only +6 target"
    )
    block = summary["validators"]["sources"][0]
    rows = {r["validator"]: r for r in block["rows"]}
    assert block["n_selections"] == 4 and set(rows) == {
        "source-risk",
        "iwv",
        "dev",
        "snd",
        "entropy",
        "always source-only",
    }
    assert all(
        sum(r["picks"].values()) == 4 and 0.0 <= r["lost_lo"] <= r["lost"] <= r["lost_hi"] for r in rows.values()
    )
    assert "Treat a pick as a hypothesis" in block["recommendation"]
    # negative transfer is judged against target-only: every transfer arm carries that gain
    assert (
        "target-only +6 target (identity)" in next(e for e in summary["entries"] if e["strategy"] == "coral")["gains"]
    )
    results = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert {"validator.iwv", "validator.dev", "validator.snd"} <= set(results.metric)
    html = (tmp_path / "run" / "report.html").read_text()
    assert all(f'id="{s}"' in html for s in ("shift", "adaptation", "validators"))


def invoke_run(spec: dict, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(spec))
    return CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")], standalone_mode=False)


@pytest.fixture(scope="module")
def odd_files(domain_csv, tmp_path_factory) -> dict[str, str]:
    """Tables that go wrong: a target without class c, a source without column f3, an empty target."""
    frame, folder = pd.read_csv(domain_csv), tmp_path_factory.mktemp("odd")
    files = {
        "no_c": frame[~((frame.domain == "kitchen") & (frame.label == "c"))],
        "kitchen_no_c": frame[(frame.domain == "kitchen") & (frame.label != "c")],
        "books_3": frame[frame.domain == "books"].drop(columns="f3"),
        "empty": frame.iloc[:0],
    }
    for name, table in files.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    return {name: str(folder / f"{name}.csv") for name in files}


TWO_TABLES = {"source_domains": None, "target_domains": None, "domain_column": None}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"task": {"target_domains": ["garden"]}},
            "target_domains ['garden'] have no examples in column 'domain'; its domains are: books, kitchen",
        ),
        ({"task": {"target_domains": ["kitchen", "books"]}}, "domain 'books' is listed as a source and as a target"),
        ({"task": {"domain_column": None}}, "source_domains / target_domains are values of a domain column"),
        ({"task": {"dataset": "no_c"}}, "different label sets: labels ['c'] have no target examples"),
        ({"task": TWO_TABLES | {"target_dataset": "kitchen_no_c"}}, "labels ['c'] have no target examples"),
        (
            {"task": TWO_TABLES | {"dataset": "books_3", "target_dataset": "kitchen_no_c"}},
            "books_3.csv: no column 'f3'",
        ),
        ({"task": TWO_TABLES | {"target_dataset": "empty"}}, "data file 'empty.csv' is empty"),
        (
            {"task": {"source_domains": None, "target_domains": None}, "target_budgets": None, "baselines": []},
            "strategy 'coral' adapts to a target domain, and the task names none",
        ),
        ({"target_budgets": [0, 100]}, "target_budgets: 100 is larger than the target pool (60 examples)"),
        ({"target_budgets": [0]}, "strategy 'target-only' trains on labelled target examples only"),
    ],
)
def test_bad_domain_input_is_one_line_and_writes_nothing(domain_csv, odd_files, tmp_path, change, message):
    spec = domain_spec(domain_csv, **{k: v for k, v in change.items() if k != "task"})
    for key, value in change.get("task", {}).items():
        spec["task"][key] = odd_files.get(value, value) if isinstance(value, str) else value
    result = invoke_run(spec, tmp_path)
    assert isinstance(result.exception, InputError), result.exception
    assert message in str(result.exception) and "\n" not in str(result.exception)
    assert not (tmp_path / "out").exists()


def test_bad_domain_input_exits_2_in_a_subprocess(domain_csv, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(domain_spec(domain_csv, task={"target_domains": ["garden"]})))
    done = subprocess.run(
        [sys.executable, "-m", "transferlab.cli", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "garden" in done.stderr
    assert not (tmp_path / "out").exists()


def test_digits_rotation_is_one_rotation_per_image_recorded_in_the_fingerprint():
    task = load_digits_rotation()
    assert sorted(set(task.domains), key=int) == [str(a) for a in ANGLES] and task.inputs.shape[1:] == (32, 32)
    sizes = np.unique(task.domains, return_counts=True)[1]
    assert sizes.max() - sizes.min() <= 1 + len(task.classes)  # stratified, dealt round-robin
    from transferlab.data.bundled import load_digits_task

    plain = upsample(np.asarray(load_digits_task().inputs, dtype=np.float32))  # (n, 32, 32)
    upright = task.domains == "0"
    assert np.array_equal(task.inputs[upright], plain[upright])
    quarter = task.domains == "90"  # a quarter turn of a square grid moves pixels exactly
    assert np.allclose(task.inputs[quarter], np.rot90(plain[quarter], 1, axes=(1, 2)), atol=1e-4)
    half = task.domains == "180"
    assert np.allclose(task.inputs[half], plain[half][:, ::-1, ::-1], atol=1e-4)
    assert task.fingerprint != load_digits_task().fingerprint


def test_target_only_refuses_a_training_set_without_target_rows():
    with pytest.raises(InputError, match="target-only trains on the labelled target examples"):
        create_strategy("target-only").fit(Examples(np.zeros((6, 2)), np.array([0, 1] * 3), ("a", "b")))


def test_labelled_target_rows_join_the_target_side_of_the_alignment():
    rng = np.random.default_rng(0)
    X_source, X_target = rng.normal(0.0, 1.0, (30, 3)), rng.normal(3.0, 2.0, (40, 3))
    labels = np.r_[np.repeat([0, 1], 15), [0, 1, 0, 1]]
    train = Examples(np.vstack([X_source, X_target[:4]]), labels, ("a", "b"), np.r_[["source"] * 30, ["target"] * 4])
    coral = create_strategy("coral", random_state=0).fit(train, unlabeled=Examples(X_target[4:], None, ("a", "b")))
    assert np.allclose(coral.mean_source_, X_source.mean(axis=0))  # the target rows are not source data
    assert np.allclose(coral.mean_target_, X_target.mean(axis=0))  # pool and labelled target rows together


def test_validator_picks_are_judged_by_the_hidden_target_labels():
    from transferlab.analysis.cells import CellView
    from transferlab.analysis.selection import validators_block

    labels = np.array([0, 1] * 5)  # 10 test examples

    def cell(strategy: str, seed: int, n_right: int, favoured: bool) -> CellView:
        proba = np.eye(2)[np.where(np.arange(10) < n_right, labels, 1 - labels)]  # the first n_right are right
        scores = {f"validator.{v}": (1.0 if favoured else 0.0) for v in ("source-risk", "iwv", "dev", "snd")}
        scores["validator.entropy"] = 0.0 if favoured else 1.0  # entropy always favours the other arm
        return CellView("src", strategy, 20, seed, "transfer", {"accuracy": n_right / 10, **scores}, {}, proba)

    # seed 0: coral is right 9 times, source-only 6; seed 1: coral 5, source-only 8
    cells = [cell("source-only", 0, 6, False), cell("coral", 0, 9, True)]
    cells += [cell("source-only", 1, 8, False), cell("coral", 1, 5, True)]
    block = validators_block(cells, labels, 0.95)["sources"][0]
    rows = {r["validator"]: r for r in block["rows"]}
    assert block["best_by_target_labels"] == {"coral": 1, "source-only": 1}
    assert rows["iwv"]["picks"] == {"coral": 2} and rows["iwv"]["n_best"] == 1
    assert rows["iwv"]["lost"] == pytest.approx((0.0 + 0.3) / 2)
    assert rows["entropy"]["picks"] == {"source-only": 2} and rows["entropy"]["lost"] == pytest.approx((0.3 + 0.0) / 2)
    assert rows["always source-only"]["n_best"] == 1
    assert "Too few selections (2)" in block["recommendation"]


def test_target_labels_and_references_of_domain_arms():
    from transferlab.analysis.domain_arms import reference_arm, split_target_label

    assert split_target_label("subspace-alignment(n_components=4) +20 target") == (
        "subspace-alignment(n_components=4)",
        20,
    )
    assert split_target_label("coral") == ("coral", 0)
    arms = ["source-only", "source-only +20 target", "coral +20 target", "finetune(max_steps=5)", "dann"]
    assert reference_arm("coral +20 target", False, arms) == "source-only +20 target"
    assert reference_arm("dann", True, arms) == "finetune(max_steps=5)"
    assert reference_arm("source-only", False, arms) is None


def test_a_two_table_study_with_relative_paths_reports_from_anywhere(domain_csv, tmp_path, monkeypatch):
    from transferlab.study.rebuild import rebuild_report

    frame = pd.read_csv(domain_csv)
    data = tmp_path / "data"
    data.mkdir()
    frame[frame.domain == "books"].to_csv(data / "books.csv", index=False)
    frame[frame.domain == "kitchen"].to_csv(data / "kitchen.csv", index=False)
    task = TWO_TABLES | {"dataset": "books.csv", "target_dataset": "kitchen.csv"}
    spec = domain_spec("unused", task=task, strategies=["source-only", "coral"], baselines=[], target_budgets=None)
    monkeypatch.chdir(data)
    result = run_study(parse_spec(spec), tmp_path / "run", progress=False)
    assert result.failed == [] and result.n_cells == 4
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run" / "summary.json").unlink()
    rebuild_report(tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["task"]["domains"]["source_domains"] == ["books.csv"]
    assert summary["shift"]["identity"]["diagnosis"]["kind"] == "covariate"
