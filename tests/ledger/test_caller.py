"""Every request of the typed client goes through its ChainCaller: with the chain's node gone,
each method fails with ChainUnavailable naming what it was doing; bugs stay bugs."""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from web3.exceptions import MismatchedABI, Web3TypeError, Web3ValidationError
from web3.types import EventData

from dain.data import ConsentPolicy
from dain.identity import Identity
from dain.ledger import (
    TOKEN_UNIT,
    Auditor,
    ChainCaller,
    ChainUnavailable,
    Deployment,
    JobTerms,
    Ledger,
    NetworkParams,
    Proposal,
    RpcChain,
    TransactionRefused,
    Vote,
    deploy,
)
from dain.ledger.anvil import AnvilProcess, free_port
from dain.ledger.assets import AssetsClient
from dain.ledger.governance import GovernanceClient, TokenClient
from dain.ledger.jobs import JobsClient
from dain.ledger.registry import RegistryClient
from tests.conftest import ChainNet, manifest


@dataclass
class Gone:
    """A client whose chain was reachable when it was built and has stopped since."""

    ledger: Ledger
    job_id: int
    asset_id: int
    proposal: Proposal


@pytest.fixture(scope="module")
def gone() -> Iterator[Gone]:
    anvil = AnvilProcess.start()
    try:
        chain = RpcChain(anvil.url)
        treasury = Identity.create()
        chain.fund(treasury.address, 10**20)
        params = NetworkParams(token_supply=100_000 * TOKEN_UNIT)
        deployment = deploy(chain.web3, treasury, params, gas_limit=chain.gas_limit)
        net = ChainNet(chain, Ledger(chain, deployment, treasury), params)
        member = net.member()
        asset_id = net.asset(member)
        job_id = net.propose(member, 1)
        proposal = member.gov.propose_job_approval(job_id)
    finally:
        anvil.stop()  # nothing listens on its port from here on
    yield Gone(member, job_id, asset_id, proposal)


