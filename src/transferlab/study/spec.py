"""The study spec: a YAML file validated once, with pydantic, into typed settings.

Any wrong key or value becomes one line naming where it is (``sources.1``), what was found
and what is allowed. Names are checked against the registries, so a typo in a source or a
strategy fails before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from transferlab.errors import InputError, unknown_name


class Arm(BaseModel):
    """A registered name with parameters: ``knn`` or ``{name: knn, k: 5}`` in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict) and "params" not in value:
            return {"name": value.get("name"), "params": {k: v for k, v in value.items() if k != "name"}}
        return value

    @property
    def label(self) -> str:
        """The name, with parameters when there are any: ``knn(k=5)``."""
        if not self.params:
            return self.name
        return f"{self.name}(" + ",".join(f"{k}={v}" for k, v in sorted(self.params.items())) + ")"


class TaskSpec(BaseModel):
    """Where the labelled data comes from and how it is split."""

    model_config = ConfigDict(extra="forbid")
    dataset: str
    text_column: str | None = None
    image_column: str | None = None
    feature_columns: list[str] | None = None
    label_column: str = "label"
    domain_column: str | None = None
    test_size: float = Field(0.3, gt=0.0, lt=1.0)
    split_column: str | None = None
    split_seed: int = 0
    max_examples: int | None = Field(None, gt=0, description="stratified subsample before splitting")


class StudySpec(BaseModel):
    """A whole study: one task, sources x strategies x budgets x seeds, against baselines."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    task: TaskSpec
    sources: list[Arm] = Field(min_length=1)
    strategies: list[Arm] = Field(min_length=1)
    baselines: list[Arm] = Field(default_factory=list)
    budgets: list[int] = Field(min_length=1)
    budget_unit: Literal["total", "per_class"] = "total"
    seeds: int | list[int] = 3
    primary_metric: Literal["accuracy", "nll"] = "accuracy"
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    min_effect: float = Field(0.0, ge=0.0)
    executor: Literal["local"] = "local"
    workers: int = Field(1, ge=1)
    transferability: list[str] | None = Field(None, description="scores to rank the sources with (summary.json)")

    @field_validator("budgets")
    @classmethod
    def _positive_budgets(cls, budgets: list[int]) -> list[int]:
        if any(b <= 0 for b in budgets):
            raise ValueError(f"budgets must be positive integers, got {budgets}")
        return sorted(set(budgets))

    @field_validator("seeds")
    @classmethod
    def _seed_list(cls, seeds: int | list[int]) -> int | list[int]:
        if isinstance(seeds, int) and seeds < 1:
            raise ValueError(f"seeds must be >= 1 (a count) or a list of seeds, got {seeds}")
        return seeds

    @field_validator("transferability")
    @classmethod
    def _transferability_names(cls, names: list[str] | None) -> list[str] | None:
        from transferlab.metrics import list_metrics

        known = list_metrics("transferability")
        for name in names or []:
            if name not in known:
                raise unknown_name("transferability score", name, known)
        return names

    @model_validator(mode="after")
    def _known_names(self) -> StudySpec:
        from transferlab.sources import SOURCES, load_builtin_sources
        from transferlab.strategies import STRATEGIES, load_builtin_strategies

        load_builtin_sources()
        load_builtin_strategies()
        for arm in self.sources:
            if not SOURCES.is_known(arm.name):
                raise unknown_name("source", arm.name, SOURCES.names())
        for arm in self.strategies + self.baselines:
            if not STRATEGIES.is_known(arm.name):
                raise unknown_name("strategy", arm.name, STRATEGIES.names())
        return self

    @property
    def seed_list(self) -> list[int]:
        """The seeds, whether given as a count or a list."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def canonical(self) -> dict[str, Any]:
        """The resolved spec as plain JSON-able data (saved as the run's spec.yaml)."""
        return json.loads(self.model_dump_json())


def parse_spec(data: Any, where: str = "spec") -> StudySpec:
    """Validate spec data; any problem becomes one :class:`InputError` line."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a mapping of keys (name, task, sources, ...), got {type(data).__name__}")
    try:
        return StudySpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{where}: {first_error(exc)}") from None
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def first_error(exc: ValidationError) -> str:
    """One readable line from pydantic's first error: location, message and what was found."""
    error = exc.errors()[0]
    location = ".".join(str(p) for p in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if not location:
        return message
    if error["type"] == "extra_forbidden":
        return f"unknown key {location!r}; check the spelling against the spec format in the README"
    if error["type"] == "missing":
        return f"missing key {location!r}"
    found = error.get("input")
    shown = "" if isinstance(found, dict | list) else f" (found {found!r})"
    return f"{location}: {message}{shown}"


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a YAML spec file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"spec file {str(path)!r} does not exist") from None
    except (yaml.YAMLError, UnicodeDecodeError, IsADirectoryError) as exc:
        raise InputError(f"spec file {path.name!r} is not readable YAML: {str(exc).splitlines()[0]}") from None
    return parse_spec(data, path.name)
