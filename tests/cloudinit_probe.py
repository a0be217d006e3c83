"""Real cloud-init code looks for a datasource: run inside a private network namespace.

``python tests/cloudinit_probe.py SCENARIOS.json`` with one unpacked cloud-init on PYTHONPATH,
inside ``unshare -rn`` (a network namespace that has only its own loopback; the caller adds
169.254.169.254 to it). The probe starts the emulator at the address the scenario names, writes
a fake DMI folder for azimds's detection, reads the scenario's cloud.cfg over cloud-init's
built-in configuration and asks cloud-init's own loader, ``sources.list_sources`` and
``sources.find_source``, for a datasource, as ``cloud-init init`` does in its network stage.
Everything cloud-init writes goes to the scenario's folder (its ``Paths``).

For each scenario of the list it reports (one JSON object, by scenario name) what cloud-init
found, the metadata and what else the datasource offers, both instance-data files as cloud-init
wrote them, every request the emulator received and every log line, so the tests can judge.
Never run it outside a private network namespace: the datasource's default endpoint is the real
IMDS address.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from cloudinit import distros, helpers, sources, util, version

from azimds.emulator import Emulator, profile_from_mapping
from azimds.emulator.sandbox import fake_dmi
from azimds.imds.client import PROCESS_VERSIONS


class Collect(logging.Handler):
    """Keep every log record as ``LEVEL logger: message`` (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def write_dmi(folder: Path, dmi: Optional[Dict[str, str]]) -> None:
    """Write the fake DMI files (none at all when ``dmi`` is None) and point azimds at them."""
    written = fake_dmi(folder, **dmi) if dmi is not None else fake_dmi(folder, None)
    os.environ["AZIMDS_DMI_DIR"] = str(written)


def load_config(cloud_cfg: str, work: Path) -> Dict[str, Any]:
    """Return cloud-init's built-in configuration merged with a cloud.cfg text."""
    cfg: Dict[str, Any] = util.get_builtin_cfg()
    path = work / "cloud.cfg"
    path.write_text(cloud_cfg, encoding="utf-8")
    cfg.update(util.read_conf(str(path)))
    cfg["system_info"] = {"distro": "debian"}
    return cfg


def find(cfg: Dict[str, Any], paths: Any, log: Collect) -> Tuple[Dict[str, Any], Any]:
    """Run cloud-init's loader and search; return what it found, and the datasource."""
    distro = distros.fetch("debian")("debian", cfg, paths)
    depends = [sources.DEP_FILESYSTEM, sources.DEP_NETWORK]
    names = list(cfg.get("datasource_list") or [])
    packages = [*(cfg.get("datasource_pkg_list") or []), "cloudinit.sources"]
    listed = [cls.__name__ for cls in sources.list_sources(names, depends, packages)]
    local = [
        cls.__name__ for cls in sources.list_sources(names, [sources.DEP_FILESYSTEM], packages)
    ]
    reporter = _reporter()
    started = time.monotonic()
    try:
        datasource, name = sources.find_source(
            cfg, distro, paths, depends, names, packages, reporter
        )
    except sources.DataSourceNotFoundException as exc:
        return {
            "listed": listed,
            "listed_local": local,
            "found": None,
            "not_found": str(exc),
            "seconds": time.monotonic() - started,
        }, None
    seconds = time.monotonic() - started
    hostname = datasource.get_hostname()
    userdata = datasource.get_userdata_raw()
    run_dir = Path(paths.run_dir)
    instance_data = json.loads((run_dir / "instance-data.json").read_text(encoding="utf-8"))
    sensitive = (run_dir / "instance-data-sensitive.json").read_text(encoding="utf-8")
    return {
        "listed": listed,
        "listed_local": local,
        "found": name,
        "seconds": seconds,
        "module": type(datasource).__module__,
        "metadata": datasource.metadata,
        "instance_id": datasource.get_instance_id(),
        "hostname": getattr(hostname, "hostname", hostname),
        "availability_zone": datasource.availability_zone,
        "region": datasource.region,
        "platform": datasource.platform_type,
        "subplatform": datasource.subplatform,
        "cloud_name": datasource.cloud_name,
        "public_keys": datasource.get_public_ssh_keys(),
        "network_config": datasource.network_config,
        "userdata_sha256": hashlib.sha256(userdata).hexdigest() if userdata else None,
        "userdata_text": userdata.decode("utf-8", "replace") if userdata else None,
        "instance_data": instance_data,
        "instance_data_sensitive_bytes": len(sensitive),
        "instance_data_sensitive": json.loads(sensitive),
        "check_instance_id": datasource.check_instance_id(cfg),
        "log_lines_so_far": len(log.lines),
    }, datasource


def _reporter() -> Any:
    from cloudinit.reporting import events

    return events.ReportEventStack(
        name="azimds-probe", description="azimds probe", reporting_enabled=False
    )


def run_scenario(scenario: Dict[str, Any]) -> Dict[str, Any]:
    """Run one scenario with its own emulator, DMI folder and cloud-init paths."""
    work = Path(scenario["work"])
    log = Collect()
    root = logging.getLogger()
    root.addHandler(log)
    PROCESS_VERSIONS.forget()  # each scenario is a fresh boot: nothing negotiated yet
    saved = dict(os.environ)
    os.environ.update(scenario.get("environ", {}))
    try:
        write_dmi(work / "dmi", scenario.get("dmi"))
        cloud_dir = work / "var-lib-cloud"
        if scenario.get("previous_instance_id"):
            (cloud_dir / "data").mkdir(parents=True)
            (cloud_dir / "data" / "instance-id").write_text(scenario["previous_instance_id"])
        paths = helpers.Paths({"cloud_dir": str(cloud_dir), "run_dir": str(work / "run")})
        profile = profile_from_mapping(scenario.get("profile") or {}, source="<scenario>")
        host = scenario.get("emulator_host", "169.254.169.254")
        port = 80 if host == "169.254.169.254" else 0
        with Emulator(
            profile, host=host, port=port, allow_any_address=True, rate_limit=False
        ) as emu:
            for fault in scenario.get("faults", []):
                emu.add_fault(fault)
            cloud_cfg = scenario["cloud_cfg"].replace("EMULATOR", emu.base_url)
            cfg = load_config(cloud_cfg, work)
            result, datasource = find(cfg, paths, log)
            requests = [
                {
                    "host": r.headers.get("host"),
                    "path": r.path,
                    "query": r.query,
                    "status": r.status,
                    "headers": r.headers,
                }
                for r in emu.requests
            ]
        if datasource is not None and scenario.get("dmi_after"):
            # A later boot: cloud-init unpickles the datasource and asks it, offline.
            write_dmi(work / "dmi-after", scenario["dmi_after"])
            again = pickle.loads(pickle.dumps(datasource))
            result["check_instance_id_after"] = again.check_instance_id(cfg)
        result.update(cloud_init=version.version_string(), requests=requests, log=log.lines)
        return result
    finally:
        root.removeHandler(log)
        os.environ.clear()
        os.environ.update(saved)


def main() -> int:
    logging.getLogger().setLevel(logging.DEBUG)
    batch = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    reports = {scenario["name"]: run_scenario(scenario) for scenario in batch}
    print(json.dumps(reports, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
