"""Secure rounds on the node network: the SecAgg+ protocol of `dain.learning.secagg`
carried in signed envelopes, for jobs whose terms ask for secure aggregation.

Participant: train; send a share message (signed); fetch the closed roster of everyone's
signed share messages and check each signature; send the masked update with its receipt;
fetch the unmask request and answer it. Aggregator: collect each stage, close it when
everyone expected has answered or its deadline in the round window passed, and record the
round (or abort it) on chain. The aggregator only ever holds masked vectors and the sum.

Clients mask `weight x update` (weight = examples, or 1 under client-level privacy), so the
unmasked sum divided by the survivors' total weight is the FedAvg mean."""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from dain.learning import param_shapes, subtract
from dain.learning.errors import SecAggAborted, SecAggError
from dain.learning.privacy import PrivacyLevel
from dain.learning.secagg import (
    RoundSetup,
    SecAggClient,
    SecAggServer,
    ShareMessage,
    UnmaskResponse,
    public_bytes,
    round_context,
)
from dain.learning.strategy import stack, unstack
from dain.ledger import JobInfo, Ledger, Receipt, RoundInfo
from dain.node.envelope import Envelope, seal
from dain.node.errors import EnvelopeError, PeerError, ProtocolError
from dain.node.spec import JobSpec
from dain.node.transport import Request
from dain.storage import UINT32, BlobNotFound, decode_tensors, digest_of, encode_tensors

if TYPE_CHECKING:
    from dain.node.node import LocalAsset, Node

log = logging.getLogger(__name__)
MASKED = "masked"  # the one tensor of a masked-update blob


def agreement_key(ledger: Ledger, job_id: int, asset_id: int) -> X25519PrivateKey:
    """The owner's X25519 key for one asset in one job, derived from its identity: the
    public half goes on chain at enrollment, the private half is recomputed when needed."""
    contract = ledger.jobs.address.lower()
    label = f"dain secagg agreement/{ledger.chain_id}/{contract}/{job_id}/{asset_id}"
    return X25519PrivateKey.from_private_bytes(ledger.identity.derive_secret(label))


def agreement_public_key(ledger: Ledger, job_id: int, asset_id: int) -> bytes:
    return public_bytes(agreement_key(ledger, job_id, asset_id))


def round_setup(ledger: Ledger, job: JobInfo, round: int, spec: JobSpec) -> RoundSetup:
    keys = ledger.jobs.agreement_keys(job.job_id)
    length = sum(math.prod(s) for s in param_shapes(spec.model).values())
    return RoundSetup(
        tuple(sorted(keys)),
        keys,
        length,
        spec.secagg.value_range,
        round_context(ledger.chain_id, ledger.jobs.address, job.job_id, round),
        degree=spec.secagg.degree,
        threshold=spec.secagg.threshold,
    )


def update_weight(spec: JobSpec, num_examples: int) -> float:
    """Under client-level privacy every client counts the same (the noise is calibrated
    to one client's clipped update); otherwise FedAvg weights by examples."""
    return 1.0 if spec.privacy.level == PrivacyLevel.CLIENT else float(num_examples)


# ---- participant -------------------------------------------------------------------


@dataclass
class _Taking:
    """One asset's part in one secure round, at one aggregator."""

    aggregator: str
    client: SecAggClient
    vector: np.ndarray
    num_examples: int
    stage: str = "shared"  # -> "input" -> "unmasked"


