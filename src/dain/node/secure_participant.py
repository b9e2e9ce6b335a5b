"""A participant in a secure round (SecAgg+ of `dain.learning.secagg`, carried in signed
envelopes): train; send a share message; fetch the closed roster of everyone's signed share
messages and check each signature; send the masked update with its receipt; fetch the
survivors, check them and send its view of the round with a voucher for it to each other
survivor (the consistency check); fetch the unmask request with the vouchers addressed to
it, and answer it only if a quorum vouched for what this client signed. The aggregator only
ever sees masked vectors. When an answer of the aggregator does not hold up, the asset sits
the round out and reveals nothing.

Clients mask `weight x update` (weight = examples, or 1 under client-level privacy), so the
unmasked sum divided by the survivors' total weight is the FedAvg mean."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from dain.data import format_asset_id
from dain.learning import PrivacyLevel, SecAggError, param_shapes, stack
from dain.learning.secagg import (
    PairSecrets,
    RoundSetup,
    SecAggClient,
    ShareMessage,
    public_bytes,
    round_context,
)
from dain.ledger import JobInfo, Ledger, Receipt, round_epsilon_to_chain
from dain.node.blob_index import BlobKind, BlobTag
from dain.node.context import LocalAsset, NodeContext
from dain.node.envelope import Envelope, MessageKind, seal
from dain.node.errors import EnvelopeError, PeerNotReady, ProtocolError
from dain.node.intake import UpdateFields
from dain.node.spec import JobSpec
from dain.node.training import LocalTrainer
from dain.storage import content_hash, encode_tensors

log = logging.getLogger(__name__)
MASKED = "masked"  # the one tensor of a masked-update blob


class Stage(StrEnum):
    """How far one asset has come in one secure round."""

    SHARED = "shared"  # key shares sent; waiting for the roster
    MASKED = "input"  # masked update sent; waiting for the survivor set
    SIGNED = "signed"  # survivor set signed; waiting for the unmask request
    DONE = "unmasked"  # answered the unmask request, or sat the round out


class Progress(NamedTuple):
    stage: Stage
    sent_update: bool  # the masked update went out on this step


def agreement_key(ledger: Ledger, job_id: int, asset_id: int) -> X25519PrivateKey:
    """The owner's X25519 key for one asset in one job, derived from its identity: the
    public half goes on chain at enrollment, the private half is recomputed when needed."""
    contract = ledger.jobs.address.lower()
    label = f"dain secagg agreement/{ledger.chain_id}/{contract}/{job_id}/{asset_id}"
    return X25519PrivateKey.from_private_bytes(ledger.identity.derive_secret(label))


def agreement_public_key(ledger: Ledger, job_id: int, asset_id: int) -> bytes:
    return public_bytes(agreement_key(ledger, job_id, asset_id))


def round_setup(
    ledger: Ledger, job: JobInfo, round: int, spec: JobSpec, aggregator: str
) -> RoundSetup:
    """The round as the chain and the job's spec define it, at `aggregator`."""
    keys = ledger.jobs.agreement_keys(job.job_id)
    length = sum(math.prod(s) for s in param_shapes(spec.model).values())
    return RoundSetup(
        tuple(sorted(keys)),
        keys,
        length,
        spec.secagg.value_range,
        round_context(ledger.chain_id, ledger.jobs.address, job.job_id, round, aggregator),
        degree=spec.secagg.degree,
        threshold=spec.secagg.threshold,
    )


def update_weight(spec: JobSpec, num_examples: int) -> float:
    """Under client-level privacy every client counts the same (the noise is calibrated
    to one client's clipped update); otherwise FedAvg weights by examples."""
    return 1.0 if spec.privacy.level == PrivacyLevel.CLIENT else float(num_examples)


@dataclass
class _Taking:
    """One asset's part in one secure round, at one aggregator."""

    aggregator: str
    client: SecAggClient
    vector: np.ndarray
    num_examples: int
    stage: Stage = Stage.SHARED


HoldAfter = Callable[[int, int], Stage | None]  # (job, round) -> stage to stop after


