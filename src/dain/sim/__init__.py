"""Simulation of many federated clients in one process, vectorized over clients."""

from dain.sim.engine import DATASETS, PARTITIONS, Federation, SimConfig, SimResult
from dain.sim.run import build_federation, simulate

__all__ = ["DATASETS", "PARTITIONS", "Federation", "SimConfig", "SimResult", "build_federation",
           "simulate"]  # fmt: skip
