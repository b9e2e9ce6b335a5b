"""Record-level differential privacy: local training with DP-SGD (Opacus). Each step takes
every record with probability q (Poisson sampling, as the accountant assumes), clips each
record's gradient to the job's norm bound and adds Gaussian noise to the batch's sum."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from dain.learning.errors import PrivacyError
from dain.learning.models import ModelSpec, build_model, load_params
from dain.learning.params import Params
from dain.learning.privacy import PrivacyLevel, PrivacySpec
from dain.learning.training import LocalResult, TrainConfig


def train_local_dp(
    spec: ModelSpec,
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    seed: int,
    privacy: PrivacySpec,
) -> LocalResult:
    """`privacy.steps` DP-SGD steps from `params`; the seed fixes sampling and noise."""
    if privacy.level != PrivacyLevel.RECORD:
        raise PrivacyError("DP-SGD is for record-level privacy.")
    # Opacus takes a second to import: only for jobs that use it
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    records = len(y)
    expected_batch = max(1, round(privacy.sample_rate * records))
    model = build_model(spec)
    load_params(model, params)
    private_model = GradSampleModule(model)
    generator = torch.Generator().manual_seed(seed)
    optimizer = DPOptimizer(
        torch.optim.SGD(private_model.parameters(), lr=config.learning_rate,
                        momentum=config.momentum),
        noise_multiplier=privacy.noise_multiplier,
        max_grad_norm=privacy.clip_norm,
        expected_batch_size=expected_batch,
        generator=generator,
    )  # fmt: skip
    inputs = torch.from_numpy(spec.standardize(x))
    labels = torch.from_numpy(y.astype(np.int64))
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    private_model.train()
    with warnings.catch_warnings():
        # Opacus' per-sample hooks fire on outputs here (inputs need no gradient): expected
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        for _ in range(privacy.steps):
            chosen = torch.rand(records, generator=generator) < privacy.sample_rate
            if not bool(chosen.any()):
                continue  # releases nothing; the accountant counted the step anyway
            optimizer.zero_grad()
            loss = loss_fn(private_model(inputs[chosen]), labels[chosen])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    trained = {
        name: t.detach().cpu().numpy().astype(np.float32, copy=True)
        for name, t in private_model._module.state_dict().items()
    }
    return LocalResult(trained, records, float(np.mean(losses)) if losses else 0.0)
