"""What one round costs as a job grows: an in-process network of `n` data owners (one
asset each) runs plain and secure rounds of one job, while a meter attributes to each node
the time it spends, the bytes it sends and receives over the transport, and the chain
calls it makes; the round's record is read back for its gas.

Attribution follows the call stack: the in-memory transport calls a peer's handler inside
the sender's call, so the meter keeps a stack of whose work is running. Time is exclusive
(a handler's time is its node's, not the caller's); bytes are counted on both ends (request
body, headers and path sent by the caller and received by the peer, the answer the other
way); a chain call counts for the node on top of the stack. Used by `bench/scale.py` and
its test; nothing here changes how a node behaves."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dain.data import ConsentPolicy, Dataset
from dain.devnet.network import GAS_MONEY, Devnet, pass_proposal
from dain.identity import Identity
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import (
    TOKEN_UNIT,
    ChainBackend,
    EmbeddedChain,
    JobInfo,
    JobTerms,
    NetworkParams,
    RoundInfo,
    deploy,
)
from dain.node import JobSpec, Node, Request, Response
from dain.storage import MemoryBlobStore, encode_tensors

FEATURES = 30  # logistic regression on 30 features: 62 parameters, so the protocol dominates
ROWS = 20  # rows per owner
PURPOSE = "diagnosis"
# reads: everything that is not sending or waiting for a transaction
WRITES = frozenset({"eth_sendTransaction", "eth_sendRawTransaction", "eth_getTransactionReceipt",
                    "eth_estimateGas", "eth_getTransactionCount", "eth_gasPrice",
                    "eth_maxPriorityFeePerGas", "eth_feeHistory"})  # fmt: skip


@dataclass
class Usage:
    """One node's share of a round."""

    seconds: float = 0.0  # exclusive wall time
    rpc_seconds: float = 0.0  # of which waiting for the chain
    sent: int = 0  # bytes
    received: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # JSON-RPC method -> count

    @property
    def reads(self) -> int:
        return sum(c for m, c in self.calls.items() if m not in WRITES)


class Meter:
    """Whose work is running (a stack of node names) and what each used."""

    def __init__(self) -> None:
        self.usage: dict[str, Usage] = defaultdict(Usage)
        self._stack: list[tuple[str, float]] = []  # name, when its current slice began

    def reset(self) -> None:
        self.usage = defaultdict(Usage)

    @contextmanager
    def acting(self, name: str) -> Iterator[None]:
        now = time.perf_counter()
        if self._stack:
            caller, began = self._stack[-1]
            self.usage[caller].seconds += now - began
        self._stack.append((name, now))
        try:
            yield
        finally:
            now = time.perf_counter()
            _, began = self._stack.pop()
            self.usage[name].seconds += now - began
            if self._stack:
                self._stack[-1] = (self._stack[-1][0], now)

    @property
    def current(self) -> str | None:
        return self._stack[-1][0] if self._stack else None

    def handler(self, node: Node) -> Callable[[Request], Response]:
        """`node`'s handler, metered: what crosses the transport to and from it."""

        def handle(request: Request) -> Response:
            size = len(request.body) + len(request.path) + len(request.method)
            size += sum(len(k) + len(v) for k, v in request.headers.items())
            caller = self.current
            with self.acting(node.name):
                response = node.handle(request)
            self.usage[node.name].received += size
            self.usage[node.name].sent += len(response.body)
            if caller is not None:
                self.usage[caller].sent += size
                self.usage[caller].received += len(response.body)
            return response

        return handle

    def chain_middleware(self) -> type:
        """A web3 middleware class that counts each JSON-RPC call for the acting node."""
        from web3.middleware.base import Web3Middleware

        meter = self

        class Counting(Web3Middleware):
            def wrap_make_request(self, make_request):  # type: ignore[no-untyped-def]
                def counted(method, params):  # type: ignore[no-untyped-def]
                    began = time.perf_counter()
                    try:
                        return make_request(method, params)
                    finally:
                        who = meter.current
                        if who is not None:
                            usage = meter.usage[who]
                            usage.calls[method] += 1
                            usage.rpc_seconds += time.perf_counter() - began

                return counted

        return Counting


