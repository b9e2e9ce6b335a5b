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
    which data the asset was."""
    h = hashlib.sha256(salt)
    h.update(np.ascontiguousarray(dataset.x, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(dataset.y, dtype=np.int64).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class AssetManifest:
    """The public description of a data asset: schema and size, never rows."""

    title: str
    features: tuple[str, ...]
    target: str
    classes: tuple[str, ...]
    num_rows: int
    data_commitment: str

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
        )
        return manifest, salt

    def to_json(self) -> bytes:
        return canonical_json(asdict(self))

    @property
    def digest(self) -> bytes:
        """sha2-256 of the canonical JSON: the asset's on-chain id."""
        return hashlib.sha256(self.to_json()).digest()
