"""The one rule for showing network text (azimds/imds/printable.py), and both its users."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from azimds.emulator import Emulator
from azimds.imds.printable import printable, printable_json
from emulator_support import body_of, exchange, status_of


def test_control_format_and_separator_characters_become_question_marks() -> None:
    assert printable("a\x1b[2Jb\rc\x07d\x9be\u202ef\u2028g\x00") == "a?[2Jb?c?d?e?f?g?"
    assert printable("plain text, ü, 日本, emoji 🙂") == "plain text, ü, 日本, emoji 🙂"


def test_kept_characters_stay() -> None:
    assert printable("one\ntwo\r\n", keep="\n") == "one\ntwo?\n"


def test_a_limit_cuts_and_says_so() -> None:
    assert printable("x" * 10, limit=10) == "x" * 10
    assert printable("x" * 11, limit=10) == "x" * 10 + "..."
    assert printable("\x1b" * 500, limit=3) == "???..."


@given(st.text())
def test_the_result_is_always_printable(text: str) -> None:
    assert printable(text).isprintable()
    assert len(printable(text)) == len(text)


@given(st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_json_stays_json_with_the_same_value_and_nothing_unprintable(value: object) -> None:
    text = printable_json(json.dumps(value, indent=2, ensure_ascii=False))
    assert all(ch.isprintable() or ch == "\n" for ch in text)
    assert json.loads(text) == value


def test_the_emulator_echoes_a_hostile_path_short_and_printable(imds: Emulator) -> None:
    path = "/metadata/" + "%1B%5B2J%07" + "a" * 1000
    request = f"GET {path} HTTP/1.1\r\nMetadata: true\r\nConnection: close\r\n\r\n"
    raw = exchange(imds.base_url, request.encode())
    assert status_of(raw) == 404
    error = json.loads(body_of(raw))["error"]
    echoed = error.split("'")[1]
    assert echoed.startswith("/metadata/?[2J?aaa") and echoed.endswith("...")
    assert len(echoed) == 120 + len("...")
    assert error.isprintable()
