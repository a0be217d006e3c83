"""The IMDS sub-commands of ``azimds``: get, facts, tags, versions, detect.

Each prints a readable table on a terminal and JSON when piped or asked (``-o json``), and
returns an exit code; see ``EXIT_CODES`` and docs/cli.md.
"""

from __future__ import annotations

import os
import sys

from ..imds import jsontext, versions
from ..imds.client import Client, field_path, split_path
from ..imds.detect import detect
from ..imds.errors import (
    AzimdsError,
    BadRequest,
    MalformedResponse,
    NotFound,
    NotOnAzure,
    Redirected,
    Unavailable,
    VersionNotAvailable,
)
from .cmdline import Command, Option, Positional, Values, add_parser

TYPE_CHECKING = False  # typing is not imported at run time: see azimds/__init__.py
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NOT_ON_AZURE = 3
EXIT_UNAVAILABLE = 4
EXIT_NOT_FOUND = 5
EXIT_REJECTED = 6
EXIT_VERSION = 7
EXIT_BAD_RESPONSE = 8

# Error class -> exit code; the first matching row wins (subclasses before their bases).
EXIT_CODES: Tuple[Tuple[Type[AzimdsError], int], ...] = (
    (NotOnAzure, EXIT_NOT_ON_AZURE),
    (Unavailable, EXIT_UNAVAILABLE),
    (NotFound, EXIT_NOT_FOUND),
    (BadRequest, EXIT_REJECTED),
    (VersionNotAvailable, EXIT_VERSION),
    (Redirected, EXIT_BAD_RESPONSE),
    (MalformedResponse, EXIT_BAD_RESPONSE),
)

EPILOG = """\
The endpoint is found without network traffic: --endpoint, else AZIMDS_ENDPOINT, else
http://169.254.169.254 when this machine is an Azure VM (DMI chassis asset tag). Off Azure,
nothing is sent. AZIMDS_DISABLE=1 turns every request off.

Exit codes: 0 done; 2 usage error; 3 not on Azure (nothing sent); 4 IMDS unavailable (every
attempt failed or the deadline passed); 5 no such element (404); 6 request rejected (other 4xx);
7 api-version not available; 8 unusable response (malformed, too large, redirect).
"""


def _seconds(text: str) -> float:
    """Return ``text`` as a positive number of seconds.

    Raises:
        argparse.ArgumentTypeError: it is not one (argparse prints the message).
    """
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        import argparse  # only on this error path: see azimds/cli/cmdline.py

        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


ENDPOINT = Option(
    "--endpoint",
    metavar="URL",
    help="IMDS base URL, e.g. http://127.0.0.1:8169 for the emulator (default: "
    "AZIMDS_ENDPOINT, or 169.254.169.254 on an Azure VM)",
)
TIMEOUT = Option(
    "--timeout",
    convert=_seconds,
    default=90.0,
    metavar="SECONDS",
    help="give up after this long, retries included (default: %(default)g)",
)
VERBOSE = Option(
    "-v",
    "--verbose",
    switch=True,
    help="print each request to IMDS on stderr (status, time, request id)",
)
OUTPUT = Option(
    "-o",
    "--output",
    choices=("table", "json"),
    help="table (default on a terminal) or json (default when piped)",
)


def _run_get(args: Values) -> int:
    def work() -> int:
        segments = split_path(args.path)
        needs = [field_path(segments)] if segments else []
        client = _client(args, api_version=args.api_version, needs=needs)
        if args.format is not None or not segments:
            node = client.get(args.path, format=args.format or "json")
            _print_node(node.value, as_text=args.format == "text")
            return EXIT_OK
        # Without --format, ask for the parent node as JSON and pick the child locally: one
        # request whether the child is a node or a single value (which IMDS serves only as
        # text), so no second request is needed to find out which it is.
        parent = client.get("/".join(segments[:-1]), format="json")
        found, value = _child(parent.value, segments[-1])
        if not found:
            where = "/".join(segments[:-1]) or "the instance document"
            print(
                f"azimds: no element '{segments[-1]}' under {where} at api-version "
                f"{parent.api_version}; names are case-sensitive: "
                f"azimds get {'/'.join(segments[:-1])} --format text lists them",
                file=sys.stderr,
            )
            return EXIT_NOT_FOUND
        _print_node(value, as_text=not isinstance(value, (dict, list)))
        return EXIT_OK

    return _guarded(work)


