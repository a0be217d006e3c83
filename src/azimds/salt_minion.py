"""A throwaway ``salt-call --local`` minion for the demo, the tests and the benchmarks.

Not part of the Salt extension (``azimds.saltext``, what Salt loads on minions): this only
writes a minion's config and runs it.

    with PrivateNetwork() as network:
        vm = EmulatorProcess(["serve", "--port", "0"], network).start()
        config = write_config(folder, minion_settings(folder))
        done = network.run(salt_call_command(config, "grains.get", "azure:zone"),
                           env=environment(vm.base_url), capture_output=True, text=True)
        zone = local_result(done)

The minion has no master, reads files from ``<folder>/srv/salt``, and keeps its cache, keys,
sockets and log under the folder. Salt's reverse lookups for its ``fqdns`` grain are switched
off; its other name lookups are why every Salt process here runs in a private network
(``azimds.emulator.netns``), as does the emulator it talks to.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union


def minion_settings(root: Path, minion_id: str = "azimds-sandbox", **extra: Any) -> Dict[str, Any]:
    """Return a minion config with every path under ``root``, updated with ``extra``."""
    config: Dict[str, Any] = {
        "id": minion_id,
        "root_dir": str(root),
        "cachedir": str(root / "cache"),
        "extension_modules": str(root / "extmods"),
        "pki_dir": str(root / "pki"),
        "sock_dir": str(root / "sock"),
        "log_file": str(root / "log" / "minion"),
        "log_level_logfile": "info",
        "file_client": "local",
        "file_roots": {"base": [str(root / "srv" / "salt")]},
        "pillar_roots": {"base": [str(root / "srv" / "pillar")]},
        "enable_fqdns_grains": False,
    }
    config.update(extra)
    return config


def write_config(root: Path, config: Mapping[str, Any], name: str = "minion") -> Path:
    """Write ``config`` as ``<root>/conf/<name>`` and return the config folder (``-c``).

    JSON is written: every JSON document is YAML, and JSON quotes every string, so a value
    such as ``yes`` or ``1.0`` stays what it was.
    """
    folder = root / "conf"
    folder.mkdir(parents=True, exist_ok=True)
    for key in ("cachedir", "pki_dir", "sock_dir", "extension_modules"):
        if key in config:
            Path(config[key]).mkdir(parents=True, exist_ok=True)
    for paths in config.get("file_roots", {}).values():
        for path in paths:
            Path(path).mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    return folder


def salt_call_command(
    config: Path, *args: str, bin_dir: Optional[Path] = None, output: str = "json"
) -> List[str]:
    """Return the ``salt-call --local`` command line for ``args`` (``output``: Salt's outputter).

    ``bin_dir`` is the folder of the ``salt-call`` script (default: beside this Python).
    """
    folder = bin_dir if bin_dir is not None else Path(sys.executable).parent
    return [str(folder / "salt-call"), "--local", "-c", str(config), "--out", output, *args]


def local_result(done: subprocess.CompletedProcess[str]) -> Any:
    """Return the ``local`` value of a JSON ``salt-call`` output.

    Raises:
        RuntimeError: the call failed or printed something else (its output is in the message).
    """
    try:
        return json.loads(done.stdout)["local"]
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(
            f"salt-call exited {done.returncode}: {_tail(done.stdout)} {_tail(done.stderr)}"
        ) from None


def _tail(text: Union[str, bytes], lines: int = 20) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])
