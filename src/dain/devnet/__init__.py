"""A whole network on one machine: in one process (`Devnet`, the demo story) or as real
processes (a local chain and node processes, see `home` and `cluster`).

Names load on first use, so importing one light part doesn't import PyTorch.
"""

from dain.lazy import lazy_exports

_EXPORTS = {
    "Devnet": "dain.devnet.network",
    "Reporter": "dain.devnet.story_types",
    "StoryConfig": "dain.devnet.story_types",
    "StoryResult": "dain.devnet.story_types",
    "run_story": "dain.devnet.story",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("dain.devnet", _EXPORTS)
