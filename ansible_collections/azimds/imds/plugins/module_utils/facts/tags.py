# GENERATED from src/azimds/facts/tags.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""Tags of an IMDS instance document as a dict, with warnings about anything ambiguous.

IMDS gives tags two ways: ``tagsList`` (2019-06-04+), a list of ``{"name", "value"}`` objects,
and ``tags`` (2017-08-01+), one string ``name:value;name:value``. Azure lets names and values
contain ``:`` and ``;``, so the string is ambiguous; ``tagsList`` is used whenever present and
the string only as a fallback, split as well as it can be, saying what was doubtful.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from ..imds.errors import MalformedDocument
from ..imds.paths import element_at, key_path

if TYPE_CHECKING:
    from typing import TypeGuard  # Python 3.10+: for the type checker only

SOURCE_LIST = "tagsList"
SOURCE_STRING = "tags"


class MalformedTags(MalformedDocument):
    """``tags`` or ``tagsList`` has the wrong type (not a string, not a list of name/value)."""


class ParsedTags(NamedTuple):
    """Tags as a dict (in document order), where they came from, and what was ambiguous.

    ``source`` is ``"tagsList"``, ``"tags"`` or None when the document carries neither.
    """

    tags: Dict[str, str]
    warnings: Tuple[str, ...] = ()
    source: Optional[str] = None


def parse_tags(compute: Mapping[str, Any]) -> ParsedTags:
    """Return the tags of the ``compute`` section: from ``tagsList`` if present, else ``tags``.

    The string is read only when ``tagsList`` is absent (api-versions before 2019-06-04),
    even if the two disagree. A document with neither gives empty tags and source None.

    Raises:
        MalformedTags: ``compute`` is not a mapping, ``tagsList`` is not a list of name/value
            objects, or ``tags`` is not a string.
    """
    if not is_json_object(compute):
        raise MalformedTags("compute", f"must be an object, found {json_kind(compute)}")
    if "tagsList" in compute and compute["tagsList"] != "":
        return parse_tags_list(compute["tagsList"])
    if "tags" in compute:
        return parse_tags_string(compute["tags"])
    return ParsedTags(tags={})


def parse_tags_list(items: Any) -> ParsedTags:
    """Return the tags of a ``tagsList`` value (``[{"name": ..., "value": ...}, ...]``).

    A later duplicate name wins; duplicates, names equal but for case (Azure tag names are
    case-insensitive) and empty names are reported as warnings.

    Raises:
        MalformedTags: ``items`` is not a list, or an element is not a mapping with string
            ``name`` and ``value``.
    """
    if not isinstance(items, list):
        raise MalformedTags(
            "compute.tagsList",
            f"must be a list of {{name, value}} objects, found {json_kind(items)}",
        )
    pairs: List[Tuple[str, str]] = []
    for index, item in enumerate(items):
        if not is_json_object(item):
            where = element_at("compute.tagsList", index)
            raise MalformedTags(where, f"must be a {{name, value}} object, found {json_kind(item)}")
        for key in ("name", "value"):
            if not isinstance(item.get(key), str):
                found = json_kind(item[key]) if key in item else "nothing"
                where = key_path(element_at("compute.tagsList", index), key)
                raise MalformedTags(where, f"must be a string, found {found}")
        pairs.append((item["name"], item["value"]))
    return _collect(pairs, [], SOURCE_LIST)


def parse_tags_string(text: Any) -> ParsedTags:
    """Return the tags of a legacy ``tags`` string ``name:value;name:value``.

    Each pair is split on its first ``:``, so values may contain ``:``. A segment without a
    ``:`` cannot be a pair (IMDS writes ``name:`` even for an empty value): it means a ``;``
    sat inside a value or a name. It is joined back, with its ``;``, onto the previous value,
    or onto the next name when it comes first, and reported. A ``;`` inside a value followed by
    text containing ``:`` cannot be told apart from two tags: only ``tagsList`` resolves it.
    Never raises on any string; when nothing is reported, joining the result back gives the
    input.

    Raises:
        MalformedTags: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise MalformedTags("compute.tags", f"must be a string, found {json_kind(text)}")
    if text == "":
        return ParsedTags(tags={}, source=SOURCE_STRING)
    pairs: List[Tuple[str, str]] = []
    warnings: List[str] = []
    name_prefix: Optional[str] = None  # colonless segments seen before any pair
    for position, segment in enumerate(text.split(";"), start=1):
        if ":" in segment:
            name, value = segment.split(":", 1)
            if name_prefix is not None:
                name = f"{name_prefix};{name}"
                name_prefix = None
            pairs.append((name, value))
        elif pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value};{segment}")
            warnings.append(
                f"tags segment {position} has no ':'; assumed the ';' before it belongs to "
                f"the value of tag {name!r}"
            )
        else:
            name_prefix = segment if name_prefix is None else f"{name_prefix};{segment}"
            warnings.append(
                f"tags segment {position} has no ':'; assumed the ';' after it belongs to "
                f"the name of the next tag"
            )
    if name_prefix is not None:
        pairs.append((name_prefix, ""))
        warnings.append(
            f"tags string has no ':' at all; kept {name_prefix!r} as a name with an empty value"
        )
    return _collect(pairs, warnings, SOURCE_STRING)


def _collect(pairs: List[Tuple[str, str]], warnings: List[str], source: str) -> ParsedTags:
    """Return the pairs as ParsedTags, adding warnings for empty and duplicate names."""
    tags: Dict[str, str] = {}
    seen: Dict[str, str] = {}  # casefolded name -> first spelling
    for name, value in pairs:
        if name == "":
            warnings.append(f"{source}: a tag has an empty name")
        folded = name.casefold()
        if folded in seen:
            first = seen[folded]
            if first == name:
                warnings.append(f"{source}: tag {name!r} appears more than once; the last wins")
            else:
                warnings.append(
                    f"{source}: tags {first!r} and {name!r} differ only by case, and Azure "
                    f"tag names are case-insensitive"
                )
        else:
            seen[folded] = name
        tags[name] = value
    return ParsedTags(tags=tags, warnings=tuple(warnings), source=source)


def is_json_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """Return True for a JSON object (a dict, or another mapping)."""
    return isinstance(value, (dict, Mapping))  # dict first: typing's Mapping check is slow


def json_kind(value: Any) -> str:
    """Return the JSON type of ``value`` for an error message (never the value itself)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if is_json_object(value):
        return "an object"
    names = {list: "a list", str: "a string", type(None): "null"}
    return names.get(type(value), type(value).__name__)
