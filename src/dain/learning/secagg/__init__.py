"""Secure aggregation: the aggregator learns only the sum of the clients' vectors."""

from dain.learning.secagg.masking import default_degree, dequantize, expand, quantize, scale_for
from dain.learning.secagg.protocol import (
    RoundSetup,
    SecAggClient,
    SecAggServer,
    ShareMessage,
    UnmaskResponse,
    public_bytes,
    round_context,
)

__all__ = [
    "RoundSetup",
    "SecAggClient",
    "SecAggServer",
    "ShareMessage",
    "UnmaskResponse",
    "default_degree",
    "dequantize",
    "expand",
    "public_bytes",
    "quantize",
    "round_context",
    "scale_for",
]
