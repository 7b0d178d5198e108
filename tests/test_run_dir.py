"""Run directories: the marker, the lock, `report` that never loses data, paths that never escape, `status`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from transferlab.errors import InputError
from transferlab.study import parse_spec, run_study
from transferlab.study.ledger import Ledger
from transferlab.study.rebuild import rebuild_report
from transferlab.study.rundir import MARKER, RunLock
from transferlab.study.status import run_status

FEATURES = ["f0", "f1", "f2", "f3"]


def spec_of(dataset: str, **changes) -> dict:
    spec = {
        "name": "rundir",
        "task": {"dataset": dataset, "feature_columns": FEATURES, "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["knn", "prototype"],
        "budgets": [6],
        "seeds": 2,
    }
    return spec | changes


def main_exit(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from transferlab.cli import main

    monkeypatch.setattr(sys, "argv", ["transferlab", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_run_refuses_a_folder_whose_run_files_no_run_wrote(tmp_path, feature_csv, monkeypatch, capsys):
    project = tmp_path / "project"
    project.mkdir()
    for name, text in (("spec.yaml", "my own spec"), ("summary.json", "{}"), ("report.html", "<p>mine</p>")):
        (project / name).write_text(text)
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(json.dumps(spec_of(feature_csv)))
    before = snapshot(project)
    code, _, err = main_exit(monkeypatch, capsys, "run", str(spec_path), "-o", str(project), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "already holds spec.yaml, summary.json, report.html that no transferlab run wrote" in err
    assert snapshot(project) == before


def test_a_run_directory_has_a_marker_and_one_from_before_markers_is_adopted(tmp_path, feature_csv):
    spec = parse_spec(spec_of(feature_csv))
    run_study(spec, tmp_path, progress=False)
    marker = json.loads((tmp_path / MARKER).read_text())
    assert marker["study"] == "rundir" and marker["dataset_path"] == str(Path(feature_csv).resolve())
    (tmp_path / MARKER).unlink()  # as an older version left it: the ledger says it is a run
    assert run_study(spec, tmp_path, progress=False).skipped == 4
    assert (tmp_path / MARKER).is_file()


def test_report_refuses_when_the_data_changed_and_keeps_the_outputs(tmp_path, feature_csv, monkeypatch, capsys):
    data = tmp_path / "f.csv"
    shutil.copy(feature_csv, data)
    out = tmp_path / "run"
    run_study(parse_spec(spec_of(str(data))), out, progress=False)
    frame = pd.read_csv(data)
    frame.loc[0, "f0"] += 1.0  # the data file changed after the run
    frame.to_csv(data, index=False)
    before = snapshot(out)
    code, _, err = main_exit(monkeypatch, capsys, "report", str(out))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "cells planned now are not in its ledger: the data changed since the run" in err
    assert snapshot(out) == before  # summary.json, report.html and results.parquet untouched


def test_report_reads_a_relative_dataset_from_where_the_run_found_it(tmp_path, feature_csv, monkeypatch):
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    shutil.copy(feature_csv, work / "data" / "f.csv")
    monkeypatch.chdir(work)
    run_study(parse_spec(spec_of("data/f.csv")), "run", progress=False)
    (work / "run" / "summary.json").unlink()
    monkeypatch.chdir(tmp_path)  # another folder: data/f.csv does not resolve from here
    rebuild_report(work / "run")
    assert json.loads((work / "run" / "summary.json").read_text())["entries"]


def test_a_dataset_may_be_named_by_a_relative_path_with_dotdot_or_an_absolute_one(tmp_path, feature_csv, monkeypatch):
    (tmp_path / "sub").mkdir()
    shutil.copy(feature_csv, tmp_path / "f.csv")
    monkeypatch.chdir(tmp_path / "sub")
    assert run_study(parse_spec(spec_of("../f.csv")), tmp_path / "a", progress=False).failed == []
    assert run_study(parse_spec(spec_of(str(tmp_path / "f.csv"))), tmp_path / "b", progress=False).failed == []


@pytest.mark.parametrize("link", ["cells", "spec.yaml", "ledger.sqlite"])
def test_a_symbolic_link_inside_a_run_directory_is_refused(tmp_path, feature_csv, link):
    out, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    run_study(parse_spec(spec_of(feature_csv)), out, progress=False)
    shutil.move(out / link, elsewhere / link if elsewhere.mkdir() is None else None)
    (out / link).symlink_to(elsewhere / link)  # the run's own file, moved out and linked back
    before = snapshot(elsewhere)
    with pytest.raises(InputError, match=f"{link} is a symbolic link"):
        run_study(parse_spec(spec_of(feature_csv)), out, progress=False)
    with pytest.raises(InputError, match=f"{link} is a symbolic link"):
        rebuild_report(out)
    assert snapshot(elsewhere) == before


@pytest.mark.parametrize("name", ["../outside.parquet", "/tmp/outside.parquet", "cells/../../outside.parquet"])
def test_a_ledger_naming_a_file_outside_the_run_is_never_read(tmp_path, feature_csv, name):
    spec = parse_spec(spec_of(feature_csv))
    out = tmp_path / "run"
    run_study(spec, out, progress=False)
    ledger = Ledger(out / "ledger.sqlite")
    key = ledger.rows()[0]["key"]
    ledger.db.execute("UPDATE cells SET file = ?, sha256 = NULL WHERE key = ?", (name, key))
    ledger.close()
    with pytest.raises(InputError, match="not a cell file inside the run directory"):
        rebuild_report(out)
    assert run_study(spec, out, progress=False).ran == 1  # computed again, into cells/


def test_a_second_command_on_a_locked_run_directory_is_refused(tmp_path, feature_csv):
    out = tmp_path / "run"
    run_study(parse_spec(spec_of(feature_csv)), out, progress=False)
    with RunLock(out, "run"):
        with pytest.raises(InputError, match="is in use by `transferlab run`"):
            run_study(parse_spec(spec_of(feature_csv)), out, progress=False)
        with pytest.raises(InputError, match="is in use"):
            rebuild_report(out)
        assert run_status(out)["live"]
    assert not run_status(out)["live"]


def test_status_of_a_finished_run(tmp_path, feature_csv, monkeypatch, capsys):
    out = tmp_path / "run"
    run_study(parse_spec(spec_of(feature_csv)), out, progress=False)
    code, stdout, _ = main_exit(monkeypatch, capsys, "status", str(out), "--json")
    status = json.loads(stdout)
    assert code == 0
    assert (status["done"], status["running"], status["failed"], status["left"], status["cells"]) == (4, 0, 0, 0, 4)
    assert status["mean_cell_seconds"] > 0 and not status["live"]
    code, stdout, _ = main_exit(monkeypatch, capsys, "status", str(out))
    assert code == 0 and "cells: 4 done, 0 running, 0 failed, 0 left (of 4)" in stdout


def test_dollar_signs_in_figure_text_are_text_not_mathtext():
    from transferlab.report.figures import learning_curve

    points = [{"budget": b, "mean": 0.5, "lo": 0.4, "hi": 0.6, "role": "transfer"} for b in (6, 12)]
    # a source folder or an arm named with "$...$" that is not valid TeX used to crash the report
    svg = learning_curve("hf:/models/$\\broken_$", {"zero-shot($x$)": points}, "accuracy", {})
    assert svg.startswith("<svg")


def test_class_names_with_dollar_signs_do_not_break_the_report(tmp_path, feature_csv):
    frame = pd.read_csv(feature_csv)
    frame["label"] = frame["label"].map({"a": "$x$", "b": "$\\y_$", "c": "cost $5"})
    frame.to_csv(tmp_path / "d.csv", index=False)
    run_study(parse_spec(spec_of(str(tmp_path / "d.csv"))), tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "report.html").is_file()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["task"]["classes"] == [
        "$\\y_$",
        "$x$",
        "cost $5",
    ]


def test_rows_without_a_label_are_left_out_with_a_note(tmp_path, feature_csv, monkeypatch, capsys):
    frame = pd.read_csv(feature_csv)
    frame.loc[[3, 50, 90], "label"] = None
    frame.to_csv(tmp_path / "d.csv", index=False)
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(json.dumps(spec_of(str(tmp_path / "d.csv"))))
    code, _, err = main_exit(monkeypatch, capsys, "run", str(spec_path), "-o", str(tmp_path / "run"), "--quiet")
    assert code == 0
    assert "note: d.csv: 3 of 120 rows have no 'label' and were left out" in err
    notes = json.loads((tmp_path / "run" / "summary.json").read_text())["notes"]
    assert "d.csv: 3 of 120 rows have no 'label' and were left out" in notes
