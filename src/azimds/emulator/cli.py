"""``azimds emulator serve`` and ``azimds emulator fleet``: run the emulator from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, List, Optional

from ..cli import exits

if TYPE_CHECKING:  # the handlers import these when they run, keeping `azimds --help` fast
    from .profile import VMProfile
    from .server import Emulator

DEFAULT_PORT = 8169

SERVE_HELP = """\
Serve Azure IMDS for one VM on loopback, as a real VM's 169.254.169.254 would.

Try it:
  azimds emulator serve &
  curl -H Metadata:true "http://127.0.0.1:8169/metadata/instance?api-version=2021-02-01"

The VM comes from --profile (YAML or JSON; see src/azimds/data/default-profile.yaml for every
key) or the built-in default. Faults can be scripted with --fault, in the profile, or while it
runs through the control API:
  curl -X POST -d '{"kind": "status", "status": 500, "times": 3}' http://127.0.0.1:8169/azimds/faults
Fault kinds: status (with status, times or seconds), latency (delay), reset, truncate,
malformed, oversized (bytes), redirect (location).

Every flag can also come from the environment: AZIMDS_EMULATOR_PROFILE, AZIMDS_EMULATOR_HOST,
AZIMDS_EMULATOR_PORT. It listens on loopback only, unless --allow-address is given; the one
legitimate use of that is 169.254.169.254:80 inside a private network namespace (unshare -rn).
"""

FLEET_HELP = """\
Serve a fleet of VMs from one process, each VM at its own base URL, and write a manifest
for other tools (JSON: {"vms": [{"base_url", "name", "vmId", "location", "zone",
"platformFaultDomain", "platformUpdateDomain", "vmSize", "tags", ...}]}): what each VM serves.

SOURCE is a fleet spec (YAML: how many VMs per location, zones, fault and update domains,
sizes, tag distributions, scale sets; see docs/emulator.md) or a directory of VM profiles.
With --addressing ports (default) each VM gets its own port on --host; with
--addressing addresses each VM gets its own loopback address (127.0.0.1, 127.0.0.2, ...) on
--port.
"""


def register(commands: Any) -> None:
    """Add ``emulator serve`` and ``emulator fleet`` to the ``azimds`` sub-commands."""
    emulator = commands.add_parser(
        "emulator", help="run the IMDS emulator", description="Run the Azure IMDS emulator."
    )
    verbs = emulator.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    serve = verbs.add_parser(
        "serve",
        help="serve one VM",
        description=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--profile",
        default=os.environ.get("AZIMDS_EMULATOR_PROFILE"),
        help="VM profile file (YAML or JSON); default: the built-in VM",
    )
    _add_bind_arguments(serve, default_port=f"{DEFAULT_PORT}, or AZIMDS_EMULATOR_PORT")
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='script a fault, e.g. \'{"kind": "status", "status": 410, "seconds": 70}\'; '
        "repeat for a sequence",
    )
    serve.set_defaults(handler=_serve)

    fleet = verbs.add_parser(
        "fleet",
        help="serve a fleet of VMs",
        description=FLEET_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fleet.add_argument("source", help="fleet spec file or directory of VM profiles")
    _add_bind_arguments(fleet, default_port="0")
    fleet.add_argument(
        "--addressing",
        choices=("ports", "addresses"),
        default="ports",
        help="one port per VM (default) or one loopback address per VM",
    )
    fleet.add_argument(
        "--manifest",
        default="azimds-fleet.json",
        help="where to write the list of VMs and base URLs (default: %(default)s)",
    )
    fleet.set_defaults(handler=_fleet)


def _add_bind_arguments(parser: argparse.ArgumentParser, default_port: str) -> None:
    parser.add_argument(
        "--host",
        default=os.environ.get("AZIMDS_EMULATOR_HOST", "127.0.0.1"),
        help="address to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=_port_argument,
        help=f"port to listen on, 0 for any free port (default: {default_port})",
    )
    parser.add_argument(
        "--allow-address",
        action="store_true",
        help="allow a non-loopback --host; only inside a private network namespace",
    )
    parser.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="turn off the 5 requests/second/VM limit (for benchmarks)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")


def _port_argument(text: str) -> int:
    port = parse_port(text)
    if port is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def parse_port(text: str) -> Optional[int]:
    """Return ``text`` as a port number (0 to 65535, ASCII digits), or None when it is not one."""
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or int(text) > 65535:
        return None
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    from .faults import FaultError, fault_from_mapping
    from .profile import ProfileError, default_profile, load_profile

    if args.port is None:
        from_environment = os.environ.get("AZIMDS_EMULATOR_PORT", str(DEFAULT_PORT))
        args.port = parse_port(from_environment)
        if args.port is None:
            return _fail(
                f"AZIMDS_EMULATOR_PORT={from_environment!r} is not a port number (0 to 65535); "
                "set it to one, unset it, or pass --port"
            )
    try:
        profile = load_profile(args.profile) if args.profile else default_profile()
        faults = [fault_from_mapping(json.loads(text)) for text in args.fault]
    except (ProfileError, FaultError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"--fault must be a JSON object: {exc}")
    emulator = _build(args, [profile])
    if emulator is None:
        return exits.USAGE
    for fault in faults:
        emulator.add_fault(fault)

    def announce() -> None:  # once listening: base_url holds the port only from then on
        url = f"{emulator.base_url}/metadata/instance?api-version=2021-02-01"
        print(f"azimds emulator: VM {profile.name} ({profile.vm_id}) at {emulator.base_url}")
        print(f'  try: curl -H Metadata:true "{url}"', flush=True)

    return _run(emulator, args, announce)


def _fleet(args: argparse.Namespace) -> int:
    from .fleet import load_fleet
    from .profile import ProfileError

    if args.port is None:
        args.port = 0
    try:
        profiles = load_fleet(args.source)
    except ProfileError as exc:
        return _fail(str(exc))
    emulator = _build(args, profiles, addressing=args.addressing)
    if emulator is None:
        return exits.USAGE

    def announce() -> None:
        emulator.write_manifest(args.manifest)
        print(
            f"azimds emulator: {len(profiles)} VMs; manifest written to {args.manifest}", flush=True
        )

    return _run(emulator, args, announce)


def _build(
    args: argparse.Namespace, profiles: List[VMProfile], addressing: str = "ports"
) -> Optional[Emulator]:
    from .binding import BindRefused
    from .server import Emulator

    try:
        return Emulator(
            profiles,
            host=args.host,
            port=args.port,
            addressing=addressing,
            allow_any_address=args.allow_address,
            rate_limit=False if args.no_rate_limit else None,
        )
    except (BindRefused, ValueError) as exc:
        _fail(str(exc))
        return None


def _run(emulator: Emulator, args: argparse.Namespace, announce: Any) -> int:
    import logging

    from .binding import DescriptorLimit

    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        stream=sys.stderr,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        emulator.start()
    except DescriptorLimit as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    try:
        announce()
        stop.wait()
    finally:
        emulator.stop()
    return exits.OK


def _fail(message: str) -> int:
    print(f"azimds emulator: {message}", file=sys.stderr)
    return exits.USAGE
