"""A participant in a plain round: train on an asset, keep the update as a float16 blob,
sign its receipt, and send both to the round's aggregator."""

from __future__ import annotations

from dataclasses import dataclass

from dain.ledger import JobInfo, JobStatus, Receipt, round_epsilon_to_chain
from dain.node.blob_index import BlobKind, BlobTag
from dain.node.context import LocalAsset, NodeContext
from dain.node.envelope import MessageKind, seal
from dain.node.intake import UpdateFields
from dain.node.training import LocalTrainer
from dain.storage import content_hash, encode_half


@dataclass(frozen=True)
class TrainedUpdate:
    """An update this node made and signed for one asset in one round."""

    asset_id: int
    update_cid: str
    num_examples: int
    receipt_signature: bytes


class Participant:
    def __init__(self, ctx: NodeContext, trainer: LocalTrainer) -> None:
        self.ctx = ctx
        self.trainer = trainer

    def make_update(self, job: JobInfo, round: int, asset: LocalAsset) -> TrainedUpdate:
        """Trains on the asset; stores the update blob here and signs its receipt."""
        ledger = self.ctx.ledger
        delta, num_examples = self.trainer.train_delta(job, round, asset)
        # updates travel as float16: half the bytes, well within SGD's noise
        blob = encode_half(delta)
        update_cid = self.ctx.keep(blob, BlobTag(BlobKind.UPDATE, job.job_id, round))
        # the round's privacy loss as this node's accountant counts it: the receipt says so
        epsilon = self.trainer.models.spec(job).privacy.round_epsilon(round)
        receipt = Receipt(
            job.job_id, round, asset.asset_id, num_examples, content_hash(blob),
            epsilon=round_epsilon_to_chain(epsilon),
        ).signed_by(ledger.identity, ledger.chain_id, ledger.jobs.address)  # fmt: skip
        return TrainedUpdate(asset.asset_id, update_cid, num_examples, receipt.signature)

    def deliver(self, aggregator: str, job_id: int, round: int, update: TrainedUpdate) -> None:
        """Sends the update blob, then its signed envelope, to the aggregator."""
        ctx = self.ctx
        ctx.peers.put_blob(aggregator, ctx.blobs.get(update.update_cid), BlobKind.UPDATE, job_id,
                           round)  # fmt: skip
        fields = UpdateFields(update.update_cid, update.num_examples, update.receipt_signature)
        envelope = seal(ctx.ledger.identity, ctx.ledger.chain_id, MessageKind.UPDATE, job_id,
                        round, fields.to_body(update.asset_id))  # fmt: skip
        ctx.peers.post(aggregator, "/updates", envelope.to_bytes())

    def train_round(self, job_id: int, round: int) -> list[int]:
        """Lockstep form for in-process networks: trains every eligible asset and sends each
        update to the round's aggregator. Returns the assets used."""
        ledger = self.ctx.ledger
        job = ledger.jobs.job(job_id)
        if job.status != JobStatus.RUNNING or round != job.current_round + 1:
            return []
        mine = self.trainer.eligible_assets(job)
        aggregator = ledger.jobs.aggregator_of(job_id, round) if mine else ""
        for asset in mine:
            self.deliver(aggregator, job_id, round, self.make_update(job, round, asset))
        return [a.asset_id for a in mine]
