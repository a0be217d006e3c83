"""Pytest fixtures for testing against the emulator (registered as the plugin azimds_emulator).

``imds`` yields a running one-VM emulator with the default profile. ``imds_factory(profile=...,
**kwargs)`` starts more (a mapping is read as a profile over the default); all stop at teardown.

pytest loads this plugin in every environment where azimds is installed, with or without the
``emulator`` extra: the emulator itself is imported when a fixture is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Mapping, Optional, Union

import pytest

if TYPE_CHECKING:
    from .profile import VMProfile
    from .server import Emulator

EmulatorFactory = Callable[..., "Emulator"]


@pytest.fixture
def imds_factory() -> Iterator[EmulatorFactory]:
    """Yield a function that starts an emulator for a profile (VMProfile or mapping)."""
    from .profile import profile_from_mapping
    from .server import Emulator

    started: List[Emulator] = []

    def start(
        profile: Optional[Union[VMProfile, Mapping[str, Any]]] = None, **kwargs: Any
    ) -> Emulator:
        if isinstance(profile, Mapping):
            profile = profile_from_mapping(profile, source="<test profile>")
        emulator = Emulator(profile, **kwargs).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def imds(imds_factory: EmulatorFactory) -> Emulator:
    """Return a running emulator serving the default VM profile on loopback."""
    return imds_factory()
