"""Content-addressed blobs (CIDv1 sha2-256, as `ipfs add --cid-version 1 --raw-leaves`
gives them) and the safetensors codec.

Names load on first use, so a command that needs one light part does not pay for the rest.
"""

from dain.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "BlobStore": "dain.storage.blobstore",
    "FileBlobStore": "dain.storage.blobstore",
    "MemoryBlobStore": "dain.storage.blobstore",
    "MAX_DEPTH": "dain.storage.canonical",
    "canonical_json": "dain.storage.canonical",
    "nesting_depth": "dain.storage.canonical",
    "parse_json": "dain.storage.canonical",
    "CHUNK_SIZE": "dain.storage.unixfs",
    "check_cid": "dain.storage.cid",
    "cid_from_digest": "dain.storage.cid",
    "cid_of": "dain.storage.cid",
    "content_hash": "dain.storage.cid",
    "digest_of": "dain.storage.cid",
    "verify": "dain.storage.cid",
    "BlobNotFound": "dain.storage.errors",
    "CidError": "dain.storage.errors",
    "CodecError": "dain.storage.errors",
    "IntegrityError": "dain.storage.errors",
    "StorageError": "dain.storage.errors",
    "FLOAT16": "dain.storage.tensors",
    "FLOAT32": "dain.storage.tensors",
    "Shapes": "dain.storage.tensors",
    "DAIN_DTYPES": "dain.storage.tensors",
    "Tensors": "dain.storage.tensors",
    "UINT32": "dain.storage.tensors",
    "decode_half": "dain.storage.tensors",
    "decode_tensors": "dain.storage.tensors",
    "encode_half": "dain.storage.tensors",
    "encode_tensors": "dain.storage.tensors",
    "half_scales": "dain.storage.tensors",
    "read_metadata": "dain.storage.tensors",
    "to_half": "dain.storage.tensors",
    "to_single": "dain.storage.tensors",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports("dain.storage", _EXPORTS)
