"""The IMDS sub-commands of ``azimds``: get, facts, tags, versions, detect.

Each prints a readable table on a terminal and JSON when piped or asked (``-o json``), through
``output.py``, and returns an exit code (``exits.py``; docs/cli.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Dict, Optional, Sequence

from ..imds import paths, versions
from ..imds.client import Client
from ..imds.detect import detect
from ..imds.errors import AzimdsError
from . import arguments, exits, output

EPILOG = f"""\
The endpoint is found without network traffic: --endpoint, else AZIMDS_ENDPOINT, else
http://169.254.169.254 when this machine is an Azure VM (DMI chassis asset tag). Off Azure,
nothing is sent. AZIMDS_DISABLE=1 turns every request off.

{
    exits.help_text(
        [
            exits.OK,
            exits.USAGE,
            exits.NOT_ON_AZURE,
            exits.UNAVAILABLE,
            exits.NOT_FOUND,
            exits.REJECTED,
            exits.VERSION,
            exits.BAD_RESPONSE,
            exits.OUTPUT_FAILED,
            exits.INTERRUPTED,
        ]
    )
}
"""

DETECT_EPILOG = exits.help_text(
    [
        (exits.OK, "this machine would talk to IMDS"),
        (exits.USAGE, "a malformed --endpoint, AZIMDS_ENDPOINT or AZIMDS_DISABLE"),
        (exits.NOT_ON_AZURE, "it would not (off Azure, or AZIMDS_DISABLE is set)"),
    ]
)

GET_DESCRIPTION = """\
Print one node of the instance metadata (all of it without PATH), as IMDS serves it.

Examples:
  azimds get                         the whole instance document (JSON)
  azimds get compute/zone            one value, printed as text
  azimds get network/interface/0     array elements are numbered from 0
  azimds get compute --format text   the names under compute, one per line"""


def register(commands: Any) -> None:
    """Add get, facts, tags, versions and detect to the sub-commands of ``azimds``."""
    talks = argparse.ArgumentParser(add_help=False)  # the options of every command that asks
    talks.add_argument(
        "--endpoint",
        metavar="URL",
        help="IMDS base URL, e.g. http://127.0.0.1:8169 for the emulator (default: "
        "AZIMDS_ENDPOINT, or 169.254.169.254 on an Azure VM)",
    )
    talks.add_argument(
        "--timeout",
        type=arguments.seconds,
        default=90.0,
        metavar="SECONDS",
        help="give up after this long, retries included (default: %(default)g)",
    )
    talks.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print each request to IMDS on stderr (status, time, request id)",
    )
    shown = argparse.ArgumentParser(add_help=False)
    shown.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        help="table (default on a terminal) or json (default when piped)",
    )

    def add(name: str, summary: str, description: str, parents: Sequence[Any]) -> Any:
        return commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=DETECT_EPILOG if name == "detect" else EPILOG,
            parents=parents,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    get = add(
        "get", "print a part of the instance metadata as IMDS serves it", GET_DESCRIPTION, [talks]
    )
    get.add_argument(
        "path",
        nargs="?",
        default="",
        metavar="PATH",
        help="node under /metadata/instance, e.g. compute/vmSize",
    )
    get.add_argument(
        "--format",
        choices=("json", "text"),
        help="ask IMDS for json or text (default: json, text for a single value)",
    )
    get.add_argument(
        "--api-version", metavar="V", help="use this api-version instead of negotiating one"
    )
    get.set_defaults(handler=run_get)

    facts = add(
        "facts",
        "print the normalized facts, as Ansible, Salt or cloud-init see them",
        "Fetch the instance document once, normalize it, and print it in the shape a tool\n"
        "sees: Ansible facts (azure_imds), Salt grains (azure) or cloud-init metadata.\n"
        "customData and userData are never printed; a field that cannot be read is left out\n"
        "with a warning on stderr, and every other fact is still printed.\n\n"
        "Example:\n  azimds facts --for salt -o json",
        [talks, shown],
    )
    facts.add_argument(
        "--for",
        dest="target",
        choices=("ansible", "salt", "cloud-init"),
        default="ansible",
        help="whose shape (default: %(default)s)",
    )
    facts.set_defaults(handler=run_facts)

    add(
        "tags",
        "print the VM's Azure tags",
        "Print the VM's tags (from tagsList when IMDS offers it, else from the tags string;\n"
        "anything ambiguous in that string is reported on stderr).",
        [talks, shown],
    ).set_defaults(handler=run_tags)

    add(
        "versions",
        "list the api-versions this IMDS offers",
        "List the api-versions this IMDS offers, whether azimds knows each, and the one\n"
        "azimds uses (the newest both know).",
        [talks, shown],
    ).set_defaults(handler=run_versions)

    detect_parser = add(
        "detect",
        "say whether this machine is an Azure VM (sends nothing)",
        "Say whether azimds would talk to IMDS here, and why. Sends nothing: it reads the\n"
        "environment (AZIMDS_DISABLE, AZIMDS_ENDPOINT) and the DMI chassis asset tag.",
        [shown],
    )
    detect_parser.add_argument("--endpoint", metavar="URL", help="an explicit IMDS base URL")
    detect_parser.set_defaults(handler=run_detect)


def run_get(args: argparse.Namespace) -> int:
    """``azimds get [PATH]``: print a node as IMDS serves it; return the exit code."""

    def work() -> int:
        segments = paths.split_path(args.path)
        needs = [paths.field_path(segments)] if segments else []
        client = _client(args, api_version=args.api_version, needs=needs)
        client.check_path(args.path)
        if args.format is not None or not segments:
            node = client.get(args.path, format=args.format or "json")
            _write_node(node.value, as_text=args.format == "text")
            return exits.OK
        # Without --format, ask for the parent node as JSON and pick the child locally: one
        # request whether the child is a node or a single value (which IMDS serves only as
        # text), so no second request is needed to find out which it is.
        parent = client.get("/".join(segments[:-1]), format="json")
        found, value = paths.child(parent.value, segments[-1])
        if not found:
            where = "/".join(segments[:-1]) or "the instance document"
            names = paths.child_names(parent.value)
            output.say(
                f"no element '{segments[-1]}' under {where} at api-version "
                f"{parent.api_version}; it has: {', '.join(names) or 'nothing'} (names are "
                "case-sensitive, array elements are numbered from 0)"
            )
            return exits.NOT_FOUND
        _write_node(value, as_text=not isinstance(value, (dict, list)))
        return exits.OK

    return _guarded(work)


def _write_node(value: Any, as_text: bool) -> None:
    if not as_text:
        output.write_json(value)
    elif isinstance(value, str):
        output.write_text(value)
    else:  # a number, boolean or null where IMDS would serve a string: show it as JSON does
        output.write_json(value)


def run_facts(args: argparse.Namespace) -> int:
    """``azimds facts``: print the normalized facts in a tool's shape; return the exit code."""

    def work() -> int:
        from ..facts import model, shapes

        document = _client(args).instance()
        instance = model.normalize(document.data, document.api_version)
        for warning in instance.warnings:
            output.warn(warning)
        shaper: Dict[str, Callable[[model.Instance], Dict[str, Any]]] = {
            "ansible": shapes.ansible_facts,
            "salt": shapes.salt_grains,
            "cloud-init": shapes.cloud_init_metadata,
        }
        facts = shaper[args.target](instance)
        if _wants_json(args):
            output.write_json(facts)
        else:
            output.write_table(("FACT", "VALUE"), list(output.flatten(facts)))
        return exits.OK

    return _guarded(work)


