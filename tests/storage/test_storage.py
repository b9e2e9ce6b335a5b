from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dain.storage import (
    BlobNotFound,
    CidError,
    CodecError,
    FileBlobStore,
    IntegrityError,
    MemoryBlobStore,
    cid_of,
    decode_tensors,
    digest_of,
    encode_tensors,
    half_scales,
    read_metadata,
    to_half,
    to_single,
    verify,
)


@given(st.binary(max_size=2048))
def test_cid_commits_to_sha256(data: bytes) -> None:
    cid = cid_of(data)
    assert cid.startswith("bafkrei")
    assert digest_of(cid) == hashlib.sha256(data).digest()
    verify(cid, data)


def test_known_cid_matches_ipfs() -> None:
    # `ipfs add --cid-version 1 --raw-leaves` of "hello world" (no newline)
    assert cid_of(b"hello world") == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def test_bad_cids_and_corrupt_bytes_are_refused() -> None:
    with pytest.raises(CidError):
        digest_of("not-a-cid")
    with pytest.raises(IntegrityError):
        verify(cid_of(b"a"), b"b")


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_blob_stores_put_get_has(kind: str, tmp_path: Path) -> None:
    store = MemoryBlobStore() if kind == "memory" else FileBlobStore(tmp_path / "blobs")
    cid = store.put(b"model bytes")

    assert store.has(cid) and store.get(cid) == b"model bytes"
    assert store.put(b"model bytes") == cid
    with pytest.raises(BlobNotFound):
        store.get(cid_of(b"other"))


def test_file_store_detects_tampering_and_path_tricks(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    cid = store.put(b"original")
    (tmp_path / cid).write_bytes(b"tampered")

    with pytest.raises(IntegrityError):
        store.get(cid)
    with pytest.raises(CidError):
        store.get("../../etc/passwd")


tensors = st.dictionaries(
    st.text(alphabet="abcdefgh.", min_size=1, max_size=8),
    arrays(
        np.float32,
        st.tuples(st.integers(1, 4), st.integers(1, 4)),
        elements=st.floats(-1e6, 1e6, width=32),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=50, deadline=None)
@given(tensors)
def test_tensor_codec_round_trips(values: dict[str, np.ndarray]) -> None:
    shapes = {k: v.shape for k, v in values.items()}
    decoded = decode_tensors(encode_tensors(values), expected=shapes)
    assert decoded.keys() == values.keys()
    for name in values:
        np.testing.assert_array_equal(decoded[name], values[name])


def test_tensor_codec_refuses_wrong_names_shapes_dtypes_and_non_finite() -> None:
    good = {"w": np.ones((2, 2), np.float32)}
    data = encode_tensors(good)
    with pytest.raises(CodecError, match="different model"):
        decode_tensors(data, expected={"v": (2, 2)})
    with pytest.raises(CodecError, match="shape"):
        decode_tensors(data, expected={"w": (2, 3)})
    with pytest.raises(CodecError, match="float64"):
        decode_tensors(encode_tensors({"w": np.ones((2, 2))}), expected={"w": (2, 2)})
    with pytest.raises(CodecError, match="NaN"):
        decode_tensors(
            encode_tensors({"w": np.full((2, 2), np.inf, np.float32)}), expected={"w": (2, 2)}
        )
    with pytest.raises(CodecError):
        decode_tensors(data[:-3])


@settings(max_examples=40, deadline=None)
@given(tensors, st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3))
def test_metadata_is_read_from_the_header(
    values: dict[str, np.ndarray], meta: dict[str, str]
) -> None:
    assert read_metadata(encode_tensors(values, metadata=meta or None)) == meta


def test_metadata_of_garbage_is_refused() -> None:
    for bad in (b"", b"\x05\0\0\0\0\0\0\0{", b"\xff" * 8 + b"x", b"\x01\0\0\0\0\0\0\0{"):
        with pytest.raises(CodecError):
            read_metadata(bad)
    assert read_metadata(b"\x02\0\0\0\0\0\0\0[]") == {}  # a header without metadata


@given(arrays(np.float32, 8, elements=st.floats(-60_000, 60_000, width=32)))
def test_half_precision_round_trip_is_within_float16_precision(values: np.ndarray) -> None:
    back = to_single(to_half({"w": values}))["w"]
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, values, rtol=1e-3, atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, 6, elements=st.floats(-(2.0**100), 2.0**100, width=32)))
def test_large_values_travel_in_float16_with_a_power_of_two_scale(values: np.ndarray) -> None:
    scales = half_scales({"w": values})
    back = to_single(to_half({"w": values}, scales), scales)["w"]
    assert np.isfinite(back).all()
    peak = float(np.abs(values).max())
    # float16 keeps 11 significant bits; tiny values under the scale may round to zero
    np.testing.assert_allclose(back, values, rtol=1e-3, atol=max(1e-4, peak * 1e-4))
    if scales:
        scale = float(scales["scale:w"])
        assert scale == 2.0 ** round(np.log2(scale))


def test_non_finite_values_cannot_be_packed() -> None:
    with pytest.raises(CodecError, match="NaN"):
        half_scales({"w": np.array([1.0, np.inf], np.float32)})
