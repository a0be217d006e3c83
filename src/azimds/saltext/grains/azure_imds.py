"""Salt grains from the Azure Instance Metadata Service (IMDS), all under one key: ``azure``.

    salt -G 'azure:zone:1' test.ping
    salt -G 'azure:tags:Environment:Prod' state.apply
    salt -C 'G@azure:location:westus and G@azure:fault_domain:0' cmd.run uptime

The grain is ``azimds.facts.shapes.salt_grains`` of the VM's instance document (zone,
fault_domain, update_domain, location, vm_id, vm_size, tags as a dict, image, network, ...), plus
``stale``: False when the values are fresh, True when IMDS did not answer and these are the
last values fetched.

Install it either way, from one source file:

- as a Salt extension: ``pip install azimds`` (onedir minions: ``salt-pip install azimds``);
  the ``salt.loader`` entry point makes Salt find this module, nothing to copy;
- by hand: copy this file into a file root's ``_grains/`` folder and run
  ``saltutil.sync_grains``; the azimds package must still be installed next to Salt.

It never blocks a minion: ``__virtual__`` decides without network traffic (azimds detection:
the DMI chassis asset tag, ``AZIMDS_ENDPOINT``, ``AZIMDS_DISABLE``), so off Azure the module
sends nothing and costs one small file read. On Azure one request, retried by the azimds client
within a short deadline, fills a cache in the minion's cachedir; later grain loads read the
cache until it is older than its lifetime, and when IMDS cannot answer (it answers 410 while it
is being updated) the last values are served, marked ``stale``. Salt's own ``uuid`` core grain,
when Salt could read it, keeps a cache copied with a VM image from being taken for this VM's.

Minion configuration (every key optional)::

    azure_imds:
      enabled: true             # false: no azure grain, nothing read, nothing sent
      endpoint: http://...      # default: AZIMDS_ENDPOINT, else 169.254.169.254 on Azure
      timeout: 3                # seconds for the whole fetch, retries included (at most 60)
      cache_lifetime: 300       # seconds the cache is used without asking IMDS; 0: always ask
      include_user_data: false  # add user_data/custom_data: every master operator reads grains

A bad value logs one line saying what to fix; the azure grain is then skipped and every other
grain still loads. What the document holds that cannot be read (userData that is not base64,
ambiguous tags) is logged when fetched, one warning line each and never the value, and the
grain is served with every other fact (``field_warnings`` and ``tag_warnings`` keep the lines).
``salt-call --refresh-grains-cache`` also refreshes this module's cache.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple, Union

try:
    from azimds.imds.detect import Detection, detect
    from azimds.imds.errors import AzimdsError
    from azimds.imds.identity import same_machine
except ImportError as exc:  # the file was copied into _grains/ without the package installed
    _MISSING_CORE: Optional[str] = str(exc)
else:
    _MISSING_CORE = None

__opts__: Dict[str, Any]  # set by Salt's loader

__virtualname__ = "azure_imds"

log = logging.getLogger(__name__)

GRAIN = "azure"
CONFIG_KEY = "azure_imds"
CACHE_FORMAT = 1
MAX_TIMEOUT = 60.0  # a grain that waits longer blocks the minion (salt #57930)
MAX_CACHE_LIFETIME = 31 * 24 * 3600.0
SKIPPED = "the azure grain is skipped until the minion config is fixed"


class Settings(NamedTuple):
    """The ``azure_imds:`` section of the minion config, checked, with defaults filled in."""

    enabled: bool = True
    endpoint: Optional[str] = None
    timeout: float = 3.0
    cache_lifetime: float = 300.0
    include_user_data: bool = False


class ConfigError(ValueError):
    """The ``azure_imds:`` section of the minion config holds something unusable."""


def __virtual__() -> Union[str, Tuple[bool, str]]:
    """Return the module name when this minion should have the azure grain, else (False, why).

    Reads the minion config and at most one DMI file; never touches the network.
    """
    if _MISSING_CORE is not None:
        why = (
            f"azure_imds: the azimds package is not importable ({_MISSING_CORE}); install it "
            "next to Salt (pip install azimds, or salt-pip install azimds on onedir minions)"
        )
        log.error(why)
        return False, why
    try:
        settings = _read_settings(_opts().get(CONFIG_KEY))
        if not settings.enabled:
            return False, "azure_imds: disabled (azure_imds:enabled is false)"
        if _is_proxy_minion():
            return False, "azure_imds: a proxy minion's grains describe its device, not this VM"
        detection = detect(settings.endpoint)
    except ValueError as exc:  # ConfigError, or AZIMDS_DISABLE holding neither true nor false
        log.error("azure_imds: %s; %s", exc, SKIPPED)
        return False, f"azure_imds: {exc}"
    if not detection.on_azure:
        return False, f"azure_imds: not on Azure ({detection.reason})"
    return __virtualname__


def azure(grains: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Return ``{"azure": {...}}``, from the cache while it is fresh, else from IMDS.

    ``grains`` are the core grains Salt computed so far (Salt passes them by this name).
    Returns {} when IMDS cannot be asked or did not answer and nothing was ever cached; the
    reason is logged. Never raises for anything IMDS or the network does.
    """
    try:
        settings = _read_settings(_opts().get(CONFIG_KEY))
        detection = detect(settings.endpoint)
    except ValueError as exc:
        log.error("azure_imds: %s; %s", exc, SKIPPED)
        return {}
    if not detection.on_azure or detection.endpoint is None:
        return {}
    cache = Cache(_cache_path(), detection.endpoint, settings.include_user_data)
    system_uuid = (grains or {}).get("uuid")
    cached = cache.read(system_uuid if isinstance(system_uuid, str) else None)
    refresh = bool(_opts().get("refresh_grains_cache"))
    if cached is not None and not refresh and cached.age < settings.cache_lifetime:
        return {GRAIN: dict(cached.grains, stale=False)}
    try:
        fresh = _fetch(detection, settings)
    except (AzimdsError, ValueError) as exc:  # ValueError: a malformed AZIMDS_ENDPOINT
        if cached is None:
            log.warning("azure_imds: %s; no azure grain this time", exc)
            return {}
        log.warning(
            "azure_imds: %s; serving the azure grain fetched %s ago, marked azure:stale",
            exc,
            _duration(cached.age),
        )
        return {GRAIN: dict(cached.grains, stale=True)}
    cache.write(fresh)
    return {GRAIN: dict(fresh, stale=False)}


