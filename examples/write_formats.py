"""Write the bundled data in the formats teams keep their own: an image folder, a table of image
paths, and a Hugging Face dataset saved to disk. The specs ``digits-folder.yaml``,
``digits-table.yaml`` and ``bbc-hf-disk.yaml`` read what this writes.

    .venv/bin/python examples/write_formats.py runs/formats-data
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


def write_digits(root: Path) -> None:
    """scikit-learn's 8x8 digits as root/<digit>/<index>.png (8-bit grey: 0..16 times 15, exact)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = []
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        path = root / str(label) / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 15).astype(np.uint8)).save(path)
        rows.append({"path": f"{label}/{i:04d}.png", "digit": str(label)})
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)  # paths relative to the table


def write_bbc(folder: Path, per_topic: int = 60) -> None:
    """A stratified 300 of the BBC News articles, as a DatasetDict (train, test) with class names."""
    import datasets

    from transferlab.data import load_task, subsample

    task = subsample(load_task("bbc-news"), per_topic * 5, seed=0)
    labels = datasets.ClassLabel(names=list(task.classes))
    rows = {"text": list(task.inputs), "label": task.labels.tolist()}
    features = datasets.Features({"text": datasets.Value("string"), "label": labels})
    parts = datasets.Dataset.from_dict(rows, features=features).train_test_split(
        0.3, seed=0, stratify_by_column="label"
    )
    parts.save_to_disk(str(folder))


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/formats-data")
    write_digits(out / "digits")
    write_bbc(out / "bbc")
    print(f"wrote {out / 'digits'} (image folder and index.csv) and {out / 'bbc'} (hf-disk)")
