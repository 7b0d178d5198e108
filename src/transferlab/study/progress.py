"""A progress bar for cells: done / total, the cell just started, elapsed time and ETA; failures as they happen."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column


class CellProgress:
    """Context manager around a rich progress bar (silent when ``enabled`` is False)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.enabled = enabled and total > 0
        self.progress = Progress(
            TextColumn("cells"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            # the cell's label yields the width: counts and times must never be cut to fit it
            TextColumn("[dim]{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
            console=Console(stderr=True),
            disable=not self.enabled,
            expand=True,
        )
        self.task = self.progress.add_task("starting", total=total)
        self.failures = 0

    def __enter__(self) -> CellProgress:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()

    def describe(self, description: str) -> None:
        """Show the cell now running."""
        self.progress.update(self.task, description=description)

    def advance(self) -> None:
        """One more cell finished."""
        self.progress.update(self.task, advance=1)

    def fail(self, cell: str, error: str) -> None:
        """Show a failed cell as it happens, above the bar (the bar goes on)."""
        self.failures += 1
        if self.enabled:
            self.progress.console.print(f"[red]failed[/red] {escape(cell)}: {escape(error)}", highlight=False)
