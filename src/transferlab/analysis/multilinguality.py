"""What multilinguality buys: the multilingual sources against controls that never saw the target language.

Each source declares the languages it was trained on (``SourceInfo.languages``). Against the
study's languages a source is

* **multilingual**: it covers every source and target language (e5-multilingual for en and sl);
* a **control**: it covers the source language(s) and none of the target ones (minilm-l6 and
  glove-50d, English only; use-multilingual too for Slovenian, which is not among its 16);
* **not declared** (a user's model) or **partial** (some target languages only): left out.

For each source budget, each multilingual source ``m`` and control ``c``, two comparisons of the
probe trained on the source language:

* *cross-lingual accuracy*: ``m - c`` on the target test set, paired by seed and test example;
* *gap reduction*: ``(m - c)`` on the target test set minus ``(m - c)`` on the source test set,
  which is c's transfer gap minus m's (two test sets, paired by seed:
  :mod:`~transferlab.analysis.two_test_sets`). Positive: m loses less than c when the language
  changes, net of how the two compare in the source language. A multilingual encoder can be ahead
  of a control on the target simply by being a better encoder; this difference in differences is
  the part of its lead that comes from the language, not from general quality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.analysis.cells import Arm
from transferlab.analysis.two_test_sets import compare_two_sets
from transferlab.analysis.verdicts import compare_arms

if TYPE_CHECKING:
    from transferlab.analysis.cross_lingual import LanguageView, Sides


def source_kind(declared: tuple[str, ...] | None, view: LanguageView) -> str:
    """``multilingual``, ``control``, ``partial`` or ``not declared`` (see the module docstring)."""
    if declared is None:
        return "not declared"
    sources = all(language in declared for language in view.source_languages)
    targets = [language in declared for language in view.target_languages]
    if sources and all(targets):
        return "multilingual"
    if sources and not any(targets):
        return "control"
    return "partial"


def multilinguality_block(
    hits: dict[Arm, Sides], probe: str | None, view: LanguageView, confidence: float, min_effect: float
) -> dict[str, Any]:
    """Each source's kind, the comparisons of multilingual sources with controls, and the sentence that says so."""
    sources = sorted({a[0] for a in hits if a[0] != "none"})
    kinds = {s: source_kind(view.coverage.get(s), view) for s in sources}
    rows = []
    budgets = sorted({a[2] for a in hits if a[1] == probe})
    for budget in budgets:
        for m in [s for s in sources if kinds[s] == "multilingual"]:
            for c in [s for s in sources if kinds[s] == "control"]:
                first, second = hits.get((m, str(probe), budget)), hits.get((c, str(probe), budget))
                if first is not None and second is not None:
                    compared = _compare(first, second, confidence, min_effect)
                    rows.append({"budget": budget, "source": m, "control": c} | compared)
    return {"kinds": kinds, "rows": rows, "sentence": control_sentence(kinds, view)}


def _compare(m: Sides, c: Sides, confidence: float, min_effect: float) -> dict[str, Any]:
    seeds = sorted(set(m.target) & set(c.target))
    a, b = (np.stack([x.target[s] for s in seeds]) for x in (m, c))  # (S, n_target) each
    accuracy = compare_arms(a, b, confidence=confidence, min_effect=min_effect, bounds=(-1.0, 1.0))
    both = [s for s in seeds if s in m.source and s in c.source]
    if not both:
        return {"cross_lingual_gain": accuracy, "gap_reduction": None}
    on_target = np.stack([m.target[s] - c.target[s] for s in both])  # (S, n_target)
    on_source = np.stack([m.source[s] - c.source[s] for s in both])  # (S, n_source)
    reduction = compare_two_sets(on_target, on_source, confidence, min_effect, bounds=(-2.0, 2.0))
    return {"cross_lingual_gain": accuracy, "gap_reduction": reduction}


NAMES = {
    "ar": "Arabic", "da": "Danish", "de": "German", "en": "English", "es": "Spanish", "fi": "Finnish",
    "fr": "French", "hr": "Croatian", "it": "Italian", "ja": "Japanese", "nl": "Dutch", "no": "Norwegian",
    "pl": "Polish", "pt": "Portuguese", "ru": "Russian", "sl": "Slovenian", "sv": "Swedish", "zh": "Chinese",
}  # fmt: skip


def language_names(codes: tuple[str, ...]) -> str:
    """``("en",)`` -> ``English``; codes without a name here are shown as they are."""
    return "/".join(NAMES.get(code, code) for code in codes)


def control_sentence(kinds: dict[str, str], view: LanguageView) -> str:
    """What the controls are for, named from this study's sources and languages."""
    src, tgt = language_names(view.source_languages), language_names(view.target_languages)
    controls = [s for s, k in kinds.items() if k == "control"]
    multilingual = [s for s, k in kinds.items() if k == "multilingual"]
    if not controls:
        return (
            f"No source here was trained on {src} without {tgt}, so nothing shows what multilinguality buys: add an"
            f" encoder trained on {src} only as the control (for English: minilm-l6 or glove-50d)."
        )
    # a control need not be monolingual: use-multilingual covers 16 languages, none of them Slovenian
    sentence = (
        f"The encoders that never saw {tgt} ({', '.join(controls)}) are the control: what they transfer comes"
        f" from what the languages share in writing (names, numbers, borrowed words) and from the label priors."
    )
    if not multilingual:
        return sentence + f" No source here covers {tgt}, so there is no multilingual encoder to hold against them."
    return sentence + (
        f" What {', '.join(multilingual)} gains over them on the {tgt} test set, net of how they compare on {src}"
        " (the gap reduction), is what multilinguality buys."
    )