Use = Callable[[Gone], object]
POLICY = ConsentPolicy(("diagnosis",))
# every public method of the client, called as a user would; each must reach the chain
# only through the caller, so with the chain gone each fails as ChainUnavailable
USES: dict[str, Use] = {
    "token.balance_of": lambda g: g.ledger.token.balance_of(g.ledger.address),
    "token.total_supply": lambda g: g.ledger.token.total_supply(),
    "token.transfer": lambda g: g.ledger.token.transfer(g.ledger.address, 1),
    "token.approve": lambda g: g.ledger.token.approve(g.ledger.address, 1),
    "token.delegate": lambda g: g.ledger.token.delegate(),
    "token.votes": lambda g: g.ledger.token.votes(g.ledger.address, 1),
    "gov.propose": lambda g: g.ledger.gov.propose([], [], [], "nothing"),
    "gov.propose_call": lambda g: g.ledger.gov.propose_call(
        g.ledger.contracts.jobs, "approve", [g.job_id], "approve"
    ),
    "gov.propose_job_approval": lambda g: g.ledger.gov.propose_job_approval(g.job_id),
    "gov.propose_admission": lambda g: g.ledger.gov.propose_admission(g.ledger.address),
    "gov.propose_admissions": lambda g: g.ledger.gov.propose_admissions([g.ledger.address]),
    "gov.propose_removal": lambda g: g.ledger.gov.propose_removal(g.ledger.address),
    "gov.propose_floor_share": lambda g: g.ledger.gov.propose_floor_share(100),
    "gov.propose_min_reward_pool": lambda g: g.ledger.gov.propose_min_reward_pool(1),
    "gov.propose_max_assets_per_job": lambda g: g.ledger.gov.propose_max_assets_per_job(9),
    "gov.vote": lambda g: g.ledger.gov.vote(g.proposal, Vote.FOR),
    "gov.ballot": lambda g: g.ledger.gov.ballot(g.ledger.identity, g.proposal, Vote.FOR),
    "gov.submit_ballot": lambda g: g.ledger.gov.submit_ballot(
        g.proposal, Vote.FOR, g.ledger.address, b"\1" * 65
    ),
    "gov.queue": lambda g: g.ledger.gov.queue(g.proposal),
    "gov.execute": lambda g: g.ledger.gov.execute(g.proposal),
    "gov.proposal": lambda g: g.ledger.gov.proposal(g.proposal.proposal_id),
    "gov.proposals": lambda g: g.ledger.gov.proposals(),
    "gov.votes_cast": lambda g: g.ledger.gov.votes_cast(g.ledger.address),
    "gov.cancel": lambda g: g.ledger.gov.cancel(g.proposal),
    "gov.state": lambda g: g.ledger.gov.state(g.proposal),
    "gov.tally": lambda g: g.ledger.gov.tally(g.proposal),
    "gov.has_voted": lambda g: g.ledger.gov.has_voted(g.proposal, g.ledger.address),
    "gov.deadline": lambda g: g.ledger.gov.deadline(g.proposal),
    "gov.snapshot": lambda g: g.ledger.gov.snapshot(g.proposal),
    "gov.eta": lambda g: g.ledger.gov.eta(g.proposal),
    "gov.quorum": lambda g: g.ledger.gov.quorum(1),
    "gov.timelock_delay": lambda g: g.ledger.gov.timelock_delay(),
    "registry.register": lambda g: g.ledger.registry.register("mem://x"),
    "registry.attest": lambda g: g.ledger.registry.attest(g.ledger.address, 1),
    "registry.has_credential": lambda g: g.ledger.registry.has_credential(
        g.ledger.address, g.ledger.address
    ),
    "registry.is_member": lambda g: g.ledger.registry.is_member(g.ledger.address),
    "registry.member": lambda g: g.ledger.registry.member(g.ledger.address),
    "registry.members": lambda g: g.ledger.registry.members(),
    "assets.register": lambda g: g.ledger.assets.register(manifest(), "m", POLICY, "p"),
    "assets.rows": lambda g: g.ledger.assets.rows(g.asset_id),
    "assets.set_policy": lambda g: g.ledger.assets.set_policy(g.asset_id, POLICY, "p"),
    "assets.revoke": lambda g: g.ledger.assets.revoke(g.asset_id),
    "assets.policy": lambda g: g.ledger.assets.policy(g.asset_id),
    "assets.consent_for": lambda g: g.ledger.assets.consent_for(g.asset_id, "diagnosis"),
    "assets.owner_of": lambda g: g.ledger.assets.owner_of(g.asset_id),
    "assets.owners": lambda g: g.ledger.assets.owners([g.asset_id]),
    "assets.transfer": lambda g: g.ledger.assets.transfer(g.asset_id, g.ledger.address),
    "assets.policy_history": lambda g: g.ledger.assets.policy_history(g.asset_id),
    "assets.revocations": lambda g: g.ledger.assets.revocations(g.asset_id),
    "assets.transfers_to": lambda g: g.ledger.assets.transfers_to(g.ledger.address),
    "assets.manifest_cid": lambda g: g.ledger.assets.manifest_cid(g.asset_id),
    "assets.metadata": lambda g: g.ledger.assets.metadata(g.asset_id),
    "jobs.propose": lambda g: g.ledger.jobs.propose(JobTerms("diagnosis", 1, 1, "s", "m")),
    "jobs.enroll": lambda g: g.ledger.jobs.enroll(g.job_id, g.asset_id),
    "jobs.agreement_keys": lambda g: g.ledger.jobs.agreement_keys(g.job_id),
    "jobs.abort_round": lambda g: g.ledger.jobs.abort_round(g.job_id, 1, 0),
    "jobs.aborts": lambda g: g.ledger.jobs.aborts(g.job_id),
    "jobs.rounds_aborted": lambda g: g.ledger.jobs.rounds_aborted(g.job_id),
    "jobs.start": lambda g: g.ledger.jobs.start(g.job_id),
    "jobs.draw_seed": lambda g: g.ledger.jobs.draw_seed(g.job_id),
    "jobs.cancel": lambda g: g.ledger.jobs.cancel(g.job_id),
    "jobs.aggregator_at": lambda g: g.ledger.jobs.aggregator_at(g.job_id, 1, 0),
    "jobs.aggregator_of": lambda g: g.ledger.jobs.aggregator_of(g.job_id, 1),
    "jobs.sampled": lambda g: g.ledger.jobs.sampled(g.job_id, 1, g.asset_id),
    "jobs.record_round": lambda g: g.ledger.jobs.record_round(g.job_id, 1, "m", b"\0" * 32, []),
    "jobs.complete": lambda g: g.ledger.jobs.complete(g.job_id),
    "jobs.settle": lambda g: g.ledger.jobs.settle(g.job_id),
    "jobs.settlement": lambda g: g.ledger.jobs.settlement(g.job_id),
    "jobs.settlement_left": lambda g: g.ledger.jobs.settlement_left(g.job_id),
    "jobs.receipts_skipped": lambda g: g.ledger.jobs.receipts_skipped(g.job_id),
    "jobs.quality_of": lambda g: g.ledger.jobs.quality_of(g.job_id, g.asset_id),
    "jobs.min_reward_pool": lambda g: g.ledger.jobs.min_reward_pool(),
    "jobs.max_assets_per_job": lambda g: g.ledger.jobs.max_assets_per_job(),
    "jobs.refunds": lambda g: g.ledger.jobs.refunds(g.job_id),
    "jobs.consent": lambda g: g.ledger.jobs.consent(_job_info(g), g.asset_id),
    "jobs.claim": lambda g: g.ledger.jobs.claim(g.job_id, g.asset_id),
    "jobs.job": lambda g: g.ledger.jobs.job(g.job_id),
    "jobs.enrollment": lambda g: g.ledger.jobs.enrollment(g.job_id, g.asset_id),
    "jobs.candidates": lambda g: g.ledger.jobs.candidates(g.job_id),
    "jobs.reputation": lambda g: g.ledger.jobs.reputation(g.ledger.address),
    "jobs.floor_share_bps": lambda g: g.ledger.jobs.floor_share_bps(),
    "jobs.count": lambda g: g.ledger.jobs.count(),
    "jobs.enrolled": lambda g: g.ledger.jobs.enrolled(g.job_id),
    "jobs.owed": lambda g: g.ledger.jobs.owed(g.job_id, g.asset_id),
    "jobs.round_record": lambda g: g.ledger.jobs.round_record(g.job_id, 1),
    "jobs.data_used": lambda g: g.ledger.jobs.data_used(job_id=g.job_id),
    "jobs.rewards_paid": lambda g: g.ledger.jobs.rewards_paid(g.job_id),
    "jobs.proposed_by": lambda g: g.ledger.jobs.proposed_by(g.ledger.address),
    "jobs.cancellations": lambda g: g.ledger.jobs.cancellations(g.job_id),
    "jobs.enrollments": lambda g: g.ledger.jobs.enrollments([g.asset_id]),
    "jobs.approvals": lambda g: g.ledger.jobs.approvals(),
    "jobs.records": lambda g: g.ledger.jobs.records(g.job_id),
    "jobs.values_recorded": lambda g: g.ledger.jobs.values_recorded(g.job_id, 1),
    "jobs.proposal": lambda g: g.ledger.jobs.proposal(g.job_id),
    "jobs.initial_model_cid": lambda g: g.ledger.jobs.initial_model_cid(g.job_id),
    "assets.policies_set": lambda g: g.ledger.assets.policies_set(),
    "assets.holder_at": lambda g: g.ledger.assets.holder_at(g.asset_id, 1),
    "token.delegate_of": lambda g: g.ledger.token.delegate_of(g.ledger.address),
    "ledger.propose_job": lambda g: g.ledger.propose_job(JobTerms("diagnosis", 1, 1, "s", "m")),
    "ledger.block_number": lambda g: g.ledger.block_number(),
    "ledger.block_time": lambda g: g.ledger.block_time(1),
    "ledger.pending_time": lambda g: g.ledger.pending_time(),
    "ledger.now": lambda g: g.ledger.now(),
    "ledger.gas_balance": lambda g: g.ledger.gas_balance(),
    "auditor.asset": lambda g: Auditor(g.ledger).asset(g.asset_id),
    "auditor.job": lambda g: Auditor(g.ledger).job(g.job_id),
    "auditor.member": lambda g: Auditor(g.ledger).member(g.ledger.address),
}
# methods that decode what the caller already holds and make no request
LOCAL = {"jobs.data_used_in", "jobs.skipped_in", "gov.calls"}
PARTS: dict[str, type] = {
    "token": TokenClient,
    "gov": GovernanceClient,
    "registry": RegistryClient,
    "assets": AssetsClient,
    "jobs": JobsClient,
    "ledger": Ledger,
    "auditor": Auditor,
}
ASIDE = {"ledger.as_identity"}  # builds another client; no request


