"""The signed content of an attested document: its JSON and its timestamps.

``TIME_FORMAT`` is the one definition of the timestamp format, used by the verifier to read
``timeStamp`` and by the emulator to write it.
"""

from __future__ import annotations

import datetime
import json
from typing import Any, Dict, List, Tuple

from .errors import ContentError

# "11/30/20 21:19:19 -0000": month/day/two-digit year, UTC.
TIME_FORMAT = "%m/%d/%y %H:%M:%S -0000"
_PARSE_FORMAT = "%m/%d/%y %H:%M:%S %z"


def format_time(moment: datetime.datetime) -> str:
    """Return ``moment`` (naive means UTC) as an attested-document timestamp."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime(TIME_FORMAT)


def parse_time(text: str, field: str) -> datetime.datetime:
    """Return the UTC time written as ``text`` in ``timeStamp.<field>``.

    Raises:
        ContentError: ``text`` is not in the ``MM/DD/YY HH:MM:SS -0000`` format.
    """
    try:
        return datetime.datetime.strptime(text, _PARSE_FORMAT).astimezone(datetime.timezone.utc)
    except (TypeError, ValueError):
        raise ContentError(
            f"timeStamp.{field} is {text!r}, not a time like '11/30/20 21:19:19 -0000'"
        ) from None


def parse_content(content: bytes) -> Dict[str, Any]:
    """Return the JSON object in the signed ``content``.

    Raises:
        ContentError: the content is not UTF-8 JSON, not an object, repeats a key, or lacks
            a string ``nonce`` or a ``timeStamp`` object.
    """
    try:
        parsed = json.loads(content.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
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
    created = parse_time(stamp.get("createdOn"), "createdOn")
    expires = parse_time(stamp.get("expiresOn"), "expiresOn")
    if expires < created:
        raise ContentError(
            f"timeStamp.expiresOn ({stamp['expiresOn']}) is before createdOn ({stamp['createdOn']})"
        )
    return created, expires


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice")
        result[key] = value
    return result
