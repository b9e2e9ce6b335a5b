"""The vectorized engine against the per-client loop, and what it simulates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dain.data import dirichlet_partition, iid_partition, load_bundled, quantity_skew_partition
from dain.learning import (
    LearningError,
    PrivacyLevel,
    PrivacySpec,
    attack_updates,
    attackers,
    clip_and_noise,
    clip_and_noise_rows,
    flip_labels,
    stack,
    unstack,
)
from dain.sim import SimConfig, build_federation, simulate
from dain.sim.engine import batch_orders, client_deltas, init_stacked, local_training, names_of
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


CLIENT_DP = PrivacySpec(PrivacyLevel.CLIENT, 1.1, 0.05, clients=5)


def test_client_level_privacy_clips_and_noises_each_client_as_a_node_would() -> None:
    start = init_stacked([6, 4, 3], 5, 0)
    moved = [p + torch.randn(p.shape, generator=torch.Generator().manual_seed(i)) * 0.1 * i
             for i, p in enumerate(start)]  # fmt: skip
    rows = client_deltas(moved, start, CLIENT_DP, np.random.default_rng(7))
    # a node's layout: its own update as named tensors in the model's order, one client
    # after another, noised here from the simulation's generator
    names, node_rng = names_of(start), np.random.default_rng(7)
    shapes = [tuple(p.shape[1:]) for p in start]
    deltas, alone = [], []
    for c in range(5):
        delta = {n: (m[c] - p[c]).numpy() for n, m, p in zip(names, moved, start, strict=True)}
        row = np.concatenate([v.reshape(-1) for v in delta.values()])[None]
        noisy, _ = clip_and_noise_rows(row, CLIENT_DP, insecure_rng=node_rng)
        deltas.append(delta)
        alone.append(unstack(noisy[0], names, shapes))
    np.testing.assert_array_equal(rows, stack(alone)[0])
    # and a node's own step (noise from the OS) clips alike: with negligible noise, equal
    quiet = PrivacySpec(PrivacyLevel.CLIENT, 1e-9, CLIENT_DP.clip_norm, clients=5)
    simulated = client_deltas(moved, start, quiet, np.random.default_rng(7))
    by_node = stack([clip_and_noise(delta, quiet)[0] for delta in deltas])[0]
    np.testing.assert_allclose(simulated, by_node, rtol=1e-5, atol=1e-7)
    plain = client_deltas(moved, start, PrivacySpec(), np.random.default_rng(7))
    assert np.linalg.norm(plain[1]) > 0.05 and not np.allclose(rows, plain)


def test_a_private_simulation_reports_its_epsilon_and_repeats_exactly() -> None:
    config = SimConfig("breast_cancer", (), clients=5, rounds=2, privacy=CLIENT_DP)
    fed = build_federation(config)
    first, again = simulate(config, fed=fed), simulate(config, fed=fed)
    assert first.epsilon == pytest.approx(CLIENT_DP.epsilon(2))
    assert first.to_dict()["epsilon"] == first.epsilon
    for name, value in first.params.items():
        np.testing.assert_array_equal(value, again.params[name])
    plain = simulate(SimConfig("breast_cancer", (), clients=5, rounds=2), fed=fed)
    assert plain.epsilon is None and not np.array_equal(plain.params["0.weight"],
                                                        first.params["0.weight"])  # fmt: skip


def test_privacy_the_simulator_cannot_honour_is_refused_with_the_alternative() -> None:
    record = PrivacySpec(PrivacyLevel.RECORD, 1.0, 1.0, sample_rate=0.1, steps=5)
    with pytest.raises(LearningError, match="simulate client-level privacy, or run record"):
        SimConfig(privacy=record)
    with pytest.raises(LearningError, match="fedmedian looks at each update"):
        SimConfig(strategy="fedmedian", clients=5, privacy=CLIENT_DP)
    with pytest.raises(LearningError, match="among 5 clients, but 4 take part"):
        SimConfig(clients=4, privacy=CLIENT_DP)