def _read_settings(section: Any) -> Settings:
    """Return the checked ``azure_imds:`` settings (defaults when the section is absent).

    Raises:
        ConfigError: the section is not a mapping, names an unknown key, or holds a bad value.
    """
    if section is None:
        return Settings()
    if not isinstance(section, Mapping):
        raise ConfigError(
            f"the minion config's {CONFIG_KEY} must be a mapping of settings, not {_shown(section)}"
        )
    unknown = sorted(str(key) for key in section if key not in Settings._fields)
    if unknown:
        raise ConfigError(
            f"the minion config's {CONFIG_KEY} has unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(Settings._fields)})"
        )
    defaults = Settings()
    endpoint = section.get("endpoint", defaults.endpoint)
    if endpoint is not None:
        if not isinstance(endpoint, str) or not endpoint.strip():
            raise ConfigError(_bad("endpoint", "a URL such as http://169.254.169.254", endpoint))
        from azimds.imds.transport import parse_endpoint

        try:
            parse_endpoint(endpoint)
        except ValueError:
            raise ConfigError(
                _bad("endpoint", "of the form http://HOST[:PORT]", endpoint)
            ) from None
    return Settings(
        enabled=_flag(section, "enabled", defaults.enabled),
        endpoint=endpoint,
        timeout=_seconds(section, "timeout", defaults.timeout, False, MAX_TIMEOUT),
        cache_lifetime=_seconds(
            section, "cache_lifetime", defaults.cache_lifetime, True, MAX_CACHE_LIFETIME
        ),
        include_user_data=_flag(section, "include_user_data", defaults.include_user_data),
    )


