"""The data-asset token speaks the standards wallets and explorers read: ERC-721 metadata
JSON from `tokenURI` (a `data:` URI, so no server is needed) and ERC-4906's MetadataUpdate
whenever a policy changes; on both backends, and through ethers, as a wallet reads it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from web3.contract import Contract

from dain.data import ConsentPolicy
from dain.errors import DainError
from dain.ledger import RpcChain
from dain.ledger.artifacts import load_artifact
from tests.conftest import ChainNet, manifest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "data:application/json;base64,"


def _contract(chain_net: ChainNet) -> Contract:
    """DataAssets as any web3 client sees it: its address and its ABI, nothing of dain's."""
    return chain_net.chain.web3.eth.contract(
        address=chain_net.root.deployment.assets, abi=load_artifact("DataAssets").abi
    )


def _document(uri: str) -> dict[str, Any]:
    """The JSON of a `data:` URI, read strictly: UTF-8 without surrogates, no stray bytes."""
    assert uri.startswith(PREFIX)
    return json.loads(base64.b64decode(uri.removeprefix(PREFIX), validate=True).decode("utf-8"))


def _metadata(chain_net: ChainNet, asset: int) -> dict[str, Any]:
    return _document(_contract(chain_net).functions.tokenURI(asset).call())


def _traits(document: dict[str, Any], name: str) -> list[Any]:
    return [a["value"] for a in document["attributes"] if a["trait_type"] == name]


def _trait(document: dict[str, Any], name: str) -> Any:
    (value,) = _traits(document, name)
    return value


