"""Keys, DIDs and signatures: the base every other layer signs with.

Names load on first use, so a command that needs one light part does not pay for the rest.
"""

from dain.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "parse_address": "dain.identity.addresses",
    "did_pkh": "dain.identity.did",
    "parse_did": "dain.identity.did",
    "DidError": "dain.identity.errors",
    "IdentityError": "dain.identity.errors",
    "KeystoreError": "dain.identity.errors",
    "SignatureError": "dain.identity.errors",
    "Identity": "dain.identity.keys",
    "recover_message_signer": "dain.identity.signing",
    "recover_typed_data_signer": "dain.identity.signing",
    "sign_message": "dain.identity.signing",
    "sign_typed_data": "dain.identity.signing",
    "verify_message": "dain.identity.signing",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports("dain.identity", _EXPORTS)
