# GENERATED from src/azimds/imds/body.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""What a response body must be for azimds to use it: strict JSON (RFC 8259), one rule for all.

``json.loads`` accepts more than JSON: ``NaN``, ``Infinity`` and ``-Infinity``, numbers such as
``1e999`` that become infinite, and (before Python 3.11) integers of any length. IMDS sends none
of these; a body holding one is malformed, whichever command reads it, on every Python.
Where a repeated key would make a document ambiguous (an attested document with two
``signature`` or two ``nonce`` keys: which one was meant?), ``unique_keys`` refuses it too.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, NoReturn, Tuple

# CPython's own default limit since 3.11 (sys.int_info.default_max_str_digits), on every Python.
MAX_INT_DIGITS = 4300


def loads(text: str, unique_keys: bool = False) -> Any:
    """Return the one strict JSON value in ``text``; with ``unique_keys``, every object's keys
    must differ (off by default: checking costs time, and only signed documents need it).

    Raises:
        ValueError: ``text`` is not strict JSON, nests too deeply to parse, or (with
            ``unique_keys``) an object repeats a key. The message says where or what kind of
            thing was wrong, never the content.
    """
    try:
        return json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite,
            parse_int=_bounded,
            object_pairs_hook=_unique if unique_keys else None,
        )
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None


def dumps(value: Any) -> str:
    """Return ``value`` as indented JSON text, non-ASCII characters kept as they are.

    Raises:
        ValueError: ``value`` holds a NaN or an infinity (not JSON), or contains itself.
        TypeError: ``value`` holds something JSON has no form for.
    """
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("a number too large for a float")
    return value


def _bounded(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _unique(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice")
        result[key] = value
    return result
