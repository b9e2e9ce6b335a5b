"""A client's part of a round, privacy included, as one function: the node calls it for
each of its assets, and the simulator uses its client-level step on all clients at once
(`clip_and_noise_rows`)."""

from __future__ import annotations

import numpy as np

from dain.learning.dp_sgd import train_local_dp
from dain.learning.models import ModelSpec
from dain.learning.params import ClientUpdate, Params, subtract
from dain.learning.privacy import PrivacyLevel, PrivacySpec, clip_and_noise
from dain.learning.training import TrainConfig, train_local


def local_update(
    model: ModelSpec,
    global_params: Params,
    x: np.ndarray,
    y: np.ndarray,
    train: TrainConfig,
    privacy: PrivacySpec,
    *,
    seed: int,
    proximal_mu: float = 0.0,
) -> ClientUpdate:
    """The client's change to the global model and its example count, with the job's
    privacy applied:

    - none: `train_local` (with FedProx's `proximal_mu`); the seed fixes the batch order
    - record: DP-SGD (`train_local_dp`), with no proximal term; the seed plays no part
    - client: `train_local` as for none, then the change clipped to C with this client's
      share of Gaussian noise

    The seed may be public (the node derives it from the job's seed, the round and the
    asset): it fixes only what needs no secret. Whatever protects privacy (DP-SGD's
    sampling and noise, the client-level noise) comes from the operating system's CSPRNG
    afresh on every call, so a private update is never the same twice."""
    if privacy.level == PrivacyLevel.RECORD:
        result = train_local_dp(model, global_params, x, y, train, privacy)
    else:
        result = train_local(model, global_params, x, y, train, seed, proximal_mu=proximal_mu)
    delta = subtract(result.params, global_params)
    if privacy.level == PrivacyLevel.CLIENT:
        delta, _ = clip_and_noise(delta, privacy)
    return ClientUpdate(delta, result.num_examples)
