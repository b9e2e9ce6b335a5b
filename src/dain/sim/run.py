"""The simulator's entry points: an MLP config runs on the hand-batched engine
(`dain.sim.engine`, the fastest for it), a layer model (`SimConfig.model`) on the
`vmap` engine (`dain.sim.functional`)."""

from __future__ import annotations

from collections.abc import Callable

from dain.sim import engine, functional
from dain.sim.engine import Federation, SimConfig, SimResult
from dain.sim.layer_data import build_layer_federation


def build_federation(config: SimConfig) -> Federation:
    """Every client's rows for the config's model, padded and standardized."""
    if config.model is not None:
        return build_layer_federation(config)
    return engine.build_federation(config)


def simulate(
    config: SimConfig,
    progress: Callable[[int, float], None] | None = None,
    *,
    fed: Federation | None = None,
    threads: int = 0,
) -> SimResult:
    """Runs the whole federation; `progress(round, score)` after every round. `threads`:
    0 lets the engine choose from the size of its work."""
    if config.model is not None:
        return functional.simulate_layers(config, progress, fed=fed, threads=threads)
    return engine.simulate(config, progress, fed=fed, threads=threads)
