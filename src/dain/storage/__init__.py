"""Content-addressed blobs (CIDv1 sha2-256) and the safetensors codec."""

from dain.storage.blobstore import BlobStore, FileBlobStore, MemoryBlobStore
from dain.storage.canonical import canonical_json
from dain.storage.cid import cid_of, digest_of, verify
from dain.storage.errors import BlobNotFound, CidError, CodecError, IntegrityError, StorageError
from dain.storage.tensors import (
    FLOAT16,
    FLOAT32,
    UINT32,
    Shapes,
    Tensors,
    decode_half,
    decode_tensors,
    encode_half,
    encode_tensors,
    half_scales,
    read_metadata,
    to_half,
    to_single,
)

__all__ = [
    "FLOAT16",
    "FLOAT32",
    "UINT32",
    "BlobNotFound",
    "BlobStore",
    "CidError",
    "CodecError",
    "FileBlobStore",
    "IntegrityError",
    "MemoryBlobStore",
    "Shapes",
    "StorageError",
    "Tensors",
    "canonical_json",
    "cid_of",
    "decode_half",
    "decode_tensors",
    "digest_of",
    "encode_half",
    "encode_tensors",
    "half_scales",
    "read_metadata",
    "to_half",
    "to_single",
    "verify",
]
