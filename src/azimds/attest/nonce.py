"""The nonce of an attested-document request: the rule, and fresh unpredictable nonces.

The rule is the published IMDS API specification's: 1 to 32 ASCII letters and digits. (The
2019 documentation speaks of a 10-digit string; every such string also passes this rule.)
Both sides use this one rule: the emulator rejects requests that break it, the fetcher refuses
to send them.

Standard library only.
"""

from __future__ import annotations

import re
import secrets
import string

NONCE_MAX_LENGTH = 32
NONCE_RULE = f"1 to {NONCE_MAX_LENGTH} ASCII letters and digits (A-Z, a-z, 0-9)"

_NONCE = re.compile(rf"[A-Za-z0-9]{{1,{NONCE_MAX_LENGTH}}}")
_ALPHABET = string.ascii_letters + string.digits


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
    return "".join(secrets.choice(_ALPHABET) for _ in range(NONCE_MAX_LENGTH))
