"""Image tasks from files: a folder tree, or a table with a column of image paths, decoded with Pillow.

Layouts read:

* ``root/<class>/<image>``: torchvision's ``ImageFolder`` layout, which Hugging Face's
  ``imagefolder`` builder also reads. ``root/train/<class>/...`` with ``root/test/<class>/...``
  fixes the split (the ``train`` / ``test`` values of a split column). Files whose extension
  Pillow is not asked to read here (``README.md``, ``.DS_Store``) are skipped, as both libraries do.
* a CSV / TSV / Parquet / JSONL whose ``image_column`` holds paths, relative to the table's folder.

Why the images are decoded at load into one array ``(n, H, W[, C])`` rather than kept as paths
and decoded per batch: every consumer downstream (the sources, ``raw-logreg``, the fine-tuning
loop's ``prepare``, ``TaskData.subset``) takes arrays, and a study reads each image many times
(once per source, every epoch of every fine-tuned cell), so decoding per batch would decode the
same file again and again. The price is memory: ``n * S * S * 3`` bytes (150 kB an image at
224 px). ``image_size`` lowers it; ``max_examples`` does not, as it subsamples after loading.

Sizes: images keep their size when they all share one (no resampling, so pixels stay exact);
otherwise, or when ``image_size`` is given, each is resized to a square ``image_size`` (default
224) with Pillow's bilinear filter (antialiased when shrinking), the aspect ratio not kept: the
convention of the sources' own resize (:mod:`transferlab.sources.vision`). Pixel types: 8-bit
images give ``uint8`` (read by the sources as 0..255), 16-bit grayscale ``uint16``; one colour
image makes the whole set RGB (Pillow's ``convert("RGB")``, as torchvision's loader does).

Decoding thousands of JPEGs costs more than the rest of loading, and a study is re-run (resumed,
extended) many times, so the decoded array is cached under ``$TRANSFERLAB_CACHE/images``, keyed by
every file's path, size and modification time, the labels and the target size: an edited image
changes its size or mtime, hence the key. The task's fingerprint is a content hash of the decoded
pixels and labels (as for any array task), stored with the array and checked against it on every
hit, so the embedding cache keys on what the images hold, not on where they lie, and a damaged
entry is decoded again rather than served.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from transferlab.data.loaders import encode_labels, require_columns
from transferlab.data.task import TaskData, fingerprint_of
from transferlab.errors import InputError, first_line

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
SPLIT_FOLDERS = ("train", "test")
DEFAULT_SIZE = 224  # when images differ in size: ImageNet's input size, what most image models take
DECODE_VERSION = "images-v1"  # bump when decoding changes, so no cached array of the old rule is served

ImageItem = Path | tuple[str, bytes]  # a file, or (name for messages, encoded bytes) from a data set


# ---------------------------------------------------------------- layouts


def load_image_folder(root: str | Path, image_size: int | None = None) -> TaskData:
    """A task from ``root/<class>/<image>`` (or ``root/{train,test}/<class>/<image>``)."""
    root = Path(root)
    if (root / "dataset_dict.json").is_file() or (root / "dataset_info.json").is_file():
        raise InputError(f"{root} is a saved Hugging Face dataset, not an image folder; give dataset: hf-disk:{root}")
    folders = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        raise InputError(f"{root}: expected an image folder root/<class>/<image>, found no class folders")
    by_split = {p.name for p in folders} <= set(SPLIT_FOLDERS) and len(folders) == len(SPLIT_FOLDERS)
    paths, names, split = [], [], []
    for part in folders if by_split else [root]:
        for folder in _class_folders(part):
            files = _image_files(folder)
            paths += files
            names += [folder.name] * len(files)
            split += [part.name] * len(files)
    labels, classes = encode_labels(np.array(names), root.name)
    task = images_task(root.name, paths, labels, classes, image_size)
    return TaskData(**{**task.__dict__, "split": np.array(split) if by_split else None})


def _class_folders(parent: Path) -> list[Path]:
    folders = [p for p in sorted(parent.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        raise InputError(f"{parent}: expected class folders <class>/<image>, found none")
    return folders


def _image_files(folder: Path) -> list[Path]:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise InputError(
            f"class folder {str(folder)!r} holds no images (expected files ending in"
            f" {', '.join(sorted(IMAGE_SUFFIXES))}); add images or remove the folder"
        )
    return files


def task_from_image_frame(
    frame: pd.DataFrame,
    base: Path,
    name: str,
    image_column: str,
    label_column: str = "label",
    domain_column: str | None = None,
    image_size: int | None = None,
) -> TaskData:
    """A task from a table whose ``image_column`` holds image paths, relative to ``base``."""
    require_columns(frame, [image_column, label_column] + ([domain_column] if domain_column else []), name)
    frame = frame.dropna(subset=[label_column])
    paths = []
    for row, value in zip(frame.index, frame[image_column], strict=True):
        path = base / str(value)
        if pd.isna(value) or not path.is_file():
            raise InputError(f"{name}: row {row}: image {str(value)!r} not found under {str(base)!r}")
        paths.append(path)
    labels, classes = encode_labels(frame[label_column].to_numpy(), name)
    task = images_task(name, paths, labels, classes, image_size)
    domains = frame[domain_column].astype(str).to_numpy() if domain_column else None
    return TaskData(**{**task.__dict__, "domains": domains})


def images_task(
    name: str,
    items: Sequence[ImageItem],
    labels: np.ndarray,
    classes: tuple[str, ...],
    image_size: int | None,
    key: str | None = None,
) -> TaskData:
    """Decode ``items`` (through the cache) into an image task; ``key`` replaces the files' stat key."""
    check_image_size(image_size)
    key = key or stat_key(items)
    images, fingerprint = cached_decode(f"{key}|{image_size}", items, labels, name, image_size)
    return TaskData(name, images, labels, classes, "image", fingerprint)


