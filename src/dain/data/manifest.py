"""Asset manifests: what a data asset is, identified by a hash that reveals no row."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass

import numpy as np

from dain.data.datasets import Dataset
from dain.storage import canonical_json


def data_commitment(dataset: Dataset, salt: bytes) -> str:
    """sha2-256 over a secret salt and the rows. The salt stays with the owner, so the
    commitment cannot be tested against guessed rows, yet the owner can later prove
    which data the asset was.

    Beyond a table the example shape is hashed too (the same bytes as 8 x 8 images and
    as 64-value rows are different data); numeric targets are hashed as float32 (as
    integers they would commit to their whole part only). A table with class labels,
    every CSV asset, hashes exactly as it always has, so its asset id stays the same."""
    h = hashlib.sha256(salt)
    if dataset.kind != "table":
        h.update(canonical_json({"kind": dataset.kind, "shape": dataset.example_shape}))
    h.update(np.ascontiguousarray(dataset.x, dtype=np.float32).tobytes())
    floats = np.issubdtype(dataset.y.dtype, np.floating)
    h.update(np.ascontiguousarray(dataset.y, dtype=np.float32 if floats else np.int64).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class AssetManifest:
    """The public description of a data asset: schema and size, never rows. Beyond a
    table, its `kind` (image, array) and one example's `shape` (an image's channels,
    height and width: what a job's input schema must match, and what the owner's node
    reloads the images at)."""

    title: str
    features: tuple[str, ...]
    target: str
    classes: tuple[str, ...]
    num_rows: int
    data_commitment: str
    kind: str = "table"
    shape: tuple[int, ...] = ()

    @classmethod
    def describe(
        cls, dataset: Dataset, title: str, salt: bytes | None = None
    ) -> tuple[AssetManifest, bytes]:
        """The manifest of `dataset` and the salt its commitment used (keep it private)."""
        salt = salt if salt is not None else secrets.token_bytes(32)
        manifest = cls(
            title=title,
            features=dataset.feature_names,
            target=dataset.target,
            classes=dataset.classes,
            num_rows=len(dataset),
            data_commitment=data_commitment(dataset, salt),
            kind=dataset.kind,
            shape=() if dataset.kind == "table" else dataset.example_shape,
        )
        return manifest, salt

    def to_json(self) -> bytes:
        """Canonical JSON; a table's has no kind or shape, so its id is what it always was."""
        fields = asdict(self)
        if self.kind == "table" and not self.shape:
            del fields["kind"], fields["shape"]
        return canonical_json(fields)

    @property
    def digest(self) -> bytes:
        """sha2-256 of the canonical JSON: the asset's on-chain id."""
        return hashlib.sha256(self.to_json()).digest()
