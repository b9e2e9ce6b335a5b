"""Replays stay refused: across a restart, under threads, and with a store that stays
bounded. Every store test runs on both real stores (memory and the node's state.db)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.identity import Identity
from dain.learning import ModelSpec, TrainConfig, init_params, param_shapes
from dain.ledger import TOKEN_UNIT, JobTerms, Receipt
from dain.node import (
    Envelope,
    EnvelopeError,
    JobSpec,
    MemoryNonces,
    Node,
    NodeState,
    NonceLimits,
    NonceStore,
    ReplayGuard,
    Request,
    seal,
)
from dain.node.nonces import Remembered
from dain.storage import digest_of, encode_tensors

CHAIN = 31337
SENDER = Identity.create()
WIDE = NonceLimits(per_sender=10**6, total=10**6)


@pytest.fixture(params=["memory", "state.db"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], NonceStore]]:
    """Opens the store; for state.db, each call opens the same file anew (a restart, or
    another process on the same home)."""
    opened: list[NodeState] = []
    memory = MemoryNonces()

    def make() -> NonceStore:
        if request.param == "memory":
            return memory
        opened.append(NodeState(tmp_path / "state.db"))
        return opened[-1]

    yield make
    for state in opened:
        state.close()


def test_a_nonce_is_new_once(make_store: Callable[[], NonceStore]) -> None:
    store = make_store()

    first = store.remember_nonce("a", "n1", 100, forget_before=0, limits=WIDE)
    again = store.remember_nonce("a", "n1", 100, forget_before=0, limits=WIDE)
    other_sender = store.remember_nonce("b", "n1", 100, forget_before=0, limits=WIDE)

    assert (first, again, other_sender) == (Remembered.NEW, Remembered.SEEN, Remembered.NEW)


def test_nonces_are_forgotten_once_stale_and_not_before(
    make_store: Callable[[], NonceStore],
) -> None:
    store = make_store()
    store.remember_nonce("a", "old", 100, forget_before=0, limits=WIDE)
    store.remember_nonce("a", "edge", 200, forget_before=0, limits=WIDE)

    store.remember_nonce("a", "now", 500, forget_before=200, limits=WIDE)

    # "old" (dated before 200) is gone, so it counts as new again; "edge" is still kept
    assert store.remember_nonce("a", "old", 100, forget_before=0, limits=WIDE) is Remembered.NEW
    assert store.remember_nonce("a", "edge", 200, forget_before=0, limits=WIDE) is Remembered.SEEN


def test_a_flood_of_unique_nonces_is_refused_past_the_limits(
    make_store: Callable[[], NonceStore],
) -> None:
    store, limits = make_store(), NonceLimits(per_sender=3, total=5)
    answers = [store.remember_nonce("flood", f"n{i}", 100, forget_before=0, limits=limits)
               for i in range(10)]  # fmt: skip

    assert answers == [Remembered.NEW] * 3 + [Remembered.FULL] * 7
    # one sender's flood does not crowd out another; the total still caps them all
    others = [store.remember_nonce(f"s{i}", "n", 100, forget_before=0, limits=limits)
              for i in range(4)]  # fmt: skip
    assert others == [Remembered.NEW, Remembered.NEW, Remembered.FULL, Remembered.FULL]
    # once the window moves past them, the flood's nonces make room again
    later = store.remember_nonce("flood", "n99", 400, forget_before=101, limits=limits)
    assert later is Remembered.NEW


def test_one_envelope_arriving_on_many_threads_passes_once(
    make_store: Callable[[], NonceStore],
) -> None:
    # each thread opens its own store on state.db: as separate processes would
    stores = [make_store() for _ in range(6)]
    for attempt in range(20):
        barrier, answers = threading.Barrier(len(stores)), []

        def receive(store: NonceStore, nonce: str, barrier: threading.Barrier,
                    answers: list[Remembered]) -> None:  # fmt: skip
            barrier.wait()
            answers.append(store.remember_nonce("a", nonce, 100, forget_before=0, limits=WIDE))

        threads = [threading.Thread(target=receive, args=(s, f"n{attempt}", barrier, answers))
                   for s in stores]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == sorted([Remembered.NEW] + [Remembered.SEEN] * 5)


def test_the_limit_holds_under_threads(make_store: Callable[[], NonceStore]) -> None:
    store, limits = make_store(), NonceLimits(per_sender=50, total=1000)
    answers: list[Remembered] = []

    def flood(thread: int) -> None:
        for i in range(20):
            answers.append(store.remember_nonce("a", f"{thread}-{i}", 100, forget_before=0,
                                                limits=limits))  # fmt: skip

    threads = [threading.Thread(target=flood, args=(t,)) for t in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers.count(Remembered.NEW) == 50 and answers.count(Remembered.FULL) == 50


def test_the_guard_refuses_replays_floods_and_long_nonces(
    make_store: Callable[[], NonceStore],
) -> None:
    guard = ReplayGuard(make_store(), max_age=60, limits=NonceLimits(per_sender=2))
    sealed = seal(SENDER, CHAIN, "update", 1, 1, {})
    t = sealed.timestamp

    def at(when: int, nonce: str) -> Envelope:  # the guard reads only time, sender and nonce
        return replace(sealed, timestamp=when, nonce=nonce)

    guard.check(at(t, "a"), now=t)
    with pytest.raises(EnvelopeError, match="already received"):
        guard.check(at(t, "a"), now=t + 1)
    guard.check(at(t, "b"), now=t)
    with pytest.raises(EnvelopeError, match="too many messages"):
        guard.check(at(t, "c"), now=t)
    # a minute on, the first two have aged out and the sender may send again
    guard.check(at(t + 61, "c"), now=t + 61)
    with pytest.raises(EnvelopeError, match="nonce must be"):
        guard.check(at(t + 61, "n" * 10_000), now=t + 61)


# ---- the attack: a message taken before a restart, played again after it --------------


def _running_job(net: Devnet) -> tuple[int, Node, Node, int]:
    """A running plain job of two hospitals: (job, its round-1 aggregator, the other
    hospital, that hospital's asset)."""
    data = load_bundled("breast_cancer")
    owners = [net.add_node(f"h{i}", tokens=10_000) for i in range(2)]
    requester = net.add_node("researcher", tokens=10_000)
    halves = partition_stratified(data.y, np.array([0.5, 0.5]), 1)
    assets = [owner.register_asset(data.subset(rows), f"h{i}", ConsentPolicy(("diagnosis",)))
              for i, (owner, rows) in enumerate(zip(owners, halves, strict=True))]  # fmt: skip
    spec = JobSpec("test", ModelSpec("logreg", 30, 2), TrainConfig())
    job_id = requester.ledger.propose_job(
        JobTerms("diagnosis", 3, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
                 requester.blobs.put(encode_tensors(init_params(spec.model, 0))))
    )  # fmt: skip
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for owner, asset in zip(owners, assets, strict=True):
        owner.ledger.jobs.enroll(job_id, asset)
    requester.ledger.jobs.start(job_id)
    aggregator = net.node_of(net.root.jobs.aggregator_of(job_id, 1))
    owner = owners[1] if aggregator is owners[0] else owners[0]
    return job_id, aggregator, owner, assets[owners.index(owner)]


def _boot(net: Devnet, like: Node, state: NodeState) -> Node:
    """`like`'s node process starting (again) on its state database: a new Node with the
    same key, blobs and endpoint, and nothing else carried over in memory."""
    node = Node(like.name, like.ledger, like.blobs, net.transport, like.endpoint, nonces=state)
    net.transport.register(like.endpoint, node.handle)
    return node


def test_an_envelope_taken_before_a_restart_is_refused_after_it(tmp_path: Path) -> None:
    net = Devnet()
    job_id, aggregator, owner, asset_id = _running_job(net)
    shapes = param_shapes(ModelSpec("logreg", 30, 2))
    blob = encode_tensors({name: np.zeros(shape, np.float16) for name, shape in shapes.items()})

    def update_envelope() -> bytes:
        cid = owner.blobs.put(blob)
        aggregator.blobs.put(blob)
        receipt = Receipt(job_id, 1, asset_id, 10, digest_of(cid)).signed_by(
            owner.ledger.identity, owner.ledger.chain_id, owner.ledger.jobs.address
        )
        body = {"asset_id": str(asset_id), "update_cid": cid, "num_examples": 10,
                "receipt_signature": "0x" + receipt.signature.hex()}  # fmt: skip
        return seal(owner.ledger.identity, owner.ledger.chain_id, "update", job_id, 1,
                    body).to_bytes()  # fmt: skip

    def post(envelope: bytes) -> int:
        request = Request("POST", "/updates", envelope)
        return net.transport.send(aggregator.endpoint, request).status

    state = NodeState(tmp_path / "state.db")
    _boot(net, aggregator, state)
    captured = update_envelope()
    assert post(captured) == 202
    state.close()  # the node stops (or crashes: every nonce is committed when taken)

    restarted = NodeState(tmp_path / "state.db")
    _boot(net, aggregator, restarted)
    replayed = net.transport.send(aggregator.endpoint, Request("POST", "/updates", captured))

    assert replayed.status == 401 and b"already received" in replayed.body
    assert post(update_envelope()) == 202  # the restarted node still takes fresh messages
    restarted.close()
