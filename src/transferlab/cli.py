"""The command line: a thin layer over the public functions.

Bad input of any kind (:class:`~transferlab.errors.InputError`) prints one line on stderr and
exits with code 2; nothing is written before the input has been checked.
"""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from transferlab.errors import InputError

if TYPE_CHECKING:
    from transferlab.study.spec import StudySpec

EXIT_CODES = (
    "Exit codes: 0 done (every cell finished); 1 done, but some cells failed (they are listed, and in"
    " the report); 2 bad input or usage (one line on stderr, nothing written); 130 interrupted (run the"
    " same command again to continue)."
)
app = typer.Typer(
    help="transferlab: measure whether, from which source and how to transfer a pretrained model.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, files) is not wrapped at 80 columns, so tables stay readable.
out_console = Console(width=None if sys.stdout.isatty() else 200)

OutOption = Annotated[Path, typer.Option("--out", "-o", help="Run directory (created, or continued if it exists).")]


def demo_spec_path() -> Path:
    """The bundled demo spec (BBC News, minilm-l6 and minilm-l3, all core strategies)."""
    return Path(str(files("transferlab.study") / "specs" / "demo-bbc.yaml"))


@app.command(epilog=EXIT_CODES)
def run(
    spec: Annotated[Path, typer.Argument(help="Study spec (YAML); see the README for its keys.")],
    out: OutOption = Path("runs/study"),
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    executor: Annotated[
        str | None, typer.Option(help="local (this process, or a process pool) or ray; default: the spec's.")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="An existing Ray cluster (HOST:PORT); default: a local Ray on 127.0.0.1.")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (local) or CPUs of a local Ray.")] = None,
    cell_timeout: Annotated[float | None, typer.Option(help="Seconds a cell may run before it fails.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Run the cells that failed in an earlier run again.")] = False,
) -> None:
    """Run a study spec into a run directory; running it again continues where it stopped."""
    from transferlab.study import load_spec, run_study

    chosen = {"executor": executor, "workers": workers, "cell_timeout": cell_timeout}
    study = with_overrides(load_spec(spec), {k: v for k, v in chosen.items() if v is not None})
    if address is not None and study.executor != "ray":
        raise InputError("--address names a Ray cluster; add --executor ray (or set executor: ray in the spec)")
    result = run_study(study, out, progress=not quiet, retry_failed=retry_failed, address=address)
    print_run(result)
    if result.n_failed:
        raise typer.Exit(1)


def with_overrides(spec: StudySpec, overrides: dict[str, object]) -> StudySpec:
    """The spec with command-line values in place of its own, validated like the spec itself."""
    from transferlab.study import parse_spec

    return parse_spec(spec.model_dump() | overrides, "command line") if overrides else spec


@app.command()
def demo(
    out: OutOption = Path("runs/demo"),
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run the bundled study: bbc-news, minilm-l6 and minilm-l3, every core strategy and baseline."""
    from transferlab.study import load_spec, run_study

    out_console.print(f"spec: {demo_spec_path()}")
    result = run_study(load_spec(demo_spec_path()), out, progress=not quiet)
    print_run(result)
    if result.n_failed:
        raise typer.Exit(1)


@app.command()
def status(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (works while its run is going).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of the lines.")] = False,
) -> None:
    """Where a run stands: cells done / running / failed / left, an ETA, and the failures so far."""
    import json

    from transferlab.study.status import run_status, status_lines

    payload = run_status(run_dir)
    if as_json:
        print(json.dumps(payload, indent=2))
        return
    for line in status_lines(payload):
        out_console.print(line, highlight=False, markup=False)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `transferlab run`.")],
) -> None:
    """Rebuild results.parquet, summary.json and report.html from what a run directory stores."""
    from transferlab.study.rebuild import rebuild_report

    path = rebuild_report(run_dir)
    out_console.print(f"report: {path}")


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory written by `transferlab run`.")],
    to_mlflow: Annotated[bool, typer.Option("--mlflow", help="Log to MLflow (default store: ./mlflow.db).")] = False,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (sqlite:///path.db, http://host:port); implies --mlflow.")
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment (default: the study's name).")] = None,
) -> None:
    """Log a finished run to MLflow: a run per (source, strategy, budget) arm under one per study."""
    from transferlab.export import export_mlflow

    if not to_mlflow and tracking_uri is None:
        raise InputError("export: say where to: --mlflow (the local store ./mlflow.db) or --tracking-uri URI")
    result = export_mlflow(run_dir, tracking_uri, experiment)
    out_console.print(
        f"exported {result.arms} arms of study {result.study!r} to {result.tracking_uri}, experiment"
        f" {result.experiment!r} ({result.created} runs created, {result.updated} updated; study run"
        f" {result.parent_run_id})"
    )


@app.command()
def sources() -> None:
    """The models transferlab can use here, with modality, size and whether they can be fine-tuned."""
    from transferlab.sources import list_sources
    from transferlab.sources.zoo_text import INFO

    table = Table("name", "modality", "parameters", "dim", "fine-tunable", "package", "description")
    for name in list_sources():
        info = INFO.get(name)
        if info is None:
            modality = "text, image" if name.startswith("hf:") else "text"  # hf: follows the folder's config
            if name.startswith("clip:"):  # images, with a text tower for class names
                table.add_row(name, "image + text", "-", "-", "yes", "-", "your own CLIP checkpoint folder")
                continue
            table.add_row(name, modality, "-", "-", "yes", "-", "your own model (needs it locally or the network)")
            continue
        row = (info.modality, f"{info.n_params / 1e6:.1f}M", str(info.dim), "yes" if info.trainable else "no")
        table.add_row(name, *row, info.package, info.description)
    out_console.print(table)


@app.command()
def datasets() -> None:
    """The bundled data sets usable here by name (a CSV / Parquet / JSONL path works too)."""
    from transferlab.data import DATASETS

    table = Table("name", "modality", "examples", "classes", "package", "description")
    for info in DATASETS.values():
        table.add_row(
            info.name,
            info.modality,
            str(info.n_examples),
            str(info.n_classes),
            info.package,
            info.description,
        )
    out_console.print(table)


@app.command()
def strategies() -> None:
    """The registered strategies and baselines, with their capabilities."""
    from transferlab.strategies import list_strategies, strategy_class

    table = Table("name", "kind", "needs labels", "trains backbone", "target pool", "inputs", "modalities")
    for name in list_strategies():
        cls = strategy_class(name)
        kind = "baseline" if cls.is_baseline else "transfer"
        flags = tuple("yes" if f else "no" for f in (cls.needs_labels, cls.trains_backbone))
        pool = "labels" if cls.needs_target_labels else "inputs" if cls.uses_unlabeled_target else "no"  # what it reads
        table.add_row(name, kind, *flags, pool, cls.input_kind, ", ".join(cls.modalities))
    out_console.print(table)


@app.command()
def rank(
    dataset: Annotated[str, typer.Option(help="A bundled data set name or a CSV / Parquet / JSONL path.")],
    sources: Annotated[str, typer.Option(help="Comma-separated source names (see `transferlab sources`).")],
    layers: Annotated[str, typer.Option(help="'last', 'all', or comma-separated layer names.")] = "last",
    metrics: Annotated[str | None, typer.Option(help="Comma-separated scores (default: all but hscore-raw).")] = None,
    max_examples: Annotated[int, typer.Option(help="Stratified subsample of the task scored.")] = 1000,
    text_column: Annotated[str | None, typer.Option(help="Text column of a file (default 'text').")] = None,
    label_column: Annotated[str, typer.Option(help="Label column of a file.")] = "label",
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates per score (0: none).")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the subsample and the bootstrap.")] = 0,
    jobs: Annotated[int, typer.Option(help="Worker processes for the scores (-1: one per CPU).")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of the table.")] = False,
    validate: Annotated[Path | None, typer.Option(help="A study run directory to check the ranking against.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the JSON to this file.")] = None,
) -> None:
    """Rank sources (and layers) for a task with transferability scores, before fine-tuning any."""
    import json

    from transferlab.data import load_task, subsample
    from transferlab.ranking import rank_sources, validate_ranking
    from transferlab.ranking.agreement import read_summary
    from transferlab.ranking.conclusion import conclusion
    from transferlab.ranking.display import rank_table, validation_table

    if max_examples < 2:
        raise InputError(f"--max-examples must be at least 2 (two per class to score), got {max_examples}")
    out_path = out.expanduser().resolve() if out else None
    if out_path is not None and (out_path.is_dir() or not out_path.parent.is_dir()):
        raise InputError(f"--out {str(out)!r} must be a file in an existing folder")
    if validate is not None:
        read_summary(validate)  # fail before any embedding
    names = [s.strip() for s in sources.split(",") if s.strip()]
    chosen_layers = layers if layers in ("last", "all") else [x.strip() for x in layers.split(",") if x.strip()]
    chosen_metrics = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    task = subsample(load_task(dataset, label_column=label_column, text_column=text_column), max_examples, seed)
    result = rank_sources(task, names, chosen_metrics, chosen_layers, n_boot=n_boot, random_state=seed, n_jobs=jobs)
    payload = result.to_dict()
    payload["conclusion"] = conclusion(result)
    if validate is not None:
        payload["validation"] = validate_ranking(result, validate)
    text = json.dumps(payload, indent=2)
    if out_path is not None:
        tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out_path)
    if as_json:
        print(text)
        return
    # a wide table is folded to fit a terminal, but written in full when the output is a file or a pipe
    console = out_console if out_console.is_terminal else Console(width=max(out_console.width, 200))
    console.print(rank_table(result))
    if "validation" in payload:
        console.print(validation_table(payload["validation"]))
    console.print(f"[bold]{payload['conclusion']}[/bold]", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]note[/yellow] {note}")


@app.command()
def shift(
    source_data: Annotated[str, typer.Option(help="Source data: a bundled name or a CSV / Parquet / JSONL file.")],
    target_data: Annotated[str, typer.Option(help="Target data, the same way (labels optional).")],
    source: Annotated[str, typer.Option(help="Model whose features are compared; 'identity' for feature columns.")] = (
        "minilm-l6"
    ),
    text_column: Annotated[str | None, typer.Option(help="Text column of the files (default 'text').")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column (default 'label' where present).")] = None,
    feature_columns: Annotated[str | None, typer.Option(help="Numeric columns, a,b,c (--source identity).")] = None,
    max_examples: Annotated[int, typer.Option(help="Examples kept per side (stratified when labelled).")] = 1000,
    alpha: Annotated[float, typer.Option(help="False-alarm level of the whole diagnosis.")] = 0.05,
    n_permutations: Annotated[int, typer.Option(help="Permutations of the MMD tests.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the subsamples, permutations, folds and bootstrap.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of the tables.")] = False,
) -> None:
    """Is there a shift between two data sets, what kind, and what does the Ben-David bound say?"""
    import json

    from transferlab.shift import measure_shift
    from transferlab.shift.display import print_shift

    columns = [c.strip() for c in feature_columns.split(",") if c.strip()] if feature_columns else None
    payload = measure_shift(
        source_data, target_data, source, text_column, label_column, columns, max_examples, alpha, n_permutations,
        seed=seed,
    )  # fmt: skip
    if as_json:
        print(json.dumps(payload, indent=2))
        return
    print_shift(payload, out_console)


from transferlab.monitor.commands import monitor_app  # noqa: E402 - the sub-app is built after `app`

app.add_typer(monitor_app, name="monitor")


def print_run(result: object) -> None:
    """What a run did, where its report is, and the failed cells."""
    from transferlab.study import RunResult

    assert isinstance(result, RunResult)
    s = result.seconds
    out_console.print(
        f"cells: {result.n_cells} planned, {result.ran} run, {result.skipped} already done or failed before, "
        f"{len(result.failed)} failed  (embedding {s.get('embed', 0):.1f}s, training {s.get('train', 0):.1f}s, "
        f"analysis {s.get('analyse', 0):.1f}s, total {s.get('total', 0):.1f}s)"
    )
    for note in result.notes:
        print(f"transferlab: note: {note}", file=sys.stderr)
    if result.failed_before:
        print(
            f"transferlab: note: {result.failed_before} cells failed in an earlier run and were kept as failed;"
            " add --retry-failed to run them again",
            file=sys.stderr,
        )
    for where, error in result.failed[:10]:
        out_console.print(f"[red]failed[/red] {where}: {error}", highlight=False)
    if result.answer:
        out_console.print("[bold]The answer[/bold]")
        for line in result.answer:
            out_console.print(f"  {line}", highlight=False)
    out_console.print(f"report: {result.out / 'report.html'}")


def main() -> None:
    """Entry point: bad input is one line on stderr and exit code 2, never a traceback."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        code = app(standalone_mode=False)
    except InputError as exc:
        fail(str(exc))
    except (typer.Abort, KeyboardInterrupt):
        print("transferlab: interrupted; run the same command again to continue", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: unknown command or option, bad option value
        fail(usage_line(exc))
    sys.exit(code if isinstance(code, int) else 0)


def fail(message: str) -> None:
    """One line on stderr and exit code 2."""
    print(f"transferlab: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)


def usage_line(exc: Exception) -> str:
    """A click usage error as one line, with the suggestion click computed and where to read more."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    context = getattr(exc, "ctx", None)
    command = context.command_path if context is not None else "transferlab"
    message = message.strip()
    return f"{message}{'' if message.endswith(('.', '?')) else '.'} See `{command} --help`."


if __name__ == "__main__":
    main()