def check_image_size(image_size: int | None) -> None:
    """``image_size`` must be None or an integer side of at least 8 pixels."""
    if image_size is not None and (not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 8):
        raise InputError(f"image_size must be an integer >= 8 (pixels per side) or left out, got {image_size!r}")


# ---------------------------------------------------------------- the decode cache


def stat_key(items: Sequence[ImageItem]) -> str:
    """Cheap identity of files: every path with its size and modification time (no read)."""
    h = hashlib.sha256(DECODE_VERSION.encode())
    for item in items:
        if isinstance(item, Path):
            stat = item.stat()
            h.update(f"{item.resolve()}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}\x00".encode())
        else:
            h.update(hashlib.sha256(item[1]).digest())
    return h.hexdigest()


def cached_decode(
    key: str, items: Sequence[ImageItem], labels: np.ndarray, name: str, image_size: int | None
) -> tuple[np.ndarray, str]:
    """The decoded images and their content fingerprint, from the cache or decoded and stored.

    An entry is two files: ``<key>.npy`` (the array; ``.npy`` rather than ``.npz``, whose zip
    writer copies the whole array once more) and ``<key>.json`` (its fingerprint), each written to a
    temporary name and moved into place. A hit re-hashes the array (a small cost next to decoding)
    and serves it only if it still has its fingerprint.
    """
    from transferlab.sources.cache import default_cache_dir

    digest = hashlib.sha256(f"{DECODE_VERSION}|{key}".encode() + np.asarray(labels, np.int64).tobytes()).hexdigest()
    array_path = default_cache_dir() / "images" / digest[:2] / f"{digest[:32]}.npy"
    meta_path = array_path.with_suffix(".json")
    try:
        fingerprint = str(json.loads(meta_path.read_text())["fingerprint"])
        images = np.load(array_path, allow_pickle=False)
        if fingerprint_of(images, labels, name) == fingerprint:  # a damaged entry is decoded again, never served
            return images, fingerprint
    except (OSError, ValueError, KeyError, TypeError):
        pass  # absent or unreadable: decode
    images = decode_images(items, image_size)
    fingerprint = fingerprint_of(images, labels, name)  # of the content, as for any array task
    array_path.parent.mkdir(parents=True, exist_ok=True)
    _replace(array_path, lambda tmp: np.save(tmp, images, allow_pickle=False))
    _replace(meta_path, lambda tmp: tmp.write_text(json.dumps({"fingerprint": fingerprint, "name": name})))
    return images, fingerprint


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------- decoding


def decode_images(items: Sequence[ImageItem], image_size: int | None = None) -> np.ndarray:
    """Decode and stack: ``uint8`` or ``uint16`` ``(n, H, W)`` if all grey, ``uint8 (n, H, W, 3)`` if any colour."""
    side = image_size
    if side is None:  # do all share one size? Headers only: cheap, and no image is held twice
        sizes = set()
        for item in items:
            with _open(item) as image:
                sizes.add(image.size)
        side = DEFAULT_SIZE if len(sizes) > 1 else None
    arrays = [_pixels(_decoded(item), side) for item in items]
    if any(a.ndim == 3 for a in arrays):
        return np.stack([_as_rgb8(a) for a in arrays])
    if any(a.dtype == np.uint16 for a in arrays):
        return np.stack([a.astype(np.uint16) * (257 if a.dtype == np.uint8 else 1) for a in arrays])
    return np.stack(arrays)


def _name(item: ImageItem) -> str:
    return str(item) if isinstance(item, Path) else item[0]


def _open(item: ImageItem):  # -> PIL.Image.Image
    from PIL import Image

    try:
        return Image.open(item if isinstance(item, Path) else io.BytesIO(item[1]))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _unreadable(item, exc) from None


def _decoded(item: ImageItem):  # -> PIL.Image.Image
    from PIL import Image

    with _open(item) as image:
        try:
            image.load()  # a truncated file fails here (Pillow refuses truncated images by default)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise _unreadable(item, exc) from None
        return _normal_mode(image)


def _normal_mode(image):  # -> a new PIL.Image.Image in mode L, I;16 or RGB
    from PIL import Image

    if image.mode in ("1", "L", "LA"):
        return image.convert("L")
    if image.mode.startswith("I"):  # 16-bit grayscale PNG / TIFF
        return Image.fromarray(np.clip(np.asarray(image), 0, 65535).astype(np.uint16))
    return image.convert("RGB")


def _unreadable(item: ImageItem, exc: BaseException) -> InputError:
    return InputError(f"cannot decode image {_name(item)!r} ({first_line(exc)}); replace or remove the file")


def _pixels(image, side: int | None) -> np.ndarray:
    from PIL import Image

    if side is not None and image.size != (side, side):
        image = image.resize((side, side), Image.Resampling.BILINEAR)
    return np.asarray(image)


def _as_rgb8(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3:
        return array
    grey = (array >> 8).astype(np.uint8) if array.dtype == np.uint16 else array
    return np.repeat(grey[..., None], 3, axis=-1)
