"""The emulator's life cycle: one process serving one VM or a fleet, each VM at its own URL.

``Emulator`` runs an asyncio event loop in a background thread (library mode, a context
manager) or under ``azimds emulator serve|fleet``. Each VM listens on its own socket (see
``binding``); its base URL answers IMDS (``vm``) and the control API (``control``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .accepting import AcceptFailureLog
from .authority import CertificateAuthority
from .binding import (
    BACKLOG,
    check_bind_address,
    listening_socket,
    plan_binds,
    reserve_descriptors,
)
from .binding import base_url as socket_base_url
from .control import ControlAPI
from .faults import Fault
from .http import Connections, IMDSProtocol
from .profile import VMProfile, default_profile
from .ratelimit import Clock
from .vm import VM, RequestRecord


class Emulator:
    """Serve IMDS for one VM or a fleet; a context manager in library mode.

    ``addressing`` picks how VMs of a fleet are told apart: ``"ports"`` (each VM on its own
    port of ``host``; consecutive from ``port`` or free ports when ``port`` is 0) or
    ``"addresses"`` (each VM on its own loopback address from ``host`` upward, all on ``port``).
    """

    def __init__(
        self,
        profiles: Union[VMProfile, Sequence[VMProfile], None] = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        addressing: str = "ports",
        allow_any_address: bool = False,
        clock: Clock = time.monotonic,
        rate_limit: Optional[bool] = None,
    ) -> None:
        if profiles is None:
            profiles = [default_profile()]
        elif isinstance(profiles, VMProfile):
            profiles = [profiles]
        if not profiles:
            raise ValueError("an emulator needs at least one VM profile")
        check_bind_address(host, allow_any_address)
        self._binds = plan_binds(host, port, addressing, len(profiles), allow_any_address)
        self.authority = CertificateAuthority()
        self.vms = [VM(p, clock, rate_limit, self.authority) for p in profiles]
        self.connections = Connections()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._servers: List[asyncio.AbstractServer] = []
        self._loop_errors = AcceptFailureLog()

    # -- one-VM conveniences ------------------------------------------------------------

    @property
    def vm(self) -> VM:
        """Return the first (for a one-VM emulator, the only) VM."""
        return self.vms[0]

    @property
    def base_url(self) -> str:
        """Return the first VM's base URL, e.g. ``http://127.0.0.1:41234``."""
        return self.vm.base_url

    @property
    def requests(self) -> List[RequestRecord]:
        """Return the requests the first VM received."""
        return self.vm.requests

    def add_fault(self, spec: Union[Mapping[str, Any], Fault]) -> Fault:
        """Script a fault on the first VM; see ``VM.add_fault``."""
        return self.vm.add_fault(spec)

    def clear_faults(self) -> None:
        """Forget the first VM's scripted faults."""
        self.vm.clear_faults()

    def attestation_root_pem(self) -> bytes:
        """Return the root certificate (PEM) of this emulator's attestation test CA."""
        return self.authority.get().root_pem()

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving in a background thread; return self once every VM listens.

        Raises:
            DescriptorLimit: the file limit leaves no room for one socket per VM.
            OSError: an address or port could not be bound.
        """
        reserve_descriptors(len(self.vms))
        loop = asyncio.new_event_loop()
        self._loop_errors = AcceptFailureLog()
        loop.set_exception_handler(self._loop_errors)
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="azimds-emulator", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._bind_all(), loop)
        try:
            future.result(timeout=120)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and close every connection, idle or not; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def manifest(self) -> List[Dict[str, Any]]:
        """Return one entry per VM: its base URL and the facts it serves (``summary``)."""
        return [{**vm.profile.summary(), "base_url": vm.base_url} for vm in self.vms]

    def write_manifest(self, path: Union[str, Path]) -> None:
        """Write the manifest as JSON (``{"vms": [...]}``) to ``path``."""
        Path(path).write_text(json.dumps({"vms": self.manifest()}, indent=1) + "\n", "utf-8")

    async def _bind_all(self) -> None:
        loop = asyncio.get_running_loop()
        self.connections.start(loop)
        for vm, (address, port) in zip(self.vms, self._binds):
            sock = listening_socket(address, port)
            factory = functools.partial(IMDSProtocol, ControlAPI(vm), self.connections)
            server = await loop.create_server(factory, sock=sock, backlog=BACKLOG)
            self._servers.append(server)
            vm.base_url = socket_base_url(sock)

    async def _close_all(self) -> None:
        self._loop_errors.stopping = True
        for server in self._servers:
            server.close()
        self.connections.close_all()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
