"""Identity errors.

IdentityError
├── KeystoreError     a keystore file is missing, malformed or the password is wrong
├── DidError          a DID string is not did:pkh:eip155:<chainId>:<address>
└── SignatureError    a signature does not verify or names another signer
"""

from dain.errors import DainError


class IdentityError(DainError):
    pass


class KeystoreError(IdentityError):
    pass


class DidError(IdentityError):
    pass


class SignatureError(IdentityError):
    pass
