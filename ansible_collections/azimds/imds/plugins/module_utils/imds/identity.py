# GENERATED from src/azimds/imds/identity.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""Is this still the same VM? The vmId against the DMI system UUID, byte-swapped or not.

Azure VMs have shown their DMI system UUID (``product_uuid``) in two byte orders: the first three
groups of the UUID written little-endian on some (older, generation 1) VMs and kernels, and
upper case on kernels before 4.15. Both are the same machine; taking them for two would make
cloud-init run its per-instance steps again (new SSH host keys, a new user) and Salt refuse the
grain it cached on this very VM. This is the one rule every adapter uses; DMI is read where
detection reads it.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional

from .detect import dmi_dir

SYSTEM_UUID_FILE = "product_uuid"


def byte_swapped(uuid: str) -> str:
    """Return ``uuid`` with the bytes of its first three groups in the other order.

    ``13f56399-bd52-4150-9748-7190aae1ff21`` <-> ``9963f513-52bd-5041-9748-7190aae1ff21``.
    Anything that is not five dash-separated groups is returned unchanged.
    """
    groups = uuid.split("-")
    if len(groups) != 5:
        return uuid
    for index in range(3):
        group = groups[index]
        groups[index] = "".join(group[i : i + 2] for i in range(len(group) - 2, -1, -2))
    return "-".join(groups)


def same_machine(first: Optional[str], second: Optional[str]) -> bool:
    """Return True when two UUIDs name the same VM: equal, ignoring case or byte order."""
    if not first or not second:
        return False
    first, second = first.strip().lower(), second.strip().lower()
    return first == second or byte_swapped(first) == second


def system_uuid(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Return the DMI system UUID, read where azimds's detection reads DMI, or None.

    The folder is ``AZIMDS_DMI_DIR`` when set (tests), else /sys/class/dmi/id.
    """
    path = os.path.join(dmi_dir(environ), SYSTEM_UUID_FILE)
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read(100).strip() or None
    except OSError:
        return None
