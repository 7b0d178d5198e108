"""Bundled data sets with real domain shift, each example's domain in ``TaskData.domains``.

* **20 Newsgroups cross-domain** (``20ng-comp-rec``, ``20ng-rec-talk``, ``20ng-sci-talk``), the
  classic construction of Dai, Xue, Yang & Yu (2007), "Co-clustering based classification for
  out-of-domain documents", KDD: two top-level categories are the classes, and each category's
  sub-groups are split between a ``source`` and a ``target`` domain (:data:`NEWSGROUP_TASKS`), so
  the label means the same on both sides while the vocabulary moves (computer graphics and Windows
  posts are "comp" in the source, PC and Mac hardware posts in the target). The split is the one
  ``benchmarks/bench_adapt.py`` uses.
* **digits-rotation**: scikit-learn's 1,797 digits, each assigned (stratified by class, seed 0)
  to one of the angles in :data:`ANGLES` and rotated by it; the domain is the angle in degrees.
  Each image lives in one domain only, so a target test image never has a rotated twin among
  the source examples. A relatedness sweep: source 0, targets ever further away. Every image,
  upright ones included, is first upsampled to 32x32 (bilinear) and rotated there: rotating the
  8x8 grid itself blurs every angle but 0 and 90, and a domain classifier then tells the domains
  apart by the blur (seen: AUC 0.99 at 15 degrees) rather than by the rotation. The whole recipe
  (upsampling, bilinear rotation, zero fill, frame kept) is recorded in the fingerprint.

A domain study names the domains with ``domain_column: domain`` and ``source_domains`` /
``target_domains`` (see ``examples/da-*.yaml``).
"""

from __future__ import annotations

import numpy as np

from transferlab.data.task import TaskData, fingerprint_of

NEWSGROUP_TASKS: dict[str, dict[str, dict[str, list[str]]]] = {  # task: {class: {domain: sub-groups}}
    "20ng-comp-rec": {
        "comp": {"source": ["comp.graphics", "comp.os.ms-windows.misc"],
                 "target": ["comp.sys.ibm.pc.hardware", "comp.sys.mac.hardware"]},
        "rec": {"source": ["rec.autos", "rec.motorcycles"], "target": ["rec.sport.baseball", "rec.sport.hockey"]},
    },
    "20ng-rec-talk": {
        "rec": {"source": ["rec.autos", "rec.motorcycles"], "target": ["rec.sport.baseball", "rec.sport.hockey"]},
        "talk": {"source": ["talk.politics.guns", "talk.politics.misc"],
                 "target": ["talk.politics.mideast", "talk.religion.misc"]},
    },
    "20ng-sci-talk": {
        "sci": {"source": ["sci.crypt", "sci.electronics"], "target": ["sci.med", "sci.space"]},
        "talk": {"source": ["talk.politics.guns", "talk.politics.misc"],
                 "target": ["talk.politics.mideast", "talk.religion.misc"]},
    },
}  # fmt: skip
ANGLES = (0, 15, 30, 45, 60, 90, 180)  # degrees; 180 turns a 6 into something like a 9


def load_newsgroup_task(name: str) -> TaskData:
    """One cross-domain 20 Newsgroups task: top-level category labels, ``source`` / ``target`` domains."""
    from transferlab.data.bundled import load_20newsgroups  # bundled.py lists this module's loaders

    corpus = load_20newsgroups()
    group_of = np.array(corpus.classes)[corpus.labels]  # (n,) sub-group name per post
    classes = tuple(sorted(NEWSGROUP_TASKS[name]))
    rows, labels, domains = [], [], []
    for code, category in enumerate(classes):
        for domain, groups in NEWSGROUP_TASKS[name][category].items():
            index = np.flatnonzero(np.isin(group_of, groups))
            rows.append(index)
            labels.append(np.full(len(index), code, dtype=np.int64))
            domains.append(np.full(len(index), domain))
    order = np.argsort(np.concatenate(rows), kind="stable")  # keep the corpus order
    index, y = np.concatenate(rows)[order], np.concatenate(labels)[order]
    texts = [corpus.inputs[i] for i in index]
    recipe = f"{name}:{NEWSGROUP_TASKS[name]}"
    fingerprint = fingerprint_of(texts, y, recipe)
    return TaskData(name, texts, y, classes, "text", fingerprint, domains=np.concatenate(domains)[order])


SIDE = 32  # pixels the 8x8 digits are upsampled to before rotating


def upsample(images: np.ndarray, side: int = SIDE) -> np.ndarray:
    """Images ``(n, H, W)`` resized to ``(n, side, side)`` by bilinear interpolation."""
    from scipy.ndimage import zoom

    return zoom(images, (1, side / images.shape[1], side / images.shape[2]), order=1, mode="nearest")


def rotate_images(images: np.ndarray, angle: float) -> np.ndarray:
    """Images ``(n, H, W)`` rotated by ``angle`` degrees about their centre (bilinear, zero fill, same frame)."""
    from scipy.ndimage import rotate

    return rotate(images, angle, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0)


def assign_domains(labels: np.ndarray, n_domains: int, seed: int = 0) -> np.ndarray:
    """A domain index per example, stratified: each class dealt round-robin over the domains in a seeded order."""
    rng = np.random.default_rng(seed)
    domain = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        domain[members] = (np.arange(len(members)) + int(c)) % n_domains  # offset: domain sizes stay even
    return domain


def load_digits_rotation() -> TaskData:
    """scikit-learn's digits at 32x32, each image in one rotation domain (the angle, ``"0"`` ... ``"180"``)."""
    from transferlab.data.bundled import load_digits_task

    digits = load_digits_task()
    domain = assign_domains(digits.labels, len(ANGLES))
    images = upsample(np.asarray(digits.inputs, dtype=np.float32))  # (n, 32, 32), values 0..16
    for d, angle in enumerate(ANGLES):
        if angle:
            images[domain == d] = rotate_images(images[domain == d], angle)
    images = np.clip(images, 0.0, 16.0)  # bilinear weights are convex: only rounding can leave the range
    recipe = f"digits-rotation:upsample={SIDE};angles={ANGLES};bilinear;zero-fill;same-frame;stratified-seed0"
    names = np.array([str(a) for a in ANGLES])[domain]
    fingerprint = fingerprint_of(images, digits.labels, recipe)
    return TaskData("digits-rotation", images, digits.labels, digits.classes, "image", fingerprint, domains=names)
