"""Plain-language recommendations per budget, generated from the numbers and no bolder than them.

For each source and budget, the cheapest rung is set against the most accurate other rung
(``summary["ladder"]["comparisons"]``, a paired gain with its interval). The wording follows
the interval, never the point estimate alone:

* "gains X points [lo, hi]" only when the verdict is positive (the whole interval above the
  study's ``min_effect``); "beats ... by" only when it is negative;
* "as good as" only when the interval contains 0 and lies within +/- ``margin`` (an
  equivalence margin, 2 accuracy points by default): a narrow interval around zero;
* otherwise "cannot be told apart", with the interval, and the cheaper rung named as the
  default until more seeds or test examples narrow it. A zero-width interval around a non-zero
  difference (two seeds whose gains coincide: the seed variance estimate is then 0) measures no
  uncertainty at all, so it never supports a claim either.
"""

from __future__ import annotations

from typing import Any

DEFAULT_MARGIN = 0.02


def _points(value: float, accuracy: bool) -> str:
    return f"{value * 100:.1f}" if accuracy else f"{value:.3f}"


def _unit(accuracy: bool) -> str:
    return "points" if accuracy else "nats"


def _ratio_phrase(ratio: float | None, what: str) -> str:
    """``ratio`` = subject / other as '1/40 of the fit time', '40x the fit time' or 'about the same fit time'."""
    if ratio is None or not ratio > 0:
        return ""
    if 1 / 1.5 <= ratio <= 1.5:
        return f"about the same {what}"
    shown = ratio if ratio > 1 else 1 / ratio
    number = f"{shown:,.0f}" if shown >= 10 else f"{shown:.1f}"
    return f"{number}x the {what}" if ratio > 1 else f"1/{number} of the {what}"


def _cost_phrase(row: dict[str, Any], subject_is_cheap: bool) -> str:
    """The subject's cost relative to the other rung: fit time, and trainable parameters when known."""
    time_ratio, params_ratio = row["time_ratio"], row.get("params_ratio")
    if subject_is_cheap:
        time_ratio = 1 / time_ratio if time_ratio > 0 else None
        params_ratio = 1 / params_ratio if params_ratio else None
    parts = [
        p for p in (_ratio_phrase(time_ratio, "fit time"), _ratio_phrase(params_ratio, "trainable parameters")) if p
    ]
    return " and ".join(parts) or "an unmeasured cost"


def recommend_one(row: dict[str, Any], accuracy: bool = True, margin: float = DEFAULT_MARGIN) -> dict[str, Any]:
    """The sentence for one comparison row (see the module docstring for the rules)."""
    cheap, other = row["cheap"], row["challenger"]
    gain, lo, hi = row["gain"], row["lo"], row["hi"]
    unit = _unit(accuracy)
    interval = f"{_points(gain, accuracy)} {unit} [{_points(lo, accuracy)}, {_points(hi, accuracy)}]"
    head = f"With {row['budget']} labels ({row['source']}): "
    if hi - lo <= 1e-12 and gain != 0.0:  # a point "interval": seeds agreed exactly, no uncertainty measured
        kind = "undecided"
        text = (
            f"{other} and {cheap} cannot be told apart: the difference ({_points(gain, accuracy)} {unit}) came out"
            " the same for every seed, so its interval has no width and measures nothing;"
            f" {cheap} is the cheaper default ({_cost_phrase(row, subject_is_cheap=True)}) until more seeds are run."
        )
    elif row["verdict"] == "positive":
        kind = "gain"
        text = f"{other} gains {interval} over {cheap}, at {_cost_phrase(row, subject_is_cheap=False)}."
    elif row["verdict"] == "negative":
        kind = "cheap-wins"
        beat = f"{_points(-gain, accuracy)} {unit} [{_points(-hi, accuracy)}, {_points(-lo, accuracy)}]"
        text = f"{cheap} beats {other} by {beat}, at {_cost_phrase(row, subject_is_cheap=True)}."
    elif lo <= 0.0 <= hi and -margin <= lo and hi <= margin:
        kind = "as-good-as"
        text = (
            f"{cheap} is as good as {other} (difference {interval}, within ±{_points(margin, accuracy)} {unit}),"
            f" at {_cost_phrase(row, subject_is_cheap=True)}."
        )
    else:
        kind = "undecided"
        text = (
            f"{other} and {cheap} cannot be told apart (difference {interval});"
            f" {cheap} is the cheaper default ({_cost_phrase(row, subject_is_cheap=True)})"
            " until more seeds or test examples narrow the interval."
        )
    if not row.get("seed_variation_measured", True):
        text += " (One seed: the interval covers the test examples only, not seed-to-seed variation.)"
    return {"source": row["source"], "budget": row["budget"], "kind": kind, "text": head + text}


def recommend(summary: dict[str, Any], margin: float = DEFAULT_MARGIN) -> list[dict[str, Any]]:
    """One recommendation per source and budget of ``summary["ladder"]["comparisons"]``, by budget."""
    accuracy = summary.get("primary_metric", "accuracy") == "accuracy"
    rows = summary.get("ladder", {}).get("comparisons", [])
    ordered = sorted(rows, key=lambda r: (r["source"], r["budget"]))
    return [recommend_one(r, accuracy, margin) for r in ordered]
