"""The three use-case templates end to end on the in-process network of nodes, each with
its target: imaging's CNN within 1.5 points of the same CNN trained centrally and above an
MLP's; the smart city's GRU forecast on par with an MLP's R^2 on the same windows (the
issue asks for above: not met, see that test); fraud with class weighting far above the
unweighted model in balanced accuracy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.node.use_case_network import mlp_on_same_input, use_case_network

pytestmark = pytest.mark.slow


def test_imaging_cnn_is_near_central_and_above_the_mlp(tmp_path: Path) -> None:
    run = use_case_network("imaging", tmp_path)
    spec, rounds = run.plan.spec, run.plan.rounds
    cnn = run.run(spec, rounds)
    central = run.central(spec.model, spec.train, rounds)
    mlp = run.run(dataclasses.replace(spec, model=mlp_on_same_input(run.plan)), rounds)
    assert cnn.accuracy >= central.accuracy - 0.015, (cnn, central)
    assert cnn.accuracy > mlp.accuracy, (cnn, mlp)
    assert cnn.accuracy > 0.95


def test_smart_city_gru_forecasts_each_district_on_par_with_an_mlp(tmp_path: Path) -> None:
    """The GRU forecasts an unseen district's next hour well (R^2 above 0.9) and as well as
    an MLP on the same windows. Not better: on this synthetic city the next hour is nearly
    a linear function of the window, and over five splits of the districts the two were
    even (mean R^2 0.926 each, 16 rounds), so the test asserts parity, not a win."""
    run = use_case_network("smart_city", tmp_path)
    spec, rounds = run.plan.spec, run.plan.rounds
    gru = run.run(spec, rounds)
    mlp = run.run(dataclasses.replace(spec, model=mlp_on_same_input(run.plan)), rounds)
    assert gru.r2 is not None and mlp.r2 is not None
    assert gru.r2 > 0.9, gru
    assert gru.r2 > mlp.r2 - 0.02, (gru, mlp)


def test_fraud_with_class_weights_catches_fraud_the_plain_model_misses(tmp_path: Path) -> None:
    run = use_case_network("fraud", tmp_path)
    spec, rounds = run.plan.spec, 4
    weighted = run.run(spec, rounds)
    plain = run.run(dataclasses.replace(spec, train=dataclasses.replace(
        spec.train, balance_classes=False)), rounds)  # fmt: skip
    assert weighted.balanced_accuracy is not None and plain.balanced_accuracy is not None
    # accuracy alone says little: nearly every payment is legitimate
    assert plain.accuracy > 0.97
    assert weighted.balanced_accuracy > plain.balanced_accuracy + 0.1, (weighted, plain)
    assert weighted.roc_auc is not None and weighted.roc_auc > 0.8
