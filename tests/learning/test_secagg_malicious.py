"""Secure aggregation against a malicious aggregator (issue 11, finding 6): whatever rosters
and survivor lists it shows honest clients, it cannot strip every mask off anyone's input.
Clients check each set they are shown, sign one view of the round, and reveal only under a
quorum of signatures over that same view; floors under the threshold, the degree and the
quorum hold whatever a caller asks for."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from dain.learning.errors import SecAggAborted, SecAggError
from dain.learning.secagg import (
    MIN_THRESHOLD,
    ConsistencyCheck,
    RoundSetup,
    SecAggClient,
    SecAggServer,
    ShareMessage,
    UnmaskResponse,
    default_degree,
    public_bytes,
    round_context,
)


def _round(n: int, length: int = 4, **asked: int) -> tuple[RoundSetup, dict[int, SecAggClient]]:
    parties = [1000 + 7 * i for i in range(n)]
    keys = {p: X25519PrivateKey.generate() for p in parties}
    setup = RoundSetup(tuple(parties), {p: public_bytes(k) for p, k in keys.items()}, length,
                       1.0, bytes(32), **asked)  # fmt: skip
    return setup, {p: SecAggClient(setup, p, keys[p]) for p in parties}


def _vector(setup: RoundSetup, party: int) -> np.ndarray:
    return np.random.default_rng(party).uniform(-1, 1, setup.length)


def _unmaskable(
    setup: RoundSetup, victim: int, roster: set[int], revealed: list[UnmaskResponse]
) -> bool:
    """Whether the shares revealed rebuild the victim's self-mask seed and, for every
    neighbour it masked with, the pairwise mask (from either side's private mask key)."""
    t = setup.k_threshold

    def count(owner: int, kind: str) -> int:
        return sum(1 for r in revealed if owner in getattr(r, kind))

    if count(victim, "seed_shares") < t:
        return False
    own_key = count(victim, "key_shares") >= t
    partners = setup.neighbours_of(victim) & roster
    return all(own_key or count(u, "key_shares") >= t for u in partners)


# ---- floors --------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [1, 2])
def test_a_threshold_below_the_floor_is_refused(threshold: int) -> None:
    with pytest.raises(SecAggError, match=f"floor of {MIN_THRESHOLD}"):
        _round(7, threshold=threshold)


def test_fewer_than_three_parties_cannot_run_a_round() -> None:
    with pytest.raises(SecAggError, match="3 or more distinct parties"):
        _round(2)


def test_asked_values_below_the_floors_are_raised() -> None:
    setup, _ = _round(40, degree=4, threshold=3)
    assert setup.k_degree == default_degree(40)
    assert setup.k_threshold == setup.k_degree // 2 + 1  # a majority of k + 1 (k even)
    assert setup.quorum == 21


@settings(max_examples=200, deadline=None)
@given(n=st.integers(3, 2000), degree=st.integers(0, 3000), threshold=st.integers(0, 3000))
def test_floors_hold_for_any_request(n: int, degree: int, threshold: int) -> None:
    parties = tuple(range(1, n + 1))
    keys = dict.fromkeys(parties, bytes(32))
    try:
        setup = RoundSetup(parties, keys, 1, 1.0, bytes(32), degree=degree, threshold=threshold)
    except SecAggError:
        # refused only for what no round could use: a tiny threshold, an odd sparse degree,
        # or a threshold above the holders of a secret
        assert (
            0 < threshold < MIN_THRESHOLD
            or (degree % 2 and default_degree(n) < degree < n - 1)
            or threshold > min(n - 1, max(degree, default_degree(n))) + 1
        )
        return
    k, t = setup.k_degree, setup.k_threshold
    assert min(n - 1, default_degree(n)) <= k <= n - 1
    assert 2 * t > k + 1 and t >= MIN_THRESHOLD and t <= k + 1
    assert 2 * setup.quorum > n and setup.quorum >= t


# ---- what a client refuses ---------------------------------------------------------------


def test_a_roster_that_leaves_too_little_of_the_neighbourhood_is_refused() -> None:
    setup, clients = _round(40)
    messages = {p: c.share_keys() for p, c in clients.items()}
    victim = setup.parties[0]
    near = sorted(setup.neighbours_of(victim), key=setup.x)
    t = setup.k_threshold
    # everyone but all of the victim's neighbours except t - 2: a roster large enough in
    # all, but holding t - 1 of the victim's neighbourhood, itself included
    shown = {p: m for p, m in messages.items() if p not in near[t - 2 :]}
    assert len(shown) >= setup.quorum
    with pytest.raises(SecAggAborted, match="neighbourhood"):
        clients[victim].mask(_vector(setup, victim), shown)
    # a roster of only t members, as in finding 6, is below the quorum of a larger round
    few = {p: messages[p] for p in [victim, *near[: t - 1]]}
    with pytest.raises(SecAggAborted, match="needed"):
        clients[victim].mask(_vector(setup, victim), few)


def test_a_client_signs_one_survivor_set_and_reveals_only_under_a_quorum() -> None:
    setup, clients = _round(5)
    messages = {p: c.share_keys() for p, c in clients.items()}
    for p, c in clients.items():
        c.mask(_vector(setup, p), messages)
    me, a, b, c, other = setup.parties
    client = clients[me]
    everyone = set(setup.parties)
    alive = everyone - {other}
    # the request must split the roster, keep this client, and leave enough alive
    with pytest.raises(SecAggError, match="split"):
        client.consistency_check(everyone, {other})
    with pytest.raises(SecAggError, match="listed as dropped"):
        client.consistency_check(everyone - {me}, {me})
    with pytest.raises(SecAggAborted, match="needed"):
        client.consistency_check({me, a}, {b, c, other})
    check = client.consistency_check(alive, {other})
    assert client.consistency_check(alive, {other}) == check  # asked again
    assert set(check.vouchers) == {a, b, c}
    # it vouches for one view per round: a curious aggregator cannot have it sign another
    with pytest.raises(SecAggError, match="already signed another"):
        client.consistency_check(everyone, set())
    # nor reveal by another survivor set than the one it signed
    with pytest.raises(SecAggError, match="another survivor set"):
        client.unmask(everyone, set(), {})
    # and it reveals nothing until the quorum (3, itself included) vouched for its view
    assert setup.quorum == 3
    mine = {p: clients[p].consistency_check(alive, {other}).vouchers[me] for p in (a, b)}
    with pytest.raises(SecAggAborted, match="needed before it reveals"):
        client.unmask(alive, {other}, {a: mine[a]})
    # a voucher the aggregator made up, or one of this client's own sent back as another's,
    # counts for nothing
    forged = {a: mine[a], b: bytes(16)}
    with pytest.raises(SecAggAborted, match="needed before it reveals"):
        client.unmask(alive, {other}, forged)
    reflected = {a: mine[a], c: check.vouchers[c]}
    with pytest.raises(SecAggAborted, match="needed before it reveals"):
        client.unmask(alive, {other}, reflected)
    response = client.unmask(alive, {other}, mine)
    assert set(response.seed_shares) == alive
    assert set(response.key_shares) == {other}


def test_the_aggregator_takes_checks_of_its_own_view_only() -> None:
    setup, clients = _round(5)
    server = SecAggServer(setup)
    for client in clients.values():
        server.add_shares(client.share_keys())
    roster = server.close_sharing()
    for p, client in clients.items():
        server.add_masked(p, client.mask(_vector(setup, p), roster))
    survivors, dropped = server.close_inputs()
    first = setup.parties[0]
    with pytest.raises(SecAggError, match="another roster or survivor set"):
        server.add_check(ConsistencyCheck(first, bytes(32), {}))
    for p in setup.parties[:2]:
        server.add_check(clients[p].consistency_check(survivors, dropped))
    with pytest.raises(SecAggError, match="did not sign"):
        server.add_unmask(UnmaskResponse(first, {}, {}))
    with pytest.raises(SecAggAborted, match="signed the survivor set; 3 needed"):
        server.close_checks()


# ---- the attack ----------------------------------------------------------------------


def _attack(
    setup: RoundSetup,
    clients: dict[int, SecAggClient],
    rosters: dict[int, set[int]],
    survivors: dict[int, set[int]],
) -> tuple[list[UnmaskResponse], set[int]]:
    """What an aggregator that shows each client `rosters[p]` and `survivors[p]`, and
    relays to each every voucher addressed to it (whatever view it vouches for), gets
    revealed, and who sent it a masked input."""
    messages = {p: c.share_keys(_vector(setup, p)) for p, c in clients.items()}
    masked = set()
    for p, client in clients.items():
        with contextlib.suppress(SecAggError):
            client.mask(_vector(setup, p), {q: messages[q] for q in rosters[p]})
            masked.add(p)
    checks = {}
    for p in masked:
        with contextlib.suppress(SecAggError):
            checks[p] = clients[p].consistency_check(survivors[p], rosters[p] - survivors[p])
    revealed = []
    for p in checks:
        vouchers = {q: check.vouchers[p] for q, check in checks.items() if p in check.vouchers}
        with contextlib.suppress(SecAggError):
            revealed.append(clients[p].unmask(survivors[p], rosters[p] - survivors[p], vouchers))
    return revealed, masked


def test_finding_6_the_split_view_reveals_nothing() -> None:
    setup, clients = _round(5)
    victim, u1, u2, w1, w2 = setup.parties
    everyone = set(setup.parties)
    rosters = {p: everyone for p in everyone} | {victim: {victim, u1, u2}}
    survivors = {
        victim: {victim, u1, u2},
        u1: {u1, victim, w1},
        u2: {u2, victim, w1},
        w1: {victim, w1, w2},
        w2: {victim, w1, w2},
    }
    revealed, masked = _attack(setup, clients, rosters, survivors)
    assert masked == everyone and revealed == []
    assert not _unmaskable(setup, victim, rosters[victim], revealed)


def test_finding_6_told_consistently_reveals_nothing_of_the_victim() -> None:
    setup, clients = _round(5)
    victim, u1, u2, w1, w2 = setup.parties
    everyone = set(setup.parties)
    rosters = {p: everyone for p in everyone} | {victim: {victim, u1, u2}}
    # one list for everyone: the victim survived, its two roster neighbours dropped
    survivors = {p: {victim, w1, w2} for p in everyone}
    revealed, masked = _attack(setup, clients, rosters, survivors)
    assert victim in masked and not _unmaskable(setup, victim, rosters[victim], revealed)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 9), data=st.data())