def _child(node: Any, segment: str) -> Tuple[bool, Any]:
    """Return (found, value) of ``segment`` (a key, or an index into a list) under ``node``."""
    if isinstance(node, dict) and segment in node:
        return True, node[segment]
    if isinstance(node, list) and segment.isascii() and segment.isdigit():
        index = int(segment)
        if index < len(node):
            return True, node[index]
    return False, None


def _print_node(value: Any, as_text: bool) -> None:
    if as_text:
        text = str(value)
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    else:
        _print_json(value)


def _run_facts(args: Values) -> int:
    def work() -> int:
        from ..facts import model, shapes

        document = _client(args).instance()
        instance = model.normalize(document.data, document.api_version)
        shaper: Dict[str, Callable[[model.Instance], Dict[str, Any]]] = {
            "ansible": shapes.ansible_facts,
            "salt": shapes.salt_grains,
            "cloud-init": shapes.cloud_init_metadata,
        }
        facts = shaper[args.target](instance)
        if _wants_json(args):
            _print_json(facts)
        else:
            _print_table(("FACT", "VALUE"), list(_flatten(facts)))
        return EXIT_OK

    return _guarded(work)


def _run_tags(args: Values) -> int:
    def work() -> int:
        from ..facts import model

        document = _client(args).instance()
        instance = model.normalize(document.data, document.api_version)
        tags = instance.tags or {}
        for warning in instance.tag_warnings:
            print(f"azimds: warning: {warning}", file=sys.stderr)
        if _wants_json(args):
            _print_json(tags)
        elif tags:
            _print_table(("NAME", "VALUE"), sorted(tags.items(), key=lambda t: t[0].lower()))
        else:
            print("(no tags)")
        return EXIT_OK

    return _guarded(work)


def _run_versions(args: Values) -> int:
    def work() -> int:
        offered = _client(args).versions()
        chosen = versions.newest_common(offered)
        if _wants_json(args):
            _print_json({"offered": offered, "used": chosen, "azimds_newest": versions.NEWEST})
            return EXIT_OK
        rows = [
            (v, "yes" if versions.is_known(v) else "no", "<- used" if v == chosen else "")
            for v in offered
        ]
        _print_table(("API-VERSION", "KNOWN TO AZIMDS", ""), rows)
        if chosen is None:
            print("azimds knows none of these; upgrade azimds.", file=sys.stderr)
            return EXIT_VERSION
        return EXIT_OK

    return _guarded(work)


def _run_detect(args: Values) -> int:
    def work() -> int:
        found = detect(args.endpoint)
        if _wants_json(args):
            _print_json(found._asdict())
        else:
            _print_table(
                ("", ""),
                [
                    ("on Azure", "yes" if found.on_azure else "no"),
                    ("endpoint", found.endpoint or "-"),
                    ("decided by", found.source),
                    ("because", found.reason),
                ],
                header=False,
            )
        return EXIT_OK if found.on_azure else EXIT_NOT_ON_AZURE

    return _guarded(work)


