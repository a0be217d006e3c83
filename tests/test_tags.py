"""Tags: tagsList first, the legacy string as a fallback, ambiguity reported, never a crash."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azimds.facts.tags import (
    MalformedTags,
    ParsedTags,
    parse_tags,
    parse_tags_list,
    parse_tags_string,
)
from azimds.imds.errors import AzimdsError, MalformedResponse

Pairs = List[Tuple[str, str]]


def join(pairs: Pairs) -> str:
    """The legacy string as IMDS builds it from tagsList."""
    return ";".join(f"{name}:{value}" for name, value in pairs)


def as_list(pairs: Pairs) -> List[Dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


# --- the string ----------------------------------------------------------------------------


def test_documented_example() -> None:
    parsed = parse_tags_string("Department:IT;Environment:Prod;Role:WorkerRole")
    assert parsed == ParsedTags(
        tags={"Department": "IT", "Environment": "Prod", "Role": "WorkerRole"},
        warnings=(),
        source="tags",
    )


def test_value_with_colons_is_split_on_the_first_colon() -> None:
    parsed = parse_tags_string("Url:https://example.com:8443/x;Owner:ops")
    assert parsed.tags == {"Url": "https://example.com:8443/x", "Owner": "ops"}
    assert parsed.warnings == ()


def test_empty_value_is_kept() -> None:
    assert parse_tags_string("Empty:;Next:1").tags == {"Empty": "", "Next": "1"}


def test_empty_string_means_no_tags() -> None:
    assert parse_tags_string("") == ParsedTags(tags={}, warnings=(), source="tags")


def test_segment_without_colon_is_joined_to_the_previous_value_and_reported() -> None:
    parsed = parse_tags_string("Note:a;b;Owner:ops")
    assert parsed.tags == {"Note": "a;b", "Owner": "ops"}
    assert len(parsed.warnings) == 1
    assert "segment 2" in parsed.warnings[0]
    assert "'Note'" in parsed.warnings[0]


def test_leading_segment_without_colon_is_joined_to_the_next_name_and_reported() -> None:
    parsed = parse_tags_string("cost;center:42")
    assert parsed.tags == {"cost;center": "42"}
    assert len(parsed.warnings) == 1
    assert "name of the next tag" in parsed.warnings[0]


def test_string_without_any_colon_becomes_a_name_with_empty_value() -> None:
    parsed = parse_tags_string("lonely")
    assert parsed.tags == {"lonely": ""}
    assert any("no ':' at all" in w for w in parsed.warnings)


def test_trailing_semicolon_is_reported() -> None:
    parsed = parse_tags_string("a:1;")
    assert parsed.tags == {"a": "1;"}
    assert parsed.warnings


def test_names_differing_only_by_case_are_both_kept_and_reported() -> None:
    parsed = parse_tags_string("Env:Prod;env:Dev")
    assert parsed.tags == {"Env": "Prod", "env": "Dev"}
    assert len(parsed.warnings) == 1
    assert "differ only by case" in parsed.warnings[0]


def test_repeated_name_last_wins_and_is_reported() -> None:
    parsed = parse_tags_string("a:1;a:2")
    assert parsed.tags == {"a": "2"}
    assert "more than once" in parsed.warnings[0]


def test_empty_name_is_reported() -> None:
    parsed = parse_tags_string(":orphan")
    assert parsed.tags == {"": "orphan"}
    assert "empty name" in parsed.warnings[0]


def test_semicolon_then_colon_inside_a_value_cannot_be_detected() -> None:
    # "Note" = "x;y:z" and two tags "Note" = "x", "y" = "z" give the same string: only
    # tagsList tells them apart. This pins the documented limit.
    parsed = parse_tags_string("Note:x;y:z")
    assert parsed.tags == {"Note": "x", "y": "z"}
    assert parsed.warnings == ()


@pytest.mark.parametrize("value", [None, 3, ["a:b"], {"a": "b"}, b"a:b"])
def test_string_of_wrong_type_raises(value: Any) -> None:
    with pytest.raises(MalformedTags) as caught:
        parse_tags_string(value)
    assert caught.value.field == "compute.tags"
    assert "must be a string" in str(caught.value)


# --- tagsList ------------------------------------------------------------------------------


def test_tags_list_gives_a_dict_in_order() -> None:
    parsed = parse_tags_list(as_list([("b", "2"), ("a", "semi;colon:both")]))
    assert list(parsed.tags.items()) == [("b", "2"), ("a", "semi;colon:both")]
    assert parsed.source == "tagsList"
    assert parsed.warnings == ()


def test_tags_list_case_duplicates_are_reported() -> None:
    parsed = parse_tags_list(as_list([("Env", "Prod"), ("ENV", "Dev")]))
    assert parsed.tags == {"Env": "Prod", "ENV": "Dev"}
    assert "differ only by case" in parsed.warnings[0]


@pytest.mark.parametrize(
    ("value", "field", "found"),
    [
        ({"name": "a", "value": "b"}, "compute.tagsList", "an object"),
        ("a:b", "compute.tagsList", "a string"),
        ([["a", "b"]], "compute.tagsList[0]", "a list"),
        ([{"name": "a", "value": "b"}, {"name": "c"}], "compute.tagsList[1].value", "nothing"),
        ([{"name": 7, "value": "b"}], "compute.tagsList[0].name", "a number"),
        ([{"name": "a", "value": None}], "compute.tagsList[0].value", "null"),
    ],
)
def test_tags_list_of_wrong_shape_raises_naming_the_field(
    value: Any, field: str, found: str
) -> None:
    with pytest.raises(MalformedTags) as caught:
        parse_tags_list(value)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"malformed IMDS instance document: {field} must be")
    assert f"found {found}" in str(caught.value)


def test_malformed_tags_is_a_value_error_and_an_azimds_error() -> None:
    with pytest.raises(MalformedTags) as caught:
        parse_tags_list("x")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, MalformedResponse)
    assert isinstance(caught.value, AzimdsError)


# --- choosing between them -----------------------------------------------------------------


def test_tags_list_wins_even_when_the_string_disagrees() -> None:
    compute = {"tags": "Department:Finance;Extra:1", "tagsList": as_list([("Department", "IT")])}
    parsed = parse_tags(compute)
    assert parsed.tags == {"Department": "IT"}
    assert parsed.source == "tagsList"


def test_empty_tags_list_wins_over_a_nonempty_string() -> None:
    assert parse_tags({"tags": "a:b", "tagsList": []}).tags == {}


def test_string_is_used_when_tags_list_is_absent() -> None:
    parsed = parse_tags({"tags": "a:b;c:d"})
    assert parsed.tags == {"a": "b", "c": "d"}
    assert parsed.source == "tags"


def test_neither_gives_no_source() -> None:
    assert parse_tags({"vmId": "x"}) == ParsedTags(tags={}, warnings=(), source=None)


def test_compute_of_wrong_type_raises() -> None:
    with pytest.raises(MalformedTags) as caught:
        parse_tags(["tags"])  # type: ignore[arg-type]
    assert caught.value.field == "compute"


# --- properties ----------------------------------------------------------------------------

plain_names = st.text(alphabet=st.characters(exclude_characters=":;"))
plain_values = st.text(alphabet=st.characters(exclude_characters=";"))


@given(st.lists(st.tuples(st.text(min_size=1), st.text()), unique_by=lambda p: p[0].casefold()))
def test_tags_list_round_trips_to_a_dict(pairs: Pairs) -> None:
    parsed = parse_tags_list(as_list(pairs))
    assert list(parsed.tags.items()) == pairs
    assert parsed.warnings == ()


@given(st.lists(st.tuples(plain_names, plain_values)))
def test_string_of_plain_pairs_parses_back_to_the_pairs(pairs: Pairs) -> None:
    assert parse_tags_string(join(pairs)).tags == dict(pairs)


@given(
    st.lists(st.tuples(plain_names.filter(bool), plain_values), unique_by=lambda p: p[0].casefold())
)
def test_string_of_distinct_plain_pairs_gives_no_warning(pairs: Pairs) -> None:
    parsed = parse_tags_string(join(pairs))
    assert list(parsed.tags.items()) == pairs
    assert parsed.warnings == ()


@given(
    st.lists(st.tuples(plain_names, st.text()), min_size=1),
    st.data(),
)
def test_semicolon_inside_a_value_is_reported(pairs: Pairs, data: st.DataObject) -> None:
    # Put a ';' into one value so that a piece after it has no ':' (the detectable case; a
    # piece with a ':' looks exactly like another tag).
    index = data.draw(st.integers(0, len(pairs) - 1))
    tail = data.draw(st.text(alphabet=st.characters(exclude_characters=":;")))
    name, value = pairs[index]
    pairs[index] = (name, f"{value};{tail}")
    parsed = parse_tags_string(join(pairs))
    assert parsed.warnings, join(pairs)


@given(st.text())
def test_any_text_parses_and_unreported_results_join_back_to_the_input(text: str) -> None:
    parsed = parse_tags_string(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.tags.items())
    if not parsed.warnings:
        assert join(list(parsed.tags.items())) == text


@given(st.text(alphabet=":;aA", max_size=30))
def test_punctuation_heavy_text_never_raises(text: str) -> None:
    parsed = parse_tags_string(text)
    if not parsed.warnings:
        assert join(list(parsed.tags.items())) == text
