"""Azure clouds and the DNS domain their metadata-signing certificates are issued for.

This is the one mapping of ``azEnvironment`` to metadata domain: the verifier checks a signer's
SAN against it and the emulator issues its test certificates from it.

Standard library only.
"""

from __future__ import annotations

from typing import Mapping, Optional, Tuple

# azEnvironment (as IMDS reports it in compute.azEnvironment) -> the metadata domain.
CLOUD_DOMAINS: Mapping[str, str] = {
    "AzurePublicCloud": "metadata.azure.com",
    "AzureUSGovernmentCloud": "metadata.azure.us",
    "AzureChinaCloud": "metadata.azure.cn",
    "AzureGermanCloud": "metadata.microsoftazure.de",
}

DEFAULT_CLOUD = "AzurePublicCloud"

_BY_LOWER = {name.lower(): name for name in CLOUD_DOMAINS}
_BY_DOMAIN = {domain: name for name, domain in CLOUD_DOMAINS.items()}


class UnknownCloudError(ValueError):
    """A cloud name is neither a known azEnvironment nor a known metadata domain."""


def cloud_name(cloud: str) -> str:
    """Return the canonical azEnvironment for ``cloud``.

    ``cloud`` is an azEnvironment in any letter case (``AzureUSGovernmentCloud``) or a metadata
    domain (``metadata.azure.us``). An empty string means the public cloud, as IMDS versions
    before azEnvironment existed only ran there.

    Raises:
        UnknownCloudError: ``cloud`` names no known cloud.
    """
    if not cloud:
        return DEFAULT_CLOUD
    key = cloud.strip().lower().rstrip(".")
    if key in _BY_LOWER:
        return _BY_LOWER[key]
    if key in _BY_DOMAIN:
        return _BY_DOMAIN[key]
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