COMMANDS: Dict[str, Command] = {
    command.name: command
    for command in (
        Command(
            "get",
            "print a part of the instance metadata as IMDS serves it",
            "Print one node of the instance metadata (all of it without PATH), as IMDS serves "
            "it.\n\n"
            "Examples:\n"
            "  azimds get                         the whole instance document (JSON)\n"
            "  azimds get compute/zone            one value, printed as text\n"
            "  azimds get network/interface/0     array elements are numbered from 0\n"
            "  azimds get compute --format text   the names under compute, one per line",
            _run_get,
            [
                ENDPOINT,
                TIMEOUT,
                VERBOSE,
                Option(
                    "--format",
                    choices=("json", "text"),
                    help="ask IMDS for json or text (default: json, text for a single value)",
                ),
                Option(
                    "--api-version",
                    metavar="V",
                    help="use this api-version instead of negotiating one",
                ),
            ],
            Positional(
                "path", metavar="PATH", help="node under /metadata/instance, e.g. compute/vmSize"
            ),
            EPILOG,
        ),
        Command(
            "facts",
            "print the normalized facts, as Ansible, Salt or cloud-init see them",
            "Fetch the instance document once, normalize it, and print it in the shape a tool\n"
            "sees: Ansible facts (azure_imds), Salt grains (azure) or cloud-init metadata.\n"
            "customData and userData are never printed.\n\n"
            "Example:\n  azimds facts --for salt -o json",
            _run_facts,
            [
                ENDPOINT,
                TIMEOUT,
                VERBOSE,
                OUTPUT,
                Option(
                    "--for",
                    dest="target",
                    choices=("ansible", "salt", "cloud-init"),
                    default="ansible",
                    help="whose shape (default: %(default)s)",
                ),
            ],
            epilog=EPILOG,
        ),
        Command(
            "tags",
            "print the VM's Azure tags",
            "Print the VM's tags (from tagsList when IMDS offers it, else from the tags string;\n"
            "anything ambiguous in that string is reported on stderr).",
            _run_tags,
            [ENDPOINT, TIMEOUT, VERBOSE, OUTPUT],
            epilog=EPILOG,
        ),
        Command(
            "versions",
            "list the api-versions this IMDS offers",
            "List the api-versions this IMDS offers, whether azimds knows each, and the one\n"
            "azimds uses (the newest both know).",
            _run_versions,
            [ENDPOINT, TIMEOUT, VERBOSE, OUTPUT],
            epilog=EPILOG,
        ),
        Command(
            "detect",
            "say whether this machine is an Azure VM (sends nothing)",
            "Say whether azimds would talk to IMDS here, and why. Sends nothing: it reads the\n"
            "environment (AZIMDS_DISABLE, AZIMDS_ENDPOINT) and the DMI chassis asset tag.\n"
            "Exits 0 when it would talk to IMDS, 3 when not.",
            _run_detect,
            [OUTPUT, Option("--endpoint", metavar="URL", help="an explicit IMDS base URL")],
            epilog=EPILOG,
        ),
    )
}


def register(subparsers: Any) -> None:
    """Add get, facts, tags, versions and detect to the argparse ``subparsers`` of ``azimds``."""
    for command in COMMANDS.values():
        add_parser(subparsers, command)


def _client(args: Values, api_version: Optional[str] = None, needs: Sequence[str] = ()) -> Client:
    trace = _to_stderr if args.verbose else None
    return Client(
        args.endpoint, api_version=api_version, needs=needs, deadline=args.timeout, trace=trace
    )


def _to_stderr(line: str) -> None:
    print(f"azimds: {line}", file=sys.stderr)


def _guarded(work: Callable[[], int]) -> int:
    """Run ``work``; turn azimds errors into a message on stderr and their exit code."""
    try:
        return work()
    except AzimdsError as exc:
        print(f"azimds: {exc}", file=sys.stderr)
        return exit_code(exc)
    except ValueError as exc:  # a malformed endpoint, api-version or AZIMDS_DISABLE
        print(f"azimds: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`azimds facts | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def exit_code(error: AzimdsError) -> int:
    """Return the exit code of ``error`` (``EXIT_BAD_RESPONSE`` for unlisted kinds)."""
    for kind, code in EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_BAD_RESPONSE


def _wants_json(args: Values) -> bool:
    if args.output is not None:
        return bool(args.output == "json")
    return not sys.stdout.isatty()


def _print_json(value: Any) -> None:
    sys.stdout.write(jsontext.dumps(value) + "\n")


def _flatten(value: Any, prefix: str = "") -> Any:
    """Yield (dotted key, shown value) for every leaf of nested dicts and lists."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix, _shown(value)


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value == {} or value == []:
        return "(none)"
    return str(value)


def _print_table(
    headings: Sequence[str], rows: Sequence[Sequence[Any]], header: bool = True
) -> None:
    lines: List[Sequence[str]] = [headings] if header else []
    lines += [[_printable(str(cell)) for cell in row] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headings))]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths)]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")


def _printable(text: str) -> str:
    """Return ``text`` without control characters, so a value cannot garble the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)
