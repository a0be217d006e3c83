"""A faithful Azure IMDS emulator: profiles, faults, fleets, in-process or as a server."""

from .faults import Fault, FaultError
from .profile import ProfileError, VMProfile, default_profile, load_profile, profile_from_mapping
from .server import VM, BindRefused, Emulator, RequestRecord

__all__ = [
    "VM",
    "BindRefused",
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
