"""A node's home folder: key, settings, blobs and state.

<home>/keystore.json   the node's secp256k1 key (v3 keystore, encrypted)
<home>/node.toml       settings (below)
<home>/tls.key         the key the node serves HTTPS with (P-256, mode 0600; see dain.node.tls)
<home>/tls.crt         its self-signed certificate, whose SHA-256 the node publishes on chain
<home>/blobs/          content-addressed blobs (models, updates, documents)
<home>/state.db        SQLite: assets, updates trained, deliveries made, envelopes taken,
                       metrics made and reports taken (dain.node.evaluation_store)
<home>/logs/node.log   what the node did, one line per event (rotated: node.log.1 ... .5)
<home>/hold.json       only in tests: a secure round to stop in (see `service.open_node`)
"""

from __future__ import annotations

import json
import os
import string
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dain.errors import ConfigError
from dain.identity import Identity

LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class AutoEnrollConfig:
    """node.toml's [auto_enroll] table: whether the node enrolls its assets in approved jobs
    on its own, and which. A job must also pass each asset's own consent policy."""

    enabled: bool = False  # off unless the owner opts in
    purposes: tuple[str, ...] = ()  # only jobs for these purposes; empty: any the policy allows
    assets: tuple[str, ...] = ()  # only these assets (0x ids); empty: every asset of the node

    def to_toml(self) -> str:
        return (
            "\n[auto_enroll]\n"
            "# enroll this node's assets in approved jobs their consent policies allow\n"
            f"enabled = {str(self.enabled).lower()}\n"
            "# only jobs for these purposes (empty: any purpose a policy allows)\n"
            f"purposes = {json.dumps(list(self.purposes))}\n"
            "# only these assets, by 0x id (empty: every asset of this node)\n"
            f"assets = {json.dumps(list(self.assets))}\n"
        )

    def asset_ids(self) -> set[int]:
        return {int(a, 16) for a in self.assets}

    @classmethod
    def from_toml(cls, raw: Any, where: Path) -> AutoEnrollConfig:
        def problem(what: str) -> ConfigError:
            return ConfigError(f"{where}: [auto_enroll] {what}.",
                               hint="See 'dain node init --help' for the settings.")  # fmt: skip

        if not isinstance(raw, dict):
            raise problem("must be a table")
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise problem(f"has unknown settings: {', '.join(sorted(unknown))}")
        enabled, purposes, assets = (raw.get(f.name, f.default) for f in fields(cls))
        if not isinstance(enabled, bool):
            raise problem("enabled must be true or false")
        for name, value in (("purposes", purposes), ("assets", assets)):
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise problem(f"{name} must be a list of strings")
        for asset in assets:
            digits = asset[2:] if asset.lower().startswith("0x") else ""
            if not digits or not set(digits) <= set(string.hexdigits):
                raise problem(f"'{asset}' is not an asset id (0x followed by hex digits)")
        return cls(enabled, tuple(purposes), tuple(assets))


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
    log_level: str = "info"  # what logs/node.log and the console show: debug ... error
    # the dashboard (/ui) acts with the node's key: it answers this machine only unless true
    dashboard_remote: bool = False
    auto_enroll: AutoEnrollConfig = field(default_factory=AutoEnrollConfig)

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def to_toml(self) -> str:
        lines = ["# dain node settings"]
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, AutoEnrollConfig):
                continue  # a table: after every plain setting, as TOML requires
            if isinstance(value, bool):  # before int: a bool is one, and TOML spells it lower
                lines.append(f"{f.name} = {str(value).lower()}")
            elif isinstance(value, int | float):
                lines.append(f"{f.name} = {value!r}")
            else:
                lines.append(f"{f.name} = {json.dumps(value)}")  # a quoted, escaped string
        return "\n".join(lines) + "\n" + self.auto_enroll.to_toml()


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
    def log_file(self) -> Path:
        return self.root / "logs" / "node.log"

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
        if "auto_enroll" in raw:
            raw["auto_enroll"] = AutoEnrollConfig.from_toml(raw["auto_enroll"], self.config_file)
        try:
            config = NodeConfig(**raw)
        except TypeError as exc:
            raise ConfigError(f"{self.config_file} is incomplete ({exc}).") from exc
        if not isinstance(config.train_threads, int) or config.train_threads < 0:
            raise ConfigError(
                f"{self.config_file}: train_threads must be a whole number, 0 or more.",
                hint="Use 0 to let training use every core.",
            )
        if not isinstance(config.dashboard_remote, bool):
            raise ConfigError(
                f"{self.config_file}: dashboard_remote must be true or false.",
                hint="false (the default) lets only this machine open the dashboard.",
            )
        if config.log_level not in LOG_LEVELS:
            raise ConfigError(
                f"{self.config_file}: log_level must be one of {', '.join(LOG_LEVELS)}, "
                f"not {config.log_level!r}."
            )
        return config
