"""Validation of ``transferlab monitor`` on real shifts, side by side with NannyML's CBPE and Evidently.

For each bundled shifted sequence (:mod:`transferlab.monitor.sequences`: 20 Newsgroups sub-groups
drifting, English BBC traffic turning Slovenian, digits rotated by a growing angle) it runs the
scenario's study (minilm-l3 or the pixel columns, linear probe, 200 labels), makes a monitor for
the arm, and checks every batch without its labels: first the unshifted batches, then the
shifted ones. Extra unshifted batches, drawn from 300 held-out unshifted rows, measure the
false-alarm rate. Per scenario and method it prints

* MAE: mean absolute error of the accuracy estimate against the true accuracy of each batch
  (all batches of the sequence, and the shifted ones alone);
* delay: how many shifted batches passed before the first alarm (0: the first shifted batch
  alerted; "never");
* false alarms: alarms on the unshifted batches, with a 95 % Wilson interval.

NannyML (CBPE) and Evidently (its drift preset's dataset-drift rule) run on the same batches in
their own environment, ``benchmarks/anchors-venv`` (created here on first use with the pinned
versions, never a transferlab dependency; ``make bench-anchors`` does the same). The arm's
probabilities and the embeddings are what they are given.

    .venv/bin/python benchmarks/bench_monitor.py [--scenarios a,b] [--extra-clean 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from machine import cpu_model  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
ANCHORS_VENV = HERE / "anchors-venv"
# pandas < 3: Evidently 0.7.23 imports a pandas internal that pandas 3 removed
ANCHORS = ("nannyml==0.13.1", "evidently==0.7.23", "pandas<3")
SCENARIOS = ("newsgroups-drift", "bbc-to-slovenian", "digits-rotation")
OURS = {
    "confidence": "ours: average confidence",
    "atc": "ours: ATC",
    "doc": "ours: DoC",
    "iw": "ours: importance-weighted",
}


def ensure_anchors() -> Path:
    """The anchors' Python, creating their virtual environment on first use."""
    python = ANCHORS_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {ANCHORS_VENV} with {', '.join(ANCHORS)} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ANCHORS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *ANCHORS], check=True)
    return python


def prepare(name: str, work: Path, cache: object) -> tuple[object, object, list[np.ndarray], list[np.ndarray]]:
    """Run the scenario's study and init its monitor; embeddings of the sequence and extra clean batches."""
    from transferlab.monitor import init_monitor
    from transferlab.monitor.sequences import make_sequence
    from transferlab.study import parse_spec, run_study

    sequence = make_sequence(name)
    folder = work / name
    folder.mkdir(parents=True)
    sequence.study.to_csv(folder / "study.csv", index=False)
    spec = parse_spec(sequence.spec | {"task": sequence.spec["task"] | {"dataset": str(folder / "study.csv")}})
    run_study(spec, folder / "run", cache=cache, progress=False)
    arm = f"{spec.sources[0].label}/linear-probe/{spec.budgets[0]}"
    size = len(sequence.batches[0])
    profile = init_monitor(
        folder / "run", arm, folder / "monitor", batch_size=size, calibration_batches=20, cache=cache
    )
    X = [embed(profile, b, cache) for b in sequence.batches]
    pool = sequence.clean_pool.sample(n=min(300, len(sequence.clean_pool)), random_state=1).reset_index(drop=True)
    return sequence, profile, X, [embed(profile, pool, cache)]


def embed(profile: object, frame: pd.DataFrame, cache: object) -> np.ndarray:
    from transferlab.monitor.batches import batch_from_frame
    from transferlab.monitor.check import _task
    from transferlab.sources import create_source

    batch = batch_from_frame(profile, frame.drop(columns="label"), "bench")
    source = create_source(profile.header["source"]["name"], **profile.header["source"]["params"])
    return cache.get(source, _task(batch, source.modality))


def labels_of(profile: object, frame: pd.DataFrame) -> np.ndarray:
    index = {c: i for i, c in enumerate(profile.classes)}
    return np.array([index[str(v)] for v in frame["label"]])


