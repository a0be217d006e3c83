"""Fetching an attested document from an IMDS base URL, with a fresh nonce by default."""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional

from ..imds import transport
from ..imds.client import ATTESTED_PATH as ATTESTED_PATH
from ..imds.client import Client
from ..imds.errors import AzimdsError
from .errors import FetchError
from .spec import check_nonce, new_nonce

DEFAULT_TIMEOUT = 30.0  # a deadline for the whole fetch, retries included


class FetchedDocument(NamedTuple):
    """An attested-document response and the request it answers (``url`` names its version)."""

    response: Dict[str, str]  # {"encoding": "pkcs7", "signature": "<base64>"}
    nonce: str
    url: str


def fetch(
    base_url: str,
    *,
    nonce: Optional[str] = None,
    api_version: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> FetchedDocument:
    """Return the attested document served at ``base_url`` (e.g. ``http://127.0.0.1:8080``).

    A fresh unpredictable nonce is generated unless ``nonce`` is given. The request carries
    ``Metadata: true`` and goes straight to ``base_url``: no proxy, no redirect.

    Raises:
        NonceError: ``nonce`` breaks the rule (1 to 32 letters and digits).
        FetchError: the request failed, the status was not 200, or the body is not a JSON
            object with string ``encoding`` and ``signature``.
    """
    chosen = check_nonce(nonce) if nonce is not None else new_nonce()
    # The core client: retries (410, 429, 5xx...), pacing, no proxy, no redirect, a deadline.
    try:
        client = Client(
            base_url, api_version=api_version, deadline=timeout, connect_timeout=min(2.0, timeout)
        )
        body, version = client.attested_document(chosen)
    except (AzimdsError, ValueError) as exc:
        raise FetchError(str(exc)) from None
    url = attested_url(base_url, chosen, version)
    if not (isinstance(body.get("encoding"), str) and isinstance(body.get("signature"), str)):
        raise FetchError(f"GET {url} answered JSON without string 'encoding' and 'signature'")
    return FetchedDocument(response=body, nonce=chosen, url=url)


def attested_url(base_url: str, nonce: str, api_version: str) -> str:
    """Return the attested-document URL under ``base_url`` for ``nonce`` and ``api_version``."""
    query = transport.query_string({"api-version": api_version, "nonce": nonce})
    return f"{base_url.rstrip('/')}{ATTESTED_PATH}?{query}"
