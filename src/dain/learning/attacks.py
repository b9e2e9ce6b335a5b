"""Attacks by a chosen fraction of clients, to evaluate how strategies hold up.

Update attacks change what a client sends (rows of the clients x parameters matrix):
sign flipping (-s x update), scaling (s x update) and Gaussian noise (an update of pure
noise with standard deviation s). Label flipping poisons a client's data instead: class c
becomes C - 1 - c."""

from __future__ import annotations

import numpy as np

from dain.learning.errors import LearningError

ATTACKS = ("none", "sign_flip", "scale", "gaussian", "label_flip")
DEFAULT_STRENGTH = {"sign_flip": 4.0, "scale": 10.0, "gaussian": 1.0}


def attackers(clients: int, fraction: float, seed: int) -> np.ndarray:
    """Which clients attack: round(fraction x clients) of them, chosen at random."""
    if not 0 <= fraction < 1:
        raise LearningError(f"The attacker fraction must be in [0, 1), not {fraction}.")
    chosen = np.zeros(clients, dtype=bool)
    count = round(fraction * clients)
    chosen[np.random.default_rng(seed).choice(clients, count, replace=False)] = True
    return chosen


def attack_updates(
    updates: np.ndarray, who: np.ndarray, kind: str, rng: np.random.Generator,
    strength: float | None = None,
) -> np.ndarray:  # fmt: skip
    """The matrix with the attackers' rows replaced (a copy when anything changes)."""
    if kind not in ATTACKS:
        raise LearningError(f"Unknown attack '{kind}'.", hint=f"Use one of {', '.join(ATTACKS)}.")
    if kind in ("none", "label_flip") or not who.any():
        return updates
    s = DEFAULT_STRENGTH[kind] if strength is None else strength
    out = updates.copy()
    if kind == "sign_flip":
        out[who] = -s * updates[who]
    elif kind == "scale":
        out[who] = s * updates[who]
    else:
        out[who] = rng.normal(0.0, s, size=(int(who.sum()), updates.shape[1]))
    return out


def flip_labels(y: np.ndarray, num_classes: int) -> np.ndarray:
    return (num_classes - 1 - y).astype(y.dtype)
