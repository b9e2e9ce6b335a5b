"""Differential privacy for a job, at one of two levels, with an RDP accountant.

- record level: every node trains with DP-SGD (Opacus): each record's gradient is clipped
  and Gaussian noise is added to every step. Each step samples each record with the same
  probability q at every node, so every asset spends the same epsilon per round.
- client level (distributed DP): every node clips its whole update to an L2 bound C and
  adds its share of Gaussian noise, N(0, (sigma C)^2 / m) for m the fewest clients the
  round may finish with, so the securely aggregated sum carries noise sigma C however
  many of the others took part. It needs secure aggregation: without it, the aggregator
  would see each update with only its small share of noise.

The noise (and DP-SGD's sampling) comes from `dain.learning.randomness`, the operating
system's CSPRNG: had it a seed anyone could know, they could subtract it.

Epsilon at the job's delta comes from the `dp-accounting` package (Rényi DP), after every
round, for whoever took part in that many rounds.

Jobs that sample their assets per round (`dain.ledger.sampling`) get no amplification by
subsampling here, on purpose. That theorem needs the sample to be secret, but this one is
drawn from the job's public seed and every receipt on chain names who took part: anyone
reading the chain knows whether an asset was in a round, so against them a sampled round is
a full round of the Gaussian mechanism for the assets in it and nothing for the others. So
the accountant composes only the rounds an asset took part in: each node counts its own
releases (`budget_allows` with the rounds it made a private update for), and an unsampled
round spends nothing. A receipt still carries the job's round increment, `round_epsilon`,
whose sum over recorded rounds bounds every asset's loss. Record-level DP-SGD keeps its own
Poisson sampling of records within each round, drawn from the CSPRNG and never published:
that one amplifies, and `round_event` counts it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from dain.learning import randomness
from dain.learning.aggregate import unstack
from dain.learning.errors import PrivacyError
from dain.learning.params import Params

if TYPE_CHECKING:  # dp-accounting takes half a second to import: only when accounting
    import dp_accounting

# Rényi orders to search: whole orders converge for every noise level (fractional orders
# near 1 do not when noise is small) and cover epsilon from about 0.1 to 50
RDP_ORDERS = [*range(2, 65), 80, 96, 128, 192, 256, 512]
NOISE_BLOCK = 1 << 22  # values of noise drawn at once


class PrivacyLevel(StrEnum):
    NONE = "none"
    RECORD = "record"
    CLIENT = "client"


@dataclass(frozen=True)
class PrivacySpec:
    """How a job protects privacy. For record level, `sample_rate` is each record's chance
    to be in a step's batch and `steps` the steps per round; for client level, `clients`
    is the fewest clients a round may finish with (each adds 1/clients of the noise)."""

    level: PrivacyLevel = PrivacyLevel.NONE
    noise_multiplier: float = 0.0
    clip_norm: float = 1.0
    delta: float = 1e-5
    sample_rate: float = 0.0
    steps: int = 0
    clients: int = 1

    def __post_init__(self) -> None:
        if self.level == PrivacyLevel.NONE:
            return
        if not self.noise_multiplier > 0 or not self.clip_norm > 0:
            raise PrivacyError("A private job needs a positive noise multiplier and clip norm.")
        if not 0 < self.delta < 1:
            raise PrivacyError(f"delta must be between 0 and 1, not {self.delta}.")
        if self.level == PrivacyLevel.RECORD and not (0 < self.sample_rate <= 1 and self.steps > 0):
            raise PrivacyError("Record-level privacy needs a sample rate in (0, 1] and steps > 0.")
        if self.level == PrivacyLevel.CLIENT and self.clients < 1:
            raise PrivacyError("Client-level privacy needs the fewest clients a round counts.")

    @property
    def private(self) -> bool:
        return self.level != PrivacyLevel.NONE

    def round_event(self) -> dp_accounting.DpEvent:
        """One round, as dp-accounting describes mechanisms."""
        import dp_accounting

        gaussian = dp_accounting.GaussianDpEvent(self.noise_multiplier)
        if self.level == PrivacyLevel.RECORD:
            sampled = dp_accounting.PoissonSampledDpEvent(self.sample_rate, gaussian)
            return dp_accounting.SelfComposedDpEvent(sampled, self.steps)
        if self.level == PrivacyLevel.CLIENT:
            return gaussian
        return dp_accounting.NonPrivateDpEvent()

    def epsilon(self, rounds: int) -> float:
        """Privacy loss after taking part in `rounds` rounds; inf when not private."""
        if not self.private:
            return math.inf
        if rounds <= 0:
            return 0.0
        from dp_accounting.rdp import RdpAccountant

        accountant = RdpAccountant(RDP_ORDERS)
        accountant.compose(self.round_event(), rounds)
        return float(accountant.get_epsilon(self.delta))

    def round_epsilon(self, round: int) -> float:
        """What round `round` adds to the job's epsilon, as recorded on chain: after it,
        the recorded rounds sum to epsilon(round). Zero when not private."""
        if not self.private:
            return 0.0
        return self.epsilon(round) - self.epsilon(round - 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": str(self.level), "noise_multiplier": self.noise_multiplier,
            "clip_norm": self.clip_norm, "delta": self.delta, "sample_rate": self.sample_rate,
            "steps": self.steps, "clients": self.clients,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PrivacySpec:
        try:
            return cls(
                PrivacyLevel(raw.get("level", "none")),
                float(raw.get("noise_multiplier", 0.0)),
                float(raw.get("clip_norm", 1.0)),
                float(raw.get("delta", 1e-5)),
                float(raw.get("sample_rate", 0.0)),
                int(raw.get("steps", 0)),
                int(raw.get("clients", 1)),
            )
        except (TypeError, ValueError) as exc:
            raise PrivacyError(f"The job's privacy settings are malformed ({exc}).") from exc


def calibrate(spec: PrivacySpec, target_epsilon: float, rounds: int) -> PrivacySpec:
    """The same mechanism with the smallest noise multiplier (to 1%) that keeps epsilon
    after `rounds` rounds at or under `target_epsilon`."""
    if not target_epsilon > 0:
        raise PrivacyError("The target epsilon must be positive.")

    def with_noise(sigma: float) -> PrivacySpec:
        return PrivacySpec(spec.level, sigma, spec.clip_norm, spec.delta, spec.sample_rate,
                           spec.steps, spec.clients)  # fmt: skip

    low, high = 0.05, 1.0
    while with_noise(high).epsilon(rounds) > target_epsilon:
        low, high = high, high * 2
        if high > 1e4:
            raise PrivacyError(
                f"No noise level reaches epsilon {target_epsilon} in {rounds} rounds."
            )
    while high - low > 0.01 * high:
        middle = (low + high) / 2
        if with_noise(middle).epsilon(rounds) > target_epsilon:
            low = middle
        else:
            high = middle
    return with_noise(high)


def clip_and_noise(update: Params, spec: PrivacySpec) -> tuple[Params, float]:
    """Client level, for one client: its update clipped to norm C with its share of the
    round's noise from the operating system's CSPRNG (`clip_and_noise_rows` on the update
    as one row, its tensors in their own order). Returns it with the norm before clipping."""
    names = list(update)
    row = np.concatenate([update[n].reshape(-1) for n in names])[None]
    noisy, norms = clip_and_noise_rows(row, spec)
    return unstack(noisy[0], names, [update[n].shape for n in names]), float(norms[0])


def clip_and_noise_rows(
    rows: np.ndarray, spec: PrivacySpec, *, insecure_rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Client level, for a (clients x parameters) matrix of updates: each row scaled to L2
    norm at most C, plus that client's share of the round's noise, N(0, (sigma C)^2 / m),
    from the operating system's CSPRNG. Returns float32 rows and each row's norm before
    clipping.

    `insecure_rng` draws the noise from that generator instead, rows in order, so that a
    simulation repeats exactly from its seed. Whoever knows the seed can subtract the noise:
    it protects nothing, and no real client passes one."""
    norms = np.sqrt(np.sum(np.square(rows, dtype=np.float64), axis=1))
    with np.errstate(divide="ignore"):
        factors = np.where(norms > 0, np.minimum(1.0, spec.clip_norm / norms), 1.0)
    share = spec.noise_multiplier * spec.clip_norm / math.sqrt(spec.clients)
    out = np.empty(rows.shape, np.float32)
    # the noise is drawn in float64 a block of rows at a time, to bound memory
    block = max(1, NOISE_BLOCK // max(1, rows.shape[1]))
    for start in range(0, len(rows), block):
        part = slice(start, start + block)
        scaled = rows[part] * factors[part, None].astype(rows.dtype)
        if insecure_rng is None:
            noise = randomness.normal(share, scaled.shape)
        else:
            noise = insecure_rng.normal(0.0, share, scaled.shape)
        out[part] = scaled + noise
    return out, norms


def budget_allows(spec: PrivacySpec, rounds_taken: int, max_epsilon: float | None) -> bool:
    """Whether one more round keeps an asset within its policy's maximum epsilon."""
    if max_epsilon is None:
        return True
    if not spec.private:
        return False  # a non-private job spends an unbounded budget
    return spec.epsilon(rounds_taken + 1) <= max_epsilon
