"""Who held an asset token at a past block, from its Transfer events: what a signature made
in a past round is checked against once the token has moved on."""

from __future__ import annotations

from tests.conftest import ChainNet

ZERO_ADDRESS = "0x" + "00" * 20


def test_the_holder_at_each_block_follows_the_tokens_transfers(chain_net: ChainNet) -> None:
    owner, heir = chain_net.member(), chain_net.member()
    before = owner.block_number()
    asset = chain_net.asset(owner)
    minted = owner.block_number()
    owner.assets.transfer(asset, heir.address)
    moved = owner.block_number()

    assert owner.assets.holder_at(asset, before) == ZERO_ADDRESS
    assert owner.assets.holder_at(asset, minted) == owner.address
    assert owner.assets.holder_at(asset, moved - 1) == owner.address
    assert owner.assets.holder_at(asset, moved) == heir.address == owner.assets.owner_of(asset)
