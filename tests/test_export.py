"""A finished run out to MLflow (read back through MLflow's own client) and into DuckDB (the
README's queries, run as written)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from transferlab.cli import app
from transferlab.errors import InputError
from transferlab.export import export_mlflow
from transferlab.study import parse_spec, run_study

README = Path(__file__).resolve().parents[1] / "README.md"
PROBE = "linear-probe | identity | budget 12"


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves the machine from a test
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, feature_csv) -> Path:
    """A real 2-cell study: the identity source's linear probe against raw-logreg, one budget and seed."""
    spec = {
        "name": "features-export",
        "task": {"dataset": feature_csv, "feature_columns": ["f0", "f1", "f2", "f3"], "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["linear-probe"],
        "baselines": ["raw-logreg"],
        "budgets": [12],
        "seeds": 1,
    }
    out = tmp_path_factory.mktemp("export") / "run"
    result = run_study(parse_spec(spec), out, progress=False)
    assert (result.n_cells, result.failed) == (2, [])
    return out


def client_and_runs(uri: str, experiment: str = "features-export") -> tuple:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    return client, client.search_runs([found.experiment_id]) if found else []


def test_export_round_trips_through_mlflow(tmp_path, run_dir):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = export_mlflow(run_dir, uri)
    assert (result.arms, result.created, result.updated) == (2, 3, 0)
    client, runs = client_and_runs(uri)
    by_name = {r.info.run_name: r for r in runs}
    assert set(by_name) == {"features-export", PROBE, "raw-logreg | none | budget 12"}
    entry = next(e for e in json.loads((run_dir / "summary.json").read_text())["entries"] if e["source"] == "identity")
    probe = by_name[PROBE].data
    assert probe.params["source"] == "identity" and probe.params["strategy"] == "linear-probe"
    assert probe.params["budget"] == "12" and probe.params["primary_metric"] == "accuracy"
    assert probe.metrics["accuracy"] == pytest.approx(entry["metrics"]["accuracy"])
    assert (probe.metrics["accuracy.lo"], probe.metrics["accuracy.hi"]) == pytest.approx((entry["lo"], entry["hi"]))
    assert probe.metrics["accuracy.lo"] <= probe.metrics["accuracy"] <= probe.metrics["accuracy.hi"]
    gain = entry["gains"]["raw-logreg"]
    assert probe.metrics["gain.raw-logreg"] == pytest.approx(gain["gain"])
    assert (probe.metrics["gain.raw-logreg.lo"], probe.metrics["gain.raw-logreg.hi"]) == pytest.approx(
        (gain["lo"], gain["hi"])
    )
    assert probe.tags["verdict.raw-logreg"] == gain["verdict"]
    assert probe.metrics["cost.fit_seconds"] == pytest.approx(entry["cost"]["fit_seconds"])
    parent = by_name["features-export"].info.run_id
    assert probe.tags["mlflow.parentRunId"] == parent
    assert {a.path for a in client.list_artifacts(parent)} >= {"report.html", "summary.json", "spec.yaml"}
    report = Path(client.download_artifacts(parent, "report.html", str(tmp_path)))
    assert report.read_bytes() == (run_dir / "report.html").read_bytes()


def test_exporting_again_updates_the_same_runs(tmp_path, run_dir):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    export_mlflow(run_dir, uri)
    _, before = client_and_runs(uri)
    again = export_mlflow(run_dir, uri)
    _, after = client_and_runs(uri)
    assert (again.created, again.updated) == (0, 3)
    assert sorted(r.info.run_id for r in after) == sorted(r.info.run_id for r in before)


def test_changed_parameters_replace_the_run(tmp_path, run_dir):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    copy = shutil.copytree(run_dir, tmp_path / "run")
    export_mlflow(copy, uri)
    summary = json.loads((copy / "summary.json").read_text())
    (copy / "summary.json").write_text(json.dumps({**summary, "confidence": 0.9}))  # as if re-analysed at 90%
    result = export_mlflow(copy, uri)
    client, runs = client_and_runs(uri)
    assert (result.created, len(runs)) == (3, 3)
    assert {r.data.params["confidence"] for r in runs} == {"0.9"}


def test_failure_part_way_leaves_no_runs(tmp_path, run_dir):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "a-file").write_text("artifacts cannot go under a file")
    MlflowClient(tracking_uri=uri).create_experiment("features-export", (tmp_path / "a-file" / "x").as_uri())
    with pytest.raises(InputError, match="MLflow export to .* failed .*the runs it had created were deleted"):
        export_mlflow(run_dir, uri)
    assert client_and_runs(uri)[1] == []


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("sqlite:///{tmp}/a-file/mlflow.db", "does not exist or is not writable"),
        ("sqlite:///{tmp}/no/such/folder/mlflow.db", "does not exist or is not writable"),
        ("{tmp}/mlruns", "is not a URI; give sqlite:///"),
        ("ftp://{tmp}/store", "cannot write to MLflow tracking URI"),
    ],
)
def test_unwritable_uri_is_one_line_and_writes_nothing(tmp_path, run_dir, uri, match):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(InputError, match=match) as error:
        export_mlflow(run_dir, uri.format(tmp=tmp_path))
    assert "\n" not in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_cli_export(tmp_path, run_dir):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = CliRunner().invoke(app, ["export", str(run_dir), "--tracking-uri", uri], standalone_mode=False)
    assert done.exception is None, done.exception
    assert "exported 2 arms of study 'features-export'" in done.output
    for args, match in ((["export", str(run_dir)], "--mlflow"), (["export", str(tmp_path), "--mlflow"], "summary")):
        failed = CliRunner().invoke(app, args, standalone_mode=False)
        assert isinstance(failed.exception, InputError) and match in str(failed.exception)


# ---------------------------------------------------------------- DuckDB, as the README shows it


def readme_queries() -> list[str]:
    """The SQL of every ``duckdb.sql("...")`` line in the README's data-and-tracking section."""
    text = README.read_text(encoding="utf-8")
    start = text.index("## Your data and your tracking")
    section = text[start : text.index("\n## ", start + 1)]
    return re.findall(r'^duckdb\.sql\("(.+)"\)\.show\(\)$', section, flags=re.MULTILINE)


def test_readme_duckdb_queries_run(tmp_path, run_dir):
    import duckdb
    import duckdb_extension_sqlite_scanner as sqlite_wheel

    queries = readme_queries()
    assert len(queries) == 2 and "results.parquet" in queries[0] and "ledger.sqlite" in queries[1]
    # offline here: DuckDB's sqlite extension comes from its wheel instead of DuckDB's download
    extension = next(Path(sqlite_wheel.__file__).parent.rglob("*.duckdb_extension"))
    con = duckdb.connect(config={"extension_directory": str(tmp_path / "extensions")})
    con.execute(f"INSTALL '{extension}'")
    results = con.sql(queries[0].replace("runs/demo", str(run_dir))).fetchall()
    entries = json.loads((run_dir / "summary.json").read_text())["entries"]
    expected = sorted((e["source"], e["strategy"], e["budget"], e["metrics"]["accuracy"]) for e in entries)
    assert [row[:3] for row in results] == [row[:3] for row in expected]
    assert [row[3] for row in results] == pytest.approx([row[3] for row in expected])
    assert [row[4] for row in results] == [1, 1]  # one seed each
    assert con.sql(queries[1].replace("runs/demo", str(run_dir))).fetchall() == [("done", 2)]
