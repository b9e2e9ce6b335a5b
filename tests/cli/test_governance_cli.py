"""Every role's commands against a real local chain (anvil via 'dain chain up'), run as a
user runs them: separate processes, keystores, --json output and plain errors."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dain.data import AssetManifest, ConsentPolicy
from dain.identity import Identity
from dain.ledger import Deployment, JobTerms, Ledger, Receipt, RpcChain, Vote

pytestmark = pytest.mark.slow
PASSWORD = "correct horse"


@dataclass
class Network:
    home: Path
    chain: RpcChain
    deployment: Deployment
    owner: Path
    requester: Path

    def run(self, *args: str, keystore: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = os.environ | {"DAIN_HOME": str(self.home), "DAIN_PASSWORD": PASSWORD}
        if keystore is not None:
            env["DAIN_KEYSTORE"] = str(keystore)
        return subprocess.run(
            [sys.executable, "-m", "dain", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    def ok(self, *args: str, keystore: Path | None = None) -> dict:
        result = self.run(*args, "--json", keystore=keystore)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def ledger(self, keystore: Path) -> Ledger:
        return Ledger(self.chain, self.deployment, Identity.load_keystore(keystore, PASSWORD))


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    home = tmp_path_factory.mktemp("net")
    net = Network(home, None, None, home / "owner.json", home / "requester.json")  # type: ignore[arg-type]
    # blocks only for transactions: these tests count blocks (test_chain_mining.py: interval)
    up = net.run("chain", "up", "--port", "0", "--block-time", "0", "--password", "devnet")
    assert up.returncode == 0, up.stderr
    pid = json.loads((home / "chain.json").read_text())["pid"]
    try:
        net.chain = RpcChain(json.loads((home / "chain.json").read_text())["url"])
        net.deployment = Deployment.load(home / "deployment.json")
        for keystore, tokens in ((net.owner, "1000"), (net.requester, "50000")):
            address = net.ok("key", "new", str(keystore))["address"]
            admitted = net.run(
                "chain", "admit", address, "--tokens", tokens, "--password", "devnet"
            )
            assert admitted.returncode == 0, admitted.stderr
            net.ok("gov", "delegate", keystore=keystore)
        yield net
    finally:
        net.run("chain", "down")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_job_is_approved_through_the_cli(network: Network) -> None:
    requester = network.ledger(network.requester)
    job_id = requester.propose_job(JobTerms("diagnosis", 1, 10**18, "bafkreispec", "bafkreimodel"))

    proposed = network.ok(
        "gov", "propose", "--approve-job", str(job_id), keystore=network.requester
    )
    pid = proposed["proposal_id"]
    assert proposed["state"] == "pending"
    network.chain.mine(2)
    assert network.ok("gov", "vote", pid, "for", keystore=network.requester)["state"] == "active"
    network.ok("gov", "vote", pid, "against", keystore=network.owner)
    twice = network.run("gov", "vote", pid, "for", keystore=network.owner)
    assert (
        twice.returncode == 1
        and "already voted" in twice.stderr
        and "Traceback" not in twice.stderr
    )
    network.chain.mine(25)

    status = network.ok("gov", "status", pid)
    assert status["state"] == "succeeded"
    assert (
        int(status["votes_for"]) == 49_999 * 10**18
        and int(status["votes_against"]) == 1_000 * 10**18
    )
    unqueued = network.run("gov", "execute", pid, keystore=network.owner)
    assert unqueued.returncode == 1 and unqueued.stderr.startswith("Error:")
    assert network.ok("gov", "queue", pid, keystore=network.owner)["state"] == "queued"
    early = network.run("gov", "execute", pid, keystore=network.owner)
    assert early.returncode == 1 and "delay" in early.stderr
    network.chain.advance_time(61)
    assert network.ok("gov", "execute", pid, keystore=network.owner)["state"] == "executed"
    assert requester.jobs.job(job_id).status.name == "APPROVED"


def test_consent_commands_and_the_audit_trail(network: Network) -> None:
    owner = network.ledger(network.owner)
    requester = network.ledger(network.requester)
    manifest = AssetManifest("cli asset", ("x",), "y", ("0", "1"), 100,
                             hashlib.sha256(b"cli-asset").hexdigest())  # fmt: skip
    asset = owner.assets.register(manifest, "bafkreim", ConsentPolicy(("diagnosis",)), "bafkreip")
    asset_hex = hex(asset)

    shown = network.ok("consent", "show", asset_hex)
    assert shown["purposes"] == ["diagnosis"] and shown["version"] == 1
    updated = network.ok(
        "consent", "update", asset_hex, "--purpose", "diagnosis", "--purpose", "research",
        "--max-epsilon", "5", "--expiry", "2099-01-01", keystore=network.owner,
    )  # fmt: skip
    assert updated["purposes"] == ["diagnosis", "research"] and updated["max_epsilon"] == 5.0
    assert updated["version"] == 2 and updated["expiry"] == 4070908800
    regrant = network.run("consent", "grant", asset_hex, "--purpose", "x", keystore=network.owner)
    assert regrant.returncode == 1 and "already granted" in regrant.stderr
    stranger = network.run("consent", "revoke", asset_hex, keystore=network.requester)
    assert stranger.returncode == 1 and "does not own" in stranger.stderr
    bad_date = network.run("consent", "update", asset_hex, "--purpose", "x", "--expiry", "soon",
                           keystore=network.owner)  # fmt: skip
    assert bad_date.returncode == 1 and "not a date" in bad_date.stderr

    # one round of a job uses the asset, then the owner revokes and grants again
    job_id = requester.propose_job(JobTerms("research", 1, 50 * 10**18, "s", "m", max_epsilon=4.0))
    pid = network.ok("gov", "propose", "--approve-job", str(job_id), keystore=network.requester)[
        "proposal_id"
    ]
    network.chain.mine(2)
    network.ok("gov", "vote", pid, "for", keystore=network.requester)
    network.chain.mine(25)
    network.ok("gov", "queue", pid, keystore=network.owner)
    network.chain.advance_time(61)
    network.ok("gov", "execute", pid, keystore=network.owner)
    owner.jobs.enroll(job_id, asset)
    requester.jobs.start(job_id)
    signed = Receipt(job_id, 1, asset, 77, b"\x05" * 32, epsilon=1_500_000).signed_by(
        owner.identity, owner.chain_id, owner.jobs.address
    )
    owner.jobs.record_round(job_id, 1, "bafkrei-model", b"\1" * 32, [signed])
    requester.jobs.complete(job_id)
    owner.jobs.claim(job_id, asset)
    assert network.ok("consent", "revoke", asset_hex, keystore=network.owner)["revoked"]
    regranted = network.ok(
        "consent", "grant", asset_hex, "--purpose", "diagnosis", keystore=network.owner
    )
    assert regranted["version"] == 4 and not regranted["revoked"]

    trail = network.ok("audit", "asset", asset_hex)
    (use,) = trail["uses"]
    assert (use["job_id"], use["round"], use["purpose"], use["policy_version"]) == (
        job_id,
        1,
        "research",
        2,
    )
    assert use["requester"] == requester.address and use["num_examples"] == 77
    assert int(trail["paid"][0]["amount"]) == 50 * 10**18
    assert [v["version"] for v in trail["policy_versions"]] == [1, 2, 3, 4]
    job = network.ok("audit", "job", str(job_id))
    assert job["rounds"][0]["epsilon"] == 1.5 and job["status"] == "completed"
    member = network.ok("audit", "member", owner.address)
    assert member["uses_of_their_data"] == 1 and member["reputation"]["rounds_completed"] == 1
    assert int(member["rewards_received"]) == 50 * 10**18
    human = network.run("audit", "asset", asset_hex)
    assert human.returncode == 0 and "Every use (1)" in human.stdout


def test_commands_explain_missing_keys_and_chains(network: Network, tmp_path: Path) -> None:
    no_key = network.run("gov", "delegate")
    assert no_key.returncode == 1 and "--keystore" in no_key.stderr
    wrong = network.run("gov", "delegate", keystore=tmp_path / "missing.json")
    assert wrong.returncode == 1 and "No keystore" in wrong.stderr
    elsewhere = subprocess.run(
        [sys.executable, "-m", "dain", "audit", "job", "1", "--home", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert elsewhere.returncode == 1 and "dain chain up" in elsewhere.stderr
    bad_asset = network.run("consent", "show", "0xnothex")
    assert bad_asset.returncode == 1 and "not an asset id" in bad_asset.stderr


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """A user's mistake: exit 1, a plain message with `words`, no traceback."""
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("Error:") and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_malformed_addresses_are_refused_plainly(network: Network) -> None:
    delegate = network.run("gov", "delegate", "0x1234", keystore=network.owner)
    admit = network.run("chain", "admit", "0x1234", "--password", "devnet")
    propose = network.run("gov", "propose", "--admit", "hello", keystore=network.owner)
    # a mistyped capital breaks the EIP-55 checksum
    miscased = network.run("gov", "delegate", "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                           keystore=network.owner)  # fmt: skip

    _refused(delegate, "'0x1234' is not an address", "40 hex digits")
    _refused(admit, "'0x1234' is not an address", "40 hex digits")
    _refused(propose, "'hello' is not an address", "40 hex digits")
    _refused(miscased, "checksum")


def test_admitting_a_member_again_only_tops_it_up(network: Network) -> None:
    owner = network.ledger(network.owner)
    before = owner.token.balance_of(owner.address)

    again = network.run("chain", "admit", owner.address, "--tokens", "5", "--password", "devnet")

    assert again.returncode == 0, again.stderr  # the same proposal again: refused as executed
    assert "was a member already" in again.stdout
    assert owner.token.balance_of(owner.address) == before + 5 * 10**18


def test_approving_a_job_that_does_not_exist_is_refused(network: Network) -> None:
    missing = network.run("gov", "propose", "--approve-job", "4242", keystore=network.requester)

    _refused(missing, "There is no job 4242", "dain job propose")
    assert "Proposed" not in missing.stdout


def test_a_vote_that_would_count_zero_is_refused_unless_forced(
    network: Network, tmp_path: Path
) -> None:
    holder = tmp_path / "holder.json"
    address = network.ok("key", "new", str(holder))["address"]
    admitted = network.run("chain", "admit", address, "--tokens", "500", "--password", "devnet")
    assert admitted.returncode == 0, admitted.stderr
    pid = network.ok("gov", "propose", "--floor-share", "500", keystore=network.requester)[
        "proposal_id"
    ]
    network.chain.mine(2)

    undelegated = network.run("gov", "vote", pid, "for", keystore=holder)
    network.ok("gov", "delegate", keystore=holder)  # now: after the proposal's snapshot
    too_late = network.run("gov", "vote", pid, "for", keystore=holder)
    forced = network.ok("gov", "vote", pid, "against", "--anyway", keystore=holder)

    _refused(undelegated, "would count 0", "500.00 DAIN", "not delegated", "dain gov delegate",
             "--anyway")  # fmt: skip
    _refused(too_late, "would count 0", "after the proposal's snapshot")
    assert forced["votes_against"] == "0"  # cast, with no weight
    gov = network.ledger(holder).gov
    assert gov.has_voted(gov.proposal(int(pid)), address)


def test_a_defeated_proposal_says_whether_quorum_or_the_vote_decided(network: Network) -> None:
    quorum = network.ok("gov", "propose", "--floor-share", "600", keystore=network.owner)
    against = network.ok("gov", "propose", "--floor-share", "700", keystore=network.owner)
    network.chain.mine(2)
    network.ok("gov", "vote", quorum["proposal_id"], "for", keystore=network.owner)
    network.ok("gov", "vote", against["proposal_id"], "for", keystore=network.owner)
    network.ok("gov", "vote", against["proposal_id"], "against", keystore=network.requester)
    treasury = Ledger(network.chain, network.deployment,
                      Identity.load_keystore(network.home / "treasury.json", "devnet"))  # fmt: skip
    treasury.gov.vote(treasury.gov.proposal(int(against["proposal_id"])), Vote.ABSTAIN)  # quorum
    network.chain.mine(25)

    missed = network.ok("gov", "status", quorum["proposal_id"])
    decided = network.ok("gov", "status", against["proposal_id"])
    shown = network.run("gov", "status", quorum["proposal_id"])

    # the owner holds about 1,000 DAIN, the requester about 50,000, the treasury the rest of
    # 1e6; the quorum is 4% of that
    assert missed["state"] == decided["state"] == "defeated"
    assert missed["outcome"].startswith("defeated, quorum missed: 1,")
    assert missed["outcome"].endswith(" DAIN for or abstaining, 40,000.00 DAIN needed")
    assert decided["outcome"].startswith("defeated, the vote decided it: 1,")
    assert decided["outcome"].endswith(" DAIN against (more must be for than against)")
    assert "quorum missed" in shown.stdout


def test_an_account_without_gas_money_is_told_to_get_admitted(
    network: Network, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.json"
    network.ok("key", "new", str(stranger))

    broke = network.run("gov", "delegate", keystore=stranger)

    _refused(broke, "cannot pay the gas to delegate votes", "admitted", "dain chain admit")


def test_chain_mine_mines_blocks_and_moves_the_clock(network: Network) -> None:
    before = network.chain.block_number()
    then = network.chain.now()

    mined = network.run("chain", "mine", "5", "--seconds", "3600")

    assert mined.returncode == 0, mined.stderr
    assert network.chain.block_number() == before + 5
    assert network.chain.now() >= then + 3600


def test_node_init_and_data_register(network: Network, tmp_path: Path) -> None:
    csv_file = tmp_path / "clinic.csv"
    csv_file.write_text("age,marker,outcome\n50,1.5,sick\n30,0.2,well\n41,0.9,sick\n27,0.1,well\n")
    node_home = tmp_path / "clinic-node"
    url = json.loads((network.home / "chain.json").read_text())["url"]
    created = network.ok("node", "init", "--name", "clinic", "--home", str(node_home), "--rpc", url,
                         "--deployment", str(network.home / "deployment.json"))  # fmt: skip
    assert (node_home / "keystore.json").exists() and (node_home / "node.toml").exists()
    assert created["endpoint"].startswith("https://")  # its certificate's SHA-256 is shown
    assert len(bytes.fromhex(created["tls_fingerprint"])) == 32
    twice = network.run("node", "init", "--name", "clinic", "--home", str(node_home), "--rpc", url,
                        "--deployment", str(network.home / "deployment.json"))  # fmt: skip
    assert twice.returncode == 1 and "already holds a node" in twice.stderr
    common = ("--purpose", "research", "--home", str(node_home))
    unadmitted = network.run(
        "data", "register", str(csv_file), "--target", "outcome", "--title", "early", *common
    )
    _refused(unadmitted, "cannot pay the gas to register the data asset", "dain chain admit")
    admitted = network.run("chain", "admit", created["address"], "--password", "devnet")
    assert admitted.returncode == 0, admitted.stderr

    registered = network.ok(
        "data",
        "register",
        str(csv_file),
        "--target",
        "outcome",
        "--title",
        "clinic outcomes",
        *common,
    )
    missing_column = network.run(
        "data", "register", str(csv_file), "--target", "nope", "--title", "x", *common
    )

    assert registered["rows"] == 4
    shown = network.ok("consent", "show", registered["asset_id"])
    assert shown["owner"] == created["address"] and shown["purposes"] == ["research"]
    assert missing_column.returncode == 1 and "no column named 'nope'" in missing_column.stderr
    assert "age" not in json.dumps(shown)  # the chain holds the policy, not the data
