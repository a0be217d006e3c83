"""Where the VMs of an emulator listen: loopback only, one socket per VM, within the file limit."""

from __future__ import annotations

import ipaddress
import resource
import socket
from typing import List, Tuple

BACKLOG = 512
# Descriptors a running emulator needs beyond its listening sockets: the interpreter's own
# files, the event loop, and room for connections.
RESERVED_DESCRIPTORS = 32


class BindRefused(ValueError):
    """The emulator was asked to listen on an address that is not loopback."""


class DescriptorLimit(OSError):
    """The process may not open enough files for one listening socket per VM."""


def check_bind_address(host: str, allow_any_address: bool) -> None:
    """Refuse to listen anywhere but loopback unless explicitly allowed.

    Raises:
        BindRefused: ``host`` is not a loopback address and ``allow_any_address`` is False.
    """
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise BindRefused(f"bind address {host!r} is not an IP address; use 127.0.0.1") from None
    if address.is_unspecified:
        raise BindRefused(
            f"refusing to listen on {host}: that is every interface of this machine, and the "
            "emulator's control API has no authentication; use 127.0.0.1"
        )
    if not address.is_loopback and not allow_any_address:
        raise BindRefused(
            f"refusing to listen on {host}: the emulator serves loopback only. The one legitimate "
            "other address is 169.254.169.254 inside a private network namespace "
            "(unshare -rn); pass allow_any_address / --allow-address for that"
        )


def plan_binds(
    host: str, port: int, addressing: str, count: int, allow_any_address: bool
) -> List[Tuple[str, int]]:
    """Return the (address, port) each of ``count`` VMs listens on.

    ``"ports"``: every VM on ``host``, on consecutive ports from ``port`` (free ports when 0);
    ``"addresses"``: every VM on ``port``, on consecutive addresses from ``host``.

    Raises:
        ValueError: the addressing is unknown, or the ports run past 65535.
        BindRefused: an address of the plan is not loopback.
    """
    first = "127.0.0.1" if host == "localhost" else host
    if addressing == "ports":
        if port and port + count - 1 > 65535:
            raise ValueError(f"{count} VMs from port {port} run past port 65535")
        return [(first, port + i if port else 0) for i in range(count)]
    if addressing != "addresses":
        raise ValueError("addressing must be 'ports' or 'addresses'")
    addresses = [ipaddress.ip_address(first) + i for i in range(count)]
    for address in addresses:
        check_bind_address(str(address), allow_any_address)
    return [(str(address), port) for address in addresses]


def reserve_descriptors(listeners: int) -> None:
    """Make room for ``listeners`` listening sockets, raising the soft file limit if needed.

    Raises:
        DescriptorLimit: even the hard limit leaves too little room; the message says the
            limit and how to raise it.
    """
    needed = listeners + RESERVED_DESCRIPTORS
    wanted = 2 * listeners + RESERVED_DESCRIPTORS  # connections to many VMs at once
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if raised > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise DescriptorLimit(
            f"{listeners} VMs need at least {needed} open files (one listening socket each, "
            f"plus {RESERVED_DESCRIPTORS} for connections), but this process may open only "
            f"{soft} (ulimit -n; hard limit {_shown(hard)}). Raise it, e.g. 'ulimit -n "
            f"{wanted}' in the shell that starts the emulator (beyond the hard limit as root), "
            "or serve fewer VMs"
        )


def listening_socket(address: str, port: int) -> socket.socket:
    """Return a non-blocking socket listening on ``address``:``port`` (0: a free port).

    Raises:
        OSError: the socket cannot be made or bound (address in use, no descriptors, ...).
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    """Return the base URL a client uses for a listening socket, e.g. ``http://127.0.0.1:8169``."""
    address, port = sock.getsockname()[:2]
    shown = f"[{address}]" if ":" in address else address
    return f"http://{shown}" + ("" if port == 80 else f":{port}")


def _shown(limit: int) -> str:
    return "unlimited" if limit == resource.RLIM_INFINITY else str(limit)
