"""A TLS server on 127.0.0.1 that stands for a peer: an honest node, or an impostor at a
member's endpoint with a certificate of its own. It records every byte of application
data each connection sends after its handshake, and answers a whole request with 200 and
`{}`. So a test can tell "never contacted", "saw a handshake only" and "got a request"."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path

ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
          b"Connection: close\r\n\r\n{}")  # fmt: skip


class TlsPeer:
    def __init__(self, key: Path, certificate: Path, port: int = 0) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(certificate, key)
        self._server = socket.create_server(("127.0.0.1", port))  # SO_REUSEADDR: port reused
        self.port = self._server.getsockname()[1]
        self.connections = 0  # TCP connections accepted
        self.handshakes = 0  # TLS handshakes the client completed
        self.received: list[bytes] = []  # application data, per connection that sent any
        self._lock = threading.Lock()
        self._talks: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:  # closed
                return
            talk = threading.Thread(target=self._talk, args=(connection,), daemon=True)
            with self._lock:
                self.connections += 1
                self._talks.append(talk)
            talk.start()

    def _talk(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        try:
            tls = self._context.wrap_socket(connection, server_side=True)
        except (ssl.SSLError, OSError):  # the client refused this certificate
            connection.close()
            return
        with tls:
            with self._lock:
                self.handshakes += 1
            data = self._request(tls)
            if data:
                with self._lock:
                    self.received.append(data)
                if b"\r\n\r\n" in data:
                    tls.sendall(ANSWER)

    def _request(self, tls: ssl.SSLSocket) -> bytes:
        """Whatever the client sends: a request's head and body, or less if it stops."""
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(65536)
                if not chunk:
                    return data
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
            while len(body) < length:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                body += chunk
                data += chunk
        except (ssl.SSLError, OSError):
            pass
        return data

    def close(self) -> None:
        """Stops listening, and waits for the connections under way to end."""
        with contextlib.suppress(OSError):  # wakes the accept under way (close alone does not)
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=5)
        with self._lock:
            talks = list(self._talks)
        for talk in talks:
            talk.join(timeout=10)
