from __future__ import annotations

from pathlib import Path

import pytest

from dain.identity import (
    DidError,
    Identity,
    KeystoreError,
    SignatureError,
    did_pkh,
    parse_did,
    recover_message_signer,
    sign_message,
    verify_message,
)

FAST_SCRYPT = 2**10  # keep tests quick; real keystores use the scrypt default


def test_keystore_round_trip_and_wrong_password(tmp_path: Path) -> None:
    identity = Identity.create()
    path = tmp_path / "keystore.json"
    identity.save_keystore(path, "correct horse", scrypt_n=FAST_SCRYPT)

    assert Identity.load_keystore(path, "correct horse").address == identity.address
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(KeystoreError, match="password is wrong"):
        Identity.load_keystore(path, "wrong")


def test_keystore_is_never_overwritten_and_bad_files_are_explained(tmp_path: Path) -> None:
    path = tmp_path / "keystore.json"
    Identity.create().save_keystore(path, "pw", scrypt_n=FAST_SCRYPT)
    with pytest.raises(KeystoreError, match="will not overwrite"):
        Identity.create().save_keystore(path, "pw", scrypt_n=FAST_SCRYPT)

    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(KeystoreError, match="not a keystore"):
        Identity.load_keystore(tmp_path / "junk.json", "pw")
    with pytest.raises(KeystoreError, match="dain node init"):
        Identity.load_keystore(tmp_path / "missing.json", "pw")


def test_did_round_trip_and_refusals() -> None:
    identity = Identity.create()
    did = identity.did(31337)

    assert did == f"did:pkh:eip155:31337:{identity.address}"
    assert parse_did(did) == (31337, identity.address)
    assert did_pkh(1, identity.address.lower()) == identity.did(1)
    for bad in (
        "did:web:example.com",
        f"did:pkh:eip155:0:{identity.address}",
        "did:pkh:eip155:1:0x12",
    ):
        with pytest.raises(DidError):
            parse_did(bad)
    # flip the case of one letter: EIP-55 fixes every letter's case, so this must fail
    letter = next(i for i, c in enumerate(identity.address) if i > 1 and c.isalpha())
    mangled = (
        identity.address[:letter]
        + identity.address[letter].swapcase()
        + identity.address[letter + 1 :]
    )
    with pytest.raises(DidError, match="checksum"):
        parse_did(f"did:pkh:eip155:1:{mangled}")


def test_message_signature_verifies_only_for_its_signer() -> None:
    alice, bob = Identity.create(), Identity.create()
    signature = sign_message(alice, b"hello")

    verify_message(b"hello", signature, alice.address)
    with pytest.raises(SignatureError):
        verify_message(b"hello", signature, bob.address)
    with pytest.raises(SignatureError):
        verify_message(b"hellO", signature, alice.address)
    with pytest.raises(SignatureError, match="malformed"):
        verify_message(b"hello", b"\x01" * 10, alice.address)


def test_only_the_canonical_form_of_a_signature_is_accepted() -> None:
    identity = Identity.create()
    signature = sign_message(identity, b"hello")
    assert recover_message_signer(b"hello", signature) == identity.address
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    high_s = r + (n - s).to_bytes(32, "big") + bytes([55 - v])  # the same signature, flipped
    for other in (signature[:64] + bytes([v + 17]), high_s, signature[:64]):
        with pytest.raises(SignatureError):
            recover_message_signer(b"hello", other)
