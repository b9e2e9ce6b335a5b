"""The auditor rebuilds, from chain events alone, every use of an asset with the policy
version it was used under, every round of a job, and what each member was paid and is
still owed; on both backends."""

from __future__ import annotations

from dain.data import ConsentPolicy
from dain.ledger import TOKEN_UNIT, Auditor
from tests.conftest import ChainNet
from tests.ledger.helpers import aggregator, receipt

ZERO_HASH = b"\0" * 32


def test_the_trail_of_a_job_its_assets_and_members(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    a, b = chain_net.member(), chain_net.member()
    job_id, (asset_a, asset_b) = chain_net.running_job(requester, [a, b], rounds=2, pool=40)
    first = aggregator([a, b], job_id, 1)
    both = [receipt(a, job_id, 1, asset_a, 30), receipt(b, job_id, 1, asset_b, 10)]
    first.jobs.record_round(job_id, 1, "bafkreiround1", ZERO_HASH, both)
    a.assets.set_policy(asset_a, ConsentPolicy(("diagnosis", "research")), "bafkreipolicy2")
    b.assets.revoke(asset_b)  # b's data is used in round 1 only
    second = aggregator([a, b], job_id, 2)
    second.jobs.record_round(job_id, 2, "bafkreiround2", ZERO_HASH,
                             [receipt(a, job_id, 2, asset_a, 30)])  # fmt: skip
    b.jobs.complete(job_id)  # anyone may, once the last round is recorded
    paid_a = a.jobs.claim(job_id, asset_a)  # b does not claim yet

    auditor = Auditor(chain_net.root)
    trail_a, trail_b = auditor.asset(asset_a), auditor.asset(asset_b)
    job = auditor.job(job_id)
    member_a = auditor.member(a.address)

    assert trail_a.owner == a.address
    assert [(u.job_id, u.round, u.policy_version, u.num_examples) for u in trail_a.uses] == [
        (job_id, 1, 1, 30), (job_id, 2, 2, 30)]  # fmt: skip
    assert {u.requester for u in trail_a.uses} == {requester.address}
    assert [v["version"] for v in trail_a.policy_versions] == [1, 2]
    assert trail_a.policy_versions[1]["policy_cid"] == "bafkreipolicy2"
    assert [(p.job_id, p.amount) for p in trail_a.paid] == [(job_id, paid_a)] and trail_a.owed == {}
    assert [u.round for u in trail_b.uses] == [1]
    assert trail_b.policy_versions[-1].get("revoked") is True
    assert trail_b.paid == [] and trail_b.owed == {job_id: a.jobs.owed(job_id, asset_b)}
    assert 0 < trail_b.owed[job_id] < paid_a <= 40 * TOKEN_UNIT

    assert (job.requester, job.purpose, job.status, job.refunded) == (
        requester.address, "diagnosis", "completed", 0)  # fmt: skip
    assert [(r["round"], r["aggregator"], r["participants"]) for r in job.rounds] == [
        (1, first.address, 2), (2, second.address, 1)]  # fmt: skip
    assert sorted((u["round"], u["asset_id"]) for u in job.uses) == [
        (1, min(asset_a, asset_b)), (1, max(asset_a, asset_b)), (2, asset_a)]  # fmt: skip

    assert member_a.assets == [asset_a] and member_a.uses_of_their_data == 2
    assert member_a.rewards_received == paid_a
    assert member_a.reputation["rounds_completed"] == 2
    assert auditor.member(requester.address).jobs_requested == [job_id]


def test_trails_are_json_safe(chain_net: ChainNet) -> None:
    requester, owner = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [owner], rounds=1)
    owner.jobs.record_round(job_id, 1, "m", ZERO_HASH, [receipt(owner, job_id, 1, asset)])

    as_json = Auditor(chain_net.root).asset(asset).to_dict()

    assert as_json["asset_id"] == f"0x{asset:064x}"  # asset ids in their one written form
    assert as_json["uses"][0]["tx_hash"].startswith("0x")
    assert as_json["uses"][0]["round"] == 1  # small numbers stay numbers
