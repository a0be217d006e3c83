"""What this machine lacks for a test: a visible skip here, a failure when ``CI`` is set.

CI must provide everything the tests need (Pythons, curl, private networks, cloud-init's
packages), so there a missing piece fails the test instead of hiding behind a skip.
"""

from __future__ import annotations

import os
from typing import NoReturn, Optional

import pytest


def fail_under_ci(reason: str) -> None:
    """Fail the calling test with ``reason`` when ``CI`` is set; otherwise do nothing."""
    __tracebackhide__ = True  # pytest reports the caller's line
    if os.environ.get("CI"):
        pytest.fail(reason)


def skip_or_fail(reason: str, ci_reason: Optional[str] = None) -> NoReturn:
    """Skip the calling test with ``reason``; under CI, fail it with ``ci_reason`` or ``reason``."""
    __tracebackhide__ = True  # pytest reports the caller's line
    fail_under_ci(ci_reason or reason)
    pytest.skip(reason)
