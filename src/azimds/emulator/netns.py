"""A private network: a namespace with nothing but loopback, where nothing can leave the machine.

The tests, the benchmarks and the demo run the emulator and the tools under test in one: an
emulator can listen at the real IMDS address, 169.254.169.254:80, and a tool that looks names up
or reaches out (Salt's core grains ask the resolver about the host name even with
``enable_fqdns_grains: False``; Ansible's fact gathering reads interfaces and names) fails at once
instead of sending a packet anywhere.

    with PrivateNetwork(imds_address=True) as network:   # 169.254.169.254 is on its loopback
        network.run(["ip", "addr"])
        server = network.popen(["azimds", "emulator", "serve", ...])

The namespace is made with ``unshare -rn`` (a user namespace mapping the caller to root, and a
network namespace) and held open by a sleeping process; commands join it with ``nsenter``.
Every process started with ``popen`` is stopped with its process group on ``close``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, List, Optional, Sequence

IMDS_ADDRESS = "169.254.169.254"
TOOLS = ("unshare", "nsenter", "ip")


def available() -> Optional[str]:
    """Return None when private networks can be made here, else why not (one sentence)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found (util-linux and iproute2 provide them)"
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"unshare -rn is refused here: {probe.stderr.strip() or probe.returncode}"
    return None


class PrivateNetwork:
    """A network namespace with only loopback (and, if asked, 169.254.169.254 on it).

    ``setup`` is more shell to run as root inside it before anything else (``ip`` commands).
    """

    def __init__(self, imds_address: bool = False, setup: str = "") -> None:
        self.imds_address = imds_address
        self.setup = setup
        self._holder: Optional[subprocess.Popen[bytes]] = None
        self._processes: List[subprocess.Popen[Any]] = []

    def start(self) -> PrivateNetwork:
        """Make the namespace; return self.

        Raises:
            RuntimeError: the namespace could not be made (the reason is in the message).
        """
        setup = "ip link set lo up"
        if self.imds_address:
            setup += f" && ip addr add {IMDS_ADDRESS}/32 dev lo"
        if self.setup:
            setup += f" && {self.setup}"
        # The holder prints one line once the namespace is ready, then sleeps until stopped.
        holder = subprocess.Popen(
            ["unshare", "-rn", "sh", "-c", f"{setup} && echo ready && exec sleep 86400"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._holder = holder
        assert holder.stdout is not None and holder.stderr is not None
        if holder.stdout.readline().strip() != b"ready":  # the setup failed: sh has ended
            problem = holder.stderr.read().decode("utf-8", "replace").strip()
            self.close()
            raise RuntimeError(f"cannot make a private network namespace: {problem}")
        return self

    def command(self, argv: Sequence[str]) -> List[str]:
        """Return ``argv`` prefixed so that it runs inside the namespace."""
        if self._holder is None:
            raise RuntimeError("the private network is not started")
        return [
            "nsenter",
            f"--target={self._holder.pid}",
            "--user",
            "--net",
            "--preserve-credentials",
            "--",
            *argv,
        ]

    def run(self, argv: Sequence[str], **options: Any) -> subprocess.CompletedProcess[Any]:
        """Run ``argv`` inside the namespace to its end (``subprocess.run`` options apply;
        the timeout is 120 s unless given, None for none)."""
        options.setdefault("timeout", 120)
        return subprocess.run(self.command(argv), **options)

    def popen(self, argv: Sequence[str], **options: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside the namespace, in its own process group; stopped by close."""
        process = subprocess.Popen(self.command(argv), start_new_session=True, **options)
        self._processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[Any], grace: float = 10.0) -> None:
        """Stop a process started with ``popen`` and every process of its group."""
        stop_process_groups([process], grace)
        if process in self._processes:
            self._processes.remove(process)

    def close(self, grace: float = 5.0) -> None:
        """Stop every process started here, then the namespace's holder. Safe to call twice.

        All are asked to stop at once (SIGTERM); what still runs after ``grace`` seconds is
        killed (SIGKILL), so closing takes at most about ``grace`` seconds.
        """
        stop_process_groups(self._processes, grace)
        self._processes.clear()
        if self._holder is not None:
            stop_process_groups([self._holder], grace)
            for stream in (self._holder.stdout, self._holder.stderr):
                if stream is not None:
                    stream.close()
            self._holder = None

    def __enter__(self) -> PrivateNetwork:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def stop_process_groups(processes: Sequence[subprocess.Popen[Any]], grace: float) -> None:
    """Stop each process and its process group (it must lead one: ``start_new_session``).

    SIGTERM to every group at once, then SIGKILL to what still runs after ``grace`` seconds;
    children that outlive their leader are killed with the group.
    """
    for process in processes:
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _signal_group(group: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, number)


def loopback_packets() -> int:
    """Return the packets sent on loopback so far, in the calling process's network namespace.

    Inside a private network loopback is the only interface: this counts every packet sent.
    """
    for line in Path("/proc/self/net/dev").read_text(encoding="ascii").splitlines():
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            return int(counters.split()[9])  # transmit packets
    raise RuntimeError("no lo in /proc/self/net/dev")
