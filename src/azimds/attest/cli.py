"""``azimds attest`` and ``azimds verify``: fetch and verify attested documents from a terminal.

Exit codes: 0 verified (or fetched), 2 bad arguments or input files, 4 the fetch failed, and
10-35 one per rejection reason (``azimds.attest.errors``; table in docs/attestation.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import TYPE_CHECKING, Any, List, Optional, TextIO

from ..cli import arguments, exits, output
from .errors import AttestError, FetchError, all_errors
from .fetcher import DEFAULT_TIMEOUT, fetch
from .spec import CLOUD_DOMAINS, NonceError, UnknownCloudError, utc

if TYPE_CHECKING:  # these need cryptography; the handlers import them when they run
    from .result import VerifiedDocument
    from .trust import TrustStore

EXIT_OK = exits.OK
EXIT_USAGE = exits.USAGE
EXIT_NOT_ON_AZURE = exits.NOT_ON_AZURE  # as for every azimds command: nothing was sent

# Only attest fetches: verify never returns 3 (not on Azure) or the fetch's exit code.
_REJECTIONS = [(e.exit_code, e.code) for e in all_errors() if e is not FetchError]
ATTEST_EPILOG = exits.help_text(
    [
        (exits.OK, "verified (without --verify: fetched)"),
        (exits.USAGE, "bad arguments or unreadable input"),
        (exits.NOT_ON_AZURE, "not on Azure and no --endpoint: nothing was sent"),
        (FetchError.exit_code, FetchError.code),
        *_REJECTIONS,
        exits.OUTPUT_FAILED,
        exits.INTERRUPTED,
    ]
)
VERIFY_EPILOG = exits.help_text(
    [
        (exits.OK, "verified"),
        (exits.USAGE, "bad arguments or unreadable input"),
        *_REJECTIONS,
        exits.OUTPUT_FAILED,
        exits.INTERRUPTED,
    ]
)
_DOCS = "\n\nDocumentation: docs/attestation.md"

ATTEST_HELP = """\
Fetch this VM's attested document from IMDS with a fresh, unpredictable nonce and print it,
or with --verify, verify it and print what it attests.

The examples talk to the emulator (azimds emulator serve), whose test CA nobody trusts until
told to (--trust). The address given with --endpoint may also serve the intermediate; the
chain must still end at a trusted root. On an Azure VM, leave out --endpoint and --trust.

Examples:
  curl -s http://127.0.0.1:8169/azimds/attested/root.pem > emulator-root.pem
  azimds attest --endpoint http://127.0.0.1:8169 --verify --trust emulator-root.pem
  azimds attest --endpoint http://127.0.0.1:8169 --verify --trust emulator-root.pem \\
      --expect-vm-id 13f56399-bd52-4150-9748-7190aae1ff21 --json
  azimds attest --endpoint http://127.0.0.1:8169 > doc.json   # the nonce is on stderr"""

VERIFY_HELP = """\
Verify an attested document: its signature, the signer's chain to a trusted root, the signer's
cloud, the nonce, the validity window and, when asked, the vmId and subscriptionId.

FILE holds the JSON response of /metadata/attested/document or the bare base64 signature
("-" reads standard input).

Examples:
  # a real document of 2023, at its own time, without network access (in a clone of azimds)
  azimds verify tests/data/attested/usgov-2023.b64 --nonce 20230308-230933 \\
      --at 2023-03-08T18:00Z --offline
  # a document of the emulator (azimds emulator serve): the verifier picks the nonce, the VM
  # has it signed; the emulator's address serves the intermediate
  curl -s http://127.0.0.1:8169/azimds/attested/root.pem > emulator-root.pem
  NONCE=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  azimds attest --endpoint http://127.0.0.1:8169 --nonce "$NONCE" > doc.json
  azimds verify doc.json --nonce "$NONCE" --trust emulator-root.pem --aia-host 127.0.0.1:8169"""


