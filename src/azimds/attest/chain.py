"""Chain validation: does the signer certificate chain to a trusted root at a given time?

Built on ``cryptography.x509.verification`` with its Web PKI profile, with one change: a
certificate's extended key usage may be serverAuth or clientAuth (Azure's metadata leafs carry
both; the 2026 Microsoft TLS RSA Root G2 hierarchy only serverAuth), where the stock client
profile insists on clientAuth. A missing issuer is fetched from the AIA URL only when the
bundled certificates do not make a chain and the store is online.
"""

from __future__ import annotations

import datetime
from typing import List, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    VerificationError,
)

from .aia import AiaError, AiaFetcher, AiaNotAllowed
from .errors import AttestError, CertificateExpiredError, UntrustedChainError
from .spec import EMULATOR_ORGANIZATION, EMULATOR_ROOT_PEM_PATH
from .trust import TrustStore

MAX_AIA_DEPTH = 3
_ACCEPTED_EKUS = frozenset(
    {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }
)
_ONE_SECOND = datetime.timedelta(seconds=1)


def _check_eku(
    policy: Policy, certificate: x509.Certificate, eku: Optional[x509.ExtendedKeyUsage]
) -> None:
    if eku is not None and not _ACCEPTED_EKUS.intersection(eku):
        raise ValueError("extended key usage allows neither serverAuth nor clientAuth")


_EE_POLICY = ExtensionPolicy.webpki_defaults_ee().may_be_present(
    x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _check_eku
)
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _check_eku
)


def verify_chain(
    trust: TrustStore,
    leaf: x509.Certificate,
    untrusted: Sequence[x509.Certificate],
    at: datetime.datetime,
) -> Tuple[x509.Certificate, ...]:
    """Return the validated chain, leaf first and trusted root last, at time ``at``.

    ``untrusted`` are extra intermediates (e.g. those embedded in the document); the store's
    known intermediates are always offered too.

    Raises:
        CertificateExpiredError: the chain would be trusted but a certificate in it is not
            valid at ``at``.
        UntrustedChainError: no chain to a trusted root could be built.
    """
    pool = list(untrusted) + list(trust.intermediates)
    try:
        return tuple(_verifier(trust, at).verify(leaf, pool).chain)
    except VerificationError as exc:
        failure = exc
    problems: List[AiaError] = []
    if trust.aia is not None and _valid_at(leaf, at):
        fetched, problems = _fetch_issuers(trust.aia, trust, leaf)
        if fetched:
            pool += fetched
            try:
                return tuple(_verifier(trust, at).verify(leaf, pool).chain)
            except VerificationError as exc:
                failure = exc
    raise _reason(trust, leaf, pool, at, failure, problems)


def _verifier(trust: TrustStore, at: datetime.datetime) -> ClientVerifier:
    return (
        PolicyBuilder()
        .store(trust.store)
        .time(at)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
        .build_client_verifier()
    )


def _fetch_issuers(
    aia: AiaFetcher, trust: TrustStore, leaf: x509.Certificate
) -> Tuple[List[x509.Certificate], List[AiaError]]:
    fetched: List[x509.Certificate] = []
    current = leaf
    for _ in range(MAX_AIA_DEPTH):
        issuer, problems = aia.issuer_of(current)
        if issuer is None:
            return fetched, problems
        fetched.append(issuer)
        if issuer.issuer == issuer.subject or any(r.subject == issuer.issuer for r in trust.roots):
            break
        current = issuer
    return fetched, []


def _reason(
    trust: TrustStore,
    leaf: x509.Certificate,
    pool: List[x509.Certificate],
    at: datetime.datetime,
    failure: VerificationError,
    problems: List[AiaError],
) -> AttestError:
    if not _valid_at(leaf, at):
        # Would the chain be trusted at a time the leaf is valid? Then the reason is expiry;
        # otherwise it is untrusted (an untrusted certificate is not "expired").
        nearest = _nearest_valid_time(leaf, at)
        try:
            _verifier(trust, nearest).verify(leaf, pool)
        except VerificationError as exc:
            failure = exc
        else:
            return CertificateExpiredError(_leaf_validity_message(leaf, at))
    detail = str(failure)
    if "not valid at validation time" in detail:
        return CertificateExpiredError(
            f"a certificate in the chain of '{_name(leaf)}' is not valid at "
            f"{at.isoformat()} ({detail})"
        )
    where = "offline, " if trust.offline else ""
    message = (
        f"the signer '{_name(leaf)}' (issued by '{leaf.issuer.rfc4514_string()}') does not "
        f"chain to any of the {len(trust.roots)} trusted root(s) ({where}{detail})"
    )
    last = _path_end(leaf, pool)
    if problems:
        message += f"; fetching the issuer of '{_name(last)}' failed: " + "; ".join(
            str(problem) for problem in problems
        )
    return UntrustedChainError(message, _hint(trust, last, problems))


