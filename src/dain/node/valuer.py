"""What each update of a plain round was worth, as the elected aggregator judges it on rows of
its own (issue 12, point 3): the values it records with the round, one int16 per receipt.

The rows are the held-out rows of the aggregator's own assets in the job, those it may use for
the job now. They are held out from everything valued: no node trains on its held-out rows,
and the aggregator's own updates take no part in the game (`value_updates(exclude=...)`).
Nothing is valued in a job with secure aggregation (the updates are hidden) or with a robust
rule (median, Krum: not a game of coalition means), and nothing when the aggregator has no
usable rows; the contract then pays those assets by examples."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np

from dain.data import CsvSchema, DatasetError
from dain.errors import DainError
from dain.incentives import encode_round
from dain.learning import ClientUpdate, Params, Strategy, ValuationConfig, value_updates
from dain.ledger import JobInfo
from dain.node.context import LocalAsset
from dain.node.spec import JobSpec

log = logging.getLogger(__name__)

MAX_ROWS = 512  # enough to tell updates apart (the bench judges on 36-80); bounds the cost


def valuation_rows(
    job: JobInfo, round: int, assets: Sequence[LocalAsset], schema: CsvSchema | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Up to MAX_ROWS of the given assets' held-out rows (as the job's input `schema` reads
    them), drawn afresh each round from a public seed (which rows judge protects nothing:
    they never leave the node)."""
    usable = []
    for asset in assets:
        try:
            usable.append(asset.examples(schema, held_out=True))
        except DatasetError:  # too few held-out rows for one window of a series
            continue
    usable = [d for d in usable if len(d)]
    if not usable:
        return None
    x = np.concatenate([d.x for d in usable])
    y = np.concatenate([d.y for d in usable])
    if len(y) > MAX_ROWS:
        picked = np.random.default_rng(_seed(job, round)).choice(len(y), MAX_ROWS, replace=False)
        x, y = x[np.sort(picked)], y[np.sort(picked)]
    return x, y


def round_values(
    job: JobInfo,
    round: int,
    spec: JobSpec,
    strategy: Strategy,
    global_params: Params,
    updates: Sequence[tuple[int, ClientUpdate, bool]],
    own_assets: Sequence[LocalAsset],
) -> dict[int, int] | None:
    """The recorded value of each update by asset id, from (asset id, update, whether it is
    the aggregator's own); None when this round records no values."""
    # robust rules are exactly those that need the individual updates
    if job.secure_aggregation or strategy.needs_individual_updates:
        return None
    if all(own for _, _, own in updates):
        return None
    config = ValuationConfig(server_lr=strategy.optimizer.learning_rate)
    try:
        rows = valuation_rows(job, round, own_assets, spec.input)
        if rows is None:
            return None
        valuation = value_updates(
            spec.model, global_params, [u for _, u, _ in updates], *rows,
            rng=np.random.default_rng(_seed(job, round)),
            exclude=[i for i, (_, _, own) in enumerate(updates) if own], config=config,
        )  # fmt: skip
        return encode_round({updates[i][0]: v for i, v in valuation.values.items()})
    except (DainError, ValueError) as error:
        # rows that do not fit the model (labels out of range, say) cost the round nothing:
        # it is recorded without values and these assets are paid by examples
        log.warning("job %d round %d: recorded without values: %s", job.job_id, round, error)
        return None


def _seed(job: JobInfo, round: int) -> int:
    digest = hashlib.sha256(f"dain-valuation/{job.job_id}/{round}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