def _fetch(detection: Detection, settings: Settings) -> Dict[str, Any]:
    """Return the grain's values fetched now from the IMDS that detection found.

    What could not be read in the document is logged, one warning line each.

    Raises:
        AzimdsError: IMDS did not answer usefully within ``settings.timeout``.
        ValueError: the endpoint is malformed.
    """
    # Imported here: a minion off Azure, or one served from the cache, never loads them.
    from azimds.facts import model, shapes
    from azimds.imds.client import Client

    client = Client(
        detection.endpoint,
        deadline=settings.timeout,
        connect_timeout=min(1.0, settings.timeout),
        read_timeout=settings.timeout,
    )
    document = client.instance()
    instance = model.normalize(document.data, document.api_version)
    for warning in instance.warnings:  # e.g. userData that is not base64: left out
        log.warning("azure_imds: %s", warning)
    return shapes.salt_grains(instance, include_secrets=settings.include_user_data)


class Cached(NamedTuple):
    """A grain read from the cache, and its age in seconds."""

    grains: Dict[str, Any]
    age: float


class Cache:
    """The last grain fetched, as JSON in the minion's cachedir, owner-only.

    An entry counts only for the endpoint and the include_user_data setting it was fetched
    with, and (when Salt knows this machine's system UUID) only on the VM it describes.
    """

    def __init__(self, path: str, endpoint: str, include_user_data: bool) -> None:
        self.path = path
        self.endpoint = endpoint
        self.include_user_data = include_user_data

    def read(self, system_uuid: Optional[str] = None) -> Optional[Cached]:
        """Return the cached grain and its age, or None when there is none usable."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                entry = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.info("azure_imds: ignoring the unreadable cache %s (%s)", self.path, exc)
            return None
        if not (
            isinstance(entry, dict)
            and entry.get("format") == CACHE_FORMAT
            and entry.get("endpoint") == self.endpoint
            and entry.get("include_user_data") is self.include_user_data
            and isinstance(entry.get("fetched_at"), (int, float))
            and isinstance(entry.get("grains"), dict)
        ):
            return None
        grains: Dict[str, Any] = entry["grains"]
        vm_id = grains.get("vm_id")
        # azimds's one rule for "vmId is this DMI system UUID" (byte order, case)
        if system_uuid and isinstance(vm_id, str) and not same_machine(vm_id, system_uuid):
            log.info("azure_imds: the cached grain is of VM %s, not this one; ignored", vm_id)
            return None
        # A cache from the future (the clock was set back) ages as far as it is ahead.
        return Cached(grains, abs(time.time() - entry["fetched_at"]))

    def write(self, grains: Mapping[str, Any]) -> None:
        """Replace the cache with ``grains`` fetched now; log (never raise) on failure."""
        entry = {
            "format": CACHE_FORMAT,
            "endpoint": self.endpoint,
            "include_user_data": self.include_user_data,
            "fetched_at": time.time(),
            "grains": grains,
        }
        folder = os.path.dirname(self.path)
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".grains-", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:  # mkstemp: mode 0600
                    json.dump(entry, out, ensure_ascii=False)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            log.warning("azure_imds: cannot write the cache %s (%s)", self.path, exc)


def _opts() -> Mapping[str, Any]:
    """Return the minion config, which Salt's loader gives this module as ``__opts__``."""
    return __opts__  # noqa: F821 (a name Salt's loader injects)


def _cache_path() -> str:
    return os.path.join(str(_opts()["cachedir"]), "azure_imds", "grain.json")


def _is_proxy_minion() -> bool:
    try:
        import salt.utils.platform
    except ImportError:
        return False
    return bool(salt.utils.platform.is_proxy())


def _flag(section: Mapping[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(_bad(key, "true or false", value))
    return value


def _seconds(
    section: Mapping[str, Any], key: str, default: float, zero_allowed: bool, most: float
) -> float:
    value = section.get(key, default)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not (0 <= value <= most) or (value == 0 and not zero_allowed):
        span = f"from 0 to {most:g}" if zero_allowed else f"above 0, at most {most:g}"
        raise ConfigError(_bad(key, f"a number of seconds {span}", value))
    return float(value)


def _bad(key: str, wanted: str, value: Any) -> str:
    return f"the minion config's {CONFIG_KEY}:{key} must be {wanted}, not {_shown(value)}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