def _job_info(g: Gone) -> Any:
    from dain.ledger import JobInfo, JobStatus

    return JobInfo(g.job_id, g.ledger.address, "diagnosis", 1, 0, JobStatus.PROPOSED, False,
                   600, 0, None, 0.0, 1, 0, b"", "s", "m")  # fmt: skip


def test_every_method_of_every_part_is_listed() -> None:
    public = {
        f"{part}.{name}"
        for part, cls in PARTS.items()
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }

    assert public - ASIDE == set(USES) | LOCAL


@pytest.mark.parametrize("name", sorted(USES))
def test_with_the_chain_gone_each_method_says_what_it_was_doing(gone: Gone, name: str) -> None:
    with pytest.raises(ChainUnavailable) as raised:
        USES[name](gone)

    assert raised.value.call, name
    assert f"while trying to {raised.value.call}" in raised.value.message
    assert "connection refused" in raised.value.message
    assert raised.value.hint


def test_a_read_and_a_write_name_their_call_in_plain_words(gone: Gone) -> None:
    with pytest.raises(ChainUnavailable) as read:
        gone.ledger.jobs.job(gone.job_id)
    with pytest.raises(ChainUnavailable) as write:
        gone.ledger.jobs.enroll(gone.job_id, gone.asset_id)

    assert read.value.message.startswith("Cannot reach the chain while trying to read the job")
    assert write.value.message.startswith("Cannot reach the chain while trying to enroll the asset")


