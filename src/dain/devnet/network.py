"""A whole dain network in one process: an embedded chain, the contracts, and nodes that
talk through an in-memory transport to the same handlers a network transport would use."""

from __future__ import annotations

from collections.abc import Mapping

from dain.costs import attribute
from dain.data import format_asset_id
from dain.identity import Identity
from dain.ledger import (
    TOKEN_UNIT,
    ChainBackend,
    Deployment,
    EmbeddedChain,
    Ledger,
    NetworkParams,
    Proposal,
    ProposalState,
    RoundInfo,
    Vote,
    deploy,
)
from dain.node import InMemoryTransport, Node
from dain.storage import MemoryBlobStore

GAS_MONEY = 10**20  # wei each participant gets to pay for its transactions


class Devnet:
    def __init__(
        self,
        params: NetworkParams | None = None,
        *,
        chain: ChainBackend | None = None,
        record: bool = False,
        existing: tuple[Deployment, Identity] | None = None,
    ) -> None:
        """`existing`: contracts already on `chain` and their treasury, whose votes admit
        the members (a network home's); None: deploy new ones with `params`."""
        self.params = params or NetworkParams(token_supply=100_000 * TOKEN_UNIT)
        self.chain = chain or EmbeddedChain()
        if existing is not None:
            self.deployment, self.treasury = existing
            self.chain.fund(self.treasury.address, GAS_MONEY)
        else:
            self.treasury = Identity.create()
            self.chain.fund(self.treasury.address, GAS_MONEY)
            self.deployment = deploy(
                self.chain.web3, self.treasury, self.params, gas_limit=self.chain.gas_limit
            )
        self.root = Ledger(self.chain, self.deployment, self.treasury)
        self.transport = InMemoryTransport(record=record)
        self.nodes: dict[str, Node] = {}

    def add_node(self, name: str, tokens: int = 0) -> Node:
        """A new participant with its own key and blob store, `tokens` whole tokens of
        voting power (self-delegated), registered on chain."""
        identity = Identity.create()
        self.chain.fund(identity.address, GAS_MONEY)
        ledger = self.root.as_identity(identity)
        admit_by_vote(self.root, [identity.address])  # the treasury's votes admit members
        if tokens:
            self.root.token.transfer(identity.address, tokens * TOKEN_UNIT)
            ledger.token.delegate()
        endpoint = f"mem://{name}"
        node = Node(name, ledger, MemoryBlobStore(), self.transport, endpoint)
        self.transport.register(endpoint, node.handle)
        node.join()
        self.nodes[name] = node
        return node

    def node_of(self, address: str) -> Node:
        for node in self.nodes.values():
            if node.address == address:
                return node
        raise KeyError(address)

    def pass_proposal(
        self, proposal: Proposal, voters: list[Node], support: Vote = Vote.FOR
    ) -> ProposalState:
        """Opens the vote, has `voters` vote, closes it; if it passed, queues it in the
        timelock, waits out the delay and executes it."""
        return pass_proposal(self.root, proposal, [v.ledger for v in voters], support)

    def run_round(self, job_id: int, round: int) -> tuple[RoundInfo | None, dict[str, list[int]]]:
        """Every node trains what it may; the elected aggregator records the round. Each
        node's work counts for the round in its costs (dain.costs), as its runner's would."""
        key, took_part = f"{job_id}/{round}", {}
        for name, node in self.nodes.items():
            with attribute(node.ctx.costs, key):
                took_part[name] = node.participant.train_round(job_id, round)
        aggregator = self.node_of(self.root.jobs.aggregator_of(job_id, round))
        with attribute(aggregator.ctx.costs, key):
            record = aggregator.aggregator.finish_round(job_id, round)
        return record, {k: v for k, v in took_part.items() if v}

    def run_secure_round(
        self, job_id: int, round: int, *, stop_after: Mapping[str, str] | None = None
    ) -> RoundInfo | None:
        """One round of a secure-aggregation job in lockstep: every node takes each stage
        in turn. A node named in `stop_after` stops after that stage ("start": takes no
        part; "shared": shares keys, sends no masked update; "input": sends it, does not
        sign the survivor set; "signed": signs it, answers no unmask request), as a killed
        node would; the chain's clock then moves on to
        the aggregator's stage deadlines. Returns the record, or None if never recorded."""
        stop_after = stop_after or {}
        jobs = self.root.jobs
        job = jobs.job(job_id)
        elected = jobs.aggregator_of(job_id, round)
        aggregator = self.node_of(elected)
        for _ in range(12):
            for name, node in self.nodes.items():
                for asset in node.trainer.eligible_assets(job):
                    stage = node.secure_participant.stages().get(
                        f"{job_id}/{round}/{format_asset_id(asset.asset_id)}"
                    )
                    if name in stop_after and stop_after[name] in ("start", stage):
                        continue
                    with attribute(node.ctx.costs, f"{job_id}/{round}"):
                        node.secure_participant.step(job, round, asset, elected)
            with attribute(aggregator.ctx.costs, f"{job_id}/{round}"):
                expected = len(aggregator.ctx.chain.allowed(job, jobs.enrolled(job_id)))
                now = aggregator.ctx.clock.now()
                record = aggregator.secure_aggregator.progress(job, round, now, expected)
            if record is not None:
                return record
            self.chain.advance_time(max(1, job.round_duration // 8))  # toward the next deadline
        return None


def pass_proposal(
    root: Ledger, proposal: Proposal, voters: list[Ledger], support: Vote = Vote.FOR
) -> ProposalState:
    """Drives a proposal through vote, queue, timelock delay and execution on a dev chain
    (mining blocks and moving time forward instead of waiting)."""
    gov, chain = root.gov, root.backend
    chain.mine(max(0, gov.snapshot(proposal) - root.block_number()) + 1)
    for voter in voters:
        voter.gov.vote(proposal, support)
    chain.mine(max(0, gov.deadline(proposal) - root.block_number()) + 1)
    state = gov.state(proposal)
    if state == ProposalState.SUCCEEDED:
        gov.queue(proposal)
        chain.advance_time(gov.timelock_delay() + 1)
        gov.execute(proposal)
        state = gov.state(proposal)
    return state


def admit_by_vote(root: Ledger, addresses: list[str]) -> ProposalState:
    """Admits `addresses` as members the only way the registry allows after deployment: a
    proposal the token holders pass. On a dev chain the treasury (`root`), which holds most
    of the supply, votes it through alone; it delegates its votes to itself first."""
    if not root.token.votes(root.address):
        root.token.delegate()
    proposal = root.gov.propose_admissions(addresses)
    return pass_proposal(root, proposal, [root])
