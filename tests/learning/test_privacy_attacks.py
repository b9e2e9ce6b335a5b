"""Finding 1 of issue 11, played by the attacker: with everything public (the job spec and
its seed, the round, the asset id, the global model) and even the asset's own data, nobody
but the client can take the privacy noise back out of its update."""

from __future__ import annotations

import hashlib
import inspect
import math

import numpy as np

from dain.data import load_bundled
from dain.learning import (
    ModelSpec,
    Params,
    PrivacyLevel,
    PrivacySpec,
    TrainConfig,
    clip_and_noise,
    feature_statistics,
    init_params,
    local_update,
    subtract,
    train_local,
    train_local_dp,
)

JOB_SEED, ROUND, ASSET_ID = 7, 3, 0xA11CE
CONFIG = TrainConfig(0.1, 1, 32)
CLIENT = PrivacySpec(PrivacyLevel.CLIENT, 1.0, 0.5, 1e-5, clients=4)
# q = 0.1 of 300 records: an expected batch of 30
RECORD = PrivacySpec(PrivacyLevel.RECORD, 1.0, 0.5, 1e-5, sample_rate=0.1, steps=8)


def _public_seed() -> int:
    """The per-client seed a node derives from public values (dain.node.training)."""
    digest = hashlib.sha256(f"{JOB_SEED}/{ROUND}/{ASSET_ID}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _job() -> tuple[ModelSpec, Params, np.ndarray, np.ndarray]:
    data = load_bundled("digits")
    mean, scale = feature_statistics(data.x)
    spec = ModelSpec("mlp", data.num_features, data.num_classes, (32,), mean, scale)
    return spec, init_params(spec, JOB_SEED), data.x[:300], data.y[:300]


def _client_step(privacy: PrivacySpec) -> Params:
    """What a node computes for the asset: the call dain.node.training makes."""
    spec, params, x, y = _job()
    return local_update(spec, params, x, y, CONFIG, privacy, seed=_public_seed()).delta


def _flat(update: Params) -> np.ndarray:
    return np.concatenate([update[n].reshape(-1) for n in update]).astype(np.float64)


def test_client_level_noise_cannot_be_regenerated_from_public_values() -> None:
    # the truth the attacker is after: the client's update clipped to C, before its noise
    spec, params, x, y = _job()
    trained = train_local(spec, params, x, y, CONFIG, _public_seed()).params
    natural = _flat(subtract(trained, params))
    clipped = natural * min(1.0, CLIENT.clip_norm / float(np.linalg.norm(natural)))
    observed = _flat(_client_step(CLIENT))

    # the attack of finding 1: rebuild the noise generator from the public seed, draw the
    # client's share of noise as the node drew it, and subtract it
    share = CLIENT.noise_multiplier * CLIENT.clip_norm / math.sqrt(CLIENT.clients)
    guess = np.random.default_rng(_public_seed()).normal(0.0, share, observed.shape)
    recovered = observed - guess

    # the update still carries noise of its full size: ||noise|| ~ share * sqrt(d), and the
    # attacker's guess, independent of it, only adds its own
    noise_norm = share * math.sqrt(observed.size)
    assert np.linalg.norm(recovered - clipped) > 0.5 * noise_norm
    assert np.linalg.norm(observed - clipped) > 0.5 * noise_norm


def test_dp_sgd_cannot_be_replayed_from_public_values_and_the_data() -> None:
    # the attacker runs the node's own step on the same public inputs and the very same
    # records: if the sampling and noise came from the public seed, it would get the
    # client's update bit for bit, noise and all, and so learn exactly which dataset made it
    observed = _flat(_client_step(RECORD))
    replayed = _flat(_client_step(RECORD))

    # each step adds N(0, (sigma C)^2) to the batch's summed gradient and divides it by the
    # expected batch: two independent runs differ by at least that noise, sqrt(2) times
    expected_batch = RECORD.sample_rate * 300
    per_coordinate = CONFIG.learning_rate * RECORD.noise_multiplier * RECORD.clip_norm
    per_coordinate *= math.sqrt(RECORD.steps) / expected_batch
    noise_norm = math.sqrt(2 * observed.size) * per_coordinate
    assert np.linalg.norm(observed - replayed) > 0.5 * noise_norm


def test_nothing_a_caller_passes_reaches_privacy_randomness() -> None:
    # what a node calls takes no generator, and the steps that draw privacy's randomness
    # take no seed either: there is no way to hand them a public one
    generators = {"rng", "noise_rng", "insecure_rng", "generator"}
    for step in (local_update, train_local_dp, clip_and_noise):
        assert not generators & set(inspect.signature(step).parameters), step.__name__
    for step in (train_local_dp, clip_and_noise):
        assert "seed" not in inspect.signature(step).parameters, step.__name__
