"""The study spec: the documented shape parses; every wrong key or value is one clear error."""

from __future__ import annotations

import pytest
import yaml

from transferlab.errors import InputError
from transferlab.study.spec import load_spec, parse_spec

ISSUE_SPEC = """
name: bbc-topic
task:
  dataset: bbc-news
  text_column: text
  label_column: label
  test_size: 0.3
sources: [minilm-l6, minilm-l3]
strategies: [linear-probe, knn, prototype, zero-shot]
baselines: [tfidf-logreg, scratch]
budgets: [10, 40, 160, 640]
seeds: 3
"""


def _spec(**changes):
    data = yaml.safe_load(ISSUE_SPEC)
    data.update(changes)
    return data


def test_issue_spec_parses(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(ISSUE_SPEC)
    spec = load_spec(path)
    assert [a.name for a in spec.sources] == ["minilm-l6", "minilm-l3"]
    assert spec.seed_list == [0, 1, 2] and spec.budgets == [10, 40, 160, 640]


def test_arm_parameters():
    spec = parse_spec(_spec(strategies=["linear-probe", {"name": "knn", "k": 5}]))
    assert spec.strategies[1].params == {"k": 5} and spec.strategies[1].label == "knn(k=5)"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"sourcess": ["minilm-l6"]}, "unknown key 'sourcess'"),
        ({"sources": ["minilm-l7"]}, "unknown source 'minilm-l7'; known sources: .*minilm-l6"),
        ({"strategies": ["linear-prob"]}, "unknown strategy 'linear-prob'; known strategies: .*linear-probe"),
        ({"budgets": [10, -4]}, "budgets must be positive"),
        ({"seeds": 0}, "seeds must be >= 1"),
        ({"task": {"dataset": "bbc-news", "test_size": 1.5}}, "task.test_size"),
        ({"task": {"dataset": "bbc-news", "text_colum": "text"}}, "unknown key 'task.text_colum'"),
    ],
)
def test_bad_specs_are_one_line(changes, match):
    with pytest.raises(InputError, match=match) as info:
        parse_spec(_spec(**changes))
    assert "\n" not in str(info.value)


def test_missing_key_and_unreadable_file(tmp_path):
    data = _spec()
    del data["budgets"]
    with pytest.raises(InputError, match="missing key 'budgets'"):
        parse_spec(data)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="not readable YAML"):
        load_spec(bad)
    with pytest.raises(InputError, match="expected a mapping"):
        parse_spec(["a", "list"])
