"""The command line: a thin layer over the public functions.

Bad input of any kind (:class:`~transferlab.errors.InputError`) prints one line on stderr and
exits with code 2; nothing is written before the input has been checked.
"""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from transferlab.errors import InputError

app = typer.Typer(
    help="transferlab: measure whether, from which source and how to transfer a pretrained model.",
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


@app.command()
def run(
    spec: Annotated[Path, typer.Argument(help="Study spec (YAML); see the README for its keys.")],
    out: OutOption = Path("runs/study"),
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run a study spec into a run directory; running it again continues where it stopped."""
    from transferlab.study import load_spec, run_study

    result = run_study(load_spec(spec), out, progress=not quiet)
    print_run(result)


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


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `transferlab run`.")],
) -> None:
    """Rebuild results.parquet, summary.json and report.html from what a run directory stores."""
    from transferlab.study.rebuild import rebuild_report

    path = rebuild_report(run_dir)
    out_console.print(f"report: {path}")


@app.command()
def sources() -> None:
    """The models transferlab can use here, with modality, size and whether they can be fine-tuned."""
    from transferlab.sources import list_sources
    from transferlab.sources.zoo_text import INFO

    table = Table("name", "modality", "parameters", "dim", "fine-tunable", "package", "description")
    for name in list_sources():
        info = INFO.get(name)
        if info is None:
            table.add_row(name, "text", "-", "-", "yes", "-", "your own model (needs it locally or the network)")
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

    table = Table("name", "kind", "needs labels", "trains backbone", "inputs", "modalities")
    for name in list_strategies():
        cls = strategy_class(name)
        kind = "baseline" if cls.is_baseline else "transfer"
        flags = ("yes" if cls.needs_labels else "no", "yes" if cls.trains_backbone else "no")
        table.add_row(name, kind, *flags, cls.input_kind, ", ".join(cls.modalities))
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
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates per score (0: none).")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the subsample and the bootstrap.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of the table.")] = False,
    validate: Annotated[Path | None, typer.Option(help="A study run directory to check the ranking against.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the JSON to this file.")] = None,
) -> None:
    """Rank sources (and layers) for a task with transferability scores, before fine-tuning any."""
    import json

    from transferlab.data import load_task, subsample
    from transferlab.ranking import rank_sources, validate_ranking
    from transferlab.ranking.agreement import read_summary
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
    result = rank_sources(task, names, chosen_metrics, chosen_layers, n_boot=n_boot, random_state=seed)
    payload = result.to_dict()
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
    for note in result.notes:
        console.print(f"[yellow]note[/yellow] {note}")


def print_run(result: object) -> None:
    """What a run did, where its report is, and the failed cells."""
    from transferlab.study import RunResult

    assert isinstance(result, RunResult)
    s = result.seconds
    out_console.print(
        f"cells: {result.n_cells} planned, {result.ran} run, {result.skipped} already done, "
        f"{len(result.failed)} failed  (embedding {s.get('embed', 0):.1f}s, training {s.get('train', 0):.1f}s, "
        f"analysis {s.get('analyse', 0):.1f}s, total {s.get('total', 0):.1f}s)"
    )
    for where, error in result.failed[:10]:
        out_console.print(f"[red]failed[/red] {where}: {error}")
    out_console.print(f"report: {result.out / 'report.html'}")


def main() -> None:
    """Entry point: bad input is one line on stderr and exit code 2, never a traceback."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app(standalone_mode=False)
    except InputError as exc:
        print(f"transferlab: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("transferlab: interrupted; run the same command again to continue", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
