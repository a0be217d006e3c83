"""A loopback server that answers with bytes a test chose: for answers IMDS would never send.

Each connection gets the next reply of the list (the last one repeats), then is closed. What
each connection sent is recorded. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any, List, Sequence


class CannedServer:
    """Answers each connection with the next of ``replies``, then closes it."""

    def __init__(self, replies: Sequence[bytes]) -> None:
        self.replies = list(replies)
        self.received: List[bytes] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.received.append(data)
                reply = self.replies[min(len(self.received), len(self.replies)) - 1]
                with contextlib.suppress(OSError):  # the client may hang up first
                    conn.sendall(reply)

    def close(self) -> None:
        self.listener.close()

    def __enter__(self) -> CannedServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def http_reply(status: int, body: bytes, *headers: str, reason: str = "OK") -> bytes:
    """Return the bytes of a whole HTTP/1.1 response with a Content-Length."""
    head = [f"HTTP/1.1 {status} {reason}", *headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def json_reply(status: int, text: str, *headers: str) -> bytes:
    """Return a whole HTTP/1.1 response carrying ``text`` as its JSON body."""
    return http_reply(status, text.encode("utf-8"), "Content-Type: application/json", *headers)
