"""Data where users keep it: image folders, tables of image paths, Hugging Face datasets saved to
disk, plain .npz, and the bad inputs of each (one line, exit code 2, nothing written).

CLI calls run in-process with typer's ``CliRunner`` (``standalone_mode=False`` lets the
:class:`InputError` through); one subprocess call checks the real exit code.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from sklearn.datasets import load_digits
from typer.testing import CliRunner

from transferlab.cli import app
from transferlab.data import load_task, split_task
from transferlab.errors import InputError
from transferlab.study import parse_spec, run_study

PER_CLASS = 20
LITE0 = "efficientnet-lite0(image_size=64)"


def digits_subset() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images 0..16, labels, original indices): the first PER_CLASS of each digit, grouped by class."""
    digits = load_digits()
    order = np.argsort(digits.target, kind="stable")  # by class, then original index: the files' name order
    keep = np.concatenate([order[digits.target[order] == c][:PER_CLASS] for c in range(10)])
    return digits.images[keep], digits.target[keep], keep


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory) -> Path:
    """The digits as root/<digit>/<index>.png in 16-bit grey: 0..16 times 4095, exact both ways."""
    root = tmp_path_factory.mktemp("images") / "digits"
    images, labels, index = digits_subset()
    for image, label, i in zip(images, labels, index, strict=True):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 4095).astype(np.uint16)).save(root / str(label) / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory) -> Path:
    images, labels, _ = digits_subset()
    path = tmp_path_factory.mktemp("arrays") / "digits.npz"
    np.savez(path, X=images.astype(np.float32), y=labels)
    return path


