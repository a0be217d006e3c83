# GENERATED from src/azimds/imds/jsontext.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""``loads`` and ``dumps``: json.loads and json.dumps(indent=2), without importing ``json``.

Importing ``json`` imports ``re`` for patterns only its pure-Python fallback needs: about a
third of the start-up of ``azimds get`` (see azimds/__init__.py). ``loads`` runs the C scanner
that ``json.loads`` itself runs, and ``dumps`` writes strings with the C function that
``json.dumps`` uses, so results are the same (tests/test_jsontext.py compares them). Where
``_json`` is missing (another interpreter), ``json`` is used.

Standard library only, Python 3.8+: this module is shipped to Ansible targets.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Set, Tuple

    Scanner = Callable[[str, int], Tuple[Any, int]]

_WHITESPACE = " \t\n\r"  # what JSON allows between tokens
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Defaults:
    """The options ``json.loads`` gives its scanner when called without any."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def _c_scanner() -> Optional[Scanner]:
    try:
        from _json import make_scanner
    except ImportError:
        return None
    # typeshed types the context as a JSONDecoder; any object with its attributes will do.
    scanner: Scanner = make_scanner(_Defaults)  # type: ignore[arg-type]
    return scanner


_scan = _c_scanner()


def loads(text: str) -> Any:
    """Return the one JSON value in ``text``, as ``json.loads(text)`` would.

    Raises:
        ValueError: ``text`` is not exactly one JSON value, or nests too deeply to parse
            (``json.JSONDecodeError``, with the position of the problem, for the former).
    """
    try:
        if _scan is None:
            import json

            return json.loads(text)
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = _scan(text, start)
        except StopIteration as stop:
            raise _error("Expecting value", text, stop.value) from None
        rest = text[end:]
        if rest.strip(_WHITESPACE):
            raise _error("Extra data", text, end + len(rest) - len(rest.lstrip(_WHITESPACE)))
        return value
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None


def _error(message: str, text: str, position: int) -> ValueError:
    from json import JSONDecodeError  # only on the error path: see the module docstring

    return JSONDecodeError(message, text, position)


def dumps(value: Any) -> str:
    """Return ``json.dumps(value, indent=2, ensure_ascii=False)`` for a JSON value.

    Raises:
        TypeError: ``value`` holds something JSON has no form for.
        ValueError: ``value`` contains itself.
    """
    parts: List[str] = []
    _write(value, "\n", parts, set())
    return "".join(parts)


def _c_quote() -> Callable[[str], str]:
    try:
        from _json import encode_basestring
    except ImportError:  # not CPython: json's own Python version, at the cost of importing json
        from json.encoder import py_encode_basestring as encode_basestring
    quote: Callable[[str], str] = encode_basestring
    return quote


_quote = _c_quote()


def _write(value: Any, newline: str, parts: List[str], open_ids: Set[int]) -> None:
    """Append the text of ``value`` to ``parts``; ``newline`` holds the current indent."""
    if isinstance(value, str):
        parts.append(_quote(value))
    elif value is None or isinstance(value, (bool, int, float)):
        parts.append(_scalar(value))
    elif isinstance(value, (dict, list, tuple)):
        if not value:
            parts.append("{}" if isinstance(value, dict) else "[]")
            return
        if id(value) in open_ids:
            raise ValueError("Circular reference detected")
        open_ids.add(id(value))
        inner = newline + "  "
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
        parts.append(opening)
        items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
        for index, (key, item) in enumerate(items):
            parts.append(inner if index == 0 else "," + inner)
            if isinstance(value, dict):
                parts.append(_key(key) + ": ")
            _write(item, inner, parts, open_ids)
        parts.append(newline + closing)
        open_ids.discard(id(value))
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    """Return a dict key as JSON writes it: keys are strings, scalars become their text."""
    if isinstance(key, str):
        return _quote(key)
    if key is None or isinstance(key, (bool, int, float)):
        return _quote(_scalar(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