class SecureParticipant:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._taking: dict[tuple[int, int, int], _Taking] = {}
        self._lock = threading.Lock()

    def busy(self) -> bool:
        """Whether a round is waiting on the aggregator (so the runner should poll)."""
        with self._lock:
            return any(t.stage != "unmasked" for t in self._taking.values())

    def forget_job(self, job_id: int) -> None:
        """The job is over: its rounds' secrets are of no more use."""
        with self._lock:
            for key in [k for k in self._taking if k[0] == job_id]:
                del self._taking[key]

    def holds(self, job_id: int, round: int, asset_id: int, aggregator: str) -> bool:
        with self._lock:
            taking = self._taking.get((job_id, round, asset_id))
        return taking is not None and taking.aggregator == aggregator

    def give_up(self, job_id: int, round: int, asset_id: int) -> None:
        """The aggregator refused this asset's part: it sits the round out."""
        with self._lock:
            taking = self._taking.get((job_id, round, asset_id))
            if taking is not None:
                taking.stage = "unmasked"

    def stages(self) -> dict[str, str]:
        with self._lock:
            return {f"{j}/{r}/{a:x}": t.stage for (j, r, a), t in self._taking.items()}

    def step(self, job: JobInfo, round: int, asset: LocalAsset, aggregator: str) -> str:
        """Moves this asset's part in the round one stage on, as far as the aggregator
        allows now. Returns the stage reached, or "sent" on the step that sent the masked
        update."""
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
            return self._share(job, round, asset, aggregator)
        if taking.stage == "shared":
            return self._send_input(job, round, asset, taking)
        if taking.stage == "input":
            return self._unmask(job, round, taking)
        return taking.stage

    def _share(self, job: JobInfo, round: int, asset: LocalAsset, aggregator: str) -> str:
        rounds, ledger = self.node.rounds, self.node.ledger
        spec = rounds.job_spec(job)
        delta, num_examples = rounds.train_delta(job, round, asset)
        # one row, in the strategies' layout (tensors by name)
        vector = stack([delta])[0][0].astype(np.float64) * update_weight(spec, num_examples)
        setup = round_setup(ledger, job, round, spec)
        key = agreement_key(ledger, job.job_id, asset.asset_id)
        client = SecAggClient(setup, asset.asset_id, key)
        message = client.share_keys(vector)
        body = {"asset_id": str(asset.asset_id), "shares": message.to_dict()}
        envelope = seal(ledger.identity, ledger.chain_id, "secagg-shares", job.job_id, round, body)
        self.node.post(aggregator, "/secagg/shares", envelope.to_bytes())
        with self._lock:
            self._taking[(job.job_id, round, asset.asset_id)] = _Taking(
                aggregator, client, vector, num_examples
            )
        return "shared"

    def _send_input(self, job: JobInfo, round: int, asset: LocalAsset, taking: _Taking) -> str:
        ledger = self.node.ledger
        answer = self._get(taking.aggregator, f"/secagg/{job.job_id}/{round}/roster")
        if answer is None:
            return taking.stage
        roster = self._verified_roster(job, round, answer)
        try:
            masked = taking.client.mask(taking.vector, roster)
        except SecAggError as exc:  # left out of the roster, or the roster is inconsistent
            log.info("%s: sits out round %d of job %d: %s", self.node.name, round, job.job_id, exc)
            taking.stage = "unmasked"
            return "left out"
        blob = encode_tensors({MASKED: masked})
        cid = self.node.blobs.put(blob)
        receipt = Receipt(job.job_id, round, asset.asset_id, taking.num_examples, digest_of(cid))
        signed = receipt.signed_by(ledger.identity, ledger.chain_id, ledger.jobs.address)
        self.node.post(taking.aggregator, "/blobs", blob)
        body = {
            "asset_id": str(asset.asset_id),
            "update_cid": cid,
            "num_examples": taking.num_examples,
            "receipt_signature": "0x" + signed.signature.hex(),
        }
        envelope = seal(ledger.identity, ledger.chain_id, "secagg-input", job.job_id, round, body)
        self.node.post(taking.aggregator, "/secagg/inputs", envelope.to_bytes())
        taking.stage = "input"
        return "sent"  # the one step that sent it; the stage is "input" from now on

    def _verified_roster(self, job: JobInfo, round: int, answer: dict) -> dict[int, ShareMessage]:
        """Each share message as its sender signed it: the aggregator cannot swap in keys."""
        ledger = self.node.ledger
        roster = {}
        for raw in answer.get("roster", []):
            envelope = Envelope.from_bytes(str(raw).encode())
            signer = envelope.signer_address(ledger.chain_id)
            if (envelope.kind, envelope.job_id, envelope.round) != (
                "secagg-shares", job.job_id, round,
            ):  # fmt: skip
                raise ProtocolError("The roster holds a message from another round.")
            message = ShareMessage.from_dict(envelope.body["shares"])
            if ledger.assets.owner_of(message.sender) != signer:
                raise ProtocolError(f"The share message of {message.sender:x} is not its owner's.")
            roster[message.sender] = message
        return roster

    def _unmask(self, job: JobInfo, round: int, taking: _Taking) -> str:
        ledger = self.node.ledger
        answer = self._get(taking.aggregator, f"/secagg/{job.job_id}/{round}/unmask")
        if answer is None:
            return taking.stage
        survivors = {int(p) for p in answer["survivors"]}
        dropped = {int(p) for p in answer["dropped"]}
        response = taking.client.unmask(survivors, dropped)
        body = {"asset_id": str(taking.client.me), "response": response.to_dict()}
        envelope = seal(ledger.identity, ledger.chain_id, "secagg-unmask", job.job_id, round, body)
        self.node.post(taking.aggregator, "/secagg/unmask", envelope.to_bytes())
        taking.stage = "unmasked"
        return "unmasked"

    def _get(self, address: str, path: str) -> dict[str, Any] | None:
        """The aggregator's answer, or None while the stage is still open."""
        response = self.node.transport.send(self.node.endpoint_of(address), Request("GET", path))
        if response.status == 409:
            return None
        if not response.ok:
            raise PeerError(f"The aggregator refused {path} ({response.status}).",
                            peer_status=response.status)  # fmt: skip
        try:
            payload = json.loads(response.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise PeerError(f"The aggregator answered {path} with non-JSON.") from None
        if not isinstance(payload, dict):
            raise PeerError(f"The aggregator answered {path} with JSON that is not an object.")
        return payload


# ---- aggregator --------------------------------------------------------------------


@dataclass
class _Collecting:
    """One secure round at this aggregator."""

    server: SecAggServer
    spec: JobSpec
    envelopes: dict[int, bytes] = field(default_factory=dict)  # asset -> signed shares
    inputs: dict[int, tuple[str, Receipt]] = field(default_factory=dict)  # asset -> owner, receipt
    outcome: str = "collecting"
    since: dict[str, float] = field(default_factory=dict)  # stage -> chain time it opened


class SecureAggregator:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._rounds: dict[tuple[int, int], _Collecting] = {}
        self._lock = threading.Lock()
        self.summaries: dict[str, dict[str, Any]] = {}  # "job/round" -> what happened

    def busy(self) -> bool:
        """Whether a round here waits on a stage deadline (so the runner should poll)."""
        with self._lock:
            return any(c.outcome == "collecting" for c in self._rounds.values())

    def forget_before(self, job_id: int, round: int) -> None:
        """Drops rounds of the job before `round`: recorded, here or by another node."""
        with self._lock:
            for key in [k for k in self._rounds if k[0] == job_id and k[1] < round]:
                del self._rounds[key]

    def _round(self, job: JobInfo, round: int) -> _Collecting:
        key = (job.job_id, round)
        with self._lock:
            found = self._rounds.get(key)
        if found is None:
            spec = self.node.rounds.job_spec(job)
            found = _Collecting(SecAggServer(round_setup(self.node.ledger, job, round, spec)), spec)
            with self._lock:
                found = self._rounds.setdefault(key, found)
        return found

    def accept(self, kind: str, body: bytes) -> dict[str, Any]:
        """A secure-round message from a participant, checked like a plain update."""
        envelope, job, asset_id = self.node.rounds.check_participant(body, kind)
        collecting = self._round(job, envelope.round)
        with self._lock:
            if kind == "secagg-shares":
                message = ShareMessage.from_dict(envelope.body.get("shares", {}))
                if message.sender != asset_id:
                    raise ProtocolError("A share message must be for the asset it names.")
                collecting.server.add_shares(message)
                collecting.envelopes.setdefault(asset_id, body)
            elif kind == "secagg-input":
                owner, receipt, cid = self._masked_input(job, envelope, asset_id)
                collecting.server.add_masked(asset_id, self._vector(cid, collecting))
                collecting.inputs.setdefault(asset_id, (owner, receipt))
            else:
                response = UnmaskResponse.from_dict(envelope.body.get("response", {}))
                if response.sender != asset_id:
                    raise ProtocolError("An unmask response must be for the asset it names.")
                collecting.server.add_unmask(response)
        return {"accepted": True, "job_id": job.job_id, "round": envelope.round}

    def _masked_input(
        self, job: JobInfo, envelope: Envelope, asset_id: int
    ) -> tuple[str, Receipt, str]:
        ledger = self.node.ledger
        try:
            cid = str(envelope.body["update_cid"])
            num_examples = int(envelope.body["num_examples"])
            signature = bytes.fromhex(str(envelope.body["receipt_signature"]).removeprefix("0x"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"The masked-update message is malformed ({exc!r}).") from exc
        if not 0 < num_examples < 2**32:
            raise ProtocolError("num_examples must be a positive 32-bit number.")
        receipt = Receipt(job.job_id, envelope.round, asset_id, num_examples, digest_of(cid),
                          signature)  # fmt: skip
        sender = envelope.signer_address(ledger.chain_id)
        if receipt.signer(ledger.chain_id, ledger.jobs.address) != sender:
            raise EnvelopeError("The receipt is not signed by the asset's owner for this round.")
        return sender, receipt, cid

    def _vector(self, cid: str, collecting: _Collecting) -> np.ndarray:
        try:
            blob = self.node.blobs.get(cid)
        except BlobNotFound:
            raise ProtocolError("Send the masked update to /blobs before its envelope.") from None
        length = collecting.server.setup.length
        return decode_tensors(blob, expected={MASKED: (length,)}, dtype=UINT32)[MASKED]

    def roster(self, job_id: int, round: int) -> dict[str, Any] | None:
        with self._lock:
            collecting = self._rounds.get((job_id, round))
            if collecting is None or collecting.server.roster is None:
                return None
            return {"roster": [collecting.envelopes[a].decode() for a in collecting.server.roster]}

    def unmask_request(self, job_id: int, round: int) -> dict[str, Any] | None:
        with self._lock:
            collecting = self._rounds.get((job_id, round))
            if collecting is None or collecting.server.survivors is None:
                return None
            server = collecting.server
            assert server.roster is not None
            return {
                "survivors": [str(p) for p in sorted(server.survivors)],
                "dropped": [str(p) for p in sorted(set(server.roster) - server.survivors)],
            }

    def progress(self, job: JobInfo, round: int, now: float, expected: int) -> RoundInfo | None:
        """Closes whatever stage is due; records the round once it can be unmasked, or
        aborts it on chain when it cannot. Returns the record when the round ended here."""
        collecting = self._round(job, round)  # a round nobody joined still ends, aborted
        if collecting.outcome != "collecting":
            return None
        settings, server, since = collecting.spec.secagg, collecting.server, collecting.since
        duration = job.round_duration
        into = ((now - job.round_opened_at) % duration) / duration
        # each stage has its share of the window from when the one before it ended (the
        # first share message for key sharing: training time is not the protocol's)
        windows = {
            "shares": settings.share_by * duration,
            "inputs": (settings.input_by - settings.share_by) * duration,
            "unmask": (settings.unmask_by - settings.input_by) * duration,
        }

        def waiting(stage: str) -> bool:
            return now - since.setdefault(stage, now) < windows[stage]

        try:
            with self._lock:
                if server.roster is None:
                    if not server.shares and into < settings.unmask_by:
                        return None  # nobody has trained yet
                    if len(server.shares) < expected and waiting("shares"):
                        return None
                    server.close_sharing()
                if server.survivors is None:
                    if len(server.masked) < len(server.roster or {}) and waiting("inputs"):
                        return None
                    self._drop_revoked(job, server)
                    survivors, _ = server.close_inputs()
                    noise = collecting.spec.privacy
                    if noise.level == PrivacyLevel.CLIENT and len(survivors) < noise.clients:
                        # each survivor added 1/clients of the noise: fewer of them would
                        # leave the sum with less noise than the epsilon recorded for it
                        raise SecAggAborted(
                            f"Only {len(survivors)} masked updates carry noise shares; the "
                            f"job's privacy needs {noise.clients}."
                        )
                if server.missing() and waiting("unmask"):
                    return None
                total = server.total()
                if self._revoked(job, sorted(server.survivors or ())):
                    raise SecAggAborted("Consent was revoked after the inputs were summed.")
                collecting.outcome = "summed"
        except SecAggAborted as exc:
            collecting.outcome = "aborted"
            self._summarize(job, round, collecting, str(exc))
            log.warning(
                "%s: round %d of job %d aborted: %s", self.node.name, round, job.job_id, exc
            )
            self.node.rounds.forget_reads()
            self.node.ledger.jobs.abort_round(job.job_id, round, len(server.survivors or ()))
            return self.node.ledger.jobs.round_record(job.job_id, round)
        self._summarize(job, round, collecting, "")
        survivors = sorted(server.survivors or ())
        receipts = [collecting.inputs[a][1] for a in survivors]
        weight = sum(update_weight(collecting.spec, r.num_examples) for r in receipts)
        spec, rounds = collecting.spec, self.node.rounds
        shapes = param_shapes(spec.model)
        names = sorted(shapes)
        mean = unstack(total / weight, names, [shapes[n] for n in names])
        # the server side of the strategy (plain, momentum or adaptive) works on the mean
        strategy = rounds.strategy_for(job, spec)
        global_params = rounds.global_model(job, spec)
        change = subtract(strategy.apply(global_params, mean), global_params)
        owners = {collecting.inputs[a][0] for a in survivors}
        epsilon = spec.privacy.round_epsilon(round)
        return rounds.record_model(job, round, change, receipts, owners, epsilon,
                                   state=strategy.state())  # fmt: skip

    def _revoked(self, job: JobInfo, assets: list[int]) -> list[int]:
        jobs = self.node.ledger.jobs
        return [a for a in assets if jobs.consent(job, a) != "allowed"]

    def _drop_revoked(self, job: JobInfo, server: SecAggServer) -> None:
        """An asset whose consent was revoked after it sent its masked update is treated
        as dropped: its pairwise masks are removed, its input never enters the sum."""
        for asset_id in self._revoked(job, sorted(server.masked)):
            del server.masked[asset_id]

    def _summarize(self, job: JobInfo, round: int, collecting: _Collecting, error: str) -> None:
        server = collecting.server
        self.summaries[f"{job.job_id}/{round}"] = {
            "outcome": collecting.outcome,
            "shared": len(server.shares),
            "roster": len(server.roster or {}),
            "survivors": len(server.survivors or ()),
            "answered_unmask": len(server.responses),
            "reason": error,
        }