def test_token_uri_is_metadata_json_stating_the_policy(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    policy = ConsentPolicy(("diagnosis", "research:oncology"), expiry=4_000_000_000,
                           secure_aggregation=True)  # fmt: skip
    asset = owner.assets.register(manifest(rows=569), "bafkreimanifest", policy, "bafkreipolicy")

    document = _metadata(chain_net, asset)

    assert document["name"] == f"dain data asset 0x{asset:064x}"
    assert "consent" in document["description"].lower()
    assert _trait(document, "consent") == "live"
    assert _trait(document, "policy version") == 1
    assert _trait(document, "policy CID") == "bafkreipolicy"
    assert _trait(document, "manifest CID") == "bafkreimanifest"
    assert _trait(document, "rows") == 569
    assert _traits(document, "purpose") == ["diagnosis", "research:oncology"]
    assert _trait(document, "secure aggregation") == "required"
    assert _trait(document, "consent expires") == 4_000_000_000
    assert owner.assets.metadata(asset) == document  # dain's client reads the same
    assert owner.assets.manifest_cid(asset) == "bafkreimanifest"


def test_an_asset_id_with_leading_zero_digits_keeps_them_in_the_name(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    # manifests differ by title until one's digest starts with a zero byte (1 in 256)
    described = next(m for m in (manifest(title=f"z{i}") for i in range(4096))
                     if m.digest[0] == 0)  # fmt: skip
    asset = owner.assets.register(described, "m", ConsentPolicy(("diagnosis",)), "p")

    name = _metadata(chain_net, asset)["name"]

    assert name == "dain data asset 0x" + described.digest.hex()
    assert name.startswith("dain data asset 0x00")


def test_consent_shows_revoked_then_live_again_then_expired(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    asset = chain_net.asset(owner)

    owner.assets.revoke(asset)
    revoked = _metadata(chain_net, asset)
    soon = chain_net.chain.now() + 3_600
    owner.assets.set_policy(asset, ConsentPolicy(("diagnosis",), expiry=soon), "bafkreinew")
    regranted = _metadata(chain_net, asset)
    chain_net.chain.advance_time(7_200)
    chain_net.chain.mine()
    expired = _metadata(chain_net, asset)

    assert (_trait(revoked, "consent"), _trait(revoked, "policy version")) == ("revoked", 2)
    assert (_trait(regranted, "consent"), _trait(regranted, "policy version")) == ("live", 3)
    assert _trait(regranted, "policy CID") == "bafkreinew"
    assert (_trait(expired, "consent"), _trait(expired, "consent expires")) == ("expired", soon)
    assert "Consent is expired" in expired["description"]


def test_strings_an_owner_wrote_cannot_break_the_json(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    nasty = 'bafk"}],"name":"forged\\" \\ \x01\x1f\x7f é \u2028 😀'
    asset = owner.assets.register(manifest(), nasty, ConsentPolicy(("diagnosis",)), 'p"\\')
    # purposes are any 32 bytes to the contract: malformed UTF-8, NUL and quotes included
    raw = [b'a"\\\xff\xc3(\xed\xa0\x80\xf0\x9f\x98\x80\x00z', b"\xc0\xaf\xe0\x80\xaf\xf4\x90"]
    terms = ([p.ljust(32, b"\0") for p in raw], [], "0x" + "00" * 20, 0, 0, 0, 5, False, "p")
    owner.caller.send("set raw terms", owner.contracts.assets.functions.setPolicy(asset, terms))

    document = _metadata(chain_net, asset)

    assert document["name"] == f"dain data asset 0x{asset:064x}"  # not "forged"
    assert _trait(document, "manifest CID") == nasty
    assert _trait(document, "policy CID") == "p"
    r = "\ufffd"
    assert _traits(document, "purpose") == [f'a"\\{r}{r}({r}{r}{r}😀\x00z', r * 7]


def test_every_policy_change_emits_metadata_update(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    start = chain_net.chain.block_number()
    asset = chain_net.asset(owner)
    owner.assets.set_policy(asset, ConsentPolicy(("research",)), "bafkreinew")
    owner.assets.revoke(asset)
    other = chain_net.asset(owner)

    logs = _contract(chain_net).events.MetadataUpdate().get_logs(from_block=start)

    # registering sets the first policy; then a replacement and a revocation
    assert [log["args"]["_tokenId"] for log in logs] == [asset, asset, asset, other]


def test_supports_erc721_metadata_and_erc4906(chain_net: ChainNet) -> None:
    supports = _contract(chain_net).functions.supportsInterface
    for interface in ("49064906", "80ac58cd", "5b5e139f", "01ffc9a7"):
        assert supports(bytes.fromhex(interface)).call(), interface
    assert not supports(bytes.fromhex("ffffffff")).call()


def test_an_unknown_token_has_no_metadata(chain_net: ChainNet) -> None:
    with pytest.raises(DainError) as refused:
        chain_net.member().assets.metadata(12345)
    assert "no data asset" in refused.value.message


ETHERS = """
const { JsonRpcProvider, Contract } = require("ethers");
const { DAIN_TEST_RPC: rpc, DAIN_TEST_ASSETS: address, DAIN_TEST_ASSET: asset } = process.env;
const abi = ["function tokenURI(uint256) view returns (string)",
             "function supportsInterface(bytes4) view returns (bool)"];
(async () => {
    const assets = new Contract(address, abi, new JsonRpcProvider(rpc));
    const uri = await assets.tokenURI(BigInt(asset));
    const prefix = "data:application/json;base64,";
    if (!uri.startsWith(prefix)) throw new Error("not a data: URI: " + uri.slice(0, 40));
    const text = new TextDecoder("utf-8", { fatal: true })
        .decode(Buffer.from(uri.slice(prefix.length), "base64"));
    console.log(JSON.stringify({ metadata: JSON.parse(text),
                                 erc4906: await assets.supportsInterface("0x49064906") }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.mark.node
@pytest.mark.parametrize("chain", ["anvil"], indirect=True)  # ethers reads over JSON-RPC
def test_ethers_reads_the_same_metadata_from_anvil(chain_net: ChainNet) -> None:
    assert isinstance(chain_net.chain, RpcChain)
    owner = chain_net.member()
    asset = owner.assets.register(manifest(), 'm"\\', ConsentPolicy(("diagnosis",)), "p")
    env = os.environ | {"DAIN_TEST_RPC": chain_net.chain.web3.provider.endpoint_uri,
                        "DAIN_TEST_ASSETS": owner.assets.address, "DAIN_TEST_ASSET": str(asset)}

    done = subprocess.run(["node", "-e", ETHERS], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip

    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["erc4906"] is True
    assert seen["metadata"] == owner.assets.metadata(asset)
    assert _trait(seen["metadata"], "manifest CID") == 'm"\\'
