"""Envelope codec: round trip, and any single-byte change is refused."""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dain.identity import Identity
from dain.node import Envelope, EnvelopeError, ReplayGuard, seal

CHAIN = 31337
IDENTITY = Identity.create()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
bodies = st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=5)


@settings(max_examples=40, deadline=None)
@given(body=bodies, job=st.integers(0, 2**64 - 1), rnd=st.integers(0, 2**32 - 1))
def test_round_trip(body: dict, job: int, rnd: int) -> None:
    envelope = seal(IDENTITY, CHAIN, "update", job, rnd, body)

    decoded = Envelope.from_bytes(envelope.to_bytes())

    assert decoded == envelope
    assert decoded.signer_address(CHAIN) == IDENTITY.address


@settings(max_examples=60, deadline=None)
@given(body=bodies, data=st.data())
def test_any_single_byte_change_is_refused(body: dict, data: st.DataObject) -> None:
    raw = bytearray(seal(IDENTITY, CHAIN, "update", 1, 2, body).to_bytes())
    index = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]))
    raw[index] = new

    with pytest.raises(EnvelopeError):
        Envelope.from_bytes(bytes(raw)).signer_address(CHAIN)


def test_envelope_for_another_chain_is_refused() -> None:
    envelope = seal(IDENTITY, CHAIN, "update", 1, 1, {})
    with pytest.raises(EnvelopeError, match="chain"):
        envelope.signer_address(CHAIN + 1)


def test_replay_and_stale_envelopes_are_refused() -> None:
    guard = ReplayGuard(max_age=60)
    envelope = seal(IDENTITY, CHAIN, "update", 1, 1, {})
    guard.check(envelope, now=envelope.timestamp)

    with pytest.raises(EnvelopeError, match="already received"):
        guard.check(envelope, now=envelope.timestamp + 1)
    with pytest.raises(EnvelopeError, match="stale"):
        guard.check(seal(IDENTITY, CHAIN, "update", 1, 1, {}), now=envelope.timestamp + 3600)
    with pytest.raises(EnvelopeError, match="future"):
        guard.check(seal(IDENTITY, CHAIN, "update", 1, 1, {}), now=envelope.timestamp - 3600)


def test_a_signature_with_another_v_encoding_is_refused() -> None:
    envelope = seal(IDENTITY, CHAIN, "update", 1, 2, {})
    for v in (0, 1, 35 + (envelope.signature[64] - 27), 44):
        raw = envelope.to_bytes().replace(
            envelope.signature.hex().encode(), (envelope.signature[:64] + bytes([v])).hex().encode()
        )
        with pytest.raises(EnvelopeError, match="v 27 or 28"):
            Envelope.from_bytes(raw)


def test_two_copies_arriving_at_once_pass_the_replay_guard_once() -> None:
    for _ in range(50):
        guard, envelope = ReplayGuard(), seal(IDENTITY, CHAIN, "update", 1, 1, {})
        barrier, passed = threading.Barrier(4), []

        def receive(guard: ReplayGuard = guard, envelope: Envelope = envelope,
                    barrier: threading.Barrier = barrier, passed: list = passed) -> None:
            barrier.wait()
            try:
                guard.check(envelope)
                passed.append(1)
            except EnvelopeError:
                pass

        threads = [threading.Thread(target=receive) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(passed) == 1


@pytest.mark.parametrize("field", ["job_id", "round", "timestamp"])
def test_numbers_past_what_the_chain_holds_are_refused(field: str) -> None:
    raw = json.loads(seal(IDENTITY, CHAIN, "update", 1, 1, {}).to_bytes())
    raw[field] = 2**70
    with pytest.raises(EnvelopeError, match=r"out of range|canonical"):
        Envelope.from_bytes(json.dumps(raw, separators=(",", ":"), sort_keys=True).encode())
