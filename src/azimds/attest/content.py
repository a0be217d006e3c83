"""The signed content of an attested document: strict JSON, and its timestamps.

The content is read as strict JSON by the core's one rule (``imds.body.loads``, unique keys): a
repeated key (two ``nonce`` keys: which one was meant?), the non-JSON constants ``NaN`` and
``Infinity`` and a number too large for a float are refused, so what a verifier reports is
exactly what was signed.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, Tuple

from ..imds import body
from . import spec
from .errors import ContentError


def parse_content(content: bytes) -> Dict[str, Any]:
    """Return the JSON object in the signed ``content``.

    Raises:
        ContentError: the content is not UTF-8 strict JSON with unique keys, not an object,
            or lacks a string ``nonce`` or a ``timeStamp`` object.
    """
    try:
        parsed = body.loads(content.decode("utf-8"), unique_keys=True)
    except ValueError as exc:
        raise ContentError(f"the signed content is not JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ContentError(f"the signed content is a JSON {type(parsed).__name__}, not an object")
    if not isinstance(parsed.get("nonce"), str):
        raise ContentError("the signed content has no string 'nonce'")
    if not isinstance(parsed.get("timeStamp"), dict):
        raise ContentError("the signed content has no 'timeStamp' object")
    return parsed


def timestamps(content: Dict[str, Any]) -> Tuple[datetime.datetime, datetime.datetime]:
    """Return ``(createdOn, expiresOn)`` of parsed ``content`` as UTC datetimes.

    Raises:
        ContentError: a timestamp is missing or malformed, or expiresOn precedes createdOn.
    """
    stamp = content["timeStamp"]
    created = _time(stamp, "createdOn")
    expires = _time(stamp, "expiresOn")
    if expires < created:
        raise ContentError(
            f"timeStamp.expiresOn ({stamp['expiresOn']}) is before createdOn ({stamp['createdOn']})"
        )
    return created, expires


def _time(stamp: Dict[str, Any], field: str) -> datetime.datetime:
    text = stamp.get(field)
    try:
        return spec.parse_time(text)
    except ValueError:
        raise ContentError(
            f"timeStamp.{field} is {text!r}, not a time like {spec.TIME_EXAMPLE!r}"
        ) from None
