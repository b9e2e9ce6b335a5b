"""Named tensors <-> safetensors bytes, with validation for bytes from the network."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save

from dain.costs import timed
from dain.storage.canonical import parse_json
from dain.storage.errors import CodecError

Tensors = dict[str, np.ndarray]
Shapes = Mapping[str, tuple[int, ...]]
FLOAT32 = np.dtype(np.float32)
FLOAT16 = np.dtype(np.float16)
UINT32 = np.dtype(np.uint32)  # masked updates: integers mod 2^32
DAIN_DTYPES = frozenset({FLOAT32, FLOAT16, UINT32})  # all a dain blob ever holds
MAX_HEADER_BYTES = 16 * 2**20


@timed("serialization")
def encode_tensors(
    tensors: Mapping[str, np.ndarray], metadata: dict[str, str] | None = None
) -> bytes:
    return save({name: np.ascontiguousarray(t) for name, t in tensors.items()}, metadata=metadata)


@timed("serialization")
def decode_tensors(
    data: bytes, *, expected: Shapes | None = None, dtype: np.dtype | None = FLOAT32
) -> Tensors:
    """Parses safetensors bytes; with `expected`, refuses other names, shapes or dtypes
    and any non-finite value, so a peer's garbage never reaches the model."""
    try:
        tensors = load(bytes(data))
    except (SafetensorError, ValueError) as exc:
        raise CodecError(f"The data is not a valid safetensors document ({exc}).") from exc
    except (KeyError, TypeError) as exc:  # numpy has no such dtype (bfloat16, float8, ...)
        raise CodecError(
            f"The document holds tensors of a type dain does not use ({exc})."
        ) from exc
    if expected is None:
        return tensors
    if set(tensors) != set(expected):
        raise CodecError(
            f"Expected tensors {sorted(expected)}, got {sorted(tensors)}: "
            "the sender uses a different model."
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name]):
            raise CodecError(
                f"Tensor '{name}' has shape {tuple(tensor.shape)}, "
                f"expected {tuple(expected[name])}."
            )
        if dtype is not None and tensor.dtype != dtype:
            raise CodecError(f"Tensor '{name}' is {tensor.dtype}, expected {dtype}.")
        if not np.isfinite(tensor).all():
            raise CodecError(f"Tensor '{name}' holds NaN or infinite values.")
    return tensors


def read_metadata(data: bytes) -> dict[str, str]:
    """The `__metadata__` of a safetensors document, read from its JSON header alone."""
    if len(data) < 8:
        raise CodecError("The data is too short to be a safetensors document.")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8 or size > MAX_HEADER_BYTES:
        raise CodecError("The safetensors header is larger than the document.")
    header = parse_json(data[8 : 8 + size], max_bytes=MAX_HEADER_BYTES)
    metadata = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CodecError("The safetensors metadata must map strings to strings.")
    return metadata


HALF_LIMIT = 2.0**15  # well inside float16's range (65504)


def half_scales(tensors: Mapping[str, np.ndarray]) -> dict[str, str]:
    """A power-of-two scale per tensor whose values would overflow float16, as safetensors
    metadata (scaling by a power of two adds no rounding of its own)."""
    scales = {}
    for name, t in tensors.items():
        peak = float(np.max(np.abs(t))) if t.size else 0.0
        if not np.isfinite(peak):
            raise CodecError(f"Tensor '{name}' holds NaN or infinite values.")
        if peak > HALF_LIMIT:
            scales[f"scale:{name}"] = str(2.0 ** math.ceil(math.log2(peak / HALF_LIMIT)))
    return scales


def to_half(tensors: Mapping[str, np.ndarray], scales: Mapping[str, str] | None = None) -> Tensors:
    """float16 copies, divided by their scale where one is given: updates and model deltas
    travel at half the bytes."""
    scales = scales or {}
    return {
        name: (t / float(scales.get(f"scale:{name}", 1.0))).astype(np.float16)
        for name, t in tensors.items()
    }


def to_single(
    tensors: Mapping[str, np.ndarray], scales: Mapping[str, str] | None = None
) -> Tensors:
    """float32 values of float16 tensors, multiplied back by their scales."""
    scales = scales or {}
    out = {}
    for name, t in tensors.items():
        try:
            scale = float(scales.get(f"scale:{name}", 1.0))
        except ValueError:
            raise CodecError(f"The scale of tensor '{name}' is not a number.") from None
        if not (np.isfinite(scale) and scale > 0):
            raise CodecError(f"The scale of tensor '{name}' must be a positive number.")
        out[name] = (t.astype(np.float32) * np.float32(scale)).astype(np.float32)
    return out


@timed("serialization")
def encode_half(tensors: Mapping[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """float16 safetensors, with a power-of-two scale for tensors too large for float16:
    how updates and model deltas travel."""
    scales = half_scales(tensors)
    return encode_tensors(to_half(tensors, scales), metadata={**scales, **(metadata or {})})


@timed("serialization")
def decode_half(data: bytes, expected: Shapes) -> Tensors:
    """float32 values of an `encode_half` document; refuses other names, shapes, dtypes,
    NaN or infinity."""
    return to_single(decode_tensors(data, expected=expected, dtype=FLOAT16), read_metadata(data))
