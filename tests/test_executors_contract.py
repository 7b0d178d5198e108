"""Contract over the whole executor registry: every executor runs the same cells to the same results.

Each registered executor, built the way the driver builds it, must: yield every cell once; call
``on_start`` for a cell before yielding its outcome; and give, cell for cell, the metrics the
cell gives when run directly in this process.
"""

from __future__ import annotations

import pytest

from transferlab.sources.cache import EmbeddingCache
from transferlab.study import parse_spec, validate
from transferlab.study.cell import CellContext, run_cell
from transferlab.study.executor import EXECUTORS, ExecutorOptions, create_executor


@pytest.mark.parametrize("name", EXECUTORS.names())
def test_executor_runs_every_cell_once_to_the_direct_result(name, tmp_path, feature_csv, request):
    if name == "ray":
        request.getfixturevalue("local_ray")  # skips where Ray is not installed
    spec = parse_spec(
        {
            "name": "contract",
            "task": {"dataset": feature_csv, "feature_columns": ["f0", "f1", "f2", "f3"], "test_size": 0.5},
            "sources": ["identity"],
            "strategies": ["knn", "prototype"],
            "baselines": ["raw-logreg"],
            "budgets": [6, 12],
            "seeds": 1,
        }
    )
    checked = validate(spec)
    cache = EmbeddingCache(tmp_path)
    options = ExecutorOptions(workers=2, cache=cache, sources=checked.sources, split=checked.split)
    started: list[str] = []
    outcomes = {}
    for cell, outcome in create_executor(name, options).run(
        spec, checked.cells, lambda c, at=None: started.append(c.key)
    ):
        assert cell.key in started and cell.key not in outcomes
        outcomes[cell.key] = outcome
    assert sorted(outcomes) == sorted(c.key for c in checked.cells) == sorted(started)
    direct = CellContext(spec, cache, split=checked.split, sources=checked.sources)
    for cell in checked.cells:
        assert not isinstance(outcomes[cell.key], str), outcomes[cell.key]
        assert outcomes[cell.key].metrics == run_cell(cell, direct).metrics, cell.describe()