def _path_end(leaf: x509.Certificate, pool: List[x509.Certificate]) -> x509.Certificate:
    """Return the last certificate reached from ``leaf`` by following issuer names."""
    current, seen = leaf, [leaf]
    while current.issuer != current.subject:
        issuer = next((c for c in pool if c.subject == current.issuer and c not in seen), None)
        if issuer is None:
            break
        current = issuer
        seen.append(issuer)
    return current


def _hint(trust: TrustStore, last: x509.Certificate, problems: List[AiaError]) -> str:
    """Return what to do, from where the path from the signer ends: at a root that is not
    trusted, or at a certificate whose issuer is missing (not allowed, not fetched, unknown)."""
    refused = sorted({p.host for p in problems if isinstance(p, AiaNotAllowed) and p.host})
    if refused:
        return (
            f"The missing intermediate is served by {refused[0]}, which is not an allowed AIA "
            f"host. If you trust it to serve intermediates (e.g. the emulator the document "
            f"came from), allow it with --aia-host {refused[0]}; the chain must still end at a "
            "trusted root"
        )
    # The name the path stops at: an untrusted root, or the issuer nobody supplied.
    stop = last.subject if last.issuer == last.subject else last.issuer
    if any(root.subject == stop for root in trust.roots):
        return (
            f"The chain reaches the trusted root '{stop.rfc4514_string()}', but a certificate "
            "on it is not fit to sign metadata (see the reason): treat this document as forged"
        )
    if last.issuer != last.subject and trust.offline:
        return (
            f"The issuer '{stop.rfc4514_string()}' is not among the bundled, embedded and "
            "trusted certificates, and verification is offline: let it be fetched from its AIA "
            "URL (leave out --offline), or if it is a root you trust, trust it (--trust)"
        )
    if any(p.url is not None for p in problems):
        return (
            f"The issuer '{stop.rfc4514_string()}' could not be fetched (see above): check "
            "that this machine reaches the AIA URL over plain http, or verify where it can"
        )
    if _from_emulator(stop):
        return (
            f"The chain leads to the azimds emulator CA '{stop.rfc4514_string()}', whose root "
            f"is not trusted: trust that emulator's root ({EMULATOR_ROOT_PEM_PATH}) with "
            "--trust; each emulator makes its own"
        )
    return (
        f"The chain leads to '{stop.rfc4514_string()}', which is not a trusted root; genuine "
        "Azure documents chain to the bundled roots: treat this document as forged unless you "
        "have reason to trust that root (--trust)"
    )


def _from_emulator(name: x509.Name) -> bool:
    organizations = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return any(o.value == EMULATOR_ORGANIZATION for o in organizations)


def _valid_at(certificate: x509.Certificate, at: datetime.datetime) -> bool:
    return certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc


def _nearest_valid_time(certificate: x509.Certificate, at: datetime.datetime) -> datetime.datetime:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if at < start:
        return min(start + _ONE_SECOND, end)
    return max(end - _ONE_SECOND, start)


def _leaf_validity_message(leaf: x509.Certificate, at: datetime.datetime) -> str:
    if at > leaf.not_valid_after_utc:
        return (
            f"the signer certificate '{_name(leaf)}' expired on "
            f"{leaf.not_valid_after_utc.isoformat()} (checked at {at.isoformat()})"
        )
    return (
        f"the signer certificate '{_name(leaf)}' is not valid before "
        f"{leaf.not_valid_before_utc.isoformat()} (checked at {at.isoformat()})"
    )


def _name(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()
