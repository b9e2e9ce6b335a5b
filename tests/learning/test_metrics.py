"""Scoring a model: every metric against scikit-learn's on random rows, the fraud model that
answers "no fraud" everywhere, combining by examples, and what a report may carry."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dain.learning import (
    Metrics,
    MetricsError,
    ModelSpec,
    classification_metrics,
    combine,
    evaluate,
    init_params,
    regression_metrics,
)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@st.composite
def labelled(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Labels and class probabilities; logits on a coarse grid, so ties happen."""
    k = draw(st.integers(2, 5))
    n = draw(st.integers(1, 60))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    steps = draw(hnp.arrays(np.int64, (n, k), elements=st.integers(-6, 6)))
    return y, softmax(steps.astype(np.float64) * draw(st.sampled_from([0.5, 1.3])))


@settings(max_examples=200, deadline=None)
@given(labelled())
def test_classification_metrics_are_scikit_learns(case: tuple[np.ndarray, np.ndarray]) -> None:
    y, probabilities = case
    k = probabilities.shape[1]
    found = classification_metrics(y, probabilities)
    predicted = probabilities.argmax(axis=1)
    assert found.examples == len(y)
    assert found.accuracy == pytest.approx(skm.accuracy_score(y, predicted))
    with warnings.catch_warnings():  # it warns of predicted classes no label holds
        warnings.simplefilter("ignore")
        expected_balanced = skm.balanced_accuracy_score(y, predicted)
    assert found.balanced_accuracy == pytest.approx(expected_balanced)
    assert found.log_loss == pytest.approx(
        skm.log_loss(y, probabilities, labels=list(range(k))), rel=1e-9
    )
    if len(np.unique(y)) < k:
        assert found.roc_auc is None  # a class absent: some pairs cannot be ranked
    elif k == 2:
        assert found.roc_auc == pytest.approx(skm.roc_auc_score(y, probabilities[:, 1]))
    else:
        expected = skm.roc_auc_score(y, probabilities, multi_class="ovr", average="macro",
                                     labels=list(range(k)))  # fmt: skip
        assert found.roc_auc == pytest.approx(expected)
    assert found.mse is found.mae is found.r2 is None


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(-100, 100)),
    st.data(),
)
def test_regression_metrics_are_scikit_learns(y: np.ndarray, data: st.DataObject) -> None:
    predicted = data.draw(hnp.arrays(np.float64, len(y), elements=st.floats(-100, 100)))
    found = regression_metrics(y, predicted)
    assert found.mse == pytest.approx(skm.mean_squared_error(y, predicted), abs=1e-9)
    assert found.mae == pytest.approx(skm.mean_absolute_error(y, predicted), abs=1e-9)
    if np.ptp(y) == 0 or np.sum((y - y.mean()) ** 2) == 0:
        assert found.r2 is None  # nothing to explain
    else:
        assert found.r2 == pytest.approx(skm.r2_score(y, predicted), abs=1e-9)
    assert found.accuracy is found.roc_auc is None


def test_a_model_that_never_says_fraud_scores_like_a_coin() -> None:
    spec = ModelSpec("logreg", 4, 2)
    params = init_params(spec, 0)
    params["0.weight"][:] = 0.0
    params["0.bias"][:] = [4.0, -4.0]  # "no fraud", whatever the row
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 4)).astype(np.float32)
    y = np.zeros(1000, dtype=np.int64)
    y[rng.choice(1000, 20, replace=False)] = 1  # 2% fraud

    found = evaluate(spec, params, x, y)

    assert found.accuracy == pytest.approx(0.98)
    assert found.balanced_accuracy == pytest.approx(0.5)
    assert found.roc_auc == pytest.approx(0.5)


def test_evaluate_scores_the_models_own_outputs() -> None:
    spec = ModelSpec("mlp", 3, 3, (5,))
    params = init_params(spec, 1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 3)).astype(np.float32)
    y = rng.integers(0, 3, 80)
    found = evaluate(spec, params, x, y)
    regression = ModelSpec("logreg", 3, 1)
    scored = evaluate(regression, init_params(regression, 2), x, y.astype(np.float32))
    assert found.accuracy is not None and found.roc_auc is not None
    assert scored.mse is not None and scored.accuracy is None


def test_combining_weighs_by_examples_and_pools_means_exactly() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 90)
    probabilities = softmax(rng.normal(size=(90, 2)))
    parts = [classification_metrics(y[a:b], probabilities[a:b]) for a, b in [(0, 10), (10, 90)]]

    combined = combine(parts)
    pooled = classification_metrics(y, probabilities)

    assert combined.examples == 90
    assert combined.accuracy == pytest.approx(pooled.accuracy)
    assert combined.log_loss == pytest.approx(pooled.log_loss)
    assert combined.roc_auc == pytest.approx(
        (10 * parts[0].roc_auc + 80 * parts[1].roc_auc) / 90  # an approximation of pooled
    )


def test_a_score_missing_somewhere_is_averaged_over_those_that_have_it() -> None:
    one_class = Metrics(10, accuracy=1.0, balanced_accuracy=1.0, log_loss=0.1)
    both = Metrics(30, accuracy=0.5, balanced_accuracy=0.5, roc_auc=0.7, log_loss=0.5)
    combined = combine([one_class, both])
    assert combined.roc_auc == pytest.approx(0.7)
    assert combined.accuracy == pytest.approx(0.625)
    with pytest.raises(MetricsError):
        combine([])


def test_metrics_round_trip_and_refuse_what_no_model_scores() -> None:
    found = Metrics(12, accuracy=0.75, balanced_accuracy=0.5, roc_auc=None, log_loss=0.4)
    assert Metrics.from_dict(found.to_dict()) == found
    assert Metrics.from_dict({"examples": 3, "mse": 1, "mae": 1}).mse == 1.0
    for bad in (
        {"examples": 0, "accuracy": 0.5},
        {"examples": True, "accuracy": 0.5},
        {"examples": 2**32, "accuracy": 0.5},
        {"examples": 5, "accuracy": 1.5},
        {"examples": 5, "log_loss": -1.0},
        {"examples": 5, "accuracy": float("nan")},
        {"examples": 5, "accuracy": "0.5"},
        {"examples": 5, "secret": 1.0},
        {"examples": 5, "accuracy": 0.5, "mse": 1.0},
        {"examples": 5, "log_loss": 10**400},
        [("examples", 5)],
    ):
        with pytest.raises(MetricsError):
            Metrics.from_dict(bad)


def test_labels_outside_the_models_classes_are_refused() -> None:
    with pytest.raises(MetricsError, match="class indices"):
        classification_metrics(np.array([0, 2]), softmax(np.zeros((2, 2))))
    with pytest.raises(MetricsError, match="no rows"):
        regression_metrics(np.array([]), np.array([]))


@given(st.integers(1, 30), st.integers(2, 4))
def test_auc_of_a_perfect_ranking_is_one(n: int, k: int) -> None:
    y = np.arange(n * k) % k
    probabilities = np.eye(k)[y] * 0.9 + 0.1 / k
    assert classification_metrics(y, probabilities).roc_auc == pytest.approx(1.0)
