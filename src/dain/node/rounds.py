"""The round protocol as a node runs it: train and submit as a participant; verify,
aggregate and record on chain as the elected aggregator."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from dain.errors import DainError
from dain.identity import did_pkh
from dain.learning import ClientUpdate, Params, param_shapes, subtract, train_local
from dain.learning.dp_sgd import train_local_dp
from dain.learning.privacy import PrivacyLevel, budget_allows, clip_and_noise
from dain.learning.strategy import Strategy, make_strategy
from dain.ledger import JobInfo, JobStatus, Receipt, RoundInfo
from dain.node.clock import ChainClock
from dain.node.envelope import Envelope, ReplayGuard, seal
from dain.node.errors import EnvelopeError, ProtocolError
from dain.node.spec import JobSpec
from dain.storage import (
    FLOAT16,
    BlobNotFound,
    cid_of,
    decode_tensors,
    digest_of,
    encode_tensors,
    half_scales,
    read_metadata,
    to_half,
    to_single,
)

if TYPE_CHECKING:
    from dain.node.node import LocalAsset, Node

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class TrainedUpdate:
    """An update this node made and signed for one asset in one round."""

    asset_id: int
    update_cid: str
    num_examples: int
    receipt_signature: bytes


@dataclass(frozen=True)
class PendingUpdate:
    asset_id: int
    owner: str
    delta: Params
    num_examples: int
    receipt: Receipt


class RoundState:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.guard = ReplayGuard()
        self.pending: dict[tuple[int, int], dict[int, PendingUpdate]] = {}
        self.rejected: dict[tuple[int, int], set[str]] = {}
        self._lock = threading.Lock()  # the HTTP server and the job runner share the pending sets
        self._clock = ChainClock(self._pending_timestamp)
        self._specs: dict[int, JobSpec] = {}
        self._enrolled: dict[int, list[int]] = {}
        self._model_deltas: dict[str, tuple[str, str]] = {}  # result cid -> (base, delta blob)
        self._reads: dict[tuple[object, ...], tuple[float, Any]] = {}  # see _recent
        # set when an aggregator hands us a round's model: its record is about to be mined
        self.handout = threading.Event()

    # ---- shared ------------------------------------------------------------------

    def _pending_timestamp(self) -> int:
        return self.node.ledger.pending_time()

    def clock(self) -> float:
        """The chain's time now, also between blocks (see ChainClock)."""
        return self._clock.now()

    def _recent(self, key: tuple[object, ...], read: Callable[[], T], fresh: float = 1.0) -> T:
        """A chain read at most `fresh` seconds old. Every update of a round asks the same
        questions (the job, the elected aggregator, membership, ownership); asking the
        chain once a second instead of once an update keeps the aggregator from being
        the round's bottleneck. Recording a round forgets them all."""
        now = time.monotonic()
        with self._lock:
            found = self._reads.get(key)
        if found is not None and now - found[0] < fresh:
            return found[1]
        value = read()
        with self._lock:
            self._reads[key] = (now, value)
        return value

    def forget_reads(self) -> None:
        """The round is about to change on chain: recent reads of it are stale."""
        with self._lock:
            self._reads.clear()

    def enrolled(self, job: JobInfo) -> list[int]:
        """The job's enrolled assets; fixed once it runs, so read from chain once."""
        if job.job_id in self._enrolled:
            return self._enrolled[job.job_id]
        assets = self.node.ledger.jobs.enrolled(job.job_id)
        if job.status == JobStatus.RUNNING:
            self._enrolled[job.job_id] = assets
        return assets

    def job_spec(self, job: JobInfo) -> JobSpec:
        if job.job_id not in self._specs:
            data = self._blob(job.spec_cid, job)
            spec = JobSpec.from_bytes(data)
            spec.check_terms(job.secure_aggregation)
            self._specs[job.job_id] = spec
        return self._specs[job.job_id]

    def global_model(self, job: JobInfo, spec: JobSpec) -> Params:
        shapes = param_shapes(spec.model)
        if not self.node.blobs.has(job.model_cid):
            self._apply_model_delta(job.model_cid, shapes)
        data = self._blob(job.model_cid, job)
        return decode_tensors(data, expected=shapes)

    def _apply_model_delta(self, model_cid: str, shapes: dict[str, tuple[int, ...]]) -> None:
        """Rebuilds a round's model from the previous one and the float16 delta its
        aggregator handed out; keeps it only if it hashes to the recorded content id."""
        with self._lock:
            found = self._model_deltas.get(model_cid)
        if found is None or not self.node.blobs.has(found[0]):
            return
        base_cid, delta_cid = found
        base = decode_tensors(self.node.blobs.get(base_cid), expected=shapes)
        handout = self.node.blobs.get(delta_cid)
        delta = unpack_half(handout, shapes)
        rebuilt = encode_tensors(apply_half_delta(base, delta), _model_metadata(handout))
        if cid_of(rebuilt) == model_cid:
            self.node.blobs.put(rebuilt)
        else:
            log.warning(
                "%s: a model delta did not rebuild %s; fetching it instead",
                self.node.name,
                model_cid,
            )

    def handed_out(self, base_cid: str) -> bool:
        """Whether an aggregator handed us the model that follows `base_cid`."""
        with self._lock:
            return any(base == base_cid for base, _ in self._model_deltas.values())

    def _blob(self, cid: str, job: JobInfo) -> bytes:
        """A job's blob from here, else from the peers likely to hold it (asked only then:
        finding them costs chain reads)."""
        if self.node.blobs.has(cid):
            return self.node.blobs.get(cid)
        return self.node.fetch_blob(cid, self._peers(job))

    def _peers(self, job: JobInfo) -> list[str]:
        """Who likely holds the job's blobs: the last aggregator, the requester, then all."""
        peers = [job.requester, *self.node.ledger.registry.members()]
        if job.current_round > 0:
            peers.insert(
                0, self.node.ledger.jobs.round_record(job.job_id, job.current_round).aggregator
            )
        return list(dict.fromkeys(peers))

    # ---- participant ---------------------------------------------------------------

    def eligible_assets(self, job: JobInfo) -> list[LocalAsset]:
        """This node's assets enrolled in the job that may take part now. The node is the
        last guard of its own data: its own policy and the chain must both agree."""
        ledger = self.node.ledger
        now = ledger.now()
        mine = []
        for asset_id in self.enrolled(job):
            asset = self.node.assets.get(asset_id)
            if asset is None:
                continue
            allowed_here = asset.policy.allows(
                job.purpose,
                now,
                requester=did_pkh(ledger.chain_id, job.requester),
                secure_aggregation=job.secure_aggregation,
                epsilon=job.max_epsilon,
            )
            if not (allowed_here and ledger.jobs.consent(job, asset_id) == "allowed"):
                log.info("%s: asset %x sits out job %d: no live consent", self.node.name,
                         asset_id, job.job_id)  # fmt: skip
            elif not self._within_budget(job, asset):
                log.info("%s: asset %x sits out job %d: its privacy budget is spent",
                         self.node.name, asset_id, job.job_id)  # fmt: skip
            else:
                mine.append(asset)
        return mine

    def train_delta(self, job: JobInfo, round: int, asset: LocalAsset) -> tuple[Params, int]:
        """The asset's change to the current global model, with the job's privacy applied
        (DP-SGD, or a clipped update with its share of noise), and its example count.
        Deterministic per (job seed, round, asset)."""
        spec = self.job_spec(job)
        global_params = self.global_model(job, spec)
        seed = _seed(spec.seed, round, asset.asset_id)
        x, y = asset.dataset.x, asset.dataset.y
        if spec.privacy.level == PrivacyLevel.RECORD:
            result = train_local_dp(spec.model, global_params, x, y, spec.train, seed, spec.privacy)
        else:
            mu = make_strategy(spec.strategy, **spec.strategy_options).proximal_mu
            result = train_local(spec.model, global_params, x, y, spec.train, seed, proximal_mu=mu)
        delta = subtract(result.params, global_params)
        if spec.privacy.level == PrivacyLevel.CLIENT:
            delta, _ = clip_and_noise(delta, spec.privacy, np.random.default_rng(seed))
        return delta, result.num_examples

    def _within_budget(self, job: JobInfo, asset: LocalAsset) -> bool:
        """Whether one more round keeps the asset within its policy's maximum epsilon (the
        rounds it already took part in are counted on chain)."""
        if asset.policy.max_epsilon is None:
            return True
        spec = self.job_spec(job)
        taken = self.node.ledger.jobs.enrollment(job.job_id, asset.asset_id).rounds_used
        return budget_allows(spec.privacy, taken, asset.policy.max_epsilon)

    def make_update(self, job: JobInfo, round: int, asset: LocalAsset) -> TrainedUpdate:
        """Trains on the asset; stores the update blob here and signs its receipt."""
        ledger = self.node.ledger
        delta, num_examples = self.train_delta(job, round, asset)
        # updates travel as float16: half the bytes, well within SGD's noise
        update_cid = self.node.blobs.put(pack_half(delta))
        receipt = Receipt(
            job.job_id, round, asset.asset_id, num_examples, digest_of(update_cid)
        ).signed_by(ledger.identity, ledger.chain_id, ledger.jobs.address)
        return TrainedUpdate(asset.asset_id, update_cid, num_examples, receipt.signature)

    def deliver(self, aggregator: str, job_id: int, round: int, update: TrainedUpdate) -> None:
        """Sends the update blob, then its signed envelope, to the aggregator."""
        ledger = self.node.ledger
        self.node.post(aggregator, "/blobs", self.node.blobs.get(update.update_cid))
        body = {
            "asset_id": str(update.asset_id),
            "update_cid": update.update_cid,
            "num_examples": update.num_examples,
            "receipt_signature": "0x" + update.receipt_signature.hex(),
        }
        envelope = seal(ledger.identity, ledger.chain_id, "update", job_id, round, body)
        self.node.post(aggregator, "/updates", envelope.to_bytes())

    def train_round(self, job_id: int, round: int) -> list[int]:
        """Lockstep form for in-process networks: trains every eligible asset and sends each
        update to the round's aggregator. Updates travel unmasked for now: secure
        aggregation is still to come. Returns the assets used."""
        ledger = self.node.ledger
        job = ledger.jobs.job(job_id)
        if job.status != JobStatus.RUNNING or round != job.current_round + 1:
            return []
        mine = self.eligible_assets(job)
        aggregator = ledger.jobs.aggregator_of(job_id, round) if mine else ""
        for asset in mine:
            self.deliver(aggregator, job_id, round, self.make_update(job, round, asset))
        return [a.asset_id for a in mine]

    # ---- aggregator ----------------------------------------------------------------

    def accept_blob(self, body: bytes) -> str:
        """Stores an update or model-delta blob; only safetensors are taken. A model delta
        names the model it applies to and the model it makes."""
        decode_tensors(body, dtype=None)
        cid = self.node.blobs.put(body)
        metadata = read_metadata(body)
        if metadata.get("kind") == "model-delta" and {"base", "result"} <= set(metadata):
            with self._lock:
                self._model_deltas[metadata["result"]] = (metadata["base"], cid)
            self.handout.set()
        return cid

    def check_participant(self, body: bytes, kind: str) -> tuple[Envelope, JobInfo, int]:
        """The checks every round message passes at its aggregator: a fresh envelope of
        the right kind, signed by a member who owns an enrolled asset with live consent,
        for the round this node was elected to aggregate. Returns it, the job, the asset."""
        ledger = self.node.ledger
        envelope = Envelope.from_bytes(body)
        sender = envelope.signer_address(ledger.chain_id)
        self.guard.check(envelope)
        if envelope.kind != kind:
            raise ProtocolError(f"Expected a '{kind}' message, got a '{envelope.kind}' one.")
        if not self._recent(("member", sender), lambda: ledger.registry.is_member(sender)):
            raise EnvelopeError(f"{sender} is not a registered member.")
        job = self._recent(("job", envelope.job_id), lambda: ledger.jobs.job(envelope.job_id))
        round = envelope.round
        if job.status != JobStatus.RUNNING or round != job.current_round + 1:
            raise ProtocolError(f"Job {job.job_id} is not collecting updates for round {round}.")
        if job.secure_aggregation != kind.startswith("secagg"):
            raise ProtocolError(
                f"Job {job.job_id} takes "
                + ("masked updates only." if job.secure_aggregation else "plain updates only.")
            )
        elected = self._recent(
            ("aggregator", job.job_id, round),
            lambda: ledger.jobs.aggregator_at(job.job_id, round, self.clock()),
        )
        if elected != self.node.address:
            raise ProtocolError(
                f"This node is not the aggregator of job {job.job_id}, round {round}."
            )
        try:
            asset_id = int(envelope.body["asset_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"The message names no asset ({exc!r}).") from exc
        if asset_id not in self.enrolled(job):
            raise ProtocolError(f"Asset {asset_id:x} is not enrolled in job {job.job_id}.")
        if self._recent(("owner", asset_id), lambda: ledger.assets.owner_of(asset_id)) != sender:
            raise ProtocolError(f"{sender} does not own asset {asset_id:x}.")
        # answering an unmask request uses no data: only the shares others gave this node
        if kind != "secagg-unmask" and ledger.jobs.consent(job, asset_id) != "allowed":
            raise ProtocolError(f"Asset {asset_id:x} has no live consent for '{job.purpose}'.")
        return envelope, job, asset_id

    def accept_update(self, body: bytes) -> dict[str, Any]:
        ledger = self.node.ledger
        envelope, job, _ = self.check_participant(body, "update")
        sender = envelope.signer_address(ledger.chain_id)
        round = envelope.round
        asset_id, update_cid, num_examples, signature = _update_fields(envelope.body)
        try:
            blob = self.node.blobs.get(update_cid)
        except BlobNotFound:
            raise ProtocolError("Send the update blob to /blobs before its envelope.") from None
        spec = self.job_spec(job)
        try:
            delta = unpack_half(blob, param_shapes(spec.model))
            receipt = Receipt(
                job.job_id, round, asset_id, num_examples, digest_of(update_cid), signature
            )
            if receipt.signer(ledger.chain_id, ledger.jobs.address) != sender:
                raise EnvelopeError(
                    "The receipt is not signed by the asset's owner for this round."
                )
        except DainError:
            # a member sent an unusable update: the round record reports it (reputation)
            with self._lock:
                self.rejected.setdefault((job.job_id, round), set()).add(sender)
            raise
        with self._lock:
            pending = self.pending.setdefault((job.job_id, round), {})
            if asset_id in pending:
                if pending[asset_id].receipt.update_hash == receipt.update_hash:
                    # the same update again (a node resending after a crash): already have it
                    return {
                        "accepted": True,
                        "job_id": job.job_id,
                        "round": round,
                        "duplicate": True,
                    }
                raise ProtocolError(f"Asset {asset_id:x} already sent an update for round {round}.")
            pending[asset_id] = PendingUpdate(asset_id, sender, delta, num_examples, receipt)
        return {"accepted": True, "job_id": job.job_id, "round": round}

    def received(self, job_id: int, round: int) -> int:
        with self._lock:
            return len(self.pending.get((job_id, round), {}))

    def finish_round(self, job_id: int, round: int) -> RoundInfo | None:
        """If this node is the round's aggregator: aggregates what arrived, stores the new
        model and records the round with every receipt on chain."""
        ledger = self.node.ledger
        if ledger.jobs.aggregator_at(job_id, round, self.clock()) != self.node.address:
            return None
        job = ledger.jobs.job(job_id)
        with self._lock:
            received = self.pending.pop((job_id, round), {})
            rejected = self.rejected.pop((job_id, round), set())
            self._reads.clear()
        # consent revoked after an update arrived still excludes it from the round
        usable = [p for p in received.values() if ledger.jobs.consent(job, p.asset_id) == "allowed"]
        if not usable:
            return None
        spec = self.job_spec(job)
        strategy = self.strategy_for(job, spec)
        global_params = self.global_model(job, spec)
        aggregated = strategy.aggregate(
            global_params, [ClientUpdate(p.delta, p.num_examples) for p in usable]
        )
        return self.record_model(
            job,
            round,
            subtract(aggregated, global_params),
            [p.receipt for p in usable],
            {p.owner for p in usable},
            spec.privacy.round_epsilon(round),
            rejected=sorted(rejected),
            state=strategy.state(),
        )

    def strategy_for(self, job: JobInfo, spec: JobSpec) -> Strategy:
        """The job's strategy with its server state as the last aggregator left it: the
        current model names the state's blob, wherever the state was made."""
        strategy = make_strategy(spec.strategy, **spec.strategy_options)
        model = self._blob(job.model_cid, job)
        state_cid = read_metadata(model).get("strategy_state")
        if state_cid:
            blob = self._blob(state_cid, job)
            strategy.load_state(decode_tensors(blob))
        return strategy

    def record_model(
        self,
        job: JobInfo,
        round: int,
        change: Params,
        receipts: list[Receipt],
        owners: set[str],
        epsilon: float,
        *,
        rejected: list[str] | None = None,
        state: Params | None = None,
    ) -> RoundInfo:
        """Applies the round's change to the global model, hands it to the participants
        and the requester, and records the round with its receipts on chain. A strategy's
        server state is stored as a blob the new model names, for the next aggregator."""
        ledger = self.node.ledger
        spec = self.job_spec(job)
        global_params = self.global_model(job, spec)
        meta = {}
        if state:
            state_blob = encode_tensors(state)
            meta["strategy_state"] = self.node.blobs.put(state_blob)
            self._replicate(state_blob, owners | {job.requester})
        # the round's change is rounded to float16 and applied exactly so, which lets every
        # node rebuild the new model bit for bit from a half-size delta
        shapes = param_shapes(spec.model)
        rounded = unpack_half(pack_half(change), shapes)
        model = encode_tensors(apply_half_delta(global_params, rounded), meta or None)
        model_cid = self.node.blobs.put(model)
        handout = pack_half(
            change, {"kind": "model-delta", "base": job.model_cid, "result": model_cid, **meta}
        )
        self.node.blobs.put(handout)
        self._replicate(handout, owners | {job.requester})
        self.forget_reads()
        ledger.jobs.record_round(
            job.job_id, round, model_cid, digest_of(model_cid), receipts,
            epsilon=epsilon, rejected=rejected or [],
        )  # fmt: skip
        return ledger.jobs.round_record(job.job_id, round)

    def _replicate(self, model: bytes, peers: set[str]) -> None:
        """Hands the new model to the round's participants before it is recorded, so the
        job goes on even if this node dies right after recording."""

        def hand(peer: str) -> None:
            try:
                self.node.post(peer, "/blobs", model)
            except DainError as exc:  # a peer that is down fetches it later from another
                log.info("%s: could not hand the model to %s: %s", self.node.name, peer, exc)

        others = sorted(peers - {self.node.address})
        if others:  # at once, so one slow peer delays the record by one timeout, not several
            with ThreadPoolExecutor(max_workers=len(others)) as pool:
                list(pool.map(hand, others))


def pack_half(params: Params, metadata: dict[str, str] | None = None) -> bytes:
    """float16 safetensors, with a power-of-two scale for tensors too large for float16."""
    scales = half_scales(params)
    return encode_tensors(to_half(params, scales), metadata={**scales, **(metadata or {})})


def unpack_half(blob: bytes, shapes: dict[str, tuple[int, ...]]) -> Params:
    """float32 values of a pack_half blob; refuses other names, shapes, dtypes, NaN or inf."""
    return to_single(decode_tensors(blob, expected=shapes, dtype=FLOAT16), read_metadata(blob))


def _model_metadata(handout: bytes) -> dict[str, str] | None:
    """The metadata the model a hand-out builds carries (its strategy state), if any."""
    state = read_metadata(handout).get("strategy_state")
    return {"strategy_state": state} if state else None


def apply_half_delta(base: Params, delta: Params) -> Params:
    """base + delta in float32, the one way every node computes a round's model."""
    return {name: (base[name] + delta[name]).astype(np.float32) for name in base}


def _update_fields(body: dict[str, Any]) -> tuple[int, str, int, bytes]:
    try:
        asset_id = int(body["asset_id"])
        update_cid = str(body["update_cid"])
        num_examples = int(body["num_examples"])
        signature = bytes.fromhex(str(body["receipt_signature"]).removeprefix("0x"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"The update message is malformed ({exc!r}).") from exc
    if not 0 < num_examples < 2**32:
        raise ProtocolError("num_examples must be a positive 32-bit number.")
    return asset_id, update_cid, num_examples, signature


def _seed(job_seed: int, round: int, asset_id: int) -> int:
    """A per-client, per-round seed, so runs are reproducible and clients independent."""
    digest = hashlib.sha256(f"{job_seed}/{round}/{asset_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
