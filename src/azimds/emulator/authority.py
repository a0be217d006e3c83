"""The emulator's test CA for attested documents, made on first use and shared by its VMs."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Optional

from .routes import Response, error

if TYPE_CHECKING:  # cryptography is imported only when something is signed
    from .attested import AttestationCA


class CertificateAuthority:
    """Holds the emulator's attestation CA, created on first use.

    Making one costs a few hundred milliseconds of RSA key generation, which an emulator that
    never signs should not pay. Nothing trusts it by default: fetch its root from
    ``/azimds/attested/root.pem`` (or ``Emulator.attestation_root_pem()``) to trust it.
    """

    def __init__(self) -> None:
        self._ca: Optional[AttestationCA] = None
        self._lock = threading.Lock()

    def get(self) -> AttestationCA:
        """Return the CA, creating it on first use."""
        with self._lock:
            if self._ca is None:
                from .attested import AttestationCA

                self._ca = AttestationCA()
            return self._ca

    def serve(self, path: str) -> Response:
        """Return the answer to a control-API request for the root or intermediate certificate."""
        from . import attested

        ca = self.get()
        files = {
            attested.ROOT_PEM_PATH: (ca.root_pem, "application/x-pem-file"),
            attested.INTERMEDIATE_PEM_PATH: (ca.intermediate_pem, "application/x-pem-file"),
            attested.INTERMEDIATE_DER_PATH: (ca.intermediate_der, "application/pkix-cert"),
        }
        if path not in files:
            return error(404, f"Not found. Certificates: {', '.join(sorted(files))}")
        produce, content_type = files[path]
        return Response(200, produce(), content_type)
