"""Keys, DIDs and signatures: the base every other layer signs with."""

from dain.identity.did import did_pkh, parse_did
from dain.identity.errors import DidError, IdentityError, KeystoreError, SignatureError
from dain.identity.keys import Identity
from dain.identity.signing import (
    recover_message_signer,
    recover_typed_data_signer,
    sign_message,
    sign_typed_data,
    verify_message,
)

__all__ = [
    "DidError",
    "Identity",
    "IdentityError",
    "KeystoreError",
    "SignatureError",
    "did_pkh",
    "parse_did",
    "recover_message_signer",
    "recover_typed_data_signer",
    "sign_message",
    "sign_typed_data",
    "verify_message",
]
