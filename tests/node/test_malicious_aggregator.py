"""Secure aggregation against a malicious aggregator (issue 11, finding 6): with every
client honest, an aggregator that shows a victim a roster of t members and tells each client
its own survivor list learns nothing of the victim's update; the clients refuse to reveal,
the round fails over to the next aggregator on chain, and the job goes on."""

from __future__ import annotations

import numpy as np
from scipy import stats

from dain.learning import stack
from dain.learning.secagg import quantize, scale_for
from dain.node.secure_participant import update_weight
from tests.node.secure_network import HOSPITALS, aggregator_of, secure_network
from tests.node.split_view import SplitView, Tap


def test_a_split_view_aggregator_learns_nothing_and_the_round_fails_over() -> None:
    n = secure_network(rounds=2)
    evil = aggregator_of(n, 1)
    node = n.hospitals[evil]
    others = sorted(name for name in n.hospitals if name != evil)
    victim, cover = n.assets[others[0]], (n.assets[others[1]], n.assets[others[2]])
    attacker = SplitView(node.ctx, node.intake, node.models, node.recorder,
                         victim=victim, cover=cover)  # fmt: skip
    node.secure_aggregator = attacker
    for hospital in n.hospitals.values():
        hospital.ctx.peers.transport = Tap(hospital.ctx.peers.transport, hospital.address,
                                           attacker)  # fmt: skip
    jobs = n.net.root.jobs
    job = jobs.job(n.job_id)

    assert n.net.run_secure_round(n.job_id, 1) is None  # it never records

    # what the victim masked: its weighted update, as it trained it
    holder = n.hospitals[others[0]]
    delta, examples = holder.trainer.train_delta(job, 1, holder.assets[victim])
    update = stack([delta])[0][0].astype(np.float64) * update_weight(n.spec, examples)
    learned = attacker.learned()
    assert learned is None, (
        "the aggregator unmasked the victim's update: relative error "
        f"{np.linalg.norm(learned - update) / np.linalg.norm(update):.1e}"
    )
    seeds, keys = attacker.shares_obtained()
    threshold = attacker._collecting().server.setup.k_threshold
    assert seeds < threshold or min(keys.values()) < threshold
    # every client was asked to unmask, and none revealed a share
    assert attacker.asked_to_unmask == set(n.assets.values())
    assert attacker.revealed == {}
    # what the aggregator can strip off the victim's masked input leaves it uniform, while
    # the quantized update itself is far from uniform
    residual = attacker.residual().astype(np.float64) / 2**32
    assert stats.kstest(residual, "uniform").pvalue > 1e-4
    plain = quantize(update, scale_for(HOSPITALS, 1.0), 1.0).astype(np.float64) / 2**32
    assert stats.kstest(plain, "uniform").pvalue < 1e-4

    # the attempt ran out its window: the next candidate aggregates round 1 with everyone
    attacked = {r.update_hash for _, r in attacker._collecting().inputs.values()}
    assert aggregator_of(n, 1) != evil
    record = n.net.run_secure_round(n.job_id, 1)
    assert record is not None and record.participants == HOSPITALS
    assert jobs.rounds_aborted(n.job_id) == []
    used = jobs.data_used(job_id=n.job_id)
    assert len(used) == HOSPITALS and not {u.update_hash for u in used} & attacked
    # and the job goes on (past the attacker again, should it be elected for round 2)
    for _attempt in range(HOSPITALS):
        record = n.net.run_secure_round(n.job_id, 2)
        if record is not None:
            break
    assert record is not None and record.participants == HOSPITALS
