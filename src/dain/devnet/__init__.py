"""A whole network on one machine: in one process (`Devnet`, the demo story) or as real
processes (a local chain and node processes, see `home` and `cluster`).

Names load on first use, so importing one light part doesn't import PyTorch.
"""

from dain.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "Cluster": "dain.devnet.cluster",
    "run_cluster_story": "dain.devnet.cluster_story",
    "admit_founder": "dain.devnet.home",
    "chain_down": "dain.devnet.home",
    "chain_up": "dain.devnet.home",
    "demo_network": "dain.devnet.home",
    "treasury_ledger": "dain.devnet.home",
    "RoundReport": "dain.devnet.story_types",
    "Devnet": "dain.devnet.network",
    "Reporter": "dain.devnet.story_types",
    "StoryConfig": "dain.devnet.story_types",
    "StoryResult": "dain.devnet.story_types",
    "run_story": "dain.devnet.story",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports("dain.devnet", _EXPORTS)