def owner_data(index: int, rows: int = ROWS) -> Dataset:
    """A synthetic table of `rows` rows, two classes split by a fixed direction."""
    rng = np.random.default_rng(index)
    x = rng.standard_normal((rows, FEATURES)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64)
    y[:2] = (0, 1)  # both classes at every owner
    names = tuple(f"f{i}" for i in range(FEATURES))
    return Dataset(f"owner-{index}", x, y, names, "label", ("0", "1"))


@dataclass(frozen=True)
class RoundCost:
    participants: int
    secure: bool
    round: int
    wall_s: float
    aggregator_s: float
    aggregator_rpc_s: float
    participant_s: float  # median over participants, excluding the aggregator
    bytes_per_node: float  # median over participants: sent + received
    bytes_sent_per_node: float
    bytes_received_per_node: float
    aggregator_bytes: int  # sent + received
    reads_per_node: float  # median chain reads of a participant
    aggregator_reads: int
    record_gas: int
    receipts: int
    participant_calls: dict[str, int]  # one participant's chain calls, by JSON-RPC method
    aggregator_calls: dict[str, int]

    @property
    def gas_per_receipt(self) -> float:
        return self.record_gas / self.receipts


class ScaleNetwork:
    """A requester and `owners` data owners in one process, metered. Owners are admitted
    at deployment (as founders) so that building a large network takes no vote per member."""

    def __init__(self, owners: int, *, chain: ChainBackend | None = None) -> None:
        self.meter = Meter()
        identities = [Identity.create() for _ in range(owners)]
        treasury = Identity.create()
        params = NetworkParams(token_supply=100_000 * TOKEN_UNIT)
        backend = chain or EmbeddedChain()
        backend.fund(treasury.address, GAS_MONEY)
        deployment = deploy(backend.web3, treasury, params,
                            founders=[i.address for i in identities],
                            gas_limit=backend.gas_limit)  # fmt: skip
        self.net = Devnet(params, chain=backend, existing=(deployment, treasury))
        backend.web3.middleware_onion.add(self.meter.chain_middleware(), "dain-scale-meter")
        self.requester = self.net.add_node("requester", tokens=20_000)
        self._meter_node(self.requester)
        self.owners: list[tuple[Node, int]] = []
        for k, identity in enumerate(identities):
            node = self._founder(f"owner{k}", identity)
            asset = node.register_asset(owner_data(k), f"records {k}", ConsentPolicy((PURPOSE,)))
            self.owners.append((node, asset))

    def _founder(self, name: str, identity: Identity) -> Node:
        """As `Devnet.add_node`, for a member admitted at deployment."""
        net = self.net
        net.chain.fund(identity.address, GAS_MONEY)
        endpoint = f"mem://{name}"
        node = Node(name, net.root.as_identity(identity), MemoryBlobStore(), net.transport,
                    endpoint)  # fmt: skip
        self._meter_node(node)
        node.join()
        net.nodes[name] = node
        return node

    def _meter_node(self, node: Node) -> None:
        self.net.transport.register(node.endpoint, self.meter.handler(node))

    def job(
        self, participants: int, *, secure: bool, rounds: int = 2, hidden: tuple[int, ...] = ()
    ) -> int:
        """A started job of the first `participants` owners' assets: logistic regression,
        or an MLP with `hidden` layer widths (3,000: 99,002 parameters)."""
        kind = "mlp" if hidden else "logreg"
        model = ModelSpec(kind, FEATURES, 2, hidden, (0.0,) * FEATURES, (1.0,) * FEATURES)
        spec = JobSpec("scale", model, TrainConfig(0.1, 1, 16), seed=1)
        requester = self.requester
        blobs = requester.blobs
        job_id = requester.ledger.propose_job(JobTerms(
            PURPOSE, rounds, TOKEN_UNIT, blobs.put(spec.to_bytes()),
            blobs.put(encode_tensors(init_params(model, 1))), secure_aggregation=secure,
            round_duration=800, max_assets=max(participants, 2),
        ))  # fmt: skip
        root = self.net.root
        pass_proposal(root, requester.ledger.gov.propose_job_approval(job_id), [root])
        for node, asset in self.owners[:participants]:
            node.enroll(job_id, asset)
        requester.ledger.jobs.start(job_id)
        return job_id

    def run_round(self, job_id: int, round: int) -> RoundCost:
        """One round, every enrolled owner taking part; its cost."""
        jobs = self.net.root.jobs
        job = jobs.job(job_id)
        taking = [node for node, _ in self.owners if node.trainer.eligible_assets(job)]
        self.meter.reset()
        began = time.perf_counter()
        if job.secure_aggregation:
            record, aggregator = self._secure_round(job, round, taking)
        else:
            record, aggregator = self._plain_round(job, round, taking)
        wall = time.perf_counter() - began
        if record is None:
            raise RuntimeError(f"Round {round} of job {job_id} was not recorded.")
        return self._cost(job, round, record, wall, taking, aggregator)

    def _plain_round(self, job: JobInfo, round: int, taking: list[Node]) -> tuple[Any, Node]:
        aggregator = self.net.node_of(self.net.root.jobs.aggregator_of(job.job_id, round))
        for node in taking:
            with self.meter.acting(node.name):
                node.participant.train_round(job.job_id, round)
        with self.meter.acting(aggregator.name):
            record = aggregator.aggregator.finish_round(job.job_id, round)
        return record, aggregator

    def _secure_round(self, job: JobInfo, round: int, taking: list[Node]) -> tuple[Any, Node]:
        """As `Devnet.run_secure_round`: every node takes each stage in turn."""
        jobs = self.net.root.jobs
        elected = jobs.aggregator_of(job.job_id, round)
        aggregator = self.net.node_of(elected)
        expected = len(aggregator.ctx.chain.allowed(job, jobs.enrolled(job.job_id)))
        for _ in range(12):
            for node in taking:
                with self.meter.acting(node.name):
                    for asset in node.trainer.eligible_assets(job):
                        node.secure_participant.step(job, round, asset, elected)
            with self.meter.acting(aggregator.name):
                now = aggregator.ctx.clock.now()
                record = aggregator.secure_aggregator.progress(job, round, now, expected)
            if record is not None:
                return record, aggregator
            self.net.chain.advance_time(max(1, job.round_duration // 8))
        return None, aggregator

    def _cost(self, job: JobInfo, round: int, record: RoundInfo, wall: float,
              taking: list[Node], aggregator: Node) -> RoundCost:  # fmt: skip
        usage = self.meter.usage
        others = [usage[n.name] for n in taking if n is not aggregator] or [usage[aggregator.name]]
        mine = usage[aggregator.name]
        sample = others[0]
        web3 = self.net.chain.web3
        block = web3.eth.get_block(record.block_number)
        gas = 0
        for tx in block["transactions"]:
            receipt = web3.eth.get_transaction_receipt(tx)
            if str(receipt["to"]).lower() == self.net.root.jobs.address.lower():
                gas = int(receipt["gasUsed"])
        return RoundCost(
            participants=len(taking), secure=job.secure_aggregation, round=round,
            wall_s=wall, aggregator_s=mine.seconds, aggregator_rpc_s=mine.rpc_seconds,
            participant_s=float(np.median([u.seconds for u in others])),
            bytes_per_node=float(np.median([u.sent + u.received for u in others])),
            bytes_sent_per_node=float(np.median([u.sent for u in others])),
            bytes_received_per_node=float(np.median([u.received for u in others])),
            aggregator_bytes=mine.sent + mine.received,
            reads_per_node=float(np.median([u.reads for u in others])),
            aggregator_reads=mine.reads, record_gas=gas, receipts=record.participants,
            participant_calls=dict(sorted(sample.calls.items())),
            aggregator_calls=dict(sorted(mine.calls.items())),
        )  # fmt: skip


def growth_exponent(sizes: list[int], costs: list[float]) -> float:
    """The least-squares slope of log(cost) against log(n): 1 is linear."""
    return float(np.polyfit(np.log(sizes), np.log(costs), 1)[0])


def fit_error(sizes: list[int], costs: list[float], model: Callable[[float], float]) -> float:
    """How far `costs` are from c * model(n) for the best c (least squares in log space):
    the root-mean-square of the log residuals; small means the model fits."""
    logs = np.log(costs) - np.log([model(n) for n in sizes])
    return float(np.sqrt(np.mean((logs - logs.mean()) ** 2)))
