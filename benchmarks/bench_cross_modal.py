"""Cross-modal transfer: the bundled studies as tables, and DeViSE's training measured side by side.

1. DeViSE's map is trained in the row space of the training features (``strategies/devise.py``).
   Beside it, the straightforward parametrisation (the full d x p map) on the same features, loss,
   steps and threads, fits interleaved: time per fit, the objective each reached (hinge loss plus
   the L2 penalty) and their accuracy on the 4 unseen digits.
2. The bundled studies through the study runner, each timed: ``examples/devise-digits.yaml``,
   ``examples/devise-fashion.yaml`` (when Debian's dataset-fashion-mnist is installed) and
   ``examples/fpt-digits.yaml``. Their tables are what the README shows.

    .venv/bin/python benchmarks/bench_cross_modal.py [--skip-studies] [--out runs/bench-cross-modal]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402
from transferlab.strategies import Examples  # noqa: E402
from transferlab.strategies.devise import DeViSE, hinge_rank_loss  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class PrimalDeViSE(DeViSE):
    """The reference: the same loss and optimiser on the full (d, p) map."""

    def _train(self, X: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        torch.manual_seed(int(self.random_state or 0) % 2**32)
        features, labels = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(rows)
        text = torch.as_tensor(self.text_[self.seen_], dtype=torch.float32)
        W = torch.nn.Parameter(torch.randn(X.shape[1], text.shape[1]) * 0.01)  # (d, p)
        optimiser = torch.optim.Adam([W], lr=self.lr, weight_decay=self.weight_decay)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as ours: the comparison is of the parametrisation, not of threading
        try:
            for _ in range(int(self.steps)):
                loss = hinge_rank_loss(features @ W, text, labels, float(self.margin))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        finally:
            torch.set_num_threads(threads)
        return W.detach().numpy().astype(np.float64), {"final_loss": float(loss.detach())}


def objective(model: DeViSE, X: np.ndarray, y: np.ndarray) -> float:
    """What both fits minimise: the mean hinge rank loss plus (weight_decay / 2) ||W||^2."""
    projected = torch.as_tensor(((X - model.mean_) / model.scale_) @ model.W_, dtype=torch.float64)
    text = torch.as_tensor(model.text_[model.seen_])
    rows = torch.as_tensor(np.searchsorted(model.seen_, y))
    loss = float(hinge_rank_loss(projected, text, rows, float(model.margin)))
    return loss + model.weight_decay / 2 * float((model.W_**2).sum())


def devise_speed(repeats: int = 3) -> None:
    """Row-space against full-map training on digits features (efficientnet-lite0, 64 px), interleaved."""
    from transferlab.analysis.zero_shot import split_scores
    from transferlab.data import load_task
    from transferlab.sources import create_source

    task = load_task("digits")
    features = create_source("efficientnet-lite0", image_size=64).embed(task.inputs)  # (1797, 1280)
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    names = {str(i): w for i, w in enumerate(words)}
    unseen = np.arange(6, 10)
    print(f"DeViSE training: row space (ours) against the full d x p map, 300 Adam steps, 1 thread, best of {repeats}")
    print(f"{'examples':>8} {'ours s':>7} {'full s':>7} {'speed-up':>8} {'objective ours':>15} {'full':>8}", end="")
    print(f" {'unseen acc ours':>16} {'full':>6}")
    rng = np.random.default_rng(0)
    for per_class in (10, 50):
        train = np.concatenate(
            [rng.choice(np.flatnonzero(task.labels == c), per_class, replace=False) for c in range(6)]
        )
        examples = Examples(features[train], task.labels[train], task.classes)
        times: dict[str, list[float]] = {"ours": [], "full": []}
        models = {
            "ours": DeViSE(class_names=names, random_state=0),
            "full": PrimalDeViSE(class_names=names, random_state=0),
        }
        models["ours"].fit(examples)  # warm: the class names are embedded once per process
        for _ in range(repeats):
            for name, model in models.items():
                start = time.perf_counter()
                model.fit(examples)
                times[name].append(time.perf_counter() - start)
        best = {k: min(v) for k, v in times.items()}
        goal = {k: objective(m, features[train], task.labels[train]) for k, m in models.items()}
        test = np.isin(task.labels, unseen)  # every image of the 4 digits no fit saw
        acc = {
            k: split_scores(m.predict_proba(features[test]), task.labels[test], unseen)["unseen"]
            for k, m in models.items()
        }
        print(f"{len(train):>8} {best['ours']:>7.2f} {best['full']:>7.2f} {best['full'] / best['ours']:>7.1f}x", end="")
        print(f" {goal['ours']:>15.4f} {goal['full']:>8.4f} {acc['ours']:>16.3f} {acc['full']:>6.3f}")


def run_example(name: str, out: Path) -> tuple[dict, str]:
    """Run an example study into ``out/name``; its summary and where its time went."""
    from transferlab.study import load_spec, run_study

    result = run_study(load_spec(EXAMPLES / f"{name}.yaml"), out / name, progress=False)
    seconds = result.seconds
    timing = f"{result.ran} cells run in {seconds['total'] / 60:.1f} min (embedding {seconds['embed']:.0f} s"
    timing += f", fitting {seconds['train']:.0f} s, analysis {seconds['analyse']:.0f} s)"
    return json.loads((out / name / "summary.json").read_text()), timing


def pct(block: dict) -> str:
    lo, hi = block.get("lo"), block.get("hi")
    return (
        f"{block['mean'] * 100:5.1f} [{lo * 100:5.1f}, {hi * 100:5.1f}]"
        if lo is not None
        else f"{block['mean'] * 100:5.1f}"
    )


def gain(g: dict) -> str:
    return f"{g['gain'] * 100:+5.1f} [{g['lo'] * 100:+5.1f}, {g['hi'] * 100:+5.1f}] {g['verdict']}"


def print_zero_shot(summary: dict, timing: str) -> None:
    block, short = summary["zero_shot"], summary["names"]["short"]
    print(f"\n{summary['study']}: {len(block['unseen_by_seed'])} class splits; {timing}")
    print(f"{'arm':<20} {'K':>3} {'seen':>19} {'unseen':>19} {'chance':>6}  {'unseen - chance':<28} unseen - control")
    for r in block["rows"]:
        control = next(iter(r["unseen_vs"].values()), None)
        arm = short.get(r["strategy"], r["strategy"])[:20]
        print(
            f"{arm:<20} {r['budget']:>3} {pct(r['seen']):>19} {pct(r['unseen']):>19} {r['chance_unseen'] * 100:>6.1f}"
            f"  {gain(r['unseen_vs_chance']):<28} {gain(control) if control else '-'}"
        )


def print_fpt(summary: dict, timing: str) -> None:
    short = summary["names"]["short"]
    print(f"\n{summary['study']}: {len(summary['seeds'])} seeds; {timing}")
    print(f"{'arm':<12} {'budget':>6} {'accuracy':>19}  gains")
    for e in summary["entries"]:
        gains = "; ".join(f"vs {short.get(b, b)}: {gain(g)}" for b, g in sorted(e["gains"].items()))
        arm = short.get(e["strategy"], e["strategy"])
        print(f"{arm:<12} {e['budget']:>6} {pct(e):>19}  {gains}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-cross-modal"))
    parser.add_argument("--skip-studies", action="store_true", help="only the side-by-side speed measurement")
    args = parser.parse_args(argv)
    print(machine_line())
    devise_speed()
    if args.skip_studies:
        return 0
    print_zero_shot(*run_example("devise-digits", args.out))
    if Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file():
        print_zero_shot(*run_example("devise-fashion", args.out))
    else:
        print("\ndevise-fashion skipped: apt-get install dataset-fashion-mnist to run it")
    print_fpt(*run_example("fpt-digits", args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