def test_no_rosters_and_survivor_lists_let_the_aggregator_unmask_anyone(
    n: int, data: st.DataObject
) -> None:
    setup, clients = _round(n)
    parties = list(setup.parties)
    everyone = set(parties)

    def some(p: int, within: set[int]) -> set[int]:
        drawn = data.draw(st.one_of(st.just(within), st.sets(st.sampled_from(sorted(within)))))
        return drawn | {p}

    rosters = {p: some(p, everyone) for p in parties}
    survivors = {p: some(p, rosters[p]) for p in parties}
    revealed, masked = _attack(setup, clients, rosters, survivors)
    for victim in masked:
        assert not _unmaskable(setup, victim, rosters[victim], revealed)


def test_share_messages_of_an_earlier_attempt_at_the_round_are_refused() -> None:
    """An aggregator that called a client's neighbours dropped in one attempt learned their
    mask keys; if the round fails over, their old share messages must not pass again."""
    parties = (11, 22, 33, 44, 55)
    keys = {p: X25519PrivateKey.generate() for p in parties}
    public = {p: public_bytes(k) for p, k in keys.items()}

    def attempt(aggregator: str) -> dict[int, SecAggClient]:
        context = round_context(1, "0xJobs", 7, 3, aggregator)
        setup = RoundSetup(parties, public, 4, 1.0, context)
        return {p: SecAggClient(setup, p, keys[p]) for p in parties}

    earlier = {p: c.share_keys() for p, c in attempt("0xAAAA").items()}
    clients = attempt("0xBBBB")
    shown = {p: c.share_keys() for p, c in clients.items()}
    victim = parties[0]
    shown |= {p: earlier[p] for p in parties[1:]}  # its neighbours' old messages
    with pytest.raises(SecAggError, match="do not decrypt"):
        clients[victim].mask(np.zeros(4), shown)


def test_share_messages_keep_their_form() -> None:
    message = ShareMessage(5, bytes(32), {6: b"\x01" * 40}, 3)
    assert ShareMessage.from_dict(message.to_dict()) == message
