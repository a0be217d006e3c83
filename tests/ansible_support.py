"""Run real Ansible commands against the emulator, inside a private network namespace.

``run_playbook`` and ``run_in_netns`` run Ansible in a private network (``unshare -rn``, see
``azimds.emulator.netns``): a network stack of its own with nothing but loopback, where the
emulator listens (on 127.0.0.1:8169, or on the real default endpoint 169.254.169.254:80 when a
test asks). Fact gathering (``setup``) looks up names and reads interfaces; inside the namespace
nothing it does can leave the machine, and the emulator's request log shows what the module
sent. (``ansible-doc`` and ``ansible-test`` run outside: they talk to nothing, except pip
installing ansible-test's requirements.)

Which ansible-core runs is chosen by ``AZIMDS_ANSIBLE_BIN`` (a folder holding ansible-playbook,
ansible-doc, ansible-test, ...): by default the one installed beside this Python (the
controller's, from ``.venv``); ``make ansible-latest`` points it at the newest release's own
virtual environment. Target Pythons are found by ``pythons.py``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from azimds.emulator import sandbox
from azimds.emulator.netns import IMDS_ADDRESS, PrivateNetwork
from azimds.imds.detect import AZURE_CHASSIS_ASSET_TAG
from pythons import SHIPPED_VERSIONS, find_python, missing, version_of

REPO = Path(__file__).resolve().parent.parent
COLLECTION = REPO / "ansible_collections" / "azimds" / "imds"
LOOPBACK_ENDPOINT = "http://127.0.0.1:8169"
# Every Python ansible-core 2.19 runs modules on (the versions azimds ships for); 2.20 and newer
# dropped 3.8.
TARGET_PYTHONS = SHIPPED_VERSIONS


# -- which ansible-core, which Pythons ------------------------------------------------------


def ansible_bin() -> Path:
    """Return the folder of the ansible-core under test (``AZIMDS_ANSIBLE_BIN`` or .venv's)."""
    chosen = os.environ.get("AZIMDS_ANSIBLE_BIN")
    return Path(chosen).resolve() if chosen else Path(sys.executable).parent


@functools.lru_cache(maxsize=None)
def core_version(bin_dir: Path) -> tuple[int, int]:
    """Return (major, minor) of the ansible-core in ``bin_dir``."""
    done = subprocess.run(
        [str(bin_dir / "ansible"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=base_env(bin_dir),
        check=True,
    )
    found = re.search(r"core (\d+)\.(\d+)", done.stdout)
    if found is None:
        raise RuntimeError(f"cannot read the ansible-core version from {done.stdout!r}")
    return int(found.group(1)), int(found.group(2))


def controller_python(bin_dir: Path) -> Path:
    """Return the Python that runs the ansible-core of ``bin_dir`` (its virtual environment's)."""
    return bin_dir / "python"


@functools.lru_cache(maxsize=None)
def controller_version(bin_dir: Path) -> str:
    """Return the version ("3.12") of the Python that runs the ansible-core of ``bin_dir``."""
    python = controller_python(bin_dir)
    version = version_of(str(python))
    if version is None:
        raise RuntimeError(f"{python} does not run")
    return version


def supported_targets(bin_dir: Path) -> List[str]:
    """Return the target Python versions the ansible-core of ``bin_dir`` supports."""
    if core_version(bin_dir) >= (2, 20):
        return [v for v in TARGET_PYTHONS if v != "3.8"]
    return list(TARGET_PYTHONS)


# -- environments -----------------------------------------------------------------------


def base_env(bin_dir: Path, home: Optional[Path] = None) -> Dict[str, str]:
    """Return a clean environment for Ansible commands of ``bin_dir``: no host config, no DMI."""
    env = {
        "PATH": os.pathsep.join(
            [
                str(bin_dir),
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ]
        ),
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "ANSIBLE_COLLECTIONS_PATH": str(REPO),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "AZIMDS_DMI_DIR": sandbox.NO_DMI,
    }
    if home is not None:
        env.update(
            HOME=str(home),
            ANSIBLE_HOME=str(home / ".ansible"),
            ANSIBLE_LOCAL_TEMP=str(home / "tmp-local"),
            ANSIBLE_REMOTE_TEMP=str(home / "tmp-remote"),
            ANSIBLE_CONFIG=str(home / "ansible.cfg"),
        )
        home.mkdir(parents=True, exist_ok=True)
        (home / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    return env


# -- running inside a private network namespace --------------------------------------------


@dataclass
class Run:
    """What an Ansible command did and what the emulator saw meanwhile."""

    returncode: int
    stdout: str
    stderr: str
    requests: List[Dict[str, Any]]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def instance_requests(self) -> List[Dict[str, Any]]:
        """Return the requests for ``/metadata/instance`` (the document)."""
        return [r for r in self.requests if r["path"].startswith("/metadata/instance")]


def run_in_netns(
    argv: Sequence[str],
    workdir: Path,
    env: Mapping[str, str],
    *,
    profile: Optional[Mapping[str, Any]] = None,
    faults: Sequence[Mapping[str, Any]] = (),
    real_address: bool = False,
    rate_limit: bool = True,
    timeout: float = 240,
) -> Run:
    """Run ``argv`` inside ``unshare -rn`` with an emulator serving in the same namespace.

    The emulator (``azimds emulator serve``, in a process of its own) listens on
    127.0.0.1:8169, or on 169.254.169.254:80 when ``real_address``; ``profile`` overrides the
    built-in VM; ``faults`` are scripted before ``argv`` starts; ``rate_limit=False`` turns
    its rate limit off. ``argv`` runs in ``workdir``.
    """
    if real_address:
        serve = ["serve", "--host", IMDS_ADDRESS, "--port", "80", "--allow-address"]
    else:
        serve = ["serve", "--host", "127.0.0.1", "--port", "8169"]
    serve += ["--quiet", *(f"--fault={json.dumps(dict(f))}" for f in faults)]
    if not rate_limit:
        serve.append("--no-rate-limit")
    with tempfile.TemporaryDirectory() as folder, PrivateNetwork(real_address) as network:
        if profile:
            profile_file = Path(folder) / "profile.json"
            profile_file.write_text(json.dumps(dict(profile)), encoding="utf-8")
            serve += ["--profile", str(profile_file)]
        with sandbox.EmulatorProcess(serve, network, stderr=subprocess.PIPE) as vm:
            done = network.run(
                argv, env=dict(env), cwd=workdir, capture_output=True, text=True, timeout=timeout
            )
            journal = vm.control("GET", "/azimds/requests")["requests"]
    requests = [
        {key: entry[key] for key in ("path", "query", "status", "headers")} for entry in journal
    ]
    return Run(done.returncode, done.stdout, done.stderr, requests)


# -- playbooks --------------------------------------------------------------------------


@dataclass
class Playbook:
    """A playbook run: its result, and what each ``dump`` task wrote (name -> JSON value)."""

    run: Run
    dumps: Dict[str, Any]


def dump_task(name: str, expression: str) -> Dict[str, Any]:
    """Return a task writing ``expression`` (a Jinja expression) as JSON to dumps/<name>.json.

    The task runs even in check mode, so tests can read what a check-mode play gathered.
    """
    return {
        "name": f"dump {name}",
        "ansible.builtin.copy": {
            "content": "{{ " + expression + " | to_json }}",
            "dest": "{{ dump_dir }}/" + name + ".json",
            "mode": "0600",
        },
        "check_mode": False,
    }


def run_playbook(
    plays: List[Dict[str, Any]],
    workdir: Path,
    *,
    target_python: Optional[str] = None,
    azure_dmi: bool = True,
    env: Optional[Mapping[str, str]] = None,
    args: Sequence[str] = (),
    bin_dir: Optional[Path] = None,
    **netns: Any,
) -> Playbook:
    """Run ``plays`` with ``ansible-playbook`` on localhost (local connection) in a namespace.

    ``target_python`` is the managed host's interpreter (default: a plain Python of the
    controller's version, where azimds is not installed). ``azure_dmi`` makes the host look
    like an Azure VM to detection. Extra ``netns`` keywords go to ``run_in_netns``.
    """
    bin_dir = bin_dir or ansible_bin()
    if target_python is None:
        target_python = default_target_python(bin_dir)
    workdir.mkdir(parents=True, exist_ok=True)
    dump_dir = workdir / "dumps"
    dump_dir.mkdir(exist_ok=True)
    (workdir / "playbook.yml").write_text(json.dumps(plays, indent=2), encoding="utf-8")
    (workdir / "inventory.ini").write_text(
        "localhost ansible_connection=local "
        f"ansible_python_interpreter={target_python} dump_dir={dump_dir}\n",
        encoding="utf-8",
    )
    run_env = base_env(bin_dir, home=workdir / "home")
    tag = AZURE_CHASSIS_ASSET_TAG if azure_dmi else sandbox.NOT_AZURE_TAG
    run_env["AZIMDS_DMI_DIR"] = str(sandbox.fake_dmi(workdir / "dmi", tag))
    run_env.update(env or {})
    argv = [
        str(bin_dir / "ansible-playbook"),
        "-i",
        str(workdir / "inventory.ini"),
        str(workdir / "playbook.yml"),
        *args,
    ]
    run = run_in_netns(argv, workdir, run_env, **netns)
    dumps = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(dump_dir.glob("*.json"))
    }
    return Playbook(run, dumps)


def default_target_python(bin_dir: Path) -> str:
    """Return a Python of the controller's version outside any virtual environment."""
    version = controller_version(bin_dir)
    found = find_python(version)
    if found is None:
        raise RuntimeError(missing(version))
    return found


# -- ansible-test -------------------------------------------------------------------------

ANSIBLE_TEST_HOME = REPO / ".cache" / "ansible-test-home"

# ansible-test bootstraps pip in each virtual environment it makes with a script it downloads
# from a host this machine cannot reach, unless a copy is cached. This stand-in does the same
# job with what Python ships: ensurepip, then pip itself installs the pinned pip version.
GET_PIP_STAND_IN = '''\
"""Stand-in for ansible-test's pip bootstrap script: ensurepip, then pip install ARGS."""
import os
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
env = dict(os.environ)
env.pop("PIP_CONFIG_FILE", None)  # ensurepip hides pip's configuration (index, certificates)
subprocess.check_call([sys.executable, "-m", "pip", "install", *args], env=env)
'''


def ansible_test_pip_version(bin_dir: Path) -> str:
    """Return the pip version ansible-test of ``bin_dir`` bootstraps into its environments."""
    probe = (
        "import types; from ansible_test._internal.python_requirements import get_venv_packages;"
        "print(get_venv_packages(types.SimpleNamespace(version='3.11'))['pip'])"
    )
    done = subprocess.run(
        [str(controller_python(bin_dir)), "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def prepare_ansible_test_home(bin_dir: Path) -> Path:
    """Return ansible-test's HOME for this project, with the pip bootstrap stand-in in place.

    Under the repository's ``.cache/`` (ignored by git): ansible-test keeps its sanity
    virtual environments there too, so later runs reuse them.
    """
    version = ansible_test_pip_version(bin_dir).replace(".", "_")
    cache = ANSIBLE_TEST_HOME / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    stand_in = cache / f"get_pip_{version}.py"
    if not stand_in.exists() or stand_in.read_text(encoding="utf-8") != GET_PIP_STAND_IN:
        stand_in.write_text(GET_PIP_STAND_IN, encoding="utf-8")
    return ANSIBLE_TEST_HOME


def ansible_test(bin_dir: Path, args: Sequence[str], extra_path: Sequence[str] = ()) -> Run:
    """Run ``ansible-test ARGS`` from the collection's folder; return what it printed.

    ``extra_path`` folders go first on PATH (where ansible-test looks for ``pythonX.Y``).
    ``--requirements`` runs reach the package index through pip's configuration, nothing else.
    """
    home = prepare_ansible_test_home(bin_dir)
    env = base_env(bin_dir)
    env["HOME"] = str(home)
    env["PATH"] = os.pathsep.join([*extra_path, env["PATH"]])
    # pip (for --requirements) keeps this machine's index and certificate settings.
    for name, value in os.environ.items():
        if name.startswith("PIP_") or name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            env[name] = value
    done = subprocess.run(
        [str(bin_dir / "ansible-test"), *args, "--color", "no"],
        cwd=COLLECTION,
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    return Run(done.returncode, done.stdout, done.stderr, [])