class SecureParticipant:
    def __init__(
        self, ctx: NodeContext, trainer: LocalTrainer, hold_after: HoldAfter | None = None
    ) -> None:
        self.ctx = ctx
        self.trainer = trainer
        # a test hook: stop taking part after a stage, as a crash there would, and say so
        self._hold_after = hold_after or (lambda job, round: None)
        self._taking: dict[tuple[int, int, int], _Taking] = {}
        self._held: set[tuple[int, int, int]] = set()
        # (job, asset) -> the X25519 secrets with every other party, for all the job's rounds
        self._pairs: dict[tuple[int, int], PairSecrets] = {}
        self._lock = threading.Lock()

    def busy(self) -> bool:
        """Whether a round is waiting on the aggregator (so the runner should poll)."""
        with self._lock:
            return any(t.stage is not Stage.DONE for t in self._taking.values())

    def forget_job(self, job_id: int) -> None:
        """The job is over: its rounds' secrets are of no more use."""
        with self._lock:
            for key in [k for k in self._taking if k[0] == job_id]:
                del self._taking[key]
            for pair in [k for k in self._pairs if k[0] == job_id]:
                del self._pairs[pair]

    def holds(self, job_id: int, round: int, asset_id: int, aggregator: str) -> bool:
        """Whether this process still holds the round's secrets for that aggregator."""
        with self._lock:
            taking = self._taking.get((job_id, round, asset_id))
        return taking is not None and taking.aggregator == aggregator

    def give_up(self, job_id: int, round: int, asset_id: int) -> None:
        """The aggregator refused this asset's part: it sits the round out."""
        with self._lock:
            taking = self._taking.get((job_id, round, asset_id))
            if taking is not None:
                taking.stage = Stage.DONE

    def stages(self) -> dict[str, str]:
        with self._lock:
            return {f"{j}/{r}/{format_asset_id(a)}": str(t.stage)
                    for (j, r, a), t in self._taking.items()}  # fmt: skip

    def held(self) -> dict[str, str]:
        """Rounds this node stopped in on purpose (the test hook), and the stage reached."""
        with self._lock:
            return {f"{j}/{r}/{format_asset_id(a)}": str(self._taking[(j, r, a)].stage)
                    for (j, r, a) in self._held if (j, r, a) in self._taking}  # fmt: skip

    def step(self, job: JobInfo, round: int, asset: LocalAsset, aggregator: str) -> Progress:
        """Moves this asset's part in the round one stage on, as far as the aggregator
        allows now."""
        key = (job.job_id, round, asset.asset_id)
        with self._lock:
            # forget finished rounds; start over with fresh secrets at a new aggregator
            for old in [k for k in self._taking if k[:2] != key[:2] and k[0] == key[0]]:
                del self._taking[old]
            taking = self._taking.get(key)
            if taking is not None and taking.aggregator != aggregator:
                del self._taking[key]
                taking = None
        if taking is None:
            return Progress(self._share(job, round, asset, aggregator), False)
        if self._hold_after(job.job_id, round) is taking.stage:
            with self._lock:
                self._held.add(key)
            return Progress(taking.stage, False)
        try:
            if taking.stage is Stage.SHARED:
                return self._send_masked(job, round, asset, taking)
            if taking.stage is Stage.MASKED:
                return Progress(self._sign(job, round, taking), False)
            if taking.stage is Stage.SIGNED:
                return Progress(self._unmask(job, round, taking), False)
        except PeerNotReady:  # the aggregator has not closed the stage yet
            pass
        except (SecAggError, ProtocolError, EnvelopeError) as exc:
            # what the aggregator showed does not hold up (or could expose this client):
            # it sits the round out, and reveals nothing more
            log.warning("%s: sits out round %d of job %d: %s", self.ctx.name, round,
                        job.job_id, exc)  # fmt: skip
            taking.stage = Stage.DONE
        return Progress(taking.stage, False)

    def _share(self, job: JobInfo, round: int, asset: LocalAsset, aggregator: str) -> Stage:
        ctx, ledger = self.ctx, self.ctx.ledger
        spec = self.trainer.models.spec(job)
        delta, num_examples = self.trainer.train_delta(job, round, asset)
        # one row, in the strategies' layout (tensors by name)
        vector = stack([delta])[0][0].astype(np.float64) * update_weight(spec, num_examples)
        setup = round_setup(ledger, job, round, spec, aggregator)
        with self._lock:
            pairs = self._pairs.get((job.job_id, asset.asset_id))
        if pairs is None:
            pairs = PairSecrets(agreement_key(ledger, job.job_id, asset.asset_id))
            with self._lock:
                pairs = self._pairs.setdefault((job.job_id, asset.asset_id), pairs)
        client = SecAggClient(setup, asset.asset_id, pairs.agreement_key, pairs)
        body = {"asset_id": str(asset.asset_id), "shares": client.share_keys(vector).to_dict()}
        envelope = seal(ledger.identity, ledger.chain_id, MessageKind.SHARES, job.job_id,
                        round, body)  # fmt: skip
        ctx.peers.post(aggregator, "/secagg/shares", envelope.to_bytes())
        with self._lock:
            self._taking[(job.job_id, round, asset.asset_id)] = _Taking(
                aggregator, client, vector, num_examples
            )
        return Stage.SHARED

    def _send_masked(
        self, job: JobInfo, round: int, asset: LocalAsset, taking: _Taking
    ) -> Progress:
        ctx, ledger = self.ctx, self.ctx.ledger
        answer = ctx.peers.get(taking.aggregator, f"/secagg/{job.job_id}/{round}/roster")
        roster = self._verified_roster(job, round, answer)
        masked = taking.client.mask(taking.vector, roster)
        blob = encode_tensors({MASKED: masked})
        cid = ctx.keep(blob, BlobTag(BlobKind.MASKED, job.job_id, round))
        epsilon = round_epsilon_to_chain(self.trainer.models.spec(job).privacy.round_epsilon(round))
        receipt = Receipt(job.job_id, round, asset.asset_id, taking.num_examples,
                          content_hash(blob), epsilon=epsilon)  # fmt: skip
        signed = receipt.signed_by(ledger.identity, ledger.chain_id, ledger.jobs.address)
        ctx.peers.put_blob(taking.aggregator, blob, BlobKind.MASKED, job.job_id, round)
        body = UpdateFields(cid, taking.num_examples, signed.signature).to_body(asset.asset_id)
        envelope = seal(ledger.identity, ledger.chain_id, MessageKind.MASKED, job.job_id,
                        round, body)  # fmt: skip
        ctx.peers.post(taking.aggregator, "/secagg/inputs", envelope.to_bytes())
        taking.stage = Stage.MASKED
        return Progress(Stage.MASKED, True)

    def _verified_roster(
        self, job: JobInfo, round: int, answer: dict[str, Any]
    ) -> dict[int, ShareMessage]:
        """Each share message as its sender signed it: the aggregator cannot swap in keys."""
        ledger = self.ctx.ledger
        roster = {}
        for raw in _listed(answer, "roster"):
            envelope = Envelope.from_bytes(str(raw).encode())
            signer = envelope.signer_address(ledger.chain_id)
            if (envelope.kind, envelope.job_id, envelope.round) != (
                MessageKind.SHARES, job.job_id, round,
            ):  # fmt: skip
                raise ProtocolError("The roster holds a message from another round.")
            message = ShareMessage.from_dict(envelope.body.get("shares", {}))
            if self.ctx.chain.owners(job).get(message.sender) != signer:
                raise ProtocolError(f"The share message of {format_asset_id(message.sender)} "
                                    "is not its owner's.")  # fmt: skip
            roster[message.sender] = message
        return roster

    def _sign(self, job: JobInfo, round: int, taking: _Taking) -> Stage:
        """The consistency check: this client's view of the round (its roster and the
        survivor set, once it has checked that set) and its vouchers for it to the other
        survivors (see `SecAggClient.consistency_check`)."""
        ctx, ledger = self.ctx, self.ctx.ledger
        answer = ctx.peers.get(taking.aggregator, f"/secagg/{job.job_id}/{round}/survivors")
        survivors, dropped = _survivor_sets(answer)
        check = taking.client.consistency_check(survivors, dropped)
        body = {"asset_id": str(taking.client.me), "check": check.to_dict()}
        envelope = seal(ledger.identity, ledger.chain_id, MessageKind.CHECK, job.job_id,
                        round, body)  # fmt: skip
        ctx.peers.post(taking.aggregator, "/secagg/check", envelope.to_bytes())
        taking.stage = Stage.SIGNED
        return Stage.SIGNED

    def _unmask(self, job: JobInfo, round: int, taking: _Taking) -> Stage:
        ctx, ledger = self.ctx, self.ctx.ledger
        client = taking.client
        path = f"/secagg/{job.job_id}/{round}/unmask/{client.me}"
        answer = ctx.peers.get(taking.aggregator, path)
        survivors, dropped = _survivor_sets(answer)
        response = client.unmask(survivors, dropped, _vouchers(answer, client.setup.n))
        body = {"asset_id": str(client.me), "response": response.to_dict()}
        envelope = seal(ledger.identity, ledger.chain_id, MessageKind.UNMASK, job.job_id,
                        round, body)  # fmt: skip
        ctx.peers.post(taking.aggregator, "/secagg/unmask", envelope.to_bytes())
        taking.stage = Stage.DONE
        return Stage.DONE


def _listed(answer: dict[str, Any], name: str) -> list[Any]:
    found = answer.get(name, [])
    if not isinstance(found, list):
        raise ProtocolError(f"The aggregator's '{name}' is not a list.")
    return found


def _survivor_sets(answer: dict[str, Any]) -> tuple[set[int], set[int]]:
    try:
        return ({int(str(p)) for p in _listed(answer, "survivors")},
                {int(str(p)) for p in _listed(answer, "dropped")})  # fmt: skip
    except ValueError as exc:
        raise ProtocolError(f"The survivor set is malformed ({exc!r}).") from exc


def _vouchers(answer: dict[str, Any], parties: int) -> dict[int, bytes]:
    """The other survivors' vouchers to this client, as the aggregator relayed them; which
    of them are real is the client's to check."""
    found = answer.get("vouchers", {})
    if not isinstance(found, dict) or len(found) > parties:
        raise ProtocolError("The unmask request's vouchers do not fit the round.")
    try:
        return {int(str(p)): bytes.fromhex(str(v)) for p, v in found.items()}
    except ValueError as exc:
        raise ProtocolError(f"The unmask request's vouchers are malformed ({exc!r}).") from exc
