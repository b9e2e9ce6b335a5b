"""Local training for a job: which of this node's assets may take part in a round, and
each one's change to the global model. The node is the last guard of its own data: its own
copy of the policy and the chain must both agree before a row is touched."""

from __future__ import annotations

import hashlib
import logging
import threading

from dain.costs import timed
from dain.data import Dataset
from dain.errors import DainError
from dain.identity import did_pkh
from dain.learning import Params, budget_allows, local_update, make_strategy
from dain.ledger import Consent, JobInfo
from dain.node.context import LocalAsset, NodeContext
from dain.node.models import JobModels

log = logging.getLogger(__name__)


class LocalTrainer:
    def __init__(self, ctx: NodeContext, models: JobModels) -> None:
        self.ctx = ctx
        self.models = models
        # private updates this process made, (job, round, asset) -> (delta, examples): the
        # latest round of each job only (see train_delta)
        self._released: dict[tuple[int, int, int], tuple[Params, int]] = {}
        self._lock = threading.Lock()

    def eligible_assets(self, job: JobInfo) -> list[LocalAsset]:
        """This node's assets enrolled in the job that may take part now: in the open
        round's sample (when the job samples), with live consent, fitting, within budget. An
        asset left out of the sample trains nothing and spends no privacy that round."""
        mine = []
        consenting = self.consenting_assets(job)
        drawn = set(self.ctx.chain.sample(job, job.current_round + 1,
                                          [a.asset_id for a in consenting]))  # fmt: skip
        for asset in consenting:
            if asset.asset_id not in drawn:
                log.debug("%s: asset %x sits out round %d of job %d: not in its sample",
                         self.ctx.name, asset.asset_id, job.current_round + 1,
                         job.job_id)  # fmt: skip
                continue
            misfit = self.misfit(job, asset)
            if misfit:
                log.warning("%s: asset %x sits out job %d: %s", self.ctx.name, asset.asset_id,
                            job.job_id, misfit)  # fmt: skip
            elif self._within_budget(job, asset):
                mine.append(asset)
            else:
                log.info("%s: asset %x sits out job %d: its privacy budget is spent",
                         self.ctx.name, asset.asset_id, job.job_id)  # fmt: skip
        return mine

    def misfit(self, job: JobInfo, asset: LocalAsset) -> str:
        """Why the asset's rows do not fit the job's input schema ("" if they do)."""
        schema = self.models.spec(job).input
        if schema is None:
            return ""
        try:
            asset.examples(schema)
        except DainError as exc:
            return f"{exc.message} {exc.hint or ''}".strip()
        return ""

    def rows(self, job: JobInfo, asset: LocalAsset, held_out: bool = False) -> Dataset:
        """The asset's training (or held-out) examples as the job's model reads them (its
        input schema's columns and class numbering, images resized, series in windows)."""
        return asset.examples(self.models.spec(job).input, held_out)

    def consenting_assets(self, job: JobInfo) -> list[LocalAsset]:
        """This node's assets enrolled in the job whose consent, by its own copy of the
        policy and by the chain, allows the job now (their privacy budget aside)."""
        ctx, ledger = self.ctx, self.ctx.ledger
        now = ledger.now()
        mine = []
        for asset_id in ctx.chain.enrolled(job):
            asset = ctx.assets.get(asset_id)
            if asset is None:
                continue
            allowed_here = asset.policy.allows(
                job.purpose,
                now,
                requester=did_pkh(ledger.chain_id, job.requester),
                secure_aggregation=job.secure_aggregation,
                epsilon=job.max_epsilon,
            )
            if allowed_here and ctx.chain.consent(job, asset_id) is Consent.ALLOWED:
                mine.append(asset)
            else:
                log.info("%s: asset %x sits out job %d: no live consent", ctx.name,
                         asset_id, job.job_id)  # fmt: skip
        return mine

    def _within_budget(self, job: JobInfo, asset: LocalAsset) -> bool:
        """Whether one more round keeps the asset within its policy's maximum epsilon. The
        rounds counted are those this node made a private update for (its state database),
        not the rounds recorded on chain: an aggregator that leaves a receipt out of its
        record does not give the asset its privacy back."""
        if asset.policy.max_epsilon is None:
            return True
        spec = self.models.spec(job)
        # the round now open may already have its update made: it is the one being judged
        spent = self.ctx.state.releases(job.job_id, asset.asset_id, besides=job.current_round + 1)
        return budget_allows(spec.privacy, spent, asset.policy.max_epsilon)

    @timed("training")  # fetching the global model inside counts as its own categories
    def train_delta(self, job: JobInfo, round: int, asset: LocalAsset) -> tuple[Params, int]:
        """The asset's change to the current global model, with the job's privacy applied
        (DP-SGD, or a clipped update with its share of noise), and its example count.

        Without privacy it is deterministic per (job seed, round, asset). With privacy, the
        sampling and noise come from the operating system's CSPRNG, so nobody, the
        aggregator included, can replay them; the node makes the update once per round and
        gives the same one again if asked (a retry, a new aggregator after a stall): two
        updates noised apart for one round would spend more privacy than the accountant
        counts."""
        spec = self.models.spec(job)
        key = (job.job_id, round, asset.asset_id)
        if spec.privacy.private:
            with self._lock:
                made = self._released.get(key)
            if made is not None:
                return made
        global_params = self.models.global_model(job, spec)
        training = self.rows(job, asset)
        update = local_update(
            spec.model, global_params, training.x, training.y, spec.train,
            spec.privacy, seed=client_seed(spec.seed, round, asset.asset_id),
            proximal_mu=make_strategy(spec.strategy, **spec.strategy_options).proximal_mu,
        )  # fmt: skip
        if not spec.privacy.private:
            return update.delta, update.num_examples
        self.ctx.state.record_release(job.job_id, round, asset.asset_id)
        with self._lock:
            for old in [k for k in self._released if k[0] == job.job_id and k[1] < round]:
                del self._released[old]
            # if two calls raced, the first one kept is the only one ever handed out
            return self._released.setdefault(key, (update.delta, update.num_examples))


def client_seed(job_seed: int, round: int, asset_id: int) -> int:
    """A per-client, per-round seed from public values, so it fixes only what may be public:
    the batch order of training without DP-SGD (at client level, the noise on the whole
    update is what protects it). Never privacy's randomness."""
    digest = hashlib.sha256(f"{job_seed}/{round}/{asset_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
