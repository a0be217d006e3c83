# GENERATED from src/azimds/imds/endpoint.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""Where IMDS listens: the one rule for what an endpoint URL may be.

IMDS speaks plain HTTP at ``http://169.254.169.254``; an emulator listens at another
``http://HOST[:PORT]``. Nothing else (https, a path, a user, a query) is an IMDS endpoint.
Parsed by hand: ``urllib.parse`` would accept much more, and bring ``ipaddress`` along.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

from .paths import is_ascii_digits

LOOPBACK_NAMES = ("localhost", "::1")


class Endpoint(NamedTuple):
    """Where IMDS listens: ``base_url`` is the normalized ``http://host:port``."""

    host: str
    port: int
    base_url: str

    @property
    def is_loopback(self) -> bool:
        """Return True for this machine's own addresses (127.0.0.0/8, ::1, localhost)."""
        parts = self.host.split(".")
        dotted = len(parts) == 4 and all(is_ascii_digits(p) for p in parts)
        return self.host in LOOPBACK_NAMES or (dotted and parts[0] == "127")


def parse_endpoint(url: str) -> Endpoint:
    """Return the Endpoint of a base URL such as ``http://169.254.169.254`` or
    ``http://127.0.0.1:8080``.

    Raises:
        ValueError: the URL is not ``http://HOST[:PORT]`` (IMDS speaks plain HTTP, no path).
    """
    text = url.strip()
    authority = text[len("http://") :] if text[:7].lower() == "http://" else ""
    if authority.endswith("/"):
        authority = authority[:-1]
    host, port = _host_and_port(authority)
    if not host or any(ch in authority for ch in "/?#@ \t") or not 1 <= port <= 65535:
        raise ValueError(
            f"IMDS endpoint {url!r} is not of the form http://HOST[:PORT] "
            "(e.g. http://169.254.169.254 or http://127.0.0.1:8080); fix the endpoint argument "
            "or AZIMDS_ENDPOINT"
        )
    host = host.lower()
    shown = f"[{host}]" if ":" in host else host
    return Endpoint(host, port, f"http://{shown}:{port}")


def _host_and_port(authority: str) -> Tuple[str, int]:
    """Return (host, port) of ``host``, ``host:port`` or ``[v6]:port``; ("", -1) if neither."""
    if authority.startswith("["):
        end = authority.find("]")
        host, rest = (authority[1:end], authority[end + 1 :]) if end > 0 else ("", "")
    else:
        host, sep, port_text = authority.partition(":")
        rest = sep + port_text
    if not rest:
        return host, 80
    digits = rest[1:]
    if rest[0] != ":" or not is_ascii_digits(digits) or len(digits) > 5:
        return "", -1
    return host, int(digits)