def write_image(path: Path, size: tuple[int, int], value: int, grey: bool = False) -> None:
    """A flat image of ``size`` (width, height), RGB or grey, at ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0]) if grey else (size[1], size[0], 3)
    Image.fromarray(np.full(shape, value, dtype=np.uint8)).save(path)


def two_classes(root: Path, n: int = 3) -> Path:
    for label, value in (("cat", 30), ("dog", 220)):
        for i in range(n):
            write_image(root / label / f"{i}.png", (8, 8), value + i)
    return root


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), standalone_mode=False)


# ---------------------------------------------------------------- the done-when check


def test_image_folder_study_gives_the_array_numbers(tmp_path, digits_folder, digits_npz):
    # One example per class: the probe and raw-logreg then fit one logistic regression each, with no
    # cross-validation. Above that, their CV folds are shuffled with a seed drawn from the cell's key,
    # which holds the dataset's path, so two paths to the same pixels draw different folds.
    def study(dataset: Path, out: str) -> dict:
        spec = {
            "name": "digits-formats",
            "task": {"dataset": str(dataset), "test_size": 0.3},
            "sources": [{"name": "efficientnet-lite0", "image_size": 64}],
            "strategies": ["linear-probe", "prototype"],
            "baselines": ["raw-logreg"],
            "budgets": [1],
            "budget_unit": "per_class",
            "seeds": 2,
        }
        run_study(parse_spec(spec), tmp_path / out, progress=False)
        entries = json.loads((tmp_path / out / "summary.json").read_text())["entries"]
        return {(e["source"], e["strategy"]): e for e in entries}

    from_folder, from_arrays = study(digits_folder, "folder"), study(digits_npz, "arrays")
    assert set(from_folder) == set(from_arrays) and len(from_folder) == 3
    for arm, entry in from_arrays.items():
        if arm[1] == "raw-logreg":  # pixels x 4095 standardise to the same features, up to float rounding
            assert from_folder[arm]["metrics"] == pytest.approx(entry["metrics"], rel=1e-7, abs=1e-9)
            continue
        for key in ("mean", "lo", "hi"):  # the same pixels embed to the same features, so the same predictions
            assert from_folder[arm][key] == entry[key], (arm, key)
        # ... up to float32 rounding: with one BLAS thread (pytest's workers), the convolutions of
        # differently composed batches sum in another order, which moves the NLL in its 6th digit
        assert from_folder[arm]["metrics"] == pytest.approx(entry["metrics"], rel=1e-4), arm
        assert {g: v["gain"] for g, v in from_folder[arm]["gains"].items()} == pytest.approx(
            {g: v["gain"] for g, v in entry["gains"].items()}, abs=1e-12
        )
    assert from_folder[(LITE0, "prototype")]["metrics"]["accuracy"] > 0.3  # 1 label per class, 10 classes


def test_folder_decodes_exact_pixels_in_file_order(digits_folder):
    images, labels, _ = digits_subset()
    task = load_task(str(digits_folder))
    assert task.modality == "image" and task.inputs.dtype == np.uint16 and task.inputs.shape == images.shape
    np.testing.assert_array_equal(task.inputs, (images * 4095).astype(np.uint16))
    assert [task.classes[i] for i in task.labels] == [str(y) for y in labels]


# ---------------------------------------------------------------- layouts, sizes and the decode cache


def test_table_of_image_paths_equals_the_folder(digits_folder):
    files = sorted(digits_folder.glob("*/*.png"))
    table = pd.DataFrame(
        {"file": [str(p.relative_to(digits_folder)) for p in files], "digit": [p.parent.name for p in files]}
    )
    table.to_csv(digits_folder / "index.csv", index=False)  # paths are relative to the table
    from_table = load_task(str(digits_folder / "index.csv"), label_column="digit", image_column="file")
    from_folder = load_task(str(digits_folder))
    np.testing.assert_array_equal(from_table.inputs, from_folder.inputs)
    np.testing.assert_array_equal(from_table.labels, from_folder.labels)


def test_train_and_test_folders_fix_the_split(tmp_path):
    for part, n in (("train", 4), ("test", 2)):
        for label, value in (("cat", 10), ("dog", 200)):
            for i in range(n):
                write_image(tmp_path / part / label / f"{i}.jpg", (12, 10), value)
    split = split_task(load_task(str(tmp_path)))
    assert (len(split.train), len(split.test)) == (8, 4)
    assert split.train.inputs.shape == (8, 10, 12, 3) and split.train.inputs.dtype == np.uint8


def test_mixed_sizes_and_modes_become_one_rgb_array(tmp_path):
    write_image(tmp_path / "a" / "0.png", (40, 30), 50)
    write_image(tmp_path / "b" / "0.png", (20, 20), 120, grey=True)
    (tmp_path / "b" / "notes.txt").write_text("not an image: skipped, as torchvision does")
    assert load_task(str(tmp_path)).inputs.shape == (2, 224, 224, 3)  # sizes differ: the default side
    task = load_task(str(tmp_path), image_size=16)
    assert task.inputs.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(task.inputs[1], 120)  # grey repeated to RGB; a flat image stays flat


def test_decoded_images_are_cached_and_an_edit_changes_the_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFERLAB_CACHE", str(tmp_path / "cache"))  # a cache of this test's alone
    root = two_classes(tmp_path / "pets")
    first = load_task(str(root))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although nothing changed")

    with monkeypatch.context() as patch:
        patch.setattr("transferlab.data.images.decode_images", no_decoding)
        again = load_task(str(root))
    assert again.fingerprint == first.fingerprint
    np.testing.assert_array_equal(again.inputs, first.inputs)
    (entry,) = (tmp_path / "cache" / "images").glob("*/*.npy")
    np.save(entry, np.zeros_like(first.inputs))  # a damaged entry: decoded again, never served
    np.testing.assert_array_equal(load_task(str(root)).inputs, first.inputs)
    write_image(root / "cat" / "1.png", (8, 8), 7)
    edited = load_task(str(root))
    assert edited.fingerprint != first.fingerprint and int(edited.inputs[1].max()) == 7


# ---------------------------------------------------------------- Hugging Face datasets


@pytest.fixture(scope="module")
def saved_datasets(tmp_path_factory) -> Path:
    import datasets

    folder = tmp_path_factory.mktemp("hf")
    labels = datasets.ClassLabel(names=["neg", "pos"])
    text = {"text": ["good", "bad", "fine", "awful", "great", "poor"], "label": [1, 0, 1, 0, 1, 0]}
    features = datasets.Features({"text": datasets.Value("string"), "label": labels})
    part = datasets.Dataset.from_dict(text, features=features)
    datasets.DatasetDict({"train": part, "test": part.select(range(4))}).save_to_disk(folder / "reviews")
    pngs = []
    for value in (10, 20, 200, 210):
        write_image(folder / "tmp.png", (6, 6), value, grey=True)
        pngs.append({"bytes": (folder / "tmp.png").read_bytes(), "path": None})
    images = {"image": pngs, "label": [0, 0, 1, 1]}
    image_features = datasets.Features({"image": datasets.Image(), "label": labels})
    datasets.Dataset.from_dict(images, features=image_features).save_to_disk(folder / "pictures")
    return folder


def test_hf_disk_text_dataset_keeps_its_splits_and_class_names(saved_datasets):
    task = load_task(f"hf-disk:{saved_datasets / 'reviews'}")
    assert task.modality == "text" and task.classes == ("neg", "pos") and len(task) == 10
    split = split_task(task)
    assert (len(split.train), len(split.test)) == (6, 4)
    one = load_task(f"hf-disk:{saved_datasets / 'reviews'}", hf_split="test")
    assert len(one) == 4 and one.split is None


def test_hf_disk_image_dataset_is_decoded(saved_datasets):
    task = load_task(f"hf-disk:{saved_datasets / 'pictures'}", image_column="image")
    assert task.modality == "image" and task.inputs.shape == (4, 6, 6) and task.inputs.dtype == np.uint8
    np.testing.assert_array_equal(task.inputs[:, 0, 0], [10, 20, 200, 210])
    assert task.classes == ("neg", "pos")


def test_hf_disk_study_runs_from_a_spec(tmp_path, saved_datasets):
    spec = {
        "name": "pictures",
        "task": {"dataset": f"hf-disk:{saved_datasets / 'pictures'}", "image_column": "image", "test_size": 0.5},
        "sources": ["efficientnet-lite0"],
        "strategies": ["prototype"],
        "budgets": [2],
        "seeds": 1,
    }
    result = run_study(parse_spec(spec), tmp_path / "run", progress=False)
    assert (result.n_cells, result.failed) == (1, [])


# ---------------------------------------------------------------- bad input: one line each


def test_bad_image_folders(tmp_path):
    write_image(tmp_path / "one" / "only" / "0.png", (8, 8), 1)
    with pytest.raises(InputError, match="at least 2 classes, found only 'only'"):
        load_task(str(tmp_path / "one"))
    root = two_classes(tmp_path / "empty-class")
    (root / "bird").mkdir()
    (root / "bird" / "README.md").write_text("no images here")
    with pytest.raises(InputError, match=r"class folder '.*bird' holds no images"):
        load_task(str(root))
    with pytest.raises(InputError, match="found no class folders"):
        load_task(str(tmp_path / "empty-class" / "cat"))


@pytest.mark.parametrize("damage", ["truncated", "not-an-image"])
def test_unreadable_image_is_named(tmp_path, damage):
    root = two_classes(tmp_path / "pets")
    bad = root / "dog" / "bad.jpg"
    write_image(bad, (64, 64), 90)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"this is text")
    with pytest.raises(InputError, match=r"cannot decode image '.*dog/bad\.jpg' .*replace or remove the file"):
        load_task(str(root))


def test_table_with_a_missing_image(tmp_path):
    two_classes(tmp_path)
    pd.DataFrame({"path": ["cat/0.png", "dog/9.png"], "label": ["cat", "dog"]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputError, match=r"row 1: image 'dog/9\.png' not found"):
        load_task(str(tmp_path / "t.csv"), image_column="path")


def test_bad_hf_datasets(tmp_path, saved_datasets):
    with pytest.raises(InputError, match="not a dataset saved with save_to_disk"):
        load_task(f"hf-disk:{tmp_path}")
    with pytest.raises(
        InputError, match="is a saved Hugging Face dataset, not an image folder; give dataset: hf-disk:"
    ):
        load_task(str(saved_datasets / "reviews"))
    with pytest.raises(InputError, match=r"hf:someone/no-such-set: cannot load it from the Hugging Face hub.*hf-disk"):
        load_task("hf:someone/no-such-set")


def test_bad_hf_split_and_column(saved_datasets):
    with pytest.raises(InputError, match=r"no split 'validation'; its splits are \['train', 'test'\]"):
        load_task(f"hf-disk:{saved_datasets / 'reviews'}", hf_split="validation")
    with pytest.raises(InputError, match="no column 'body'; the columns are: text, label"):
        load_task(f"hf-disk:{saved_datasets / 'reviews'}", text_column="body")


def test_bad_npz_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_task(str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "objects.npz", X=np.array([{"a": 1}, 2], dtype=object), y=np.array([0, 1]))
    (tmp_path / "pickled.npz").write_bytes(pickle.dumps({"X": [1, 2]}))
    for name in ("objects.npz", "pickled.npz"):
        with pytest.raises(InputError, match="pickled or object data, which is never loaded"):
            load_task(str(tmp_path / name))


def test_cli_bad_image_folder_writes_nothing(tmp_path):
    write_image(tmp_path / "one" / "only" / "0.png", (8, 8), 1)
    spec = {
        "name": "x",
        "task": {"dataset": str(tmp_path / "one")},
        "sources": ["efficientnet-lite0"],
        "strategies": ["linear-probe"],
        "budgets": [2],
        "seeds": 1,
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = invoke("run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run"), "--quiet")
    assert isinstance(result.exception, InputError) and "at least 2 classes" in str(result.exception)
    assert not (tmp_path / "run").exists()
    done = subprocess.run(
        [sys.executable, "-m", "transferlab.cli", "run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "at least 2 classes" in done.stderr
    assert not (tmp_path / "run").exists()