def test_an_rpc_chain_where_no_node_listens_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ChainUnavailable, match=f"No EVM node answers at {url}"):
        RpcChain(url)


def test_the_dev_chain_methods_are_guarded_too(gone: Gone) -> None:
    chain = gone.ledger.backend
    uses = (chain.now, chain.mine, chain.block_number, lambda: chain.code(gone.ledger.address),
            lambda: chain.fund(gone.ledger.address, 1))  # fmt: skip
    for use in uses:
        with pytest.raises(ChainUnavailable, match="Cannot reach the chain"):
            use()


class FaultyEndpoint(BaseHTTPRequestHandler):
    """An RPC endpoint that knows its chain id and fails every other request as `answer`
    says: a proxy's error page, a body that is not JSON, or a JSON-RPC error."""

    answer: ClassVar[str] = "502"

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status, body = 200, b""
        if request["method"] == "eth_chainId":
            body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0x7a69"}).encode()
        elif self.answer == "502":
            status, body = 502, b"<html>Bad Gateway</html>"
        elif self.answer == "html":
            body = b"<html>maintenance</html>"
        else:
            error = {"code": -32000, "message": "header not found"}
            body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def faulty() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FaultyEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("502", "the endpoint answered HTTP 502"),
        ("html", "the endpoint's answer is not JSON-RPC"),
        ("rpc-error", "header not found"),
    ],
)
def test_an_endpoint_that_answers_badly_is_unavailable(
    faulty: str, answer: str, words: str
) -> None:
    FaultyEndpoint.answer = answer
    somewhere = "0x" + "11" * 20
    deployment = Deployment(31337, *([somewhere] * 6))
    ledger = Ledger(RpcChain(faulty), deployment, Identity.create())

    with pytest.raises(ChainUnavailable) as raised:
        ledger.jobs.job(1)

    assert raised.value.call == "read the job"
    assert words in raised.value.message


