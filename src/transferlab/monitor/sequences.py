"""Bundled shifted sequences: a study's data, then traffic that starts unshifted and drifts.

Each scenario splits one bundled data set into a *study* part (what the arm is trained and tested
on) and disjoint *traffic*: ``n_clean`` batches drawn like the study's data, then ``n_shifted``
batches that drift away. Every batch keeps its true labels (the benchmark's ground truth;
``write_sequence`` writes them to a separate folder, for ``monitor label``).

* ``newsgroups-drift``: 20 Newsgroups by top-level group (comp, rec, sci, talk). The study sees
  two sub-groups of each (e.g. comp.graphics, comp.os.ms-windows.misc); the traffic's share of the
  other two rises from 1/n to all of it: the classic cross-domain split, made gradual.
* ``bbc-to-slovenian``: BBC News business / politics / sports, and Slovenian news comments
  (slo-opinion) with their topics mapped onto those: Gospodarstvo (economy) -> business,
  Politika -> politics, Šport -> sports (its "Drugo", other, has no counterpart and is left
  out). The Slovenian share rises over four batches to all of the traffic.
* ``digits-rotation``: scikit-learn's 8x8 digits as 64 pixel columns; the traffic's images are
  rotated by a growing angle, 3 degrees more each batch (to 30 over ten batches).

The text studies use minilm-l3 (the zoo's fastest English encoder) and cut texts to their first 600
characters, study and traffic alike: that keeps embedding on two CPU cores to a minute or two per
scenario, and the topic is in the first lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transferlab.errors import unknown_name

MAX_CHARS = 600
NEWSGROUPS_SEEN = ("comp.graphics", "comp.os.ms-windows.misc", "rec.autos", "rec.motorcycles", "sci.crypt",
                   "sci.electronics", "talk.politics.guns", "talk.politics.mideast")  # fmt: skip
NEWSGROUPS_NEW = ("comp.sys.ibm.pc.hardware", "comp.sys.mac.hardware", "rec.sport.baseball", "rec.sport.hockey",
                  "sci.med", "sci.space", "talk.politics.misc", "talk.religion.misc")  # fmt: skip
SLOVENIAN_TOPICS = {"Gospodarstvo": "business", "Politika": "politics", "Šport": "sports"}


@dataclass
class ShiftSequence:
    """A study's data and spec, and the traffic batches (with labels) with how far each is shifted."""

    name: str
    study: pd.DataFrame
    spec: dict[str, Any]
    batches: list[pd.DataFrame]
    shift: list[float]  # 0 for an unshifted batch; the share or angle of the shift otherwise
    clean_pool: pd.DataFrame  # unshifted traffic rows, for drawing more unshifted batches

    @property
    def n_clean(self) -> int:
        return sum(s == 0 for s in self.shift)


def make_sequence(
    name: str, batch_size: int = 60, n_clean: int = 6, n_shifted: int = 10, seed: int = 0
) -> ShiftSequence:
    """One bundled scenario (see the module docstring)."""
    if name not in SCENARIOS:
        raise unknown_name("scenario", name, SCENARIOS)
    return SCENARIOS[name](batch_size, n_clean, n_shifted, np.random.default_rng(seed))


