"""The shape of the instance document in the api-version table (versions.DOCUMENT_SHAPE)
agrees with the emulator's default VM, which has every field of the newest api-version."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Tuple

from azimds.emulator.profile import default_profile
from azimds.imds import versions
from azimds.imds.paths import element_path, key_path

# In the table, not in the default VM: it has no IPv6 address or subnet to show their shape.
NOT_IN_THE_DEFAULT_VM = {
    "network.interface[].ipv6.ipAddress[]",
    "network.interface[].ipv6.ipAddress[].privateIpAddress",
    "network.interface[].ipv6.ipAddress[].publicIpAddress",
    "network.interface[].ipv6.subnet",
    "network.interface[].ipv6.subnet[]",
    "network.interface[].ipv6.subnet[].address",
    "network.interface[].ipv6.subnet[].prefix",
}


def kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "value"


def kinds(node: Any, path: str = "") -> Iterator[Tuple[str, str]]:
    """Yield (field path, "object" | "array" | "value") for every node under ``node``."""
    if isinstance(node, dict):
        children = [(key_path(path, key), value) for key, value in node.items()]
    elif isinstance(node, list):
        children = [(element_path(path), item) for item in node]
    else:
        children = []
    for child, value in children:
        yield child, kind(value)
        yield from kinds(value, child)


def table_kinds() -> Dict[str, str]:
    found: Dict[str, str] = {}

    def walk(shape: Any, path: str) -> None:
        for key, value in shape.items():
            child = key_path(path, key)
            if isinstance(value, dict):
                found[child] = "object"
                walk(value, child)
            elif isinstance(value, list):
                found[child] = "array"
                found[element_path(child)] = "object"
                walk(value[0], element_path(child))
            else:
                found[child] = "value"

    walk(versions.DOCUMENT_SHAPE, "")
    return found


def served_kinds() -> Dict[str, str]:
    return dict(kinds(default_profile().instance))


def test_every_node_of_the_default_vm_is_in_the_table_with_its_kind() -> None:
    table = table_kinds()
    for path, kind in served_kinds().items():
        assert table.get(path) == kind, path


def test_every_node_of_the_table_is_served_by_the_default_vm() -> None:
    served = served_kinds()
    assert set(table_kinds()) - set(served) == NOT_IN_THE_DEFAULT_VM
