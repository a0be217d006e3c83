"""Is a vmId this machine's? The DMI system UUID in either case and either byte order.

The one rule both adapters use: cloud-init's instance-id check, Salt's cached grain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from azimds.imds.identity import byte_swapped, same_machine, system_uuid

VM_ID = "13f56399-bd52-4150-9748-7190aae1ff21"
SWAPPED = "9963f513-52bd-5041-9748-7190aae1ff21"


def test_byte_swapping_reverses_the_first_three_groups() -> None:
    assert byte_swapped(VM_ID) == SWAPPED
    assert byte_swapped(SWAPPED) == VM_ID


@pytest.mark.parametrize("text", ["", "not-a-uuid", "1-2-3-4"])
def test_byte_swapping_leaves_other_text_alone(text: str) -> None:
    assert byte_swapped(text) == text


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (VM_ID, VM_ID, True),
        (VM_ID.upper(), VM_ID, True),
        (SWAPPED, VM_ID, True),
        (SWAPPED.upper(), f" {VM_ID}\n", True),
        (VM_ID, "0f2c6d1e-3a4b-4c5d-8e9f-a0b1c2d3e4f5", False),
        (VM_ID, None, False),
        (None, VM_ID, False),
        ("", "", False),
    ],
)
def test_same_machine(first: Any, second: Any, same: bool) -> None:
    assert same_machine(first, second) is same


def test_system_uuid_is_read_where_detection_reads_dmi(tmp_path: Path) -> None:
    (tmp_path / "product_uuid").write_text(SWAPPED.upper() + "\n")
    assert system_uuid({"AZIMDS_DMI_DIR": str(tmp_path)}) == SWAPPED.upper()
    assert system_uuid({"AZIMDS_DMI_DIR": str(tmp_path / "absent")}) is None
