"""What the Salt tests share: emulated VMs and local minions, in a private network.

Every Salt process runs inside a private network namespace (``azimds.emulator.netns``): Salt's
core grains ask the resolver about the host name even with ``enable_fqdns_grains: False``,
and only there can nothing leave the machine. The emulated VMs listen inside the same
namespace, on its loopback. Tests using these are marked ``netns`` (see conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional

from azimds import salt_minion
from azimds.emulator import sandbox
from azimds.emulator.netns import PrivateNetwork

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
AUDITED_SALT_CALL = HERE / "salt_audited_call.py"
LOADER_PROBE = HERE / "salt_loader_probe.py"


def write_profile(folder: Path, name: str, **compute: Any) -> Path:
    """Write an emulator VM profile (JSON) named ``name`` with ``compute`` overrides."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"compute": {"name": name, **compute}}), encoding="utf-8")
    return path


class LocalMinion:
    """A ``salt-call --local`` minion with every path under ``root``, run in ``network``."""

    def __init__(self, network: PrivateNetwork, root: Path, **settings: Any) -> None:
        self.network = network
        self.root = root
        self.settings = salt_minion.minion_settings(root, **settings)
        self.config = salt_minion.write_config(root, self.settings)

    def reconfigure(self, **settings: Any) -> None:
        """Rewrite the config with ``settings`` changed (None removes a key)."""
        for key, value in settings.items():
            if value is None:
                self.settings.pop(key, None)
            else:
                self.settings[key] = value
        salt_minion.write_config(self.root, self.settings)

    def call(
        self,
        *args: str,
        endpoint: Optional[str] = None,
        dmi_dir: str = sandbox.NO_DMI,
        bin_dir: Optional[Path] = None,
        extra_env: Optional[Mapping[str, str]] = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``salt-call --local ARGS`` (JSON output) in the private network."""
        env = sandbox.environment(endpoint, dmi_dir, **(extra_env or {}))
        command = salt_minion.salt_call_command(self.config, *args, bin_dir=bin_dir)
        return self.network.run(command, env=env, capture_output=True, text=True, timeout=timeout)

    def result(self, *args: str, **options: Any) -> Any:
        """Return the ``local`` result of ``call(*args)``; fail the test if there is none."""
        done = self.call(*args, **options)
        assert done.returncode == 0, f"salt-call {args} exited {done.returncode}: {done.stderr}"
        return salt_minion.local_result(done)

    def match_grains(self, *expressions: str, delimiter: str = ":", **options: Any) -> List[bool]:
        """Return ``match.grain`` of each expression, all evaluated by one salt-call.

        Salt's own ``match.grain`` is called from a Jinja template (as a state file would call
        it), which saves a salt-call per expression.
        """
        template = (
            "{% for e in " + json.dumps(list(expressions), ensure_ascii=False) + " %}"
            "{{ salt['match.grain'](e, delimiter=" + json.dumps(delimiter) + ") }} "
            "{% endfor %}"
        )
        rendered = self.result(
            "slsutil.renderer", f"string={template}", "default_renderer=jinja", **options
        )
        return [{"True": True, "False": False}[word] for word in rendered.split()]

    @property
    def log(self) -> str:
        """Return the minion's log file ('' before the first run)."""
        path = Path(self.settings["log_file"])
        return path.read_text(encoding="utf-8") if path.exists() else ""

    @property
    def cache_file(self) -> Path:
        return Path(self.settings["cachedir"]) / "azure_imds" / "grain.json"


def azure_lines(log: str) -> list[str]:
    """Return the log lines written by the azure_imds module."""
    return [line for line in log.splitlines() if "azure_imds" in line]


def emulator(network: PrivateNetwork, *arguments: str) -> sandbox.EmulatorProcess:
    """Start ``azimds emulator serve ARGUMENTS`` (a free port) in ``network``."""
    return sandbox.EmulatorProcess(["serve", "--port", "0", *arguments], network).start()


def private_network(imds_address: bool = False) -> Iterator[PrivateNetwork]:
    """Yield a started PrivateNetwork, closed (every process in it stopped) afterwards."""
    with PrivateNetwork(imds_address=imds_address) as network:
        yield network


def run_python(
    network: PrivateNetwork, script: Path, *args: str, env: Dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a test helper script with this Python inside ``network``."""
    return network.run(
        [sys.executable, str(script), *args], env=env, capture_output=True, text=True
    )
