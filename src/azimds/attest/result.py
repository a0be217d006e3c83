"""The outcome of a successful verification."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from cryptography import x509


@dataclass(frozen=True)
class VerifiedDocument:
    """An attested document that passed every check.

    ``content`` is the JSON parsed from the signed content (and only from there); ``chain``
    runs from the signer certificate to the trusted root.
    """

    content: Mapping[str, Any]
    cloud: str  # azEnvironment, e.g. "AzurePublicCloud"
    domain: str  # the cloud's metadata domain, e.g. "metadata.azure.com"
    signer_subject: str  # RFC 4514
    signer_names: Tuple[str, ...]  # the signer's DNS subjectAltNames
    chain: Tuple[x509.Certificate, ...]
    created_on: datetime.datetime
    expires_on: datetime.datetime
    verified_at: datetime.datetime
    nonce_checked: bool
    signed_attributes: bool  # standard CMS (True) or Azure's shape without them (False)

    @property
    def nonce(self) -> str:
        """Return the signed nonce."""
        return str(self.content["nonce"])

    @property
    def vm_id(self) -> str:
        """Return the signed vmId ("" when absent)."""
        return str(self.content.get("vmId", ""))

    @property
    def subscription_id(self) -> Optional[str]:
        """Return the signed subscriptionId (api-version 2019-04-30+), else None."""
        value = self.content.get("subscriptionId")
        return None if value is None else str(value)

    @property
    def sku(self) -> Optional[str]:
        """Return the signed image sku (api-version 2019-11-01+), else None."""
        value = self.content.get("sku")
        return None if value is None else str(value)

    @property
    def license_type(self) -> Optional[str]:
        """Return the signed licenseType (api-version 2020-09-01+), else None."""
        value = self.content.get("licenseType")
        return None if value is None else str(value)

    @property
    def plan(self) -> Dict[str, str]:
        """Return the signed marketplace plan (name, product, publisher; "" when none)."""
        plan = self.content.get("plan")
        if not isinstance(plan, Mapping):
            return {}
        return {str(k): str(v) for k, v in plan.items()}

    def chain_subjects(self) -> Tuple[str, ...]:
        """Return the RFC 4514 subjects of the chain, signer first."""
        return tuple(c.subject.rfc4514_string() for c in self.chain)

    def to_json(self) -> Dict[str, Any]:
        """Return a JSON-serializable summary (content, cloud, signer, chain, times)."""
        return {
            "verified": True,
            "cloud": self.cloud,
            "domain": self.domain,
            "content": dict(self.content),
            "signer": {"subject": self.signer_subject, "dns_names": list(self.signer_names)},
            "chain": list(self.chain_subjects()),
            "created_on": self.created_on.isoformat(),
            "expires_on": self.expires_on.isoformat(),
            "verified_at": self.verified_at.isoformat(),
            "nonce_checked": self.nonce_checked,
            "signed_attributes": self.signed_attributes,
        }
