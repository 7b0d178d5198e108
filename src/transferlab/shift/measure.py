"""``measure_shift``: load two samples, embed them with one source, and run every shift statistic.

The public function behind ``transferlab shift``. The statistics themselves are pure functions in
:mod:`transferlab.metrics` (:func:`~transferlab.metrics.shift_block.shift_block`); this module
only reads the data, checks it before any model loads, and embeds through the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transferlab.errors import bad_parameter
from transferlab.metrics.shift_block import shift_block
from transferlab.shift.inputs import Side, check_modalities, load_side, shared_codes, subsample_side
from transferlab.sources.cache import EmbeddingCache


def measure_shift(
    source_data: str,
    target_data: str,
    source: str = "minilm-l6",
    text_column: str | None = None,
    label_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    max_examples: int = 1000,
    alpha: float = 0.05,
    n_permutations: int = 1000,
    n_boot: int = 1000,
    seed: int = 0,
    cache: EmbeddingCache | None = None,
) -> dict[str, Any]:
    """Is there a shift between two data sets, what kind, and what does the Ben-David bound say?

    Parameters
    ----------
    source_data, target_data : str
        Bundled data set names or files (CSV / TSV / Parquet / JSONL, ...).
    source : str
        The model whose features are compared (``transferlab sources``); ``identity`` for
        feature columns.
    text_column, label_column, feature_columns
        Columns of the files (default ``text``; ``label`` where present).
    max_examples : int
        Rows kept per side: a stratified subsample when labelled, uniform otherwise.
    alpha : float
        False-alarm level of the whole diagnosis.
    n_permutations, n_boot, seed
        MMD permutations, BBSE bootstrap replicates, seed of every random choice.
    cache : EmbeddingCache, optional
        Where embeddings are read or stored; default ``EmbeddingCache()``.

    Returns
    -------
    dict
        What :func:`~transferlab.metrics.shift_block.shift_block` returns, plus the data, the
        source, the classes and the sizes before subsampling. JSON-able.
    """
    from transferlab.sources import create_source  # loads the model registry: only once the inputs are checked

    _check_settings(max_examples, alpha, n_permutations, n_boot)
    src = load_side(source_data, "source", text_column, label_column, feature_columns)
    tgt = load_side(target_data, "target", text_column, label_column, feature_columns)
    check_modalities(src, tgt, source)
    src, tgt = subsample_side(src, max_examples, seed), subsample_side(tgt, max_examples, seed + 1)
    model = create_source(source)
    cache = cache or EmbeddingCache()
    X_source, X_target = cache.get(model, src.task), cache.get(model, tgt.task)
    y_source, y_target, classes = shared_codes(src, tgt)
    block = shift_block(
        X_source,
        X_target,
        y_source,
        y_target,
        classes=classes,
        alpha=alpha,
        n_permutations=n_permutations,
        max_samples=None,  # already subsampled to max_examples
        n_boot=n_boot,
        random_state=seed,
    )
    header: dict[str, Any] = {
        "source_data": source_data,
        "target_data": target_data,
        "source": source,
        "classes": classes,
    }
    header |= {"source_labelled": src.labelled, "target_labelled": tgt.labelled}
    header |= {"n_source_total": src.n_total, "n_target_total": tgt.n_total}
    block["notes"] = _side_notes(tgt, label_column) + block["notes"]
    return header | block


def _check_settings(max_examples: int, alpha: float, n_permutations: int, n_boot: int) -> None:
    if not (isinstance(max_examples, int) and max_examples >= 8):
        raise bad_parameter("shift", "max_examples", max_examples, "an int >= 8 (examples kept per side)")
    if not 0.0 < alpha < 1.0:
        raise bad_parameter("shift", "alpha", alpha, "between 0 and 1")
    if not (isinstance(n_permutations, int) and n_permutations >= 19):
        raise bad_parameter("shift", "n_permutations", n_permutations, "an int >= 19 (p-values down to 0.05)")
    if not (isinstance(n_boot, int) and n_boot >= 10):
        raise bad_parameter("shift", "n_boot", n_boot, "an int >= 10")


def _side_notes(target: Side, label_column: str | None) -> list[str]:
    if target.labelled:
        return []
    column = label_column or "label"
    return [
        f"the target has no {column!r} column: input tests and BBSE's estimate only (no measured priors,"
        " no lambda and no measured target error in the bound)"
    ]
