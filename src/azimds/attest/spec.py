"""What an attested document is: the facts that the emulator's signer and the verifier share.

Each fact is written here once. ``azimds.emulator.attested`` writes documents by these facts
and the verifier reads them by the same ones, so the two cannot drift apart. The facts were
measured on the real documents of tests/data/attested (see its README).

Standard library only.
"""

from __future__ import annotations

import datetime
import re
import secrets
import string
from typing import Mapping, Optional, Tuple

# --- The response: {"encoding": "pkcs7", "signature": "<base64 of a DER PKCS#7 SignedData>"}

ENCODING = "pkcs7"

# --- The CMS inside the signature

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"  # the content type of the embedded JSON
OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"  # the SignerInfo's signatureAlgorithm

# The digest-OID quirk: where CMS wants a digest OID (SignerInfo.digestAlgorithm and
# SignedData.digestAlgorithms), Azure writes the RSA signature OID of that hash
# (sha256WithRSAEncryption for SHA-256). Keyed by the hash's name as ``cryptography`` spells
# it. SHA-1 and MD5 are here so that forgeries can be built; the verifier refuses them.
RSA_WITH_HASH_OIDS: Mapping[str, str] = {
    "sha256": "1.2.840.113549.1.1.11",
    "sha384": "1.2.840.113549.1.1.12",
    "sha512": "1.2.840.113549.1.1.13",
    "sha1": "1.2.840.113549.1.1.5",
    "md5": "1.2.840.113549.1.1.4",
}
ACCEPTED_HASHES = ("sha256", "sha384", "sha512")

# --- Clouds: azEnvironment (as compute.azEnvironment reports it) -> the DNS domain that its
# metadata-signing certificates are issued for (and its regional subdomains, e.g.
# westus.metadata.azure.com).

CLOUD_DOMAINS: Mapping[str, str] = {
    "AzurePublicCloud": "metadata.azure.com",
    "AzureUSGovernmentCloud": "metadata.azure.us",
    "AzureChinaCloud": "metadata.azure.cn",
    "AzureGermanCloud": "metadata.microsoftazure.de",
}
DEFAULT_CLOUD = "AzurePublicCloud"  # api-versions before azEnvironment ran only there

_CLOUD_BY_LOWER = {name.lower(): name for name in CLOUD_DOMAINS}
_CLOUD_BY_DOMAIN = {domain: name for name, domain in CLOUD_DOMAINS.items()}


class UnknownCloudError(ValueError):
    """A cloud name is neither a known azEnvironment nor a known metadata domain."""


def cloud_name(cloud: str) -> str:
    """Return the canonical azEnvironment for ``cloud``.

    ``cloud`` is an azEnvironment in any letter case (``AzureUSGovernmentCloud``) or a metadata
    domain (``metadata.azure.us``); an empty string means the public cloud.

    Raises:
        UnknownCloudError: ``cloud`` names no known cloud.
    """
    if not cloud:
        return DEFAULT_CLOUD
    key = cloud.strip().lower().rstrip(".")
    if key in _CLOUD_BY_LOWER:
        return _CLOUD_BY_LOWER[key]
    if key in _CLOUD_BY_DOMAIN:
        return _CLOUD_BY_DOMAIN[key]
    raise UnknownCloudError(
        f"unknown Azure cloud {cloud!r}; use one of {', '.join(CLOUD_DOMAINS)} "
        f"or a metadata domain ({', '.join(CLOUD_DOMAINS.values())})"
    )


def metadata_domain(cloud: str) -> str:
    """Return the metadata domain of ``cloud`` (an azEnvironment or a domain).

    Raises:
        UnknownCloudError: ``cloud`` names no known cloud.
    """
    return CLOUD_DOMAINS[cloud_name(cloud)]


def in_domain(dns_name: str, domain: str) -> bool:
    """Return True when ``dns_name`` equals ``domain`` or is a subdomain of it (any case)."""
    name = dns_name.strip().lower().rstrip(".")
    domain = domain.strip().lower().rstrip(".")
    return name == domain or name.endswith("." + domain)


