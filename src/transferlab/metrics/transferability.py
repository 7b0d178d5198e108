"""Transferability scores: rank candidate sources on a target task before fine-tuning any.

Importing this module registers every score with the metric registry (kind
``"transferability"``); :func:`transferlab.metrics.load_builtin_metrics` does so. Each score is a
pure function ``fn(X, labels) -> float`` where ``X`` is the source's features on the target
examples, or, for ``needs=("source_proba", "labels")``, the source classifier's probabilities.
Higher is better for all of them.

=============  ==========================  ===============================================
name           function                    reference
=============  ==========================  ===============================================
logme          :func:`logme`               You et al., ICML 2021
leep           :func:`leep`                Nguyen et al., ICML 2020
nce            :func:`nce`                 Tran et al., ICCV 2019
nleep          :func:`nleep`               Li et al., CVPR 2021
hscore         :func:`hscore`              Bao et al., ICIP 2019; Ibrahim et al., 2022
hscore-raw     :func:`hscore_raw`          Bao et al., ICIP 2019
gbc            :func:`gbc`                 Pandy et al., CVPR 2022
transrate      :func:`transrate`           Huang et al., ICML 2022
knn-loo        :func:`knn_loo`             leave-one-out kNN probe
linear-cv      :func:`linear_cv`           cross-validated logistic-regression probe
=============  ==========================  ===============================================

Bad input raises :class:`transferlab.errors.InputError` from one helper,
:func:`~transferlab.metrics.transfer_inputs.check_transfer_inputs`.
"""

from __future__ import annotations

from transferlab.metrics.leep import leep, nce, nleep
from transferlab.metrics.logme import logme, logme_reference
from transferlab.metrics.probes import knn_loo, linear_cv
from transferlab.metrics.separability import gbc, hscore, hscore_raw, transrate
from transferlab.metrics.transfer_inputs import check_transfer_inputs
from transferlab.metrics.uncertainty import (
    bootstrap_scores,
    prob_best,
    score_with_uncertainty,
    stratified_bootstrap,
)

__all__ = [
    "bootstrap_scores",
    "check_transfer_inputs",
    "gbc",
    "hscore",
    "hscore_raw",
    "knn_loo",
    "leep",
    "linear_cv",
    "logme",
    "logme_reference",
    "nce",
    "nleep",
    "prob_best",
    "score_with_uncertainty",
    "stratified_bootstrap",
    "transrate",
]
