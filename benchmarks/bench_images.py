"""Reading an image folder: ours cold (decode and cache) and warm (cached), side by side with a plain
Pillow loop and with Hugging Face ``datasets``' ``imagefolder`` builder, on the same real JPEGs.

Run: ``.venv/bin/python benchmarks/bench_images.py`` (``--n 600`` for more images). The images are
random 256 px crops of scikit-learn's two sample photographs (china.jpg, flower.jpg: one class
each), saved as JPEG; every reader decodes them to one ``uint8`` array ``(n, 224, 224, 3)`` and the
script checks that all agree pixel for pixel. Each reader runs alternately, best of ``--repeat``;
ratios are the result, as the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from machine import cpu_model  # noqa: E402

SIDE = 224


def write_folder(root: Path, n: int, seed: int = 0) -> None:
    """``n`` JPEG crops in root/<photo>/<i>.jpg, half from each sample photograph."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    photos = load_sample_images()
    for i in range(n):
        name, photo = ("china", "flower")[i % 2], photos.images[i % 2]  # (427, 640, 3)
        top, left = rng.integers(0, photo.shape[0] - 256), rng.integers(0, photo.shape[1] - 256)
        crop = photo[top : top + 256, left : left + 256]
        (root / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(crop[:, ::-1] if rng.random() < 0.5 else crop).save(root / name / f"{i:05d}.jpg", quality=90)


def ours(root: Path, cache: Path) -> np.ndarray:
    from transferlab.data import load_task

    os.environ["TRANSFERLAB_CACHE"] = str(cache)
    return load_task(str(root), image_size=SIDE).inputs


def plain_pillow(root: Path) -> np.ndarray:
    """The straightforward loop: open, convert, resize, stack (no cache)."""
    files = sorted(root.glob("*/*.jpg"))
    return np.stack(
        [np.asarray(Image.open(f).convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR)) for f in files]
    )


def hf_imagefolder(root: Path, cache: Path) -> np.ndarray:
    """``datasets.load_dataset("imagefolder")`` (builds its Arrow cache), then the same resize."""
    import datasets

    datasets.disable_progress_bars()
    part = datasets.load_dataset("imagefolder", data_dir=str(root), split="train", cache_dir=str(cache))
    resized = [image.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR) for image in part["image"]]
    return np.stack([np.asarray(image) for image in resized])


def timed(fn, *args) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="images (default 300)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each reader; the best counts")
    args = parser.parse_args(argv)
    print(f"CPU: {cpu_model()}, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        write_folder(root, args.n)
        best = {"ours cold": np.inf, "ours warm": np.inf, "plain Pillow loop": np.inf, "datasets imagefolder": np.inf}
        results = {}
        for rep in range(args.repeat):
            cache = Path(tmp) / f"cache{rep}"
            for name, call in (
                ("ours cold", lambda c=cache: ours(root, c)),
                ("ours warm", lambda c=cache: ours(root, c)),
                ("plain Pillow loop", lambda: plain_pillow(root)),
                ("datasets imagefolder", lambda c=cache: hf_imagefolder(root, c / "hf")),
            ):
                results[name], seconds = timed(call)
                best[name] = min(best[name], seconds)
    reference = results["plain Pillow loop"]
    agree = all(np.array_equal(v, reference) for v in results.values())
    print(f"{args.n} JPEGs of 256 px -> uint8 {reference.shape}, best of {args.repeat}")
    print(f"{'reader':>22} {'seconds':>8} {'images/s':>9}")
    for name, seconds in best.items():
        print(f"{name:>22} {seconds:8.3f} {args.n / seconds:9.0f}")
    print(f"ours cold / plain loop time: {best['ours cold'] / best['plain Pillow loop']:.2f}")
    print(f"plain loop / ours warm time (what the cache saves): {best['plain Pillow loop'] / best['ours warm']:.1f}x")
    print(f"datasets imagefolder / ours cold time: {best['datasets imagefolder'] / best['ours cold']:.2f}")
    print(f"all readers give the same pixels: {agree}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
