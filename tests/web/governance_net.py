"""A network with governance to show: a requester's job awaiting approval by an open vote,
proposals already decided (each member's admission), a member with voting power and one
without; and the dashboard served by a node's own app."""

from __future__ import annotations

from dataclasses import dataclass

from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms, Proposal
from dain.node import JobSpec, Node
from dain.storage import encode_tensors


@dataclass
class GovNet:
    net: Devnet
    requester: Node
    hospital: Node  # 10,000 DAIN, delegated to itself before the open vote's snapshot
    bystander: Node  # a member holding 500 DAIN it never delegated: no voting power
    job_id: int  # proposed with a 3 DAIN pool, epsilon 2, secure aggregation
    open: Proposal  # the vote approving `job_id`, active
    floor: Proposal  # a vote setting the reward floor share to 25%, active


def gov_net() -> GovNet:
    net = Devnet()
    requester = net.add_node("researcher", tokens=20_000)
    hospital = net.add_node("hospital", tokens=10_000)
    bystander = net.add_node("bystander")
    requester.ledger.token.transfer(bystander.address, 500 * TOKEN_UNIT)
    spec = JobSpec("gov", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 32), seed=7)
    model = encode_tensors(init_params(spec.model, 7))
    terms = JobTerms("diagnosis", 3, 3 * TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
                     requester.blobs.put(model), max_epsilon=2.0,
                     secure_aggregation=True)  # fmt: skip
    job_id = requester.ledger.propose_job(terms)
    proposal = requester.ledger.gov.propose_job_approval(job_id)
    floor = requester.ledger.gov.propose_floor_share(2500)
    open_vote(net, floor)
    return GovNet(net, requester, hospital, bystander, job_id, proposal, floor)


def open_vote(net: Devnet, proposal: Proposal) -> None:
    """Mines past the proposal's snapshot: its vote (and any made before it) is open."""
    root = net.root
    root.backend.mine(max(0, root.gov.snapshot(proposal) - root.block_number()) + 1)
