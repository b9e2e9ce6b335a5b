"""Model parameters as named float32 numpy arrays (`Params`), and a client's update to them.
Only tensors ever leave a node, so this is all the network sees of a model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class ClientUpdate:
    """A client's change to the global model (new - old) and how many examples made it."""

    delta: Params
    num_examples: int


def subtract(a: Params, b: Params) -> Params:
    return {name: (a[name] - b[name]).astype(np.float32) for name in a}
