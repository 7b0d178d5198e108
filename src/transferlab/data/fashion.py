"""Fashion-MNIST (Xiao et al. 2017) from Debian's ``dataset-fashion-mnist`` package: an optional data set.

70,000 grayscale 28x28 images of 10 clothing classes, read from the package's gzipped IDX files
(its 60,000 training and 10,000 test images together; a study splits them by ``test_size``).
Its class names are words a text encoder knows ("sandal", "ankle boot"), which is what makes it a
zero-shot-across-modalities task, unlike digits. It needs ``apt-get install dataset-fashion-mnist``
(root): nothing here depends on it being installed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from transferlab.data.task import TaskData, fingerprint_of
from transferlab.errors import InputError

ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
PARTS = ("train", "t10k")


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (LeCun's MNIST format: magic, big-endian sizes, then unsigned bytes)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    n_dims = data[3]
    if data[:3] != b"\x00\x00\x08" or n_dims not in (1, 3):
        raise InputError(f"{path} is not an IDX file of unsigned bytes; reinstall dataset-fashion-mnist")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def load_fashion_mnist(root: Path = ROOT) -> TaskData:
    """The 70,000 images (uint8, (n, 28, 28)) with their class names."""
    files = [
        root / f"{part}-{kind}-idx{dims}-ubyte.gz" for part in PARTS for kind, dims in (("images", 3), ("labels", 1))
    ]
    if not all(f.is_file() for f in files):
        raise InputError(
            f"fashion-mnist needs Debian's package (its files are not in {root}): apt-get install dataset-fashion-mnist"
        )
    images = np.concatenate([read_idx(files[0]), read_idx(files[2])])  # (70000, 28, 28)
    labels = np.concatenate([read_idx(files[1]), read_idx(files[3])]).astype(np.int64)
    # uint8 pixels are finite by construction: no float copy of 55M values to check them
    return TaskData("fashion-mnist", images, labels, CLASSES, "image", fingerprint_of(images, labels, "fashion-mnist"))