# -- bugs stay bugs, on both backends ---------------------------------------------------


@dataclass(frozen=True)
class MisreadTransfer:
    """A decoder with a bug: ERC-20 Transfer has no tokenId."""

    EVENT: ClassVar[str] = "Transfer"
    token_id: int

    @classmethod
    def from_log(cls, log: EventData) -> MisreadTransfer:
        return cls(int(log["args"]["tokenId"]))


def test_a_wrong_argument_type_is_a_bug_not_a_refusal(chain_net: ChainNet) -> None:
    member = chain_net.member()

    with pytest.raises(MismatchedABI):
        member.jobs.job("seven")  # type: ignore[arg-type]
    with pytest.raises(MismatchedABI):
        member.jobs.enroll("seven", 1)  # type: ignore[arg-type]
    with pytest.raises(Web3TypeError):
        member.caller.balance(5)  # type: ignore[arg-type]


def test_web3_argument_validation_inside_a_send_is_a_bug_not_a_refusal(
    chain_net: ChainNet,
) -> None:
    member = chain_net.member()
    transfer = member.contracts.token.functions.transfer(chain_net.root.address, 1)

    # ether sent to a function that is not payable: web3 refuses before any request
    with pytest.raises(Web3ValidationError):
        member.caller.send("transfer tokens", transfer, value=1)


def test_a_bug_in_an_event_decoder_surfaces_as_itself(chain_net: ChainNet) -> None:
    member = chain_net.member()  # receives tokens: the token emitted a Transfer

    with pytest.raises(KeyError, match="tokenId"):
        member.caller.events("token transfers", member.contracts.token, MisreadTransfer)


def test_a_revert_on_a_read_is_refused_with_the_solidity_error(chain_net: ChainNet) -> None:
    member = chain_net.member()

    with pytest.raises(TransactionRefused) as refused:
        member.assets.owner_of(12345)

    assert refused.value.reason == "ERC721NonexistentToken"
    assert refused.value.call == "read the asset's owner"
    assert "There is no data asset" in refused.value.message


def test_a_node_refusing_a_transaction_it_cannot_pay_for_is_a_refusal(
    chain_net: ChainNet,
) -> None:
    broke = chain_net.root.as_identity(Identity.create())  # no gas money

    with pytest.raises(TransactionRefused) as refused:
        broke.token.delegate()

    assert refused.value.reason == "RejectedByNode"
    assert refused.value.call == "delegate votes"


def test_a_caller_for_another_identity_shares_the_chain(chain_net: ChainNet) -> None:
    other = Identity.create()

    caller: ChainCaller = chain_net.root.caller.as_identity(other)

    assert caller.address == other.address
    assert caller.chain_id == chain_net.root.chain_id
    assert caller.block_number() == chain_net.root.block_number()


def test_the_backend_answers_block_number_and_code(chain_net: ChainNet) -> None:
    chain, root = chain_net.chain, chain_net.root

    assert chain.block_number() == root.block_number()
    assert chain.code(root.jobs.address) == root.caller.code(root.jobs.address) != b""
    assert chain.code(root.address) == b""  # an account, not a contract