def cloud_of(dns_names: Tuple[str, ...], expected: Optional[str] = None) -> Optional[str]:
    """Return the azEnvironment whose metadata domain covers one of ``dns_names``, or None.

    With ``expected`` (an azEnvironment or domain), only that cloud is considered.

    Raises:
        UnknownCloudError: ``expected`` names no known cloud.
    """
    candidates = [cloud_name(expected)] if expected is not None else list(CLOUD_DOMAINS)
    for name in candidates:
        if any(in_domain(dns, CLOUD_DOMAINS[name]) for dns in dns_names):
            return name
    return None


# --- The nonce. The rule is the published IMDS API specification's: 1 to 32 ASCII letters
# and digits (the 2019 documentation speaks of a 10-digit string; every such string passes).
# The emulator answers 400 to a request that breaks it; the fetcher refuses to send one.

NONCE_MAX_LENGTH = 32
NONCE_RULE = f"1 to {NONCE_MAX_LENGTH} ASCII letters and digits (A-Z, a-z, 0-9)"
# Without a nonce in the request, IMDS signs the time of expiresOn in its place.
NO_NONCE_FORMAT = "%Y%m%d-%H%M%S"

_NONCE = re.compile(rf"[A-Za-z0-9]{{1,{NONCE_MAX_LENGTH}}}")
_NONCE_ALPHABET = string.ascii_letters + string.digits


class NonceError(ValueError):
    """A nonce breaks the rule: 1 to 32 ASCII letters and digits."""


def check_nonce(nonce: str) -> str:
    """Return ``nonce`` unchanged when it follows the rule.

    Raises:
        NonceError: ``nonce`` is empty, longer than 32 characters, or has other characters.
    """
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        shown = nonce if isinstance(nonce, str) and len(nonce) <= 64 else f"{str(nonce)[:64]}..."
        raise NonceError(f"nonce {shown!r} is invalid: a nonce is {NONCE_RULE}")
    return nonce


def new_nonce() -> str:
    """Return a fresh nonce of 32 random letters and digits (about 190 bits, from ``secrets``)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(NONCE_MAX_LENGTH))


# --- Time. timeStamp.createdOn and expiresOn read "11/30/20 21:19:19 -0000": month/day/
# two-digit year, UTC; a document is valid for six hours from createdOn.

TIME_FORMAT = "%m/%d/%y %H:%M:%S -0000"
TIME_EXAMPLE = "11/30/20 21:19:19 -0000"
DOCUMENT_VALIDITY = datetime.timedelta(hours=6)
_TIME_PARSE_FORMAT = "%m/%d/%y %H:%M:%S %z"


def utc(moment: datetime.datetime) -> datetime.datetime:
    """Return ``moment`` in UTC; a naive ``moment`` is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def format_time(moment: datetime.datetime) -> str:
    """Return ``moment`` (naive means UTC) written as a createdOn/expiresOn timestamp."""
    return utc(moment).strftime(TIME_FORMAT)


def parse_time(text: object) -> datetime.datetime:
    """Return the UTC time written as ``text`` in createdOn/expiresOn.

    Raises:
        ValueError: ``text`` is not a string in the ``MM/DD/YY HH:MM:SS -0000`` format.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a string like {TIME_EXAMPLE!r}")
    return utc(datetime.datetime.strptime(text, _TIME_PARSE_FORMAT))


# --- The signed content's marketplace plan: always these three keys ("" when no plan).

PLAN_FIELDS = ("name", "product", "publisher")


# --- The azimds emulator's test CA (trusted by nobody by default). The verifier recognises an
# untrusted emulator root by its organization, to say how to trust it: with the root the
# emulator serves at this path.

EMULATOR_ORGANIZATION = "azimds emulator"
EMULATOR_ROOT_PEM_PATH = "/azimds/attested/root.pem"
