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
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from transferlab.errors import InputError, unknown_name
from transferlab.study.domain_spec import DOMAIN_KEYS, check_domain_keys, check_domain_study, domain_names
from transferlab.study.language_spec import LANGUAGE_KEYS, check_label_map, check_language_keys, is_language_study
from transferlab.study.protocols import EpisodesSpec, check_unseen_setting


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
    split_seed: int = Field(0, ge=0)
    max_examples: int | None = Field(None, gt=0, description="stratified subsample before splitting")
    image_size: int | None = Field(None, ge=8, description="side images are resized to (image folders, tables)")
    hf_split: str | None = Field(None, description="the split of a hf-disk: / hf: dataset")
    # a domain study (transferlab.study.domain_spec): labels from source domains, tested on target ones
    source_domains: list[str] | None = Field(None, description="values of domain_column that are the source")
    target_domains: list[str] | None = Field(None, description="values of domain_column that are the target")
    target_dataset: str | None = Field(None, description="a second table with the same columns: the target")
    target_test_size: float | None = Field(None, gt=0.0, lt=1.0, description="share of the target held out to test")
    transductive: bool = Field(False, description="adapt to the target test inputs instead of a separate pool")
    # a cross-lingual study (transferlab.study.language_spec): a domain study whose domains are languages
    language_column: str | None = Field(None, description="the column naming each example's language")
    source_languages: list[str] | None = Field(None, description="languages of the labelled budgets")
    target_languages: list[str] | None = Field(None, description="languages of the test set")
    label_map: dict[str, str | None] | None = Field(None, description="target label -> source label (null: drop)")
    max_chars: int | None = Field(None, gt=0, description="texts cut to their first max_chars characters")

    @field_validator("label_map", mode="before")
    @classmethod
    def _label_map(cls, value: Any) -> Any:
        return check_label_map(value)

    @field_validator("source_domains", "target_domains", "source_languages", "target_languages", mode="before")
    @classmethod
    def _domain_names(cls, value: Any) -> Any:
        return domain_names(value)

    @model_validator(mode="after")
    def _domain_keys(self) -> TaskSpec:
        check_domain_keys(self)
        check_language_keys(self)
        return self

    @property
    def is_domain_study(self) -> bool:
        """True when the task names a source and a target domain."""
        return bool(self.source_domains or self.target_domains or self.target_dataset or self.is_language_study)

    @property
    def is_language_study(self) -> bool:
        """True when the task's domains are languages (a cross-lingual study)."""
        return is_language_study(self)

    @model_serializer(mode="wrap")
    def _omit_unset_new_keys(self, handler: Any) -> dict[str, Any]:
        # Keys added after studies were run enter the dump (and so the cell keys) only when set:
        # otherwise every cell of an existing run directory would get a new key and run again.
        data = handler(self)
        for key in ("image_size", "hf_split", *DOMAIN_KEYS, *LANGUAGE_KEYS):
            if data.get(key) in (None, False):
                data.pop(key, None)
        return data


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
    target_budgets: list[int] | None = Field(
        None, description="labelled target examples added to each budget (domain studies): e.g. [0, 10]"
    )
    seeds: int | list[int] = 3
    primary_metric: Literal["accuracy", "nll"] = "accuracy"
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    min_effect: float = Field(0.0, ge=0.0)
    equivalence_margin: float = Field(
        0.02, gt=0.0, description="|gain| within which the best transfer arm and the best baseline are 'equivalent'"
    )
    executor: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1)
    cell_timeout: float | None = Field(None, gt=0, description="seconds a cell may run before it fails")
    max_retries: int = Field(1, ge=0, description="further tries of a cell whose worker process died")
    transferability: list[str] | None = Field(None, description="scores to rank the sources with (summary.json)")
    # the protocols of transferlab.study.protocols: few-shot episodes, and classes held out of training
    evaluation: EpisodesSpec | None = Field(None, description="N-way K-shot episodes of the frozen strategies")
    unseen_classes: int | list[str] | None = Field(None, description="classes held out of training, per seed")

    @field_validator("budgets")
    @classmethod
    def _positive_budgets(cls, budgets: list[int]) -> list[int]:
        if any(b <= 0 for b in budgets):
            raise ValueError(f"budgets must be positive integers, got {budgets}")
        return sorted(set(budgets))

    @field_validator("target_budgets")
    @classmethod
    def _target_budgets(cls, budgets: list[int] | None) -> list[int] | None:
        if budgets is not None and (not budgets or any(b < 0 for b in budgets)):
            raise ValueError(f"target_budgets must list integers >= 0 (0: no target label), got {budgets}")
        return None if budgets is None else sorted(set(budgets))

    @field_validator("seeds")
    @classmethod
    def _seed_list(cls, seeds: int | list[int]) -> int | list[int]:
        if isinstance(seeds, int) and seeds < 1:
            raise ValueError(f"seeds must be >= 1 (a count) or a list of seeds, got {seeds}")
        if isinstance(seeds, list):
            if not seeds or any(s < 0 for s in seeds):
                raise ValueError(f"a list of seeds must hold integers >= 0, got {seeds}")
            if len(set(seeds)) < len(seeds):
                repeated = sorted({s for s in seeds if seeds.count(s) > 1})
                raise ValueError(f"seed {repeated[0]} is listed twice; list each seed once (one replicate each)")
        return seeds

    @field_validator("unseen_classes", mode="before")
    @classmethod
    def _unseen(cls, value: Any) -> Any:
        return check_unseen_setting(value)

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
        _no_repeated_arms("sources", self.sources)
        _no_repeated_arms("strategies and baselines", self.strategies + self.baselines)
        check_domain_study(self)
        if self.unseen_classes is not None and (self.evaluation is not None or self.task.is_domain_study):
            raise InputError("unseen_classes cannot be combined with evaluation (episodes) or a domain study")
        return self

    @property
    def target_budget_list(self) -> list[int]:
        """The target budgets; ``[0]`` (no labelled target example) when none are given."""
        return self.target_budgets or [0]

    @property
    def seed_list(self) -> list[int]:
        """The seeds, whether given as a count or a list."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def canonical(self) -> dict[str, Any]:
        """The resolved spec as plain JSON-able data (saved as the run's spec.yaml)."""
        return json.loads(self.model_dump_json())


def _no_repeated_arms(where: str, arms: list[Arm]) -> None:
    """A repeated arm would run the same cells twice and count them twice: refuse it."""
    labels = [a.label for a in arms]
    for label in labels:
        if labels.count(label) > 1:
            raise InputError(
                f"{where}: {label!r} is listed twice; list each once (to compare two settings of one"
                " strategy, give them different parameters)"
            )


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
