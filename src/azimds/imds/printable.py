"""Text from the network made safe to show: the one rule, for the command line and the emulator.

A server (or a client, for the emulator) controls the bytes of an error text, a header or a
value; printed raw, an ESC sequence can rewrite the terminal, CR can hide what came before and
BEL rings. ``printable`` replaces every character that is not printable (``str.isprintable``:
control, format and separator characters other than the space) with ``?``; ``printable_json``
escapes them as ``\\uXXXX`` instead, which keeps JSON text valid and its value unchanged.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

from typing import Optional

REPLACEMENT = "?"


def printable(text: str, *, keep: str = "", limit: Optional[int] = None) -> str:
    """Return ``text`` with every character that is not printable replaced by ``?``.

    Args:
        text: text that came from the network.
        keep: characters to leave as they are, e.g. ``"\\n"`` for text shown on several lines.
        limit: when given, the result is cut to this many characters and ``...`` appended.
    """
    if limit is not None and len(text) > limit:
        return printable(text[:limit], keep=keep) + "..."
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in keep else REPLACEMENT for ch in text)


def printable_json(text: str) -> str:
    """Return JSON ``text`` with every character that is not printable but the line breaks
    between tokens written as a ``\\uXXXX`` escape.

    Such characters can only stand inside strings (JSON allows nothing else between tokens but
    spaces and line breaks, and ``json.dumps`` escapes line breaks inside strings), where an
    escape means the same character: the JSON value is unchanged.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\n" else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # outside the basic plane: a UTF-16 surrogate pair, as JSON writes it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
