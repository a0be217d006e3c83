"""Baseline servers for the emulator benchmark: the same document bytes for every request.

Run: python bench/static_server.py asyncio|threading  (prints its base URL, serves until killed)
"""

from __future__ import annotations

import asyncio
import http.server
import json
import sys

from azimds.emulator import default_profile
from azimds.imds import versions

DOCUMENT = json.dumps(
    versions.document_at(default_profile().instance, versions.NEWEST), separators=(",", ":")
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: %d\r\n\r\n" % len(DOCUMENT) + DOCUMENT
)


class StaticProtocol(asyncio.Protocol):
    """Answers each complete request head with the same bytes; parses nothing else."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(RESPONSE)


async def serve_asyncio() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(StaticProtocol, "127.0.0.1", 0, backlog=512)
    print(f"static-asyncio at http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


class StaticHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(DOCUMENT)))
        self.end_headers()
        self.wfile.write(DOCUMENT)

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients vanishing at the end of a run are expected


def main() -> None:
    if sys.argv[1:] == ["asyncio"]:
        asyncio.run(serve_asyncio())
    else:
        server = QuietServer(("127.0.0.1", 0), StaticHandler)
        print(f"static-http.server at http://127.0.0.1:{server.server_address[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
