"""Which endpoint a node will talk to. A member writes its endpoint on chain itself, so it is
input from a stranger: a path, query or user part would let it aim other nodes' requests at
any URL (server-side request forgery), and a private or loopback address at services
behind their firewall. Only scheme, host and port are taken, and private addresses only
where the node's settings allow them (a devnet on one machine)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from dain.node.errors import PeerUnavailable

SCHEMES = {"http": 80, "https": 443}


def check_endpoint(url: str, *, allow_private: bool = False) -> str:
    """`url` as scheme://host:port if a node may contact it; PeerUnavailable says why not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PeerUnavailable(f"The endpoint {url!r} is not a URL ({exc}).") from None
    if parts.scheme not in SCHEMES:
        raise PeerUnavailable(f"The endpoint {url!r} must use http or https.")
    if parts.username is not None or parts.password is not None:
        raise PeerUnavailable(f"The endpoint {url!r} may not carry a user name or password.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise PeerUnavailable(f"The endpoint {url!r} may name a host and port only.")
    host = parts.hostname
    if not host:
        raise PeerUnavailable(f"The endpoint {url!r} names no host.")
    if not allow_private:
        for address in _addresses(host, url):
            if not address.is_global:
                raise PeerUnavailable(
                    f"The endpoint {url!r} is a private, loopback or reserved address "
                    f"({address}); this node talks to such peers only when its settings allow "
                    "it (allow_private_peers)."
                )
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}:{port or SCHEMES[parts.scheme]}"


def _addresses(host: str, url: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:  # a name: every address it resolves to must pass
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise PeerUnavailable(f"The endpoint {url!r} does not resolve ({exc}).") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
