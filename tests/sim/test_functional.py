"""The vectorized engine for layer models against a per-client loop of `train_local`, and
what it simulates: images, series windows, strategies, attacks and privacy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dain.learning import LearningError, ModelSpec, PrivacyLevel, PrivacySpec
from dain.sim import SimConfig, build_federation, simulate
from dain.sim.functional import client_orders, client_seed, local_training, model_of
from dain.sim.loop import simulate_layers_loop


def small_cnn(dropout: float = 0.0) -> ModelSpec:
    layers = [
        {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "max_pool2d", "kernel_size": 2},
        {"type": "flatten"},
        *([{"type": "dropout", "p": dropout}] if dropout else []),
        {"type": "linear", "out_features": 10},
    ]
    return ModelSpec.network((1, 8, 8), layers, 10)


def small_gru() -> ModelSpec:
    layers = [{"type": "gru", "hidden_size": 8}, {"type": "linear", "out_features": 1}]
    return ModelSpec.network((12, 5), layers, 1)


def assert_engine_matches_loop(config: SimConfig) -> None:
    fed = build_federation(config)
    engine = simulate(config, fed=fed)
    scores, loop_params = simulate_layers_loop(config, fed, rounds=1)
    assert engine.params.keys() == loop_params.keys()
    for name, value in loop_params.items():
        np.testing.assert_allclose(engine.params[name], value, rtol=1e-4, atol=1e-5)
    assert engine.accuracy[0] == pytest.approx(scores[0], abs=1e-6)


@pytest.mark.parametrize(
    "config",
    [
        SimConfig("digits", clients=8, rounds=1, partition="quantity", epochs=2,
                  model=small_cnn()),
        SimConfig("digits", clients=6, rounds=1, partition="dirichlet", momentum=0.9,
                  balance_classes=True, model=small_cnn()),
    ],
    ids=["quantity-2-epochs", "dirichlet-momentum-balanced"],
)  # fmt: skip
def test_a_cnn_on_digit_images_matches_the_per_client_loop_after_one_round(
    config: SimConfig,
) -> None:
    assert_engine_matches_loop(config)


def test_a_gru_on_smart_city_windows_matches_the_per_client_loop_after_one_round() -> None:
    config = SimConfig("smart_city", clients=3, rounds=1, batch_size=128, learning_rate=0.1,
                       momentum=0.5, model=small_gru())  # fmt: skip
    fed = build_federation(config)
    assert fed.x.shape[2:] == (12, 5) and fed.regression
    assert_engine_matches_loop(config)


@pytest.mark.parametrize(
    ("strategy", "attack"),
    [("fedprox", "label_flip"), ("krum", "sign_flip"), ("trimmedmean", "scale"),
     ("fedadam", "gaussian")],
)  # fmt: skip
def test_strategies_and_attacks_on_a_cnn_match_the_loop(strategy: str, attack: str) -> None:
    options = {"proximal_mu": 0.1} if strategy == "fedprox" else {}
    config = SimConfig("digits", clients=10, rounds=1, partition="quantity", epochs=2,
                       strategy=strategy, strategy_options=options, attack=attack,
                       attack_fraction=0.2, model=small_cnn())  # fmt: skip
    assert_engine_matches_loop(config)


def test_a_robust_strategy_holds_a_cnn_against_sign_flipping() -> None:
    def final(strategy: str) -> float:
        config = SimConfig("digits", clients=10, rounds=4, strategy=strategy,
                           attack="sign_flip", attack_fraction=0.3, learning_rate=0.1,
                           model=small_cnn())  # fmt: skip
        return simulate(config).accuracy[-1]

    assert final("fedmedian") > 0.7 > final("fedavg")


def test_every_client_trains_only_on_its_own_rows() -> None:
    config = SimConfig("digits", clients=4, rounds=1, model=small_cnn())
    fed = build_federation(config)
    module, names = model_of(fed)
    start = [p.detach() for p in module.parameters()]
    seeds = [client_seed(0, 1, c) for c in range(4)]
    orders = client_orders(fed.counts, fed.y.shape[1], seeds, 1)
    alone = local_training(fed, module, names, start, config, orders)
    fed.x[2] = torch.randn_like(fed.x[2])  # only client 2's model may change
    again = local_training(fed, module, names, start, config, orders)
    for a, b in zip(alone, again, strict=True):
        assert torch.equal(a[[0, 1, 3]], b[[0, 1, 3]]) and not torch.equal(a[2], b[2])


def test_dropout_draws_differently_for_every_client() -> None:
    def trained(spec: ModelSpec) -> list[torch.Tensor]:
        config = SimConfig("digits", clients=3, rounds=1, model=spec)
        fed = build_federation(config)
        fed.x[:], fed.y[:], fed.counts[:] = fed.x[0], fed.y[0], fed.counts[0]  # same rows
        module, names = model_of(fed)
        orders = client_orders(fed.counts, fed.y.shape[1], [7, 7, 7], 1)
        return local_training(fed, module, names, [p.detach() for p in module.parameters()],
                              config, orders)  # fmt: skip

    torch.manual_seed(0)
    assert all(torch.equal(p[0], p[1]) for p in trained(small_cnn()))
    assert not torch.equal(trained(small_cnn(0.5))[-2][0], trained(small_cnn(0.5))[-2][1])


def test_client_level_privacy_on_a_cnn_repeats_exactly_and_reports_epsilon() -> None:
    private = PrivacySpec(PrivacyLevel.CLIENT, 1.1, 0.5, clients=5)
    config = SimConfig("digits", clients=5, rounds=2, privacy=private, model=small_cnn())
    fed = build_federation(config)
    first, again = simulate(config, fed=fed), simulate(config, fed=fed)
    assert first.epsilon == pytest.approx(private.epsilon(2))
    for name, value in first.params.items():
        np.testing.assert_array_equal(value, again.params[name])


def test_class_weights_score_fraud_by_balanced_accuracy_and_auc() -> None:
    spec = ModelSpec.network((15,), [{"type": "linear", "out_features": 2}], 2)
    config = SimConfig("card_fraud", clients=4, rounds=2, batch_size=64, balance_classes=True,
                       model=spec)  # fmt: skip
    result = simulate(config)
    assert {"balanced_accuracy", "roc_auc"} <= result.metrics.keys()
    assert result.metrics["balanced_accuracy"] > 0.6 and result.metrics["roc_auc"] > 0.7
    assert result.to_dict()["config"]["model"]["input_shape"] == [15]  # type: ignore[index]


def test_settings_the_engines_cannot_run_are_named() -> None:
    with pytest.raises(LearningError, match="need a layer model"):
        SimConfig(momentum=0.9)
    tiny = ModelSpec.network((1, 4, 4), [{"type": "flatten"},
                                         {"type": "linear", "out_features": 10}], 10)  # fmt: skip
    with pytest.raises(LearningError, match=r"reads examples of shape \[1, 4, 4\]"):
        build_federation(SimConfig("digits", clients=2, model=tiny))
    wide = ModelSpec.network((24, 8), [{"type": "gru", "hidden_size": 4},
                                       {"type": "linear", "out_features": 1}], 1)  # fmt: skip
    with pytest.raises(LearningError, match="5 features per step"):
        build_federation(SimConfig("smart_city", clients=2, model=wide))
