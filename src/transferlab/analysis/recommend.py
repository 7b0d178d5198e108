"""Plain-language recommendations per budget, generated from the numbers and no bolder than them.

For each source and budget, the cheapest rung is set against the most accurate other rung
(``summary["ladder"]["comparisons"]``, a paired gain with its interval). The wording follows
the interval, never the point estimate alone:

* "gains X points [lo, hi]" only when the verdict is positive (the whole interval above the
  study's ``min_effect``); "beats ... by" only when it is negative;
* "as good as" only when the interval contains 0 and lies within +/- ``margin`` (an
  equivalence margin, 2 accuracy points by default): a narrow interval around zero;
* otherwise "cannot be told apart", with the interval, and the cheaper rung named as the
  default until more seeds or test examples narrow it.
"""

from __future__ import annotations

from typing import Any

DEFAULT_MARGIN = 0.02


def _points(value: float, accuracy: bool) -> str:
    return f"{value * 100:.1f}" if accuracy else f"{value:.3f}"


def _unit(accuracy: bool) -> str:
    return "points" if accuracy else "nats"


def _time_phrase(ratio: float, cheaper: bool) -> str:
    """'1/40 of the fit time' (cheaper) or '40x the fit time' (dearer)."""
    if ratio < 1.5:
        return "about the same fit time"
    shown = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"
    return f"1/{shown} of the fit time" if cheaper else f"{shown}x the fit time"


def recommend_one(row: dict[str, Any], accuracy: bool = True, margin: float = DEFAULT_MARGIN) -> dict[str, Any]:
    """The sentence for one comparison row (see the module docstring for the rules)."""
    cheap, other = row["cheap"], row["challenger"]
    gain, lo, hi = row["gain"], row["lo"], row["hi"]
    unit, ratio = _unit(accuracy), row["time_ratio"]
    interval = f"{_points(gain, accuracy)} {unit} [{_points(lo, accuracy)}, {_points(hi, accuracy)}]"
    head = f"With {row['budget']} labels ({row['source']}): "
    if row["verdict"] == "positive":
        kind = "gain"
        text = f"{other} gains {interval} over {cheap}, at {_time_phrase(ratio, cheaper=False)}."
    elif row["verdict"] == "negative":
        kind = "cheap-wins"
        beat = f"{_points(-gain, accuracy)} {unit} [{_points(-hi, accuracy)}, {_points(-lo, accuracy)}]"
        text = f"{cheap} beats {other} by {beat}, at {_time_phrase(ratio, cheaper=True)}."
    elif lo <= 0.0 <= hi and -margin <= lo and hi <= margin:
        kind = "as-good-as"
        text = (
            f"{cheap} is as good as {other} (difference {interval}, within ±{_points(margin, accuracy)} {unit}),"
            f" at {_time_phrase(ratio, cheaper=True)}."
        )
    else:
        kind = "undecided"
        text = (
            f"{other} and {cheap} cannot be told apart (difference {interval});"
            f" {cheap} is the cheaper default ({_time_phrase(ratio, cheaper=True)})"
            " until more seeds or test examples narrow the interval."
        )
    return {"source": row["source"], "budget": row["budget"], "kind": kind, "text": head + text}


def recommend(summary: dict[str, Any], margin: float = DEFAULT_MARGIN) -> list[dict[str, Any]]:
    """One recommendation per source and budget of ``summary["ladder"]["comparisons"]``, by budget."""
    accuracy = summary.get("primary_metric", "accuracy") == "accuracy"
    rows = summary.get("ladder", {}).get("comparisons", [])
    ordered = sorted(rows, key=lambda r: (r["source"], r["budget"]))
    return [recommend_one(r, accuracy, margin) for r in ordered]
