"""Secure aggregation of one round: the aggregator learns the sum of the survivors'
vectors and nothing else about any one of them, even when clients drop out part-way and
even when the aggregator lies (Bonawitz et al. 2017 with the consistency check of its
actively secure variant; the sparse SecAgg+ graph of Bell et al. 2020).

Stages, each closed by the aggregator (on a deadline or when everyone answered):
1. share keys: every client makes a fresh mask key pair and a self-mask seed, splits the
   seed and the private mask key t-of-(k+1) among itself and its k neighbours, and sends
   each share encrypted (AES-GCM, key from X25519 of the long-term agreement keys
   published on chain) through the aggregator. Those who did form the roster U1.
2. masked input: every client checks the roster it is shown (at least the quorum, and t of
   its own neighbourhood), quantizes its vector to the ring of integers mod 2^32 and adds
   its self mask and one pairwise mask per neighbour in U1 (added towards higher-index
   neighbours, subtracted towards lower). Those who sent one form U3.
3. consistency check: every client of U3 is shown U3, checks it, and signs one digest of
   its roster and U3, vouching for it to every other survivor with a MAC keyed by the pair's
   agreement keys (see `pairs`); it vouches for no other view in the round. Those who did
   form U4.
4. unmask: every client is shown the vouchers addressed to it and reveals only once at
   least the quorum of survivors vouched for the very digest it signed. It returns, for
   each neighbour, the share of the self-mask seed if that neighbour is in U3, or of the
   private mask key if not; since every honest client reveals by one U3, nobody's two
   secrets come out.
   With t shares of each, the aggregator removes the self masks of U3 and the dangling
   pairwise masks of the dropped; the pairwise masks between survivors cancel.
Fewer than t shares for any secret the sum needs, or fewer than the quorum at any stage:
the round is aborted (`SecAggAborted`), and nothing about the inputs is learned. The floors
under t, the degree k and the quorum, and why, are in `dain.learning.secagg.setup`."""

from dain.learning.secagg.client import SecAggClient
from dain.learning.secagg.masking import (
    default_degree,
    dequantize,
    expand,
    public_bytes,
    quantize,
    scale_for,
)
from dain.learning.secagg.messages import ConsistencyCheck, ShareMessage, UnmaskResponse
from dain.learning.secagg.pairs import PairSecrets
from dain.learning.secagg.server import SecAggServer
from dain.learning.secagg.setup import (
    MIN_DEGREE,
    MIN_THRESHOLD,
    RoundSetup,
    majority_threshold,
    round_context,
)

__all__ = [
    "MIN_DEGREE",
    "MIN_THRESHOLD",
    "ConsistencyCheck",
    "PairSecrets",
    "RoundSetup",
    "SecAggClient",
    "SecAggServer",
    "ShareMessage",
    "UnmaskResponse",
    "default_degree",
    "dequantize",
    "expand",
    "majority_threshold",
    "public_bytes",
    "quantize",
    "round_context",
    "scale_for",
]
