"""What every part of a node shares: who it is, its chain client and view, its blob store,
its peers, the chain's clock, the assets it holds, the signals that wake its runner, and
where its protocol time goes per round (`dain.costs`).
Services receive this instead of the node itself, so none of them can reach into another."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from dain.costs import Costs
from dain.data import (
    AssetManifest,
    ConsentPolicy,
    Dataset,
    InputSchema,
    conform,
    held_out_count,
    holdout_seed,
    holdout_split,
)
from dain.ledger import Ledger
from dain.node.blob_index import BlobIndex, BlobTag
from dain.node.chain_view import ChainView
from dain.node.clock import ChainClock
from dain.node.peers import Peers
from dain.node.state import NodeState
from dain.storage import BlobStore


@dataclass(frozen=True)
class LocalAsset:
    """A data asset this node holds. The rows never leave the node.

    Its rows are split once (`dain.data.holdout`, seeded from the asset id, so the same at
    every start): the node trains on `training` only, and scores models on `held_out`."""

    asset_id: int
    title: str
    dataset: Dataset
    manifest: AssetManifest
    policy: ConsentPolicy

    @cached_property
    def _split(self) -> tuple[np.ndarray, np.ndarray]:
        return holdout_split(self.dataset.y, holdout_seed(self.asset_id),
                             stratify=not self.dataset.is_regression)  # fmt: skip

    @cached_property
    def training(self) -> Dataset:
        """The rows the node trains on."""
        return self.dataset.subset(self._split[0])

    @cached_property
    def held_out(self) -> Dataset:
        """The rows no model of a job is trained on here: the node scores models on them."""
        return self.dataset.subset(self._split[1])

    _read: dict[tuple[InputSchema | None, bool], Dataset] = field(
        default_factory=dict, compare=False, repr=False
    )

    def examples(self, schema: InputSchema | None, held_out: bool = False) -> Dataset:
        """The training (or held-out) examples as a job with this input reads them, made
        once per input (resizing images or cutting windows is not free). A series is split
        in time instead: its held-out part is its last rows, and each part is cut into
        windows on its own, since a window across the boundary would train on held-out
        targets and a random split would cut windows through missing hours."""
        key = (schema, held_out)
        found = self._read.get(key)
        if found is not None:
            return found
        if schema is None:
            found = self.held_out if held_out else self.training
        elif schema.kind == "series":
            rows = len(self.dataset)
            cut = rows - held_out_count(rows)
            part = np.arange(cut, rows) if held_out else np.arange(cut)
            found = conform(self.dataset.subset(part), schema)
        else:
            found = conform(self.held_out if held_out else self.training, schema)
        self._read[key] = found
        return found


@dataclass
class Signals:
    """Events the request handlers set and the job runner waits on."""

    activity: threading.Event = field(default_factory=threading.Event)  # a peer wrote to us
    # an aggregator handed us a round's model: its record is about to be mined
    handout: threading.Event = field(default_factory=threading.Event)


@dataclass
class NodeContext:
    name: str
    ledger: Ledger
    blobs: BlobStore
    peers: Peers
    clock: ChainClock
    chain: ChainView
    index: BlobIndex = field(default_factory=BlobIndex)
    state: NodeState = field(default_factory=lambda: NodeState(":memory:"))
    assets: dict[int, LocalAsset] = field(default_factory=dict)
    signals: Signals = field(default_factory=Signals)
    costs: Costs = field(default_factory=Costs)  # the runner and handlers attribute to it

    @property
    def address(self) -> str:
        return self.ledger.address

    def keep(self, data: bytes, tag: BlobTag) -> str:
        """Stores a blob this node made or fetched, with what it is (which decides who
        may read it); its content id."""
        cid = self.blobs.put(data)
        self.index.tag(cid, BlobTag(tag.kind, tag.job_id, tag.round, tag.sender, len(data)))
        return cid
