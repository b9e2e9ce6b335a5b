"""How a job reads to a person, from the chain alone: a row of `dain job list` and the
details `dain job show`/`watch` print (and the dashboard's Jobs pages show), so the
command line and the dashboard read the same numbers the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dain.ledger import SAMPLE_SCALE, JobStatus, format_dain

if TYPE_CHECKING:
    from dain.ledger import JobInfo, Ledger

# the scores shown beside a round (the requester's own and the federated ones)
SHOWN_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "r2")


def job_row(job: JobInfo) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "purpose": job.purpose,
        "status": job.status.name.lower(),
        "round": job.current_round,
        "rounds": job.rounds,
        "pool": format_dain(job.reward_pool),
        "requester": job.requester,
    }


def job_details(ledger: Ledger, job: JobInfo, now: float | None = None) -> dict[str, Any]:
    """Everything `job show` and `job watch` print, from the chain alone."""
    jobs = ledger.jobs
    now = ledger.now() if now is None else now
    enrolled = jobs.enrolled(job.job_id)
    records = {r.round: r for r in jobs.records(job.job_id)}
    rounds = []
    for number in range(1, job.current_round + 1):
        record = records.get(number)
        rounds.append(
            {
                "round": number,
                "participants": record.participants if record else 0,
                "aggregator": record.aggregator if record else "",
                "epsilon": record.epsilon / 1e6 if record else 0.0,
                "model_cid": record.model_cid if record else "",
                "block": record.block_number if record else 0,
                "transaction": "0x" + record.transaction_hash.hex() if record else "",
            }
        )
    details = job_row(job) | {
        "secure_aggregation": job.secure_aggregation,
        "round_duration_s": job.round_duration,
        "max_epsilon": job.max_epsilon,
        "epsilon_spent": job.epsilon_spent,
        "assets_enrolled": len(enrolled),
        "max_assets": job.max_assets,
        "sample_bps": job.sample_bps,  # each asset's chance per round; 0: every asset
        "sample_count": job.sample_count,
        "sampling": sampling_words(job.sample_bps, job.sample_count),
        "spec_cid": job.spec_cid,
        "model_cid": job.model_cid,
        "rounds_recorded": rounds,
    }
    if job.status == JobStatus.RUNNING and job.current_round < job.rounds:
        next_round = job.current_round + 1
        elapsed = max(0.0, now - job.round_opened_at)
        attempt = int(elapsed // job.round_duration)
        details |= {
            "next_round": next_round,
            "aggregator_now": jobs.aggregator_at(job.job_id, next_round, now),
            "failovers": attempt,
            "deadline_in_s": round(job.round_duration * (attempt + 1) - elapsed, 1),
        }
    return details


def sampling_words(sample_bps: int, sample_count: int) -> str:
    """A job's sampling in words ("" when every asset takes part in every round)."""
    how = "drawn independently per asset from the job's seed on chain"
    if sample_bps:
        count = f" (about {sample_count} a round)" if sample_count else ""
        return f"Sampling: each asset in a round with chance {sample_bps / SAMPLE_SCALE:.2%}" \
            f"{count}, {how}."
    if sample_count:  # not started yet: the rate is fixed at start
        return f"Sampling: about {sample_count} assets a round, {how}."
    return ""


def metrics_text(scores: dict[str, Any]) -> str:
    """A round's shown scores in one line, as `dain job show` prints them."""
    shown = []
    for source in ("requester", "federated"):
        found = scores.get(source) or {}
        parts = [f"{k} {v:.3f}" for k, v in found.items() if k in SHOWN_METRICS and v is not None]
        if parts:
            shown.append(f"{source}: " + ", ".join(parts))
    return "; ".join(shown) or "-"
