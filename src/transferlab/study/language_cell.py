"""The cross-lingual part of a study: its two sides, each cell's second test set, what the analysis gets.

* **Sides** (:func:`language_sides`): the source and target examples by language, from one table
  with a language column or from two tables (:mod:`transferlab.data.languages`).
* **The source-language test set** is the domain split's held-out source set (``test_size`` of the
  source, the set the validators score on). In a cross-lingual study every cell also predicts it,
  with the model it fitted once, so the transfer matrix has both columns: the target test set
  (the cell's usual predictions) and this one. The cell file holds both, the latter in rows
  marked ``part = source_test`` (:func:`with_source_rows`); a study without languages writes the
  file as before.
* **What the analysis gets** (:func:`language_view`): the languages of each side and of each test
  example, the source test labels, and each source's declared languages (``SourceInfo.languages``,
  a static table: no model is loaded), which tell the multilingual sources from the controls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from transferlab.analysis.cross_lingual import LanguageView
from transferlab.data import TaskData, TaskSplit, load_task
from transferlab.data.languages import check_languages_apart, example_languages, select_languages, split_by_language

if TYPE_CHECKING:
    from transferlab.study.cell import CellContext
    from transferlab.study.planner import Cell
    from transferlab.study.spec import StudySpec, TaskSpec

SOURCE_PART = "source_test"


def language_sides(task: TaskSpec, columns: dict[str, Any]) -> tuple[TaskData, TaskData]:
    """(source, target) of a cross-lingual task, every example's language set."""
    column = task.language_column
    if not task.target_dataset:
        data = example_languages(load_task(task.dataset, domain_column=column, **columns), None, "source")
        return split_by_language(data, task.source_languages, task.target_languages, str(column))
    where = f"column {column!r}" if column else "its language"
    source = example_languages(
        load_task(task.dataset, domain_column=column, **columns), task.source_languages, "source"
    )
    target = example_languages(
        load_task(task.target_dataset, domain_column=column, **columns), task.target_languages, "target"
    )
    source = select_languages(source, task.source_languages, "source", where)
    target = select_languages(target, task.target_languages, "target", where)
    check_languages_apart(source, target)
    return source, target


def source_test_proba(strategy: Any, cell: Cell, context: CellContext, kind: str) -> np.ndarray:
    """A fitted strategy's probabilities on the source-language test set: ``(n_source_test, C)``."""
    from transferlab.study.cell import check_proba

    held_out = context.task().source_val
    assert held_out is not None  # a cross-lingual study is a domain study
    inputs = context.cache.get(context.source(cell.source), held_out) if kind == "features" else held_out.inputs
    return check_proba(strategy.predict_proba_source(inputs), len(held_out), held_out.n_classes, cell)


def with_source_rows(frame: pd.DataFrame, source_proba: np.ndarray) -> pd.DataFrame:
    """A cell file's rows: the target test set's (``part = test``), then the source test set's."""
    from transferlab.study.drive import prediction_frame

    source = prediction_frame(source_proba).assign(part=SOURCE_PART)
    return pd.concat([frame.assign(part="test"), source], ignore_index=True)


def split_source_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None]:
    """(the target test rows, the source test set's probabilities or None) of a cell file."""
    if "part" not in frame.columns:
        return frame, None
    source = frame[frame["part"] == SOURCE_PART]
    return frame[frame["part"] != SOURCE_PART].reset_index(drop=True), proba_columns(source)


def proba_columns(frame: pd.DataFrame) -> np.ndarray:
    """The ``p0 .. p{C-1}`` columns of a cell file as ``(n, C)``."""
    return frame[[c for c in frame.columns if c.startswith("p") and c[1:].isdigit()]].to_numpy(np.float64)


def language_view(spec: StudySpec, split: TaskSplit) -> LanguageView:
    """What the ``cross_lingual`` block needs besides the cells (see the module docstring)."""
    from transferlab.sources import load_builtin_sources
    from transferlab.sources.zoo_text import INFO

    load_builtin_sources()
    held_out = split.source_val
    assert held_out is not None and held_out.languages is not None and split.test.languages is not None
    coverage = {a.label: (INFO[a.name].languages if a.name in INFO else None) for a in spec.sources}
    return LanguageView(
        source_languages=tuple(sorted(set(split.train.languages.tolist()))),  # type: ignore[union-attr]
        target_languages=tuple(sorted(set(split.test.languages.tolist()))),
        test_languages=np.asarray(split.test.languages).astype(str),
        source_test_labels=held_out.labels,
        source_test_languages=np.asarray(held_out.languages).astype(str),
        coverage=coverage,
        label_map=spec.task.label_map,
    )
