# GENERATED from src/azimds/imds/detect.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""Decide, before any network traffic, whether to talk to IMDS and at which address.

The order, first match wins:

1. ``AZIMDS_DISABLE`` set to a true value (1, true, yes, on): not on Azure, send nothing, even
   when an endpoint is given.
2. An endpoint passed by the caller: talk to it.
3. ``AZIMDS_ENDPOINT`` in the environment: talk to it.
4. The DMI chassis asset tag (``<AZIMDS_DMI_DIR or /sys/class/dmi/id>/chassis_asset_tag``)
   is Azure's ``7783-7084-3265-9085-8269-3286-77``: talk to http://169.254.169.254.
5. Otherwise: not on Azure.

An endpoint, given or from the environment, must be ``http://HOST[:PORT]`` (``endpoint.py``):
a malformed one is an error here, before anything else looks at it. Detection reads one small
file at most and never opens a socket. ``not_on_azure_message`` is what to tell a person when it
says no (``errors.NotOnAzure`` carries it): an answer off Azure needs nothing but this module.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

import os
from typing import Mapping, NamedTuple, Optional

DEFAULT_ENDPOINT = "http://169.254.169.254"
AZURE_CHASSIS_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"
DEFAULT_DMI_DIR = "/sys/class/dmi/id"

ENV_ENDPOINT = "AZIMDS_ENDPOINT"
ENV_DISABLE = "AZIMDS_DISABLE"
ENV_DMI_DIR = "AZIMDS_DMI_DIR"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class Detection(NamedTuple):
    """The outcome of detection.

    Attributes:
        on_azure: True when azimds should talk to IMDS.
        endpoint: the base URL to talk to (None when ``on_azure`` is False).
        source: what decided: "disabled", "argument", "environment", "dmi" or "none".
        reason: one sentence a person can read, e.g. for ``azimds detect``.
    """

    on_azure: bool
    endpoint: Optional[str]
    source: str
    reason: str


def detect(
    endpoint: Optional[str] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Detection:
    """Return whether and where to talk to IMDS, without any network traffic.

    Args:
        endpoint: an explicit IMDS base URL (e.g. an emulator's); implies "talk to it".
        environ: the environment to read (default ``os.environ``).

    Returns:
        A Detection; ``on_azure`` False means: send nothing.

    Raises:
        ValueError: ``AZIMDS_DISABLE`` holds a value that is neither true nor false, or the
            endpoint (given, or from ``AZIMDS_ENDPOINT``) is not ``http://HOST[:PORT]``.
    """
    env = os.environ if environ is None else environ
    disable = env.get(ENV_DISABLE, "").strip().lower()
    if disable in _TRUE:
        return Detection(False, None, "disabled", f"{ENV_DISABLE}={env[ENV_DISABLE]} is set")
    if disable not in _FALSE:
        raise ValueError(
            f"{ENV_DISABLE}={env[ENV_DISABLE]!r} is neither true (1, true, yes, on) nor false "
            "(0, false, no, off, empty); fix or unset it"
        )
    if endpoint:
        _check_endpoint(endpoint)
        return Detection(True, endpoint, "argument", f"endpoint {endpoint} was given")
    from_env = env.get(ENV_ENDPOINT, "").strip()
    if from_env:
        _check_endpoint(from_env)
        return Detection(True, from_env, "environment", f"{ENV_ENDPOINT}={from_env} is set")
    tag_path = os.path.join(dmi_dir(env), "chassis_asset_tag")
    tag = read_asset_tag(tag_path)
    if tag == AZURE_CHASSIS_ASSET_TAG:
        return Detection(True, DEFAULT_ENDPOINT, "dmi", f"{tag_path} holds Azure's asset tag")
    if tag is None:
        reason = f"cannot read {tag_path} (not Linux, or no DMI data)"
    else:
        reason = f"{tag_path} holds {tag!r}, not Azure's {AZURE_CHASSIS_ASSET_TAG}"
    return Detection(False, None, "none", reason)


def not_on_azure_message(
    reason: str, disabled: bool = False, pass_endpoint: str = "pass an endpoint"
) -> str:
    """Return what to tell a person when detection says not to talk to IMDS: ``reason`` (a
    Detection's), that nothing was sent, and how to talk to an IMDS anyway.

    ``disabled`` is True when ``AZIMDS_DISABLE`` decided (source "disabled"): then no endpoint
    helps, and the advice is to unset it. ``pass_endpoint`` says how the caller's user gives
    an endpoint, e.g. "pass --endpoint URL" for a command line.
    """
    if disabled:
        advice = (
            "AZIMDS_DISABLE turns every request off, even to an endpoint given explicitly; "
            "unset it (or set it to 0) to talk to IMDS."
        )
    else:
        advice = (
            f"To talk to an IMDS anyway (an emulator, say), {pass_endpoint} or set "
            "AZIMDS_ENDPOINT=http://HOST:PORT."
        )
    return f"not on Azure: {reason}. Nothing was sent. {advice}"


def _check_endpoint(url: str) -> None:
    """Check that ``url`` is an IMDS endpoint (``endpoint.py``).

    Raises:
        ValueError: it is not ``http://HOST[:PORT]``.
    """
    # Imported here, where an endpoint is given: off Azure, detection imports nothing more.
    from .endpoint import parse_endpoint

    parse_endpoint(url)


def dmi_dir(environ: Optional[Mapping[str, str]] = None) -> str:
    """Return the folder DMI data is read from: ``AZIMDS_DMI_DIR`` if set, else the system's."""
    env = os.environ if environ is None else environ
    return env.get(ENV_DMI_DIR) or DEFAULT_DMI_DIR


def read_asset_tag(path: str) -> Optional[str]:
    """Return the stripped content of the chassis asset tag file, or None if unreadable."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read(256).strip()
    except OSError:
        return None
