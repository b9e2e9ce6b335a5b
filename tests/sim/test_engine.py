"""The vectorized engine against the per-client loop, and what it simulates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dain.data import dirichlet_partition, iid_partition, load_bundled, quantity_skew_partition
from dain.learning.attacks import attack_updates, attackers, flip_labels
from dain.learning.errors import LearningError
from dain.sim import SimConfig, build_federation, simulate
from dain.sim.engine import batch_orders, init_stacked, local_training, names_of
from dain.sim.loop import simulate_loop


@pytest.mark.parametrize(
    "config",
    [
        SimConfig("digits", (64,), clients=20, rounds=1, partition="dirichlet", alpha=0.5),
        SimConfig("breast_cancer", (), clients=7, rounds=1, partition="quantity", epochs=2),
        SimConfig("diabetes", (16,), clients=5, rounds=1, learning_rate=0.01),
        SimConfig("wine", (8,), clients=6, rounds=1, strategy="fedmedian"),
    ],
    ids=["digits-dirichlet", "logreg-quantity-2-epochs", "regression", "median"],
)
def test_the_engine_matches_the_per_client_loop_after_one_round(config: SimConfig) -> None:
    fed = build_federation(config)
    engine = simulate(config, fed=fed)
    _, loop_params = simulate_loop(config, fed, rounds=1)
    for name, value in loop_params.items():
        np.testing.assert_allclose(engine.params[name], value, rtol=1e-4, atol=1e-5)


def test_every_client_trains_only_on_its_own_rows() -> None:
    config = SimConfig("digits", (16,), clients=4, rounds=1)
    fed = build_federation(config)
    widths = [fed.x.shape[2], 16, fed.outputs]
    start = init_stacked(widths, 4, 0)
    orders = [batch_orders(fed.counts, fed.y.shape[1], torch.Generator().manual_seed(1))]
    alone = local_training(fed, start, config, orders)
    # change client 2's data: only client 2's model changes
    fed.x[2] = torch.randn_like(fed.x[2])
    again = local_training(fed, start, config, orders)
    for a, b in zip(alone, again, strict=True):
        assert torch.equal(a[[0, 1, 3]], b[[0, 1, 3]]) and not torch.equal(a[2], b[2])
    assert names_of(start) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_a_thousand_clients_run_in_one_process() -> None:
    result = simulate(SimConfig("digits", (32,), clients=1_000, rounds=2, partition="dirichlet",
                                alpha=1.0))  # fmt: skip
    assert len(result.accuracy) == 2 and all(0.0 <= a <= 1.0 for a in result.accuracy)


def test_partitioners_cover_every_row_once() -> None:
    y = load_bundled("digits").y
    for parts in (
        iid_partition(len(y), 30, 1),
        dirichlet_partition(y, 30, 0.3, 1),
        quantity_skew_partition(len(y), 30, 0.5, 1),
    ):
        assert len(parts) == 30
        assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(y)))
    skewed = dirichlet_partition(y, 30, 0.1, 1)
    # low alpha: most clients see few classes
    assert np.median([len(np.unique(y[p])) for p in skewed]) <= 5


def test_attacks_change_only_the_attackers() -> None:
    updates = np.ones((10, 4), np.float32)
    who = attackers(10, 0.2, 0)
    assert who.sum() == 2
    rng = np.random.default_rng(0)
    flipped = attack_updates(updates, who, "sign_flip", rng)
    assert (flipped[who] == -4).all() and (flipped[~who] == 1).all()
    assert (attack_updates(updates, who, "scale", rng)[who] == 10).all()
    noisy = attack_updates(updates, who, "gaussian", rng)
    assert not np.allclose(noisy[who], 1) and (noisy[~who] == 1).all()
    assert list(flip_labels(np.array([0, 1, 9]), 10)) == [9, 8, 0]


def test_bad_settings_are_named() -> None:
    with pytest.raises(LearningError, match="dataset must be one of"):
        SimConfig("mnist")
    with pytest.raises(LearningError, match="strategy must be one of"):
        SimConfig(strategy="fedmagic")
