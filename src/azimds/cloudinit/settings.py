"""The datasource's settings: cloud-init's ``datasource: AzureImds:`` section, checked.

    datasource:
      AzureImds:
        timeout: 90                  # seconds for the whole IMDS fetch, every retry included
        endpoint: http://127.0.0.1:8169   # talk to this IMDS (an emulator); default: detect
        apply_network_config: false  # network configuration from IMDS's interfaces

A value of the wrong kind is reported (one line naming the key, the value's kind and what is
expected) and its default is used: a typo in a config file must not stop a VM from booting.

Standard library only; no cloud-init import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional

DEFAULT_TIMEOUT = 90.0  # rides out an IMDS update (410 for up to 70 s)
KEYS = ("timeout", "endpoint", "apply_network_config")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Settings:
    """What the datasource was configured to do.

    Attributes:
        timeout: seconds allowed for fetching the document, every retry included.
        endpoint: the IMDS base URL to use; None means detect (DMI chassis asset tag).
        apply_network_config: give cloud-init a network configuration built from IMDS.
    """

    timeout: float = DEFAULT_TIMEOUT
    endpoint: Optional[str] = None
    apply_network_config: bool = False


def read_settings(ds_cfg: Any, warn: Callable[[str], None]) -> Settings:
    """Return the settings in ``ds_cfg`` (cloud-init's ``datasource: AzureImds:`` mapping).

    Each problem is passed to ``warn`` as one line, and the default is used for that key.
    """
    if ds_cfg is None:
        return Settings()
    if not isinstance(ds_cfg, Mapping):
        warn(
            f"datasource AzureImds: expected a mapping of settings, found {_kind(ds_cfg)}; "
            "using the defaults"
        )
        return Settings()
    problems: List[str] = []
    unknown = sorted(str(key) for key in ds_cfg if key not in KEYS)
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)} ignored (known: {', '.join(KEYS)})")
    settings = Settings(
        timeout=_timeout(ds_cfg.get("timeout"), problems),
        endpoint=_endpoint(ds_cfg.get("endpoint"), problems),
        apply_network_config=_flag(ds_cfg.get("apply_network_config"), problems),
    )
    for problem in problems:
        warn(f"datasource AzureImds: {problem}")
    return settings


def _timeout(value: Any, problems: List[str]) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    number: Optional[float] = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not 0 < number < float("inf"):
        problems.append(
            f"timeout must be a positive number of seconds, found {_kind(value)}; using "
            f"{DEFAULT_TIMEOUT:g}"
        )
        return DEFAULT_TIMEOUT
    return number


def _endpoint(value: Any, problems: List[str]) -> Optional[str]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        problems.append(
            f"endpoint must be a URL such as http://127.0.0.1:8169, found {_kind(value)}; "
            "detecting IMDS instead"
        )
        return None
    return value.strip()


def _flag(value: Any, problems: List[str]) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    problems.append(
        f"apply_network_config must be true or false, found {_kind(value)}; using false"
    )
    return False


def _kind(value: Any) -> str:
    """Describe a config value briefly (type and, for short scalars, the value)."""
    if isinstance(value, (str, int, float)) and len(repr(value)) <= 40:
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__
