"""Record-level differential privacy: local training with DP-SGD (Opacus). Each step takes
every record with probability q (Poisson sampling, as the accountant assumes), clips each
record's gradient to the job's norm bound and adds Gaussian noise to the batch's sum.

The sampling and the noise protect the records, so both come from the operating system's
CSPRNG (`dain.learning.randomness`), never from a seed: Opacus clips and sums, and adds no
noise of its own."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from dain.learning import randomness
from dain.learning.errors import PrivacyError
from dain.learning.models import ModelSpec, build_model, load_params, module_params
from dain.learning.params import Params
from dain.learning.privacy import PrivacyLevel, PrivacySpec
from dain.learning.training import LocalResult, TrainConfig, row_losses, targets


def train_local_dp(
    spec: ModelSpec,
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    privacy: PrivacySpec,
) -> LocalResult:
    """`privacy.steps` DP-SGD steps from `params`. It takes no seed: every run samples and
    noises afresh, and nobody can replay it."""
    if privacy.level != PrivacyLevel.RECORD:
        raise PrivacyError("DP-SGD is for record-level privacy.")
    # Opacus takes a second to import: only for jobs that use it
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    spec.check_rows(x)
    records = len(y)
    expected_batch = max(1, round(privacy.sample_rate * records))
    model = build_model(spec)
    load_params(model, params)
    private_model = GradSampleModule(model)
    optimizer = DPOptimizer(
        torch.optim.SGD(private_model.parameters(), lr=config.learning_rate,
                        momentum=config.momentum),
        # Opacus' own noise would come from torch's generator, which is not cryptographic
        # (see dain.learning.randomness): it adds none, and the hook below adds ours
        noise_multiplier=0.0,
        max_grad_norm=privacy.clip_norm,
        expected_batch_size=expected_batch,
    )  # fmt: skip
    std = privacy.noise_multiplier * privacy.clip_norm

    def add_noise(dp: DPOptimizer) -> None:
        # runs after Opacus set each gradient to (sum of clipped record gradients) / expected
        # batch, before the SGD step: DP-SGD's N(0, (sigma C)^2) on the sum, scaled alike
        for p in dp.params:
            noise = torch.from_numpy(randomness.normal(std, tuple(p.grad.shape)))
            p.grad += noise.to(p.grad.dtype) / dp.expected_batch_size

    optimizer.attach_step_hook(add_noise)
    inputs = torch.from_numpy(spec.standardize(x))
    labels = targets(spec, y)
    weights = config.weights_for(spec, y)
    losses = []
    private_model.train()
    with warnings.catch_warnings():
        # Opacus' per-sample hooks fire on outputs here (inputs need no gradient): expected
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        for _ in range(privacy.steps):
            chosen = torch.from_numpy(randomness.uniform(records) < privacy.sample_rate)
            optimizer.zero_grad()
            if bool(chosen.any()):
                out = private_model(inputs[chosen])
                loss = row_losses(spec, out, labels[chosen], weights).mean()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                continue
            # an empty batch still releases its noise, as the accountant assumes: a step
            # that left the model as it was would tell that no record was sampled
            for p in optimizer.params:
                p.grad = torch.zeros_like(p)
            add_noise(optimizer)
            optimizer.original_optimizer.step()
    # the tensors that travel (a fine-tuning model's frozen ones stay home)
    trained = module_params(private_model._module)
    return LocalResult(trained, records, float(np.mean(losses)) if losses else 0.0)
