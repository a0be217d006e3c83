"""The signed content of an attested document: strict JSON, and its timestamps.

The content is read as strict JSON: a repeated key (two ``nonce`` keys: which one was meant?)
and the non-JSON constants ``NaN`` and ``Infinity`` (or a number too large for a float) are
refused, so what a verifier reports is exactly what was signed.
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any, Dict, List, Tuple

from . import spec
from .errors import ContentError


def strict_json(text: str) -> Any:
    """Return the value of the JSON ``text``, refusing what JSON does not allow or makes
    ambiguous.

    Raises:
        ValueError: ``text`` is not JSON, an object repeats a key, a number is ``NaN``,
            ``Infinity`` or does not fit a float, or the nesting is too deep.
    """
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise ValueError("it is nested too deeply") from None


def parse_content(content: bytes) -> Dict[str, Any]:
    """Return the JSON object in the signed ``content``.

    Raises:
        ContentError: the content is not UTF-8 strict JSON (see ``strict_json``), not an
            object, or lacks a string ``nonce`` or a ``timeStamp`` object.
    """
    try:
        parsed = strict_json(content.decode("utf-8"))
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


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value
