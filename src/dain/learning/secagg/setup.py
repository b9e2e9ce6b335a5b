"""What every party of a secure round agrees on before it starts, and the floors under the
threshold, the graph degree and the number of vouchers that certify a survivor set.

Why these floors (Bonawitz et al. 2017, section 6's active variant; Bell et al. 2020):

- Threshold t > (k + 1) / 2, a strict majority of the k + 1 holders of each secret (a
  client and its k neighbours). An honest holder reveals, for each owner, only the
  self-mask seed share or only the mask-key share, by the survivor set it signed. To unmask
  a victim an aggregator needs t seed shares of the victim and the mask keys of every
  neighbour the victim masked with, which it can only get if those neighbours are called
  dropped. With the client-side checks (at least t of its neighbourhood in its roster, the
  victim's own answers bound to its roster), that takes t + (t - 1) holders out of k, which
  a majority threshold makes impossible.
- Threshold never below MIN_THRESHOLD = 3: every sum the aggregator can unmask then covers
  three or more clients, so one client colluding with the aggregator cannot subtract its own
  update from a two-client sum and read the other's; and t - 1 = 2 colluding neighbours are
  needed to rebuild any one secret.
- Degree never below `default_degree(n)` (about 2 log2 n + 2, the complete graph for small
  n): SecAgg+ keeps the original protocol's guarantees only when neighbourhoods grow as
  log n (Bell et al.), and the smallest group whose sum a malicious aggregator can isolate by
  calling its surroundings dropped is t, about k / 2.
- Quorum: a client reveals shares only after max(t, n // 2 + 1) distinct parties (itself
  included) vouched to it for the very roster and survivor set it signed. Honest clients
  vouch for one view per round, and two views each vouched for by more than half of the
  parties share a voucher, so at most one view can ever reach the quorum: every honest
  client reveals by the same survivor set (Bonawitz's consistency check, with t raised to a
  majority because in SecAgg+ t counts a neighbourhood, not the round; and MACs between the
  pair instead of signatures, which is all the argument needs, see `pairs`).

The spec's values are requests the floors raise: the floors depend on n, known only when the
round starts, and refusing then would stall a running job. Values no round could use are
refused (`SecAggError`)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from dain.learning.errors import SecAggError
from dain.learning.secagg.masking import default_degree, neighbours

if TYPE_CHECKING:
    from dain.learning.secagg.messages import ShareMessage

MIN_THRESHOLD = 3  # see the module's docstring
MIN_DEGREE = 2 * MIN_THRESHOLD - 2  # the smallest neighbourhood whose majority is MIN_THRESHOLD


def majority_threshold(degree: int) -> int:
    """The threshold floor of a neighbourhood of `degree` neighbours: a strict majority of
    its degree + 1 holders, and never below MIN_THRESHOLD."""
    return max(MIN_THRESHOLD, (degree + 1) // 2 + 1)


@dataclass(frozen=True)
class RoundSetup:
    """Who takes part, their long-term agreement keys (from chain), the threshold, the
    graph and the vector."""

    parties: tuple[int, ...]  # party ids (asset ids), sorted
    agreement_keys: Mapping[int, bytes]  # party -> X25519 public key (32 bytes)
    length: int  # entries in each vector
    value_range: float  # the widest range a round may use; beyond it values are clipped
    context: bytes  # binds every key and ciphertext to one job and round
    degree: int = 0  # neighbours per client asked for; raised to default_degree(n)
    threshold: int = 0  # shares needed per secret asked for; raised to a majority

    def __post_init__(self) -> None:
        if list(self.parties) != sorted(set(self.parties)) or len(self.parties) < MIN_THRESHOLD:
            raise SecAggError(
                f"Secure aggregation needs {MIN_THRESHOLD} or more distinct parties, sorted "
                f"(a threshold of {MIN_THRESHOLD} needs that many holders)."
            )
        missing = [p for p in self.parties if len(self.agreement_keys.get(p, b"")) != 32]
        if missing:
            raise SecAggError(
                f"{len(missing)} parties have no 32-byte agreement key on chain "
                f"(e.g. {missing[0]:x})."
            )
        if self.threshold and self.threshold < MIN_THRESHOLD:
            raise SecAggError(
                f"Threshold {self.threshold} is below the floor of {MIN_THRESHOLD}: fewer "
                "colluding clients could rebuild a secret."
            )
        if self.degree < 0 or self.threshold < 0:
            raise SecAggError("The degree and the threshold cannot be negative.")
        if self.k_degree < self.n - 1 and self.k_degree % 2:
            raise SecAggError(f"A SecAgg+ graph degree must be even, not {self.k_degree}.")
        if self.k_threshold > self.k_degree + 1:
            raise SecAggError(
                f"Threshold {self.k_threshold} exceeds the {self.k_degree + 1} holders of "
                "each secret: no secret could ever be rebuilt."
            )

    @property
    def n(self) -> int:
        return len(self.parties)

    @cached_property
    def k_degree(self) -> int:
        """Neighbours per client: as asked, but never fewer than `default_degree(n)`."""
        return min(self.n - 1, max(self.degree, default_degree(self.n)))

    @cached_property
    def k_threshold(self) -> int:
        """Shares needed per secret: as asked, but never below a majority of each
        neighbourhood (nor below MIN_THRESHOLD)."""
        return max(self.threshold, majority_threshold(self.k_degree))

    @cached_property
    def quorum(self) -> int:
        """Signatures over one survivor set a client needs before it reveals a share."""
        return max(self.k_threshold, self.n // 2 + 1)

    @cached_property
    def index(self) -> dict[int, int]:
        return {party: i for i, party in enumerate(self.parties)}

    @cached_property
    def graph(self) -> list[set[int]]:
        return neighbours(self.n, self.k_degree, self.context)

    def value_range_of(self, roster: Mapping[int, ShareMessage]) -> float:
        """The round's range: the smallest power of two that holds every roster client's
        largest value (each announced only that exponent), capped by `value_range`. Fixed
        point then keeps about 24 bits of each update whatever its size."""
        widest = max(message.exponent for message in roster.values())
        return min(self.value_range, 2.0**widest)

    def neighbours_of(self, party: int) -> set[int]:
        return {self.parties[j] for j in self.graph[self.index[party]]}

    def holders_of(self, party: int) -> set[int]:
        """Who holds shares of the party's secrets: its neighbours and itself."""
        return self.neighbours_of(party) | {party}

    def x(self, party: int) -> int:
        """The party's Shamir x-coordinate."""
        return self.index[party] + 1

    def consistency_digest(self, roster: Mapping[int, bytes], survivors: Collection[int]) -> bytes:
        """What a client signs in the consistency check: the roster it masked with (each
        party's fresh public mask key) and the survivor set, bound to the round. Equal
        digests mean both sets are equal, so vouchers certify one view of the round, and
        none made in one attempt at the round counts in another (mask keys are fresh)."""
        if not set(survivors) <= set(roster) or any(p not in self.index for p in roster):
            raise SecAggError("A survivor set names only parties of the round's roster.")
        h = hashlib.sha256(b"dain secagg consistency check\0" + self.context)
        for party in sorted(roster):
            h.update(party.to_bytes(32, "big") + roster[party])
        h.update(b"survivors")
        for party in sorted(set(survivors)):
            h.update(party.to_bytes(32, "big"))
        return h.digest()


def round_context(chain_id: int, contract: str, job_id: int, round: int, aggregator: str) -> bytes:
    """Binds a round's keys and ciphertexts to one chain, contract, job, round and elected
    aggregator. A round that fails over starts again under another context: a share message
    of an earlier attempt, which an aggregator may have learned the mask key of by calling
    its sender dropped, no longer decrypts, so it cannot be shown to a client again."""
    label = f"dain secagg/{chain_id}/{contract.lower()}/{job_id}/{round}/{aggregator.lower()}"
    return hashlib.sha256(label.encode()).digest()
