"""Secure aggregation: the sum is exact up to quantization, dropouts are recovered from
survivors' shares, too few survivors abort, and masked vectors look uniformly random."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dain.learning.errors import SecAggAborted, SecAggError
from dain.learning.secagg import (
    RoundSetup,
    SecAggClient,
    SecAggServer,
    ShareMessage,
    UnmaskResponse,
    public_bytes,
    quantize,
    scale_for,
    shamir,
)
from tests.learning.secagg_round import run_round


def _vectors(n: int, length: int, seed: int, spread: float = 1.0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    # party ids are asset ids: large, sparse numbers
    return {
        int(rng.integers(1, 2**62)) * 2 + i: rng.uniform(-spread, spread, length).astype(np.float32)
        for i in range(n)
    }


def _setup(
    parties: list[int], length: int, threshold: int = 0
) -> tuple[RoundSetup, dict[int, X25519PrivateKey]]:
    """A round of these parties, each with a fresh agreement key (as if from chain)."""
    keys = {p: X25519PrivateKey.generate() for p in parties}
    agreement = {p: public_bytes(k) for p, k in keys.items()}
    return RoundSetup(tuple(parties), agreement, length, 1.0, bytes(32), threshold=threshold), keys


def _plain_sum(vectors: dict[int, np.ndarray], left_out: set[int]) -> np.ndarray:
    return np.sum([v.astype(np.float64) for p, v in vectors.items() if p not in left_out], axis=0)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(3, 12),
    length=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
    spread=st.sampled_from([1e-3, 0.5, 1.0]),
)
def test_secure_sum_equals_plain_sum_up_to_quantization(
    n: int, length: int, seed: int, spread: float
) -> None:
    vectors = _vectors(n, length, seed, spread)
    outcome = run_round(vectors, value_range=1.0)
    # each client's value is rounded to the nearest step of 1/scale
    bound = n * 0.5 / scale_for(n, 1.0) + 1e-12
    assert np.abs(outcome.total - _plain_sum(vectors, set())).max() <= bound


@pytest.mark.parametrize("clients", [10, 50, 100])
def test_relative_error_is_below_one_in_a_million_for_float32_updates(clients: int) -> None:
    rng = np.random.default_rng(clients)
    vectors = {i + 1: rng.normal(0, 0.05, 20_000).astype(np.float32) for i in range(clients)}
    dropped = {3, 7}
    outcome = run_round(vectors, value_range=1.0, drop_before_input=frozenset(dropped))
    plain = _plain_sum(vectors, dropped)
    assert np.linalg.norm(outcome.total - plain) / np.linalg.norm(plain) <= 1e-6


N, T = 7, 4  # complete graph: every client holds a share of every secret


STAGES = ("before sharing", "before input", "before check", "before unmask")


@pytest.mark.parametrize("dropouts", range(N - T + 1))
@pytest.mark.parametrize("stage", [*STAGES, "mixed"])
def test_every_number_of_dropouts_up_to_n_minus_t_is_recovered(dropouts: int, stage: str) -> None:
    vectors = _vectors(N, 64, seed=dropouts)
    parties = sorted(vectors)
    gone = parties[1 : 1 + dropouts]
    by_stage: dict[str, set[int]] = {name: set() for name in STAGES}
    if stage == "mixed":
        for i, p in enumerate(gone):
            by_stage[STAGES[i % len(STAGES)]].add(p)
    else:
        by_stage[stage] = set(gone)
    outcome = run_round(
        vectors,
        threshold=T,
        **{f"drop_{name.replace(' ', '_')}": frozenset(by_stage[name]) for name in STAGES},
    )
    # who sent a masked input is in the sum, even if it left before signing or unmasking
    left_out = by_stage["before sharing"] | by_stage["before input"]
    bound = N * 0.5 / scale_for(N, 1.0) + 1e-12
    assert np.abs(outcome.total - _plain_sum(vectors, left_out)).max() <= bound


@pytest.mark.parametrize("stage", STAGES)
def test_fewer_than_t_survivors_aborts_the_round(stage: str) -> None:
    vectors = _vectors(N, 16, seed=1)
    gone = frozenset(sorted(vectors)[: N - T + 1])
    with pytest.raises(SecAggAborted, match=r"needed|fewer than"):
        run_round(
            vectors,
            threshold=T,
            **{f"drop_{name.replace(' ', '_')}": gone if name == stage else frozenset()
               for name in STAGES},
        )  # fmt: skip


def test_sparse_secagg_plus_graph_recovers_dropouts() -> None:
    vectors = _vectors(40, 128, seed=3)
    parties = sorted(vectors)
    outcome = run_round(
        vectors,
        drop_before_input=frozenset(parties[5:9]),
        drop_before_unmask=frozenset(parties[20:22]),
    )
    setup = outcome.server.setup
    assert setup.k_degree < 39  # not the complete graph
    assert all(len(setup.neighbours_of(p)) == setup.k_degree for p in parties)
    bound = 40 * 0.5 / scale_for(40, 1.0) + 1e-12
    left_out = set(parties[5:9])
    assert np.abs(outcome.total - _plain_sum(vectors, left_out)).max() <= bound


def test_masked_inputs_are_not_the_inputs_and_look_uniform() -> None:
    vectors = _vectors(5, 40_000, seed=4, spread=0.01)
    outcome = run_round(vectors)
    scale = scale_for(5, 1.0)
    for party, masked in outcome.masked.items():
        plain = quantize(vectors[party], scale, 1.0)
        assert np.mean(masked == plain) < 0.001
        # the top byte of a uniform 32-bit value is uniform over 256 bins
        counts = np.bincount(masked >> 24, minlength=256)
        assert stats.chisquare(counts).pvalue > 1e-4
        # and the masked vector is uncorrelated with the input
        assert abs(np.corrcoef(masked.astype(np.float64), vectors[party])[0, 1]) < 0.05


def test_tampered_or_misrouted_shares_are_refused() -> None:
    vectors = _vectors(4, 8, seed=6)
    parties = sorted(vectors)
    setup, keys = _setup(parties, 8)
    clients = {p: SecAggClient(setup, p, keys[p]) for p in parties}
    server = SecAggServer(setup)
    messages = {p: c.share_keys() for p, c in clients.items()}
    for message in messages.values():
        server.add_shares(message)
    roster = dict(server.close_sharing())
    a, b = parties[0], parties[1]
    sealed = bytearray(roster[a].ciphertexts[b])
    sealed[-1] ^= 1
    roster[a] = ShareMessage(a, roster[a].mask_key, {**roster[a].ciphertexts, b: bytes(sealed)})
    with pytest.raises(SecAggError, match="do not decrypt"):
        clients[b].mask(vectors[b], roster)
    # a client's key that is not the published one is refused up front
    with pytest.raises(SecAggError, match="published on chain"):
        SecAggClient(setup, a, X25519PrivateKey.generate())
    # a share message missing a neighbour's share is refused by the aggregator
    partial = ShareMessage(a, messages[a].mask_key, dict(list(messages[a].ciphertexts.items())[:1]))
    with pytest.raises(SecAggError, match="each neighbour"):
        SecAggServer(setup).add_shares(partial)


@settings(max_examples=30, deadline=None)
@given(secret=st.binary(min_size=32, max_size=32), n=st.integers(1, 12), data=st.data())
def test_any_t_shares_rebuild_the_secret(secret: bytes, n: int, data: st.DataObject) -> None:
    t = data.draw(st.integers(1, n))
    shares = shamir.split(secret, list(range(1, n + 1)), t)
    chosen = data.draw(
        st.lists(st.sampled_from(sorted(shares)), min_size=t, max_size=n, unique=True)
    )
    assert shamir.combine({x: shares[x] for x in chosen}, t) == secret
    if t > 1:  # t - 1 shares fit every secret equally: read as a secret, they are another
        fewer = {x: shares[x] for x in chosen[: t - 1]}
        with pytest.raises(SecAggError, match="cannot rebuild"):
            shamir.combine(fewer, t)
        with contextlib.suppress(SecAggError):  # or no 32-byte secret at all
            assert shamir.combine(fewer, t - 1) != secret


@settings(max_examples=20, deadline=None)
@given(
    sender=st.integers(0, 2**256 - 1),
    shares=st.dictionaries(
        st.integers(0, 2**256 - 1), st.integers(0, shamir.PRIME - 1), max_size=5
    ),
)
def test_messages_round_trip_through_json(sender: int, shares: dict[int, int]) -> None:
    response = UnmaskResponse(sender, shares, {})
    assert UnmaskResponse.from_dict(response.to_dict()) == response
    message = ShareMessage(sender, bytes(32), {k: b"\x01" * 40 for k in shares})
    assert ShareMessage.from_dict(message.to_dict()) == message
    with pytest.raises(SecAggError, match="malformed"):
        ShareMessage.from_dict({"sender": "x"})


def test_a_diverged_update_is_refused_before_it_is_masked() -> None:
    vectors = _vectors(3, 4, seed=9)
    parties = sorted(vectors)
    setup, keys = _setup(parties, 4)
    client = SecAggClient(setup, parties[0], keys[parties[0]])
    with pytest.raises(SecAggError, match="NaN or infinite"):
        client.share_keys(np.array([1.0, np.inf, 0.0, 0.0]))
