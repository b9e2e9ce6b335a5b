"""A whole network on one machine."""

from dain.devnet.network import Devnet
from dain.devnet.story import Reporter, StoryConfig, StoryResult, run_story

__all__ = ["Devnet", "Reporter", "StoryConfig", "StoryResult", "run_story"]