def run_ours(profile: object, batches: list[np.ndarray], truths: list[float]) -> list[dict]:
    from transferlab.monitor import check_features

    out = []
    for i, X in enumerate(batches):
        result = check_features(profile, X, None, f"b{i}", n_permutations=300, n_boot=300, random_state=i)
        out.append({"alert": result["alert"], **{e["method"]: e["accuracy"] for e in result["estimates"]}})
    return out


def anchors_input(profile: object, batches: list[np.ndarray], folder: Path) -> None:
    """The reference part and the batches as the anchors read them: embeddings e*, probabilities p*, predictions."""
    a = profile.arrays

    def frame(X: np.ndarray, proba: np.ndarray, y: np.ndarray | None) -> pd.DataFrame:
        data = {f"e{j}": X[:, j] for j in range(X.shape[1])} | {f"p{c}": proba[:, c] for c in range(proba.shape[1])}
        out = pd.DataFrame(data).assign(y_pred=proba.argmax(axis=1))
        return out if y is None else out.assign(y_true=y)

    frame(a["X_ref"], a["proba_ref"], a["y_ref"]).to_parquet(folder / "reference.parquet")
    parts = [frame(X, profile.head.predict_proba(X), None).assign(batch=i) for i, X in enumerate(batches)]
    pd.concat(parts, ignore_index=True).to_parquet(folder / "batches.parquet")


def extra_clean(pool: np.ndarray, n: int, size: int, seed: int) -> list[np.ndarray]:
    """``n`` unshifted batches drawn from the pool's rows (without replacement within a batch)."""
    rng = np.random.default_rng(seed)
    return [pool[rng.choice(len(pool), size=size, replace=False)] for _ in range(n)]


def rate(alarms: list[bool]) -> str:
    from transferlab.metrics.shift_inputs import wilson_interval

    lo, hi = wilson_interval(sum(alarms), len(alarms))
    return f"{sum(alarms)}/{len(alarms)} = {sum(alarms) / len(alarms):.3f} [{lo:.3f}, {hi:.3f}]"


def delay(alarms: list[bool], shift: list[float]) -> str:
    shifted = [a for a, s in zip(alarms, shift, strict=True) if s > 0]
    return str(shifted.index(True)) if any(shifted) else "never"


def paired_differences(name: str, truths: np.ndarray, ours: list[dict], cbpe: list[dict]) -> list[list[str]]:
    """Each of our estimators' absolute error minus CBPE's, batch by batch: mean and 95 % t interval.

    The batches of one sequence are the pairs (16 of them); they are not independent draws (the
    drift makes neighbours alike), so read the interval as a guide, not an exact coverage.
    """
    from scipy import stats

    n = len(truths)
    theirs = np.abs(np.array([c["accuracy"] for c in cbpe[:n]]) - truths)
    rows = []
    for m in OURS:
        d = np.abs(np.array([o[m] for o in ours[:n]]) - truths) - theirs  # (n,)
        half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
        rows.append([name, OURS[m], f"{d.mean():+.3f}", f"[{d.mean() - half:+.3f}, {d.mean() + half:+.3f}]"])
    return rows


def rows_for(
    name: str, shift: list[float], truths: np.ndarray, ours: list[dict], anchors: dict, n_seq: int
) -> list[list[str]]:
    """The table's rows of one scenario."""
    shifted = np.array(shift) > 0

    def mae(values: np.ndarray) -> tuple[str, str]:
        err = np.abs(values - truths)
        return f"{err.mean():.3f}", f"{err[shifted].mean():.3f}"

    rows = [[name, OURS[m], *mae(np.array([o[m] for o in ours[:n_seq]])), "", ""] for m in OURS]
    cbpe = anchors["cbpe"]
    cbpe_alerts = [c["alert"] for c in cbpe]
    rows.append([name, "NannyML CBPE", *mae(np.array([c["accuracy"] for c in cbpe[:n_seq]])),
                 delay(cbpe_alerts[:n_seq], shift), rate(_clean(cbpe_alerts, shift))])  # fmt: skip
    ours_alerts = [o["alert"] for o in ours]
    rows.append(
        [name, "ours: shift alarm", "", "", delay(ours_alerts[:n_seq], shift), rate(_clean(ours_alerts, shift))]
    )
    drift = [e["drift"] for e in anchors["evidently"]]
    rows.append([name, "Evidently drift preset", "", "", delay(drift[:n_seq], shift), rate(_clean(drift, shift))])
    return rows


