"""A faithful Azure IMDS emulator: profiles, faults, fleets, in-process or as a server.

Names are imported on first use, so that ``azimds`` sub-commands that never start the
emulator do not pay for asyncio and YAML at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the real names
    from .binding import BindRefused, DescriptorLimit
    from .faults import Fault, FaultError
    from .profile import (
        ProfileError,
        VMProfile,
        default_profile,
        load_profile,
        profile_from_mapping,
    )
    from .server import Emulator
    from .vm import VM, RequestRecord

_EXPORTS = {
    "VM": "vm",
    "BindRefused": "binding",
    "DescriptorLimit": "binding",
    "Emulator": "server",
    "RequestRecord": "vm",
    "Fault": "faults",
    "FaultError": "faults",
    "ProfileError": "profile",
    "VMProfile": "profile",
    "default_profile": "profile",
    "load_profile": "profile",
    "profile_from_mapping": "profile",
}

__all__ = [
    "VM",
    "BindRefused",
    "DescriptorLimit",
    "Emulator",
    "Fault",
    "FaultError",
    "ProfileError",
    "RequestRecord",
    "VMProfile",
    "default_profile",
    "load_profile",
    "profile_from_mapping",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'azimds.emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
