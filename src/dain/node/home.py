"""A node's home folder: key, settings, blobs and state.

<home>/keystore.json   the node's secp256k1 key (v3 keystore, encrypted)
<home>/node.toml       settings (below)
<home>/tls.key         the key the node serves HTTPS with (P-256, mode 0600; see dain.node.tls)
<home>/tls.crt         its self-signed certificate, whose SHA-256 the node publishes on chain
<home>/blobs/          content-addressed blobs (models, updates, documents)
<home>/state.db        SQLite: assets, updates trained, deliveries made, envelopes taken
<home>/hold.json       only in tests: a secure round to stop in (see `service.open_node`)
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from dain.errors import ConfigError
from dain.identity import Identity


@dataclass(frozen=True)
class NodeConfig:
    name: str
    host: str = "127.0.0.1"
    port: int = 8600
    # serve peers over HTTPS with the home's certificate, whose fingerprint goes on chain
    tls: bool = True
    rpc: str = "http://127.0.0.1:8545"  # the chain's JSON-RPC endpoint
    deployment: str = ""  # path of the network's deployment.json
    max_body_bytes: int = 16 * 2**20  # refuse larger requests with 413
    poll_seconds: float = 0.3  # how often the job runner reads the chain
    peer_timeout_seconds: float = 5.0  # a slower peer is skipped, never waited on
    peer_deadline_seconds: float = 20.0  # the longest any one exchange with a peer may take
    # peers at private or loopback addresses: only on a network of one's own (a devnet)
    allow_private_peers: bool = False
    # peers at plain http endpoints, or https ones whose member published no certificate
    # fingerprint: nothing proves who answers there, so only where every peer is one's own
    allow_plain_http_peers: bool = False
    train_threads: int = 0  # CPU threads for local training; 0 lets PyTorch use every core
    blob_quota_mb: int = 256  # what each other member may store here, in MiB
    blob_retention_days: float = 7.0  # finished jobs' round blobs are deleted after this

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def to_toml(self) -> str:
        lines = ["# dain node settings"]
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):  # before int: a bool is one, and TOML spells it lower
                lines.append(f"{f.name} = {str(value).lower()}")
            elif isinstance(value, int | float):
                lines.append(f"{f.name} = {value!r}")
            else:
                lines.append(f"{f.name} = {json.dumps(value)}")  # a quoted, escaped string
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class NodeHome:
    root: Path

    @property
    def keystore(self) -> Path:
        return self.root / "keystore.json"

    @property
    def config_file(self) -> Path:
        return self.root / "node.toml"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def state(self) -> Path:
        return self.root / "state.db"

    @property
    def hold(self) -> Path:
        return self.root / "hold.json"

    @property
    def pid_file(self) -> Path:
        return self.root / "node.pid"

    @property
    def tls_key(self) -> Path:
        return self.root / "tls.key"

    @property
    def tls_certificate(self) -> Path:
        return self.root / "tls.crt"

    def tls_fingerprint(self, config: NodeConfig) -> bytes:
        """The fingerprint of the node's TLS certificate, made first if the home has none
        (a home made before dain served HTTPS gets one at its next start)."""
        from dain.node.tls import certificate_der, create_certificate, fingerprint

        if self.tls_certificate.exists():
            if not self.tls_key.exists():
                raise ConfigError(
                    f"{self.tls_certificate} has no key beside it ({self.tls_key.name}).",
                    hint="Move the certificate away: the node makes a new pair at its next "
                    "start and publishes the new fingerprint.",
                )
            return fingerprint(certificate_der(self.tls_certificate))
        self.tls_key.unlink(missing_ok=True)  # a key without its certificate is of no use
        return create_certificate(self.tls_key, self.tls_certificate, config.host, config.name)

    def init(
        self,
        config: NodeConfig,
        password: str,
        *,
        scrypt_n: int = 2**18,
        identity: Identity | None = None,
    ) -> Identity:
        """Creates the home with `identity`'s key (a new one unless given), encrypted under
        `password`; refuses to touch an existing home."""
        if self.config_file.exists():
            raise ConfigError(
                f"{self.root} already holds a node.", hint="Choose another --home or name."
            )
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        identity = identity or Identity.create()
        identity.save_keystore(self.keystore, password, scrypt_n=scrypt_n)
        self.config_file.write_text(config.to_toml())
        self.blobs.mkdir(exist_ok=True)
        if config.tls:
            self.tls_fingerprint(config)
        return identity

    def config(self) -> NodeConfig:
        try:
            raw = tomllib.loads(self.config_file.read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"No node at {self.root}.", hint="Create one with 'dain node init --name NAME'."
            ) from None
        except ValueError as exc:  # not TOML, or an integer of thousands of digits
            raise ConfigError(f"{self.config_file} is not valid TOML: {exc}.") from exc
        known = {f.name for f in fields(NodeConfig)}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(
                f"{self.config_file} has unknown settings: {', '.join(sorted(unknown))}."
            )
        try:
            config = NodeConfig(**raw)
        except TypeError as exc:
            raise ConfigError(f"{self.config_file} is incomplete ({exc}).") from exc
        if not isinstance(config.train_threads, int) or config.train_threads < 0:
            raise ConfigError(
                f"{self.config_file}: train_threads must be a whole number, 0 or more.",
                hint="Use 0 to let training use every core.",
            )
        return config