def register(subparsers: Any) -> None:
    """Add ``attest`` and ``verify`` to the ``azimds`` sub-commands (each sets ``handler``)."""
    checks = argparse.ArgumentParser(add_help=False)
    checks.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="PEM",
        help="also trust the root certificate(s) in this PEM file (repeatable), e.g. the "
        "emulator's root",
    )
    checks.add_argument(
        "--offline",
        action="store_true",
        help="never fetch a missing intermediate from its AIA URL",
    )
    checks.add_argument(
        "--aia-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also allow fetching intermediates from this host (repeatable); attest allows "
        "its --endpoint (or AZIMDS_ENDPOINT) host without it",
    )
    checks.add_argument(
        "--cloud",
        metavar="NAME",
        help=f"require a signer of this cloud ({', '.join(CLOUD_DOMAINS)}); default: any",
    )
    checks.add_argument("--expect-vm-id", metavar="ID", help="require this vmId")
    checks.add_argument(
        "--expect-subscription-id", metavar="ID", help="require this subscriptionId"
    )
    checks.add_argument(
        "--json", action="store_true", help="print JSON for machines instead of a report"
    )

    attest = subparsers.add_parser(
        "attest",
        parents=[checks],
        help="fetch (and verify) this VM's attested document",
        description=ATTEST_HELP,
        epilog=ATTEST_EPILOG + _DOCS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    attest.add_argument(
        "--endpoint",
        metavar="URL",
        help="IMDS base URL, e.g. http://127.0.0.1:8169 (default: AZIMDS_ENDPOINT; on an Azure "
        "VM, found by detection, 169.254.169.254)",
    )
    attest.add_argument("--nonce", metavar="N", help="use this nonce (default: a fresh random one)")
    attest.add_argument(
        "--api-version",
        metavar="V",
        help="pin this api-version (default: the newest both azimds and IMDS offer)",
    )
    attest.add_argument(
        "--timeout",
        type=arguments.seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="deadline in seconds for the fetch, retries included (default: %(default)g)",
    )
    attest.add_argument("--verify", action="store_true", help="verify the document fetched")
    attest.set_defaults(handler=run_attest)

    check = subparsers.add_parser(
        "verify",
        parents=[checks],
        help="verify an attested document",
        description=VERIFY_HELP,
        epilog=VERIFY_EPILOG + _DOCS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("file", metavar="FILE", help="JSON response or base64 signature; - = stdin")
    check.add_argument("--nonce", required=True, metavar="N", help="the nonce of the request")
    check.add_argument(
        "--at",
        metavar="TIME",
        help="verify as of this time (ISO 8601, e.g. 2023-03-08T18:00Z; default: now)",
    )
    check.set_defaults(handler=run_verify)


def run_attest(args: argparse.Namespace) -> int:
    """Fetch (and with ``--verify`` verify) a document; return the exit code."""
    from ..imds.detect import detect, not_on_azure_message
    from .trust import TrustStoreError

    try:
        detection = detect(args.endpoint)
    except ValueError as exc:
        return _usage(str(exc))
    if not detection.on_azure or not detection.endpoint:
        disabled = detection.source == "disabled"
        output.say(not_on_azure_message(detection.reason, disabled, "pass --endpoint URL"))
        return EXIT_NOT_ON_AZURE
    # An endpoint the user named (an emulator) may serve the intermediate of its own chain; the
    # chain must still end at a trusted root. A detected IMDS serves no certificates.
    named = detection.source in ("argument", "environment")
    try:
        trust = _trust(args, detection.endpoint if named else None) if args.verify else None
        fetched = fetch(
            detection.endpoint,
            nonce=args.nonce,
            api_version=args.api_version,
            timeout=args.timeout,
        )
    except (NonceError, TrustStoreError) as exc:
        return _usage(str(exc))
    except AttestError as exc:
        return _rejected(exc, args.json)
    if not args.verify:
        if args.json:
            _print_json({"nonce": fetched.nonce, "url": fetched.url, "response": fetched.response})
        else:
            print(json.dumps(fetched.response, separators=(",", ":")))
            print(
                f"azimds: fetched with nonce {fetched.nonce}; check it with: "
                f"azimds verify FILE --nonce {fetched.nonce}",
                file=sys.stderr,
            )
        return EXIT_OK
    assert trust is not None
    return _verify_and_report(args, fetched.response, fetched.nonce, trust, None)


def run_verify(args: argparse.Namespace) -> int:
    """Verify the document in ``args.file``; return the exit code."""
    from .trust import TrustStoreError

    try:
        at = parse_time(args.at) if args.at else None
        trust = _trust(args)
        text = _read(args.file)
    except (ValueError, TrustStoreError, OSError) as exc:
        return _usage(str(exc))
    return _verify_and_report(args, text, args.nonce, trust, at)


def parse_time(text: str) -> datetime.datetime:
    """Return the UTC time written in ISO 8601 as ``text`` (``Z`` or no offset mean UTC).

    Raises:
        ValueError: ``text`` is not an ISO 8601 time.
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"--at {text!r} is not an ISO 8601 time; write e.g. 2023-03-08T18:00Z"
        ) from None
    return utc(moment)


def _verify_and_report(
    args: argparse.Namespace,
    document: Any,
    nonce: str,
    trust: TrustStore,
    at: Optional[datetime.datetime],
) -> int:
    from .verifier import verify

    try:
        result = verify(
            document,
            nonce=nonce,
            trust=trust,
            at=at,
            cloud=args.cloud,
            expect_vm_id=args.expect_vm_id,
            expect_subscription_id=args.expect_subscription_id,
        )
    except UnknownCloudError as exc:
        return _usage(str(exc))
    except AttestError as exc:
        return _rejected(exc, args.json)
    if args.json:
        _print_json(result.to_json())
    else:
        print(report(result))
    return EXIT_OK


def report(result: VerifiedDocument) -> str:
    """Return a readable report of a verified document."""

    def blank(value: Optional[str]) -> str:
        return value if value else "(none)"

    plan = result.plan
    plan_text = "/".join(plan.get(k, "") for k in ("publisher", "product", "name"))
    chain = [result.chain_subjects()[0]] + [f"<- {s}" for s in result.chain_subjects()[1:]]
    lines = [
        f"VERIFIED  attested document from {result.cloud} ({result.domain})",
        f"  vmId            {blank(result.vm_id)}",
        f"  subscriptionId  {blank(result.subscription_id)}",
        f"  sku             {blank(result.sku)}",
        f"  licenseType     {blank(result.license_type)}",
        f"  plan            {plan_text if plan_text.strip('/') else '(none)'}",
        f"  nonce           {result.nonce} "
        + ("(matches the request)" if result.nonce_checked else "(not checked)"),
        f"  created         {_show(result.created_on)}",
        f"  expires         {_show(result.expires_on)}",
        f"  signer          {result.signer_subject} [{', '.join(result.signer_names)}]",
        f"  chain           {chain[0]}",
        *[f"                  {link}" for link in chain[1:]],
        f"  checked at      {_show(result.verified_at)}",
    ]
    return "\n".join(lines)


def _trust(args: argparse.Namespace, endpoint: Optional[str] = None) -> TrustStore:
    """Return the trust store of ``--trust``, ``--offline`` and ``--aia-host``; ``endpoint``'s
    host may serve intermediates too."""
    from .aia import AiaFetcher, allowlist_entry
    from .trust import TrustStore, load_pem_certificates

    roots: List[Any] = []
    for path in args.trust:
        roots.extend(load_pem_certificates(path))
    hosts = list(args.aia_host)
    if endpoint and allowlist_entry(endpoint):
        hosts.append(allowlist_entry(endpoint))
    aia = None if args.offline else AiaFetcher().with_hosts(*hosts)
    return TrustStore.default(offline=args.offline, aia=aia).with_roots(*roots)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, "rb") as handle:
        data = handle.read(1024 * 1024 + 1)
    if len(data) > 1024 * 1024:
        raise ValueError(f"{path} is larger than 1 MiB; an attested document is a few KiB")
    return data.decode("utf-8", errors="replace")


def _rejected(error: AttestError, as_json: bool) -> int:
    if as_json:
        _print_json({"verified": False, "error": error.to_json(), "exit_code": error.exit_code})
    else:
        stream: TextIO = sys.stderr
        print(f"REJECTED  [{error.code}] {error.message}", file=stream)
        if error.hint:
            print(f"  what to do: {error.hint}", file=stream)
    return error.exit_code


def _usage(message: str) -> int:
    print(f"azimds: {message}", file=sys.stderr)
    return EXIT_USAGE


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True))


def _show(moment: datetime.datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")