def _clean(alarms: list[bool], shift: list[float]) -> list[bool]:
    """Alarms on the unshifted batches: the sequence's first ones and every extra batch after it."""
    n_seq = len(shift)
    return [a for a, s in zip(alarms[:n_seq], shift, strict=True) if s == 0] + list(alarms[n_seq:])


def main(argv: list[str] | None = None) -> int:
    from transferlab.sources.cache import EmbeddingCache

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--extra-clean", type=int, default=20, help="extra unshifted batches per scenario")
    args = parser.parse_args(argv)
    print(f"CPU: {cpu_model()}, load average {os.getloadavg()[0]:.2f}", flush=True)
    python, cache, start = ensure_anchors(), EmbeddingCache(), time.perf_counter()
    table, differences, verdicts = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenarios.split(","):
            began = time.perf_counter()
            sequence, profile, X, (pool,) = prepare(name, Path(tmp), cache)
            prepared = time.perf_counter()
            truths = np.array([np.mean(profile.head.predict_proba(x).argmax(1) == labels_of(profile, b))
                               for x, b in zip(X, sequence.batches, strict=True)])  # fmt: skip
            batches = X + extra_clean(pool, args.extra_clean, len(X[0]), seed=2)
            folder = Path(tmp) / name / "anchors"
            folder.mkdir()
            anchors_input(profile, batches, folder)
            quiet = os.environ | {"NML_DISABLE_USAGE_LOGGING": "1"}  # NannyML's usage logging tries the network
            anchor_run = subprocess.Popen([str(python), str(HERE / "monitor_anchors.py"), str(folder)], env=quiet)
            ours = run_ours(profile, batches, list(truths))  # while the anchors run
            checked = time.perf_counter()
            if anchor_run.wait() != 0:
                raise SystemExit(f"the anchors failed on {name}")
            waited = time.perf_counter() - checked
            phases = f"study, init and embedding {prepared - began:.0f} s, our {len(batches)} checks"
            phases += f" {checked - prepared:.0f} s, then waiting for the anchors {waited:.0f} s"
            anchors = json.loads((folder / "anchors.json").read_text())
            rows = rows_for(name, sequence.shift, truths, ours, anchors, len(X))
            table += rows
            differences += paired_differences(name, truths, ours, anchors["cbpe"])
            verdicts.append(verdict(name, rows, differences[-len(OURS) :]))
            print(f"{name}: done at {time.perf_counter() - start:.0f} s ({phases}); true accuracy per batch:"
                  f" {' '.join(f'{t:.2f}' for t in truths)}", flush=True)  # fmt: skip
    print_table(table, ["scenario", "method", "MAE all", "MAE shifted", "delay", "false alarms (unshifted batches)"])
    print("\nabsolute error minus CBPE's, per batch of the sequence (negative: ours closer to the truth):")
    print_table(differences, ["scenario", "estimator", "mean", "95% t interval over batches"])
    print()
    for line in verdicts:
        print(line)
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


def verdict(name: str, rows: list[list[str]], differences: list[list[str]]) -> str:
    """Whether the aims were met: lower error than CBPE (shown only when the interval is below 0), and no
    more false alarms than Evidently."""
    by = {r[1]: r for r in rows}
    best = min(OURS.values(), key=lambda m: float(by[m][2]))
    interval = next(d[3] for d in differences if d[1] == best)
    hi = float(interval.strip("[]").split(",")[1])
    lower = (
        "lower"
        if hi < 0
        else ("NOT lower" if float(by[best][2]) >= float(by["NannyML CBPE"][2]) else "not shown lower")
    )
    ours_fa, evidently_fa = (int(by[m][5].split("/")[0]) for m in ("ours: shift alarm", "Evidently drift preset"))
    return (
        f"{name}: lowest-error estimator {best} MAE {by[best][2]} vs CBPE {by['NannyML CBPE'][2]} (difference"
        f" {interval}): {lower}; false alarms ours {ours_fa} vs Evidently {evidently_fa}:"
        f" {'no more' if ours_fa <= evidently_fa else 'MORE'}"
    )


def print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
