"""``transferlab monitor``: the command-line verbs, each a thin layer over a public function.

Imports stay inside the commands, so ``transferlab --help`` does not load the monitor's stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

monitor_app = typer.Typer(
    help="After deployment: shift tests and label-free accuracy estimates, batch by batch.", no_args_is_help=True
)
FolderArg = Annotated[Path, typer.Argument(help="The monitor folder written by `transferlab monitor init`.")]


@monitor_app.command("init")
def init(
    run: Annotated[Path, typer.Option(help="The study's run directory (`transferlab run --out`).")],
    arm: Annotated[
        str, typer.Option(help="The arm to monitor: SOURCE/STRATEGY/BUDGET, e.g. minilm-l6/linear-probe/640.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The monitor folder (new or empty).")],
    seed: Annotated[int | None, typer.Option(help="Which seed's cell (default: the study's first).")] = None,
    false_alarm_rate: Annotated[
        float, typer.Option(help="False-alarm rate per batch (or over --planned-batches).")
    ] = 0.01,
    planned_batches: Annotated[int | None, typer.Option(help="Spend the rate over this many batches.")] = None,
    batch_size: Annotated[int, typer.Option(help="Expected batch size (the calibration uses it).")] = 100,
    calibration_batches: Annotated[int, typer.Option(help="Unshifted pseudo-batches run to measure the rate.")] = 50,
) -> None:
    """Export an arm of a study and save its reference profile, calibrated on held-out reference data."""
    from transferlab.cli import out_console
    from transferlab.monitor import init_monitor

    profile = init_monitor(run, arm, out, seed, false_alarm_rate, planned_batches, batch_size, calibration_batches)
    h = profile.header
    ref = h["reference"]
    out_console.print(f"monitor: {profile.folder}  (arm {h['arm']['arm']}, seed {h['arm']['seed']})", highlight=False)
    accuracy = _pct(ref["accuracy"], ref["accuracy_lo"], ref["accuracy_hi"])
    out_console.print(
        f"reference: {ref['n_reference']} examples, accuracy {accuracy}; calibration part: {ref['n_calibration']}",
        highlight=False,
    )
    out_console.print(f"alarms: {h['alarms']['policy']}", highlight=False)
    cal = h["calibration"]
    if cal:
        mae = ", ".join(f"{m} {v:.3f}" for m, v in cal["estimator_mae"].items())
        out_console.print(
            f"calibration: {cal['alerts']} alerts in {cal['n_batches']} unshifted pseudo-batches of {cal['batch_size']}"
            f" (rate {cal['false_alarm_rate']:.3f} [{cal['lo']:.3f}, {cal['hi']:.3f}], level {cal['level']:.3g});"
            f" estimator error on them (MAE): {mae}",
            highlight=False,
        )


@monitor_app.command("check")
def check(
    folder: FolderArg,
    batch: Annotated[Path, typer.Option(help="A batch file (CSV / TSV / Parquet / JSONL) or a folder of them.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of the batches' results.")] = False,
    fail_on_alert: Annotated[bool, typer.Option(help="Exit with code 1 when a batch alerts.")] = False,
    n_permutations: Annotated[int, typer.Option(help="Permutations of the MMD tests.")] = 500,
) -> None:
    """Check one batch, or a folder of batches in name order, and record each in the history."""
    from transferlab.cli import out_console
    from transferlab.monitor import check_batches

    results = check_batches(folder, batch, n_permutations=n_permutations)
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            for line in result_lines(r):
                out_console.print(line, highlight=False, markup=False)
    if fail_on_alert and any(r["alert"] for r in results):
        raise typer.Exit(1)


@monitor_app.command("label")
def label(
    folder: FolderArg,
    batch_id: Annotated[str, typer.Option(help="The checked batch the labels belong to.")],
    labels: Annotated[Path, typer.Option(help="A table with one label per batch row, in the batch's order.")],
    column: Annotated[str | None, typer.Option(help="Its label column (default: the study's).")] = None,
) -> None:
    """Record labels that arrived after a batch was checked: measured accuracy and each estimate's error."""
    from transferlab.cli import out_console
    from transferlab.monitor import label_batch

    result = label_batch(folder, batch_id, labels, column)
    m = result["measured"]
    errors = ", ".join(f"{k} {v:+.3f}" for k, v in result["errors"].items())
    out_console.print(f"batch {batch_id}: measured accuracy {_pct(m['accuracy'], m['lo'], m['hi'])};"
                      f" estimate - measured: {errors}", highlight=False, markup=False)  # fmt: skip


@monitor_app.command("report")
def report(
    folder: FolderArg,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where to write it (default FOLDER/report.html).")
    ] = None,
) -> None:
    """Write the history as one self-contained HTML file."""
    from transferlab.cli import out_console
    from transferlab.monitor import monitor_report

    out_console.print(f"report: {monitor_report(folder, out)}", highlight=False)


@monitor_app.command("sequence")
def sequence(
    scenario: Annotated[str, typer.Argument(help="newsgroups-drift, bbc-to-slovenian or digits-rotation.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the study data, its spec and the batches.")],
) -> None:
    """Write a bundled shifted sequence: a study to run, then its traffic as batch files (clean first)."""
    from transferlab.cli import out_console
    from transferlab.monitor.sequences import write_sequence

    written = write_sequence(scenario, out)
    files = f"{written['n_batches']} files, the first {written['n_clean']} unshifted; labels in {written['labels']}"
    out_console.print(f"study spec: {written['spec']}\nbatches: {written['batches']} ({files})", highlight=False)
    out_console.print(f"next: transferlab run {written['spec']} --out runs/{scenario}", highlight=False)


def result_lines(r: dict[str, Any]) -> list[str]:
    """A checked batch in a few lines: alert and diagnosis, tests, estimates, measured accuracy, remedies."""
    t = r["tests"]
    flag = "ALERT" if r["alert"] else "ok"
    lines = [f"batch {r['batch_id']} (#{r['position']}, n={r['n']}): {flag}, {r['diagnosis']['label']}"]
    priors = t.get("class_priors")
    tests = f"  MMD² {t['mmd']['statistic']:.4f} p={t['mmd']['p_value']:.2g}; C2ST AUC {t['c2st']['auc']:.3f}"
    tests += f" p={t['c2st']['p_value']:.2g}" + (f"; class priors p={priors['p_value']:.2g}" if priors else "")
    lines.append(tests + f" (level {r['level']:.3g})")
    estimates = "; ".join(f"{e['method']} {_pct(e['accuracy'], e['lo'], e['hi'])}" for e in r["estimates"])
    lines.append(f"  accuracy estimates: {estimates} (reference {100 * r['reference_accuracy']:.1f})")
    if r.get("measured"):
        m = r["measured"]
        lines.append(f"  measured accuracy ({m['n']} labels): {_pct(m['accuracy'], m['lo'], m['hi'])}")
    if r.get("sequence_note"):
        lines.append(f"  note: {r['sequence_note']}")
    lines += [f"  remedy: {x['action']}: {x['command']}" for x in r.get("remedies", [])]
    return lines


def _pct(value: float, lo: float, hi: float) -> str:
    return f"{100 * value:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
