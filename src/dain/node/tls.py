"""A node's TLS identity: a private key and a self-signed certificate in its home, and the
fingerprint of that certificate, which the node publishes on chain with its endpoint.

Trust comes from the chain, not from a certificate authority: a peer talks to a member's
node only if it presents the certificate whose fingerprint that member registered (see
`dain.node.pinning`). So the certificate is self-signed, and it never expires (RFC 5280's
99991231235959Z, "no well-defined expiration date"): a certificate is replaced by
registering the new one's fingerprint, which `dain node start` does at every start.

The fingerprint is the SHA-256 of the DER certificate, not of its public key (SPKI). It
names exactly what a peer's TLS context then trusts (that one certificate and nothing
else), and it is what `openssl x509 -noout -fingerprint -sha256` prints, so an operator can
compare it by eye. A key pin would survive re-issuing the certificate with the same key,
but a node registers its fingerprint again whenever it starts, so that would buy nothing.

The key is ECDSA P-256. Ed25519 works between two dain nodes as well (OpenSSL 3, TLS 1.3),
but every TLS stack, curl and browser accepts P-256, which matters when an operator checks
a node by hand. The key file is not encrypted, as a web server's is not: the node reads it
at every start with nobody there. It is created with mode 0600 inside the 0700 home.
(Encrypting it under the node's password with PKCS#8's PBKDF2 would hand an attacker who
copies it a far cheaper test of that password than the keystore's scrypt.)

`cryptography` and `ssl` load inside the functions: the CLI reads node homes without them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from dain.errors import ConfigError

if TYPE_CHECKING:
    import ssl

# RFC 5280 4.1.2.5: the value for a certificate with no well-defined expiration date
NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)  # valid from a day back, so a peer's slow clock accepts it


def fingerprint(der: bytes) -> bytes:
    """The SHA-256 of a DER certificate: what a member publishes on chain."""
    return hashlib.sha256(der).digest()


def create_certificate(key_file: Path, certificate_file: Path, host: str, name: str) -> bytes:
    """Makes a P-256 key (mode 0600) and a self-signed certificate for `host` (its subject
    alternative name); returns the certificate's fingerprint. Refuses to replace a key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dain"),
        x509.NameAttribute(NameOID.COMMON_NAME, name[:64] or "dain node"),  # X.520's limit
    ])  # fmt: skip
    usage = x509.KeyUsage(  # signs handshakes, nothing else: not a certificate authority
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(NEVER)
        .add_extension(x509.SubjectAlternativeName([_alternative_name(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    _write_new(key_file, pem_key, 0o600)
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return fingerprint(certificate.public_bytes(serialization.Encoding.DER))


def _alternative_name(host: str) -> object:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Writes a new file that never exists with a wider mode than `mode`, even briefly."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; dain does not replace a TLS key.",
                          hint="Move it away first if you mean to make a new one.") from None
    with os.fdopen(handle, "wb") as out:
        out.write(data)


def certificate_der(certificate_file: Path) -> bytes:
    """The DER bytes of the PEM certificate in `certificate_file`."""
    import ssl

    try:
        return ssl.PEM_cert_to_DER_cert(certificate_file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"No TLS certificate at {certificate_file}.",
                          hint="'dain node start' makes one for a node that has none.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{certificate_file} is not a PEM certificate ({exc}).") from None


def trusting(der: bytes) -> ssl.SSLContext:
    """A client context that trusts exactly the certificate `der`: no certificate
    authority, no other certificate. The host name is not checked, because the certificate
    itself, named on chain, says who the peer is; any other certificate fails the
    handshake before a byte of a request is written."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # loads no CA certificates
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata=der)
    return context
