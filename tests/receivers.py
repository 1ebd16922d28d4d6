"""Real alert receivers on loopback for the alert tests: an HTTP webhook and an SMTP server that keep
what they are sent (stdlib only, one thread each)."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def _serving(server: socketserver.BaseServer) -> Iterator[int]:
    """Serve on a thread of its own until the block ends; yields the bound port."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])  # type: ignore[index]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def webhook(port: int = 0) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """POSTed JSON bodies, in arrival order; yields (port, bodies)."""
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"path": self.path, "auth": self.headers.get("Authorization"), **json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with _serving(ThreadingHTTPServer(("127.0.0.1", port), Handler)) as bound:
        yield bound, got


@contextmanager
def smtp_sink() -> Iterator[tuple[int, list[Any]]]:
    """A minimal SMTP server (RFC 5321 commands a client sends for one plain message); yields (port,
    messages) with each message parsed by the email package."""
    got: list[Any] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 sink ready\r\n")
            while line := self.rfile.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    self.wfile.write(b"250-sink\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    self.wfile.write(b"354 go on\r\n")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    got.append(message_from_bytes(data, policy=policy.default))
                    self.wfile.write(b"250 queued\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:  # MAIL FROM, RCPT TO, RSET, NOOP
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with _serving(server) as bound:
        yield bound, got


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