def write_sequence(name: str, out: str | Path) -> dict[str, Any]:
    """Write ``study.csv`` and ``study.yaml``, ``traffic/batch-NNN.csv`` (inputs only), ``labels/batch-NNN.csv``."""
    import yaml

    sequence = make_sequence(name)
    folder = Path(out).expanduser().resolve()
    (folder / "traffic").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(exist_ok=True)
    sequence.study.to_csv(folder / "study.csv", index=False)
    spec = sequence.spec | {"task": sequence.spec["task"] | {"dataset": str(folder / "study.csv")}}
    (folder / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    for i, batch in enumerate(sequence.batches):
        batch.drop(columns="label").to_csv(folder / "traffic" / f"batch-{i:03d}.csv", index=False)
        batch[["label"]].to_csv(folder / "labels" / f"batch-{i:03d}.csv", index=False)
    return {"spec": folder / "study.yaml", "batches": folder / "traffic", "labels": folder / "labels",
            "n_batches": len(sequence.batches), "n_clean": sequence.n_clean}  # fmt: skip


def _text_spec(name: str) -> dict[str, Any]:
    task = {"dataset": "study.csv", "text_column": "text", "label_column": "label", "test_size": 0.5}
    return {
        "name": name,
        "task": task,
        "sources": ["minilm-l3"],
        "strategies": ["linear-probe"],
        "budgets": [200],
        "seeds": 1,
    }


def _take(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` random rows of ``frame``, and the rest."""
    rows = rng.permutation(len(frame))
    return frame.iloc[rows[:n]].reset_index(drop=True), frame.iloc[rows[n:]].reset_index(drop=True)


def _mixed_batches(
    old: pd.DataFrame, new: pd.DataFrame, shares: list[float], size: int, rng: np.random.Generator
) -> list[pd.DataFrame]:
    """Batches with ``share`` of their rows from ``new``, the rest from ``old``, none repeated."""
    batches = []
    for share in shares:
        k = int(round(share * size))
        part_new, new = _take(new, k, rng)
        part_old, old = _take(old, size - k, rng)
        batches.append(pd.concat([part_old, part_new]).sample(frac=1.0, random_state=int(rng.integers(2**31))))
    return [b.reset_index(drop=True) for b in batches]


def _texts(task: Any, keep: dict[str, str]) -> pd.DataFrame:
    """Text and mapped label of the examples whose class is a key of ``keep``."""
    names = np.array(task.classes)[task.labels]
    rows = np.flatnonzero(np.isin(names, list(keep)))
    texts = [str(task.inputs[i])[:MAX_CHARS] for i in rows]
    return pd.DataFrame({"text": texts, "label": [keep[n] for n in names[rows]], "group": names[rows]})


def _without_groups(sequence: ShiftSequence) -> ShiftSequence:
    """The sub-group column dropped everywhere (a batch has only text and label)."""

    def drop(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns="group")

    sequence.study, sequence.clean_pool = drop(sequence.study), drop(sequence.clean_pool)
    sequence.batches = [drop(b) for b in sequence.batches]
    return sequence


def _newsgroups(size: int, n_clean: int, n_shifted: int, rng: np.random.Generator) -> ShiftSequence:
    from transferlab.data import load_task

    task = load_task("20newsgroups")
    seen = _texts(task, {g: g.split(".")[0] for g in NEWSGROUPS_SEEN})
    new = _texts(task, {g: g.split(".")[0] for g in NEWSGROUPS_NEW})
    study = pd.concat([_take(part, 150, rng)[0] for _, part in seen.groupby("label")])
    pool = seen.drop(index=seen.index[seen.text.isin(study.text)])
    shares = [0.0] * n_clean + [(k + 1) / n_shifted for k in range(n_shifted)]
    batches = _mixed_batches(pool, new, shares, size, rng)
    spec = _text_spec("newsgroups-drift")
    return _without_groups(ShiftSequence("newsgroups-drift", study, spec, batches, shares, pool))


def _bbc_slovenian(size: int, n_clean: int, n_shifted: int, rng: np.random.Generator) -> ShiftSequence:
    from transferlab.data import load_task

    bbc = _texts(load_task("bbc-news"), {"business": "business", "politics": "politics", "sports": "sports"})
    slovenian = _texts(load_task("slo-opinion"), SLOVENIAN_TOPICS)
    study = pd.concat([_take(part, 200, rng)[0] for _, part in bbc.groupby("label")])
    pool = bbc.drop(index=bbc.index[bbc.text.isin(study.text)])
    ramp = [min(1.0, (k + 1) / 4) for k in range(n_shifted)]
    shares = [0.0] * n_clean + ramp
    batches = _mixed_batches(pool, slovenian, shares, size, rng)
    spec = _text_spec("bbc-to-slovenian")
    return _without_groups(ShiftSequence("bbc-to-slovenian", study, spec, batches, shares, pool))


def rotate_digits(images: np.ndarray, angle: float) -> np.ndarray:
    """8x8 digit images ``(n, 8, 8)`` rotated by ``angle`` degrees about their centre (bilinear, kept in 0..16)."""
    from scipy import ndimage

    rotated = ndimage.rotate(images, angle, axes=(1, 2), reshape=False, order=1, mode="constant", cval=0.0)
    return np.clip(rotated, 0.0, 16.0)


def _digits(size: int, n_clean: int, n_shifted: int, rng: np.random.Generator) -> ShiftSequence:
    from sklearn.datasets import load_digits

    digits = load_digits()
    columns = [f"px{i}" for i in range(64)]
    order = rng.permutation(len(digits.target))
    study_rows, traffic_rows = order[:900], order[900:]

    def frame(rows: np.ndarray, angle: float) -> pd.DataFrame:
        pixels = rotate_digits(digits.images[rows], angle).reshape(len(rows), 64) if angle else digits.data[rows]
        return pd.DataFrame(pixels, columns=columns).assign(label=digits.target[rows].astype(str))

    angles = [0.0] * n_clean + [3.0 * (k + 1) for k in range(n_shifted)]
    per = min(size, len(traffic_rows) // len(angles))  # every batch the same size
    parts = np.array_split(traffic_rows, len(angles))
    batches = [frame(rows[:per], angle) for rows, angle in zip(parts, angles, strict=True)]
    task = {"dataset": "study.csv", "feature_columns": columns, "label_column": "label", "test_size": 0.5}
    spec = {"name": "digits-rotation", "task": task, "sources": ["identity"], "strategies": ["linear-probe"],
            "budgets": [200], "seeds": 1}  # fmt: skip
    return ShiftSequence("digits-rotation", frame(study_rows, 0.0), spec, batches, angles, frame(traffic_rows, 0.0))


SCENARIOS: dict[str, Callable[[int, int, int, np.random.Generator], ShiftSequence]] = {
    "newsgroups-drift": _newsgroups,
    "bbc-to-slovenian": _bbc_slovenian,
    "digits-rotation": _digits,
}
