"""Randomness that protects privacy: differential-privacy noise and DP-SGD's Poisson
sampling, drawn from the operating system's CSPRNG (`os.urandom`) afresh on every call.

Whoever can reproduce the noise on an update subtracts it and sees the update as if no
privacy were applied; whoever knows which records a DP-SGD step sampled loses the
amplification by subsampling the accountant counts on. So these draws take no seed and keep
no state: there is nothing to pass in, store or leak. (Everything else random in a job, such
as the initial model and the batch order of non-private training, may follow the job's
public seed.)

Why not numpy or torch generators with a secret seed: neither numpy's PCG64 nor torch's
Mersenne Twister is cryptographic (their state follows from enough raw outputs, and a model
exposes raw noise wherever its gradient is exactly zero, such as the weights of an input
pixel that is always blank); and `torch.Generator.manual_seed` keeps only the low 32 bits of
a seed on the CPU, so even a 63-bit secret seed leaves 2^32 noise streams to try. Opacus'
`secure_mode` relies on torchcsprng, which has no build for torch 2.

Gaussian draws come from the Box-Muller transform of 53-bit uniforms. Each is the sum of
four draws divided by two, as Opacus does in `secure_mode`: it defends against attacks that
read a single draw's floating-point pattern (Holohan and Braghin 2021, section 5.1;
Jin et al. 2022)."""

from __future__ import annotations

import os

import numpy as np

_UNIT = 2.0**-53  # one step between the 2^53 uniforms in [0, 1)
_BLOCK = 1 << 18  # values drawn at once: four normals (32 random bytes) each, bounded memory


def uniform(size: int) -> np.ndarray:
    """`size` float64 values, independent and uniform on [0, 1), 53 random bits each."""
    raw = np.frombuffer(os.urandom(8 * size), dtype=np.uint64)
    return (raw >> np.uint64(11)).astype(np.float64) * _UNIT


def normal(std: float, shape: int | tuple[int, ...]) -> np.ndarray:
    """float64 values of `shape`, independent N(0, std^2)."""
    out = np.empty(shape, np.float64)
    flat = out.reshape(-1)
    for start in range(0, flat.size, _BLOCK):
        size = min(_BLOCK, flat.size - start)
        draws = _standard_normal(4 * size).reshape(4, size)
        flat[start : start + size] = draws.sum(axis=0) * (std / 2)
    return out


def _standard_normal(count: int) -> np.ndarray:
    """`count` (even) N(0, 1) values: Box-Muller, both outputs of each pair of uniforms."""
    u = uniform(count)
    half = count // 2
    radius = np.sqrt(-2.0 * np.log1p(-u[:half]))  # 1 - u lies in (0, 1]: a finite log
    angle = 2.0 * np.pi * u[half:]
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])
