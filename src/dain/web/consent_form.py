"""The consent terms as a form: an owner's current terms written into its fields, the fields
read back into a `ConsentPolicy` (each mistake named with its field and the fix, and the
owner's text kept so nothing typed is lost), and what new terms would change for the jobs
the asset takes part in, said before anything is sent."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

from dain.data import ConsentPolicy
from dain.data import parse_expiry as read_expiry
from dain.errors import ConfigError, DainError
from dain.identity import did_pkh
from dain.ledger import JobStatus, format_dain, parse_dain

if TYPE_CHECKING:
    from dain.ledger import Ledger

MAX_FIELD_CHARS = 4000  # the statement is the longest; a person's paragraph or two
MAX_PRICE = 10**12  # DAIN per round: far above any supply, far below what the chain holds
_LIST = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class TermsForm:
    """The form's fields as text, as the owner typed them (or as the current terms read)."""

    purposes: str = ""
    expiry: str = "never"
    price: str = "0"
    requesters: str = ""
    issuer: str = ""
    min_participants: str = "0"
    max_epsilon: str = ""
    secure_aggregation: bool = False
    statement: str = ""

    @classmethod
    def of(cls, policy: ConsentPolicy) -> TermsForm:
        expiry = "never"
        if policy.expiry:
            expiry = dt.datetime.fromtimestamp(policy.expiry, dt.UTC).date().isoformat()
            if dt.datetime.fromisoformat(expiry).replace(tzinfo=dt.UTC).timestamp() != (
                policy.expiry
            ):
                expiry = str(policy.expiry)  # not a midnight: unix seconds, exactly
        return cls(
            purposes=", ".join(policy.purposes),
            expiry=expiry,
            price=format_dain(policy.price_per_round).removesuffix(" DAIN"),
            requesters="\n".join(policy.allowed_requesters),
            issuer=policy.credential_issuer or "",
            min_participants=str(policy.min_participants),
            max_epsilon="" if policy.max_epsilon is None else f"{policy.max_epsilon:g}",
            secure_aggregation=policy.secure_aggregation,
            statement=policy.statement,
        )

    @classmethod
    def read(cls, form: dict[str, str]) -> TermsForm:
        """The fields of a submitted form; a checkbox is sent only when ticked."""
        text = {f.name: form.get(f.name, "")[:MAX_FIELD_CHARS] for f in fields(cls)}
        return cls(**(text | {"secure_aggregation": form.get("secure_aggregation") == "on"}))

    def hidden(self) -> list[tuple[str, str]]:
        """The fields again, as hidden inputs of the review page's forms."""
        pairs = [(k, v) for k, v in asdict(self).items() if k != "secure_aggregation"]
        return pairs + ([("secure_aggregation", "on")] if self.secure_aggregation else [])

    def policy(self, now: float) -> ConsentPolicy:
        """The terms these fields ask for. Raises a `DainError` naming the field."""
        purposes = tuple(p for p in _LIST.split(self.purposes.strip().lower()) if p)
        if not purposes:
            raise FieldError("Purposes", "at least one is needed",
                             "Name what your data may serve, e.g. diagnosis.")  # fmt: skip
        try:
            price = parse_dain(self.price or "0")
        except DainError as exc:
            raise FieldError("Price per round", exc.message, exc.hint) from None
        if price > MAX_PRICE * 10**18:
            raise FieldError("Price per round", f"{self.price} DAIN is more than any job holds",
                             f"Give at most {MAX_PRICE:,} DAIN.")  # fmt: skip
        try:
            expiry = read_expiry(self.expiry, now)
        except DainError as exc:
            raise FieldError("Expiry", exc.message, exc.hint) from None
        least = _whole(self.min_participants or "0", "Minimum participants", 0, 65_535)
        epsilon = None
        if self.max_epsilon.strip():
            try:
                epsilon = float(self.max_epsilon)
            except ValueError:
                epsilon = float("nan")
            if not 0 < epsilon < 1e12:
                raise FieldError(
                    "Epsilon cap",
                    f"'{self.max_epsilon[:40]}' is not a positive number",
                    "Give one such as 4, or leave it empty for none.",
                )
        try:
            return ConsentPolicy(
                purposes=purposes,
                expiry=expiry,
                price_per_round=price,
                allowed_requesters=tuple(r for r in _LIST.split(self.requesters.strip()) if r),
                credential_issuer=self.issuer.strip() or None,
                min_participants=least,
                max_epsilon=epsilon,
                secure_aggregation=self.secure_aggregation,
                statement=self.statement.strip(),
            )
        except DainError as exc:  # a purpose tag or a DID that is not one
            hint = exc.hint or ("Requesters and the issuer are DIDs, one per line, e.g. "
                                "did:pkh:eip155:31337:0x followed by 40 hex digits.")  # fmt: skip
            raise ConfigError(exc.message, hint=hint) from None


class FieldError(ConfigError):
    def __init__(self, field: str, problem: str, hint: str | None) -> None:
        super().__init__(f"{field}: {problem}.", hint=hint)


def _whole(text: str, field: str, least: int, most: int) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not least <= int(value) <= most:
        raise FieldError(field, f"'{value[:40]}' is not a whole number from {least} to {most}",
                         "Give a whole number such as 0 or 3.")  # fmt: skip
    return int(value)


def consequences(ledger: Ledger, asset_id: int, policy: ConsentPolicy, now: float) -> list[str]:
    """What the new terms mean for each running or upcoming job the asset is enrolled in:
    whether the job may still use it from its next round on."""
    jobs = ledger.jobs
    said = []
    for job_id in sorted({e.job_id for e in jobs.enrollments([asset_id])}):
        job = jobs.job(job_id)
        if job.status not in (JobStatus.RUNNING, JobStatus.APPROVED, JobStatus.PROPOSED):
            continue
        if not jobs.enrollment(job_id, asset_id).enrolled:
            continue
        fits = policy.allows(job.purpose, now, requester=did_pkh(ledger.chain_id, job.requester),
                             secure_aggregation=job.secure_aggregation,
                             epsilon=job.max_epsilon)  # fmt: skip
        where = f"Job {job_id} ({job.purpose}, {job.status.name.lower()})"
        said.append(f"{where}: its next rounds may still use this asset." if fits else
                    f"{where}: the new terms do not allow it; its next rounds leave this "
                    "asset out.")  # fmt: skip
    return said