def run_tags(args: argparse.Namespace) -> int:
    """``azimds tags``: print the VM's tags; return the exit code."""

    def work() -> int:
        from ..facts import model

        document = _client(args).instance()
        instance = model.normalize(document.data, document.api_version)
        for warning in instance.warnings:
            output.warn(warning)
        tags = instance.tags or {}
        if _wants_json(args):
            output.write_json(tags)
        elif tags:
            rows = sorted(tags.items(), key=lambda tag: tag[0].lower())
            output.write_table(("NAME", "VALUE"), rows)
        else:
            output.write_text("(no tags)")
        return exits.OK

    return _guarded(work)


def run_versions(args: argparse.Namespace) -> int:
    """``azimds versions``: list the api-versions on offer; return the exit code."""

    def work() -> int:
        offered = _client(args).versions()
        chosen = versions.newest_common(offered)
        if _wants_json(args):
            output.write_json(
                {"offered": offered, "used": chosen, "azimds_newest": versions.NEWEST}
            )
        else:
            rows = [
                (v, "yes" if versions.is_known(v) else "no", "<- used" if v == chosen else "")
                for v in offered
            ]
            output.write_table(("API-VERSION", "KNOWN TO AZIMDS", ""), rows)
        if chosen is None:
            output.say("azimds knows none of these api-versions; upgrade azimds")
            return exits.VERSION
        return exits.OK

    return _guarded(work)


def run_detect(args: argparse.Namespace) -> int:
    """``azimds detect``: say whether and where azimds would talk to IMDS; sends nothing."""

    def work() -> int:
        found = detect(args.endpoint)
        if _wants_json(args):
            output.write_json(found._asdict())
        else:
            output.write_table(
                ("", ""),
                [
                    ("on Azure", "yes" if found.on_azure else "no"),
                    ("endpoint", found.endpoint or "-"),
                    ("decided by", found.source),
                    ("because", found.reason),
                ],
                header=False,
            )
        return exits.OK if found.on_azure else exits.NOT_ON_AZURE

    return _guarded(work)


def _client(
    args: argparse.Namespace,
    api_version: Optional[str] = None,
    needs: Sequence[str] = (),
) -> Client:
    """Return the client for ``args``: -v traces each request, a terminal shows retries."""
    return Client(
        args.endpoint,
        api_version=api_version,
        needs=needs,
        deadline=args.timeout,
        trace=output.say if args.verbose else None,
        progress=None if args.verbose else (lambda line: output.STATUS.show(f"retrying: {line}")),
    )


def _guarded(work: Callable[[], int]) -> int:
    """Run ``work``; turn azimds errors into a message on stderr and their exit code."""
    try:
        return work()
    except AzimdsError as exc:
        output.say(str(exc))
        return exits.of_error(exc)
    except ValueError as exc:  # a malformed endpoint, api-version or AZIMDS_DISABLE
        output.say(str(exc))
        return exits.USAGE
    finally:  # a status line that nothing was printed after goes too
        output.STATUS.clear()


def _wants_json(args: argparse.Namespace) -> bool:
    if args.output is not None:
        return bool(args.output == "json")
    return not sys.stdout.isatty()
