"""What the optional parts of azimds need beyond the standard library, and how to say so.

``pip install azimds`` brings the client, the facts and the IMDS commands, on the standard
library alone. Attestation and the emulator need third-party packages, installed with an extra
(``pyproject.toml`` lists the same packages; a test checks that both agree).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

# Extra -> the modules it provides, by import name.
EXTRAS: Dict[str, Tuple[str, ...]] = {
    "attest": ("cryptography", "asn1crypto"),
    "emulator": ("yaml", "cryptography", "asn1crypto"),  # asn1crypto: it signs attested documents
}


def missing_extra(error: ImportError, extra: str) -> Optional[str]:
    """Return the one-line message for a module of ``extra`` that is not installed, or None
    when ``error`` is about another module (that is a bug, not a missing extra)."""
    name = (error.name or "").partition(".")[0]
    if name not in EXTRAS[extra]:
        return None
    return (
        f"this command needs the Python package {name!r}, which is not installed; install it "
        f"with: pip install 'azimds[{extra}]'"
    )
