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
out_console = Console()

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
