"""A participant's metrics report: how one round's model scored on one asset's held-out rows,
in an envelope signed by the asset's owner and sent to the job's requester (federated
evaluation). Each report verifies itself: its signed bytes name the job, round, asset and
model, so anyone holding them can check them against the chain (`verify_reports`), as the
model card does, without trusting the requester who collected them.

A report holds when
- its envelope is well formed and signed by the sender it names (EIP-191), of this chain;
- its round of the job is recorded, and it scores that round's model (the content id on chain);
- its asset is enrolled in the job;
- the sender held the asset token when the round was recorded;
and a job has at most one report per asset and round."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from dain.data import format_asset_id
from dain.errors import DainError
from dain.identity import Identity
from dain.learning import Metrics
from dain.ledger import JobInfo, Ledger, RoundInfo
from dain.node.envelope import Envelope, MessageKind, seal
from dain.node.errors import BodyTooLarge, ProtocolError
from dain.node.transport import ENVELOPE_HEADER

MAX_REPORT_BYTES = 4096  # a report is about 700 bytes; nothing bigger is parsed
MAX_CID_CHARS = 100


@dataclass(frozen=True)
class MetricsReport:
    job_id: int
    round: int
    asset_id: int
    model_cid: str
    metrics: Metrics
    sender: str  # the address that signed it
    envelope: bytes  # the signed bytes, exactly as sent


def report_body(asset_id: int, model_cid: str, metrics: Metrics) -> dict[str, Any]:
    return {"asset_id": str(asset_id), "model_cid": model_cid, "metrics": metrics.to_dict()}


def seal_report(
    identity: Identity, chain_id: int, job_id: int, round: int, asset_id: int, model_cid: str,
    metrics: Metrics,
) -> bytes:  # fmt: skip
    """A report signed by `identity`, the asset's owner."""
    body = report_body(asset_id, model_cid, metrics)
    return seal(identity, chain_id, MessageKind.METRICS, job_id, round, body).to_bytes()


def read_report(data: bytes, chain_id: int) -> MetricsReport:
    """The report in `data` with its signer, if it is one: well formed and signed by the
    sender it names. Freshness and the chain's facts are the caller's to check."""
    if len(data) > MAX_REPORT_BYTES:
        raise BodyTooLarge(f"A metrics report has at most {MAX_REPORT_BYTES} bytes.")
    envelope = Envelope.from_bytes(data)
    sender = envelope.signer_address(chain_id)
    if envelope.kind != MessageKind.METRICS:
        raise ProtocolError(f"Expected a '{MessageKind.METRICS}' message, got '{envelope.kind}'.")
    body = envelope.body
    if set(body) != {"asset_id", "model_cid", "metrics"}:
        raise ProtocolError("A metrics report names exactly asset_id, model_cid and metrics.")
    asset_id, model_cid = body["asset_id"], body["model_cid"]
    if not (isinstance(asset_id, str) and asset_id.isascii() and asset_id.isdigit()
            and len(asset_id) <= 78 and int(asset_id) < 2**256):  # fmt: skip
        raise ProtocolError("The report's asset_id must be a decimal number below 2^256.")
    if not isinstance(model_cid, str) or not 0 < len(model_cid) <= MAX_CID_CHARS:
        raise ProtocolError("The report's model_cid must be a content id.")
    metrics = Metrics.from_dict(body["metrics"])  # MetricsError (400) when malformed
    return MetricsReport(envelope.job_id, envelope.round, int(asset_id), model_cid, metrics,
                         sender, data)  # fmt: skip


def check_report(
    report: MetricsReport,
    job: JobInfo,
    record: Callable[[int], RoundInfo],
    enrolled: Collection[int],
    holder_at: Callable[[int, int], str],
    rows: Callable[[int], int],
) -> None:
    """Refuses a report the chain does not bear out: `job` as the chain has it now, `record`
    a recorded round's record, `enrolled` the job's assets, `holder_at(asset, block)` who
    held an asset token then, `rows(asset)` the rows its registration committed to."""
    if not 1 <= report.round <= job.current_round:
        raise ProtocolError(f"Round {report.round} of job {job.job_id} is not recorded.")
    recorded = record(report.round)
    if report.model_cid != recorded.model_cid:
        raise ProtocolError(
            f"The report scores model {report.model_cid}, but round {report.round} of job "
            f"{job.job_id} recorded {recorded.model_cid}."
        )
    if report.asset_id not in enrolled:
        raise ProtocolError(
            f"Asset {format_asset_id(report.asset_id)} is not enrolled in job {job.job_id}."
        )
    # a report's weight in the combination is its example count: bounded by the asset's
    # committed rows, or one participant could outweigh all the others
    if report.metrics.examples > rows(report.asset_id):
        raise ProtocolError(
            f"The report scores {report.metrics.examples} rows, but asset "
            f"{format_asset_id(report.asset_id)} was registered with {rows(report.asset_id)}."
        )
    holder = holder_at(report.asset_id, recorded.block_number)
    if holder.lower() != report.sender.lower():
        raise ProtocolError(
            f"{report.sender} did not hold asset {format_asset_id(report.asset_id)} when round "
            f"{report.round} was recorded ({holder} did)."
        )


def verify_reports(ledger: Ledger, job_id: int, envelopes: Sequence[bytes]) -> list[MetricsReport]:
    """Every report of `envelopes` checked against the chain, for job `job_id`; a
    ProtocolError naming the first that does not hold, and why."""
    job = ledger.jobs.job(job_id)
    enrolled = set(ledger.jobs.enrolled(job_id))
    records: dict[int, RoundInfo] = {}

    def record(round: int) -> RoundInfo:
        if round not in records:
            records[round] = ledger.jobs.round_record(job_id, round)
        return records[round]

    verified: list[MetricsReport] = []
    seen: set[tuple[int, int]] = set()
    for number, data in enumerate(envelopes, start=1):
        try:
            report = read_report(data, ledger.chain_id)
            if report.job_id != job_id:
                raise ProtocolError(f"It is a report of job {report.job_id}.")
            check_report(report, job, record, enrolled, ledger.assets.holder_at,
                         ledger.assets.rows)  # fmt: skip
            if (report.round, report.asset_id) in seen:
                raise ProtocolError(
                    f"Asset {format_asset_id(report.asset_id)} has a report for round "
                    f"{report.round} already."
                )
        except DainError as exc:
            raise ProtocolError(
                f"Metrics report {number} of {len(envelopes)} for job {job_id} does not hold: "
                f"{exc}"
            ) from exc
        seen.add((report.round, report.asset_id))
        verified.append(report)
    return verified


def metrics_request(identity: Identity, chain_id: int, job_id: int) -> dict[str, str]:
    """The header that asks, signed as the job's requester, for the job's metrics:
    what the requester's command line sends with `GET /jobs/{job_id}/metrics`."""
    signed = seal(identity, chain_id, MessageKind.METRICS_READ, job_id, 0, {})
    return {ENVELOPE_HEADER: signed.to_bytes().decode()}
