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
    """``ratio`` = subject / other as '1/40 of the trainable parameters', '40x ...' or 'about the same ...'."""
    if ratio is None or not ratio > 0:
        return ""
    if 1 / 1.5 <= ratio <= 1.5:
        return f"about the same {what}"
    shown = ratio if ratio > 1 else 1 / ratio
    number = f"{shown:,.0f}" if shown >= 10 else f"{shown:.1f}"
    return f"{number}x the {what}" if ratio > 1 else f"1/{number} of the {what}"


def _cost_phrase(row: dict[str, Any], subject_is_cheap: bool) -> str:
    """The subject's cost relative to the other rung, in trainable parameters.

    Only deterministic quantities are quoted: the same cells must give the same sentence, and fit
    seconds measured on a shared machine differ between a run and its resumed twin.
    """
    params_ratio = row.get("params_ratio")
    if subject_is_cheap:
        params_ratio = 1 / params_ratio if params_ratio else None
    return _ratio_phrase(params_ratio, "trainable parameters") or "an unmeasured cost"


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
    """One recommendation per source and budget, never advising an arm a no-transfer baseline beats.

    Where the study's answer for that source and budget is "do not transfer" (a baseline that
    learned is ahead of every transfer arm of the source), that answer is the recommendation.
    Otherwise the ladder's comparison speaks, and if the rung it points to is beaten by a baseline
    that learned (its own pairwise verdict is negative), the sentence says so instead.
    """
    accuracy = summary.get("primary_metric", "accuracy") == "accuracy"
    margin = summary.get("decision", {}).get("margin", margin)
    ladder = {(r["source"], r["budget"]): r for r in summary.get("ladder", {}).get("comparisons", [])}
    answers = {(a["scope"], a["budget"]): a for a in summary.get("decision", {}).get("per_source", [])}
    out = []
    for key in sorted(set(ladder) | {k for k, a in answers.items() if a["kind"] == "do not transfer"}):
        answer = answers.get(key)
        if answer is not None and answer["kind"] == "do not transfer":
            out.append({"source": key[0], "budget": key[1], "kind": "do-not-transfer", "text": answer["sentence"]})
            continue
        advice = recommend_one(ladder[key], accuracy, margin)
        beaten = _beaten_by_baseline(summary.get("entries", []), key, _advised(advice, ladder[key]), accuracy)
        out.append(advice if beaten is None else beaten)
    return out


def _advised(advice: dict[str, Any], row: dict[str, Any]) -> str:
    """The rung a sentence points the user to."""
    return str(row["challenger"] if advice["kind"] == "gain" else row["cheap"])


def _beaten_by_baseline(
    entries: list[dict[str, Any]], key: tuple[str, int], strategy: str, accuracy: bool
) -> dict[str, Any] | None:
    """None when no learned baseline beats ``strategy``; else the sentence that replaces the advice.

    The replacement names the rung of the same source with the highest mean that no learned
    baseline beats, when there is one ("use it instead, it ties the baseline"), and otherwise
    says to prefer the baseline.
    """
    source, budget = key
    mine = {
        e["strategy"]: e for e in entries if e["source"] == source and e["budget"] == budget and e["role"] == "transfer"
    }
    if strategy not in mine or (loss := _loss(mine[strategy])) is None:
        return None
    baseline, g = loss
    unit = _unit(accuracy)
    by = f"{_points(-g['gain'], accuracy)} {unit} [{_points(-g['hi'], accuracy)}, {_points(-g['lo'], accuracy)}]"
    head = f"With {budget} labels ({source}): {baseline} beats {strategy} by {by}"
    unbeaten = [e for e in mine.values() if _loss(e) is None]
    if unbeaten:
        best = max(unbeaten, key=lambda e: (e["mean"], e["strategy"]))
        text = f"{head}; {best['strategy']} is not shown worse than any baseline: use it, or {baseline}."
        return {"source": source, "budget": budget, "kind": "baseline-beats-rung", "text": text}
    return {"source": source, "budget": budget, "kind": "baseline-wins", "text": f"{head}: prefer {baseline} here."}


def _loss(entry: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The first learned baseline whose pairwise verdict against ``entry`` is negative."""
    for baseline, g in sorted(entry["gains"].items()):
        if g["verdict"] == "negative" and g.get("baseline_learned", True):
            return baseline, g
    return None
