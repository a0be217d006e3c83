"""The module azimds.imds.metadata_facts, run by real ansible-playbook against the emulator.

Every run happens inside a private network namespace (see ansible_support.py): the emulator
listens there on loopback, or on the real default endpoint 169.254.169.254, and its request log
says what the module sent. The managed host's Python is a plain interpreter where azimds is not
installed, so the module runs on the collection's shipped copy of the core.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

import ansible_support as support
from ansible_support import LOOPBACK_ENDPOINT, dump_task, run_playbook
from azimds.emulator import Emulator
from azimds.emulator.profile import profile_from_mapping
from azimds.facts import model, shapes
from azimds.imds import transport, versions
from azimds.imds.client import Client, VersionMemo
from azimds.imds.detect import DEFAULT_ENDPOINT
from pythons import find_python, python_or_skip

pytestmark = [
    pytest.mark.netns,
    pytest.mark.timeout(300),
]

MODULE = "azimds.imds.metadata_facts"
FACTS = "ansible_facts['azure_imds']"
STATUS_KEYS = {"available", "status", "message", "endpoint", "api_version"}
USER_DATA = "#cloud-config\npassword: hunter2-user-data\n"
PROFILE: Dict[str, Any] = {
    "compute": {
        "name": "web-7",
        "zone": "2",
        "platformFaultDomain": 3,
        "platformUpdateDomain": 7,
        "tags": {"Environment": "Prod", "Role": "web", "Owner": "team:ops;night"},
        "userData": base64.b64encode(USER_DATA.encode()).decode(),
    }
}


def play(*tasks: Dict[str, Any], gather: bool = False) -> List[Dict[str, Any]]:
    return [{"hosts": "localhost", "gather_facts": gather, "tasks": list(tasks)}]


def facts_task(**options: Any) -> Dict[str, Any]:
    return {"name": "gather", MODULE: options, "register": "gathered"}


def expected_facts(profile: Dict[str, Any], **client_options: Any) -> Dict[str, Any]:
    """Return what `azimds facts --for ansible` gives for ``profile`` (in-process, loopback)."""
    with Emulator(profile_from_mapping(profile)) as emu:
        client = Client(emu.base_url, versions_memo=VersionMemo(), **client_options)
        document = client.instance()
    return shapes.ansible_facts(model.normalize(document.data, document.api_version))


def test_facts_from_the_emulator_are_the_cores_facts_in_one_request(tmp_path: Path) -> None:
    result = run_playbook(
        play(facts_task(endpoint=LOOPBACK_ENDPOINT), dump_task("facts", FACTS)),
        tmp_path,
        profile=PROFILE,
    )
    assert result.run.returncode == 0, result.run.output
    facts = result.dumps["facts"]
    assert facts["placement"]["zone"] == "2"
    assert facts["placement"]["fault_domain"] == 3
    assert facts["placement"]["update_domain"] == 7
    assert facts["tags"] == {"Environment": "Prod", "Role": "web", "Owner": "team:ops;night"}
    assert facts["available"] is True and facts["status"] == "ok" and facts["message"] is None
    assert facts["endpoint"] == LOOPBACK_ENDPOINT
    assert facts["api_version"] == versions.NEWEST
    # The same facts as the core gives, plus the status keys: no second translation.
    core = expected_facts(PROFILE)
    assert {k: v for k, v in facts.items() if k not in STATUS_KEYS - {"api_version"}} == core
    assert "user_data" not in facts and "custom_data" not in facts
    assert USER_DATA.splitlines()[1] not in result.run.output
    (request,) = result.run.requests
    assert request["path"] == "/metadata/instance"
    assert request["headers"]["metadata"] == "true"
    assert request["headers"]["user-agent"].startswith("azimds/")


def test_user_data_only_when_asked(tmp_path: Path) -> None:
    result = run_playbook(
        play(
            facts_task(endpoint=LOOPBACK_ENDPOINT, include_user_data=True),
            dump_task("facts", FACTS),
        ),
        tmp_path,
        profile=PROFILE,
    )
    assert result.run.returncode == 0, result.run.output
    user_data = result.dumps["facts"]["user_data"]
    assert user_data["text"] == USER_DATA
    assert base64.b64decode(user_data["base64"]).decode() == USER_DATA
    assert result.dumps["facts"]["custom_data"] is None  # the profile has none


def test_sections_keep_only_the_parts_asked_for(tmp_path: Path) -> None:
    result = run_playbook(
        play(
            facts_task(endpoint=LOOPBACK_ENDPOINT, sections=["placement", "tags"]),
            dump_task("facts", FACTS),
        ),
        tmp_path,
        profile=PROFILE,
    )
    assert result.run.returncode == 0, result.run.output
    facts = result.dumps["facts"]
    assert set(facts) == STATUS_KEYS | {"placement", "tags"}
    assert facts["placement"]["zone"] == "2"
    assert len(result.run.instance_requests()) == 1


def test_gather_facts_with_facts_modules_adds_azure_imds_to_setup(tmp_path: Path) -> None:
    result = run_playbook(
        play(
            dump_task("facts", FACTS),
            dump_task("system", "ansible_facts['system']"),
            gather=True,
        ),
        tmp_path,
        profile=PROFILE,
        env={
            "ANSIBLE_FACTS_MODULES": f"smart,{MODULE}",
            "AZIMDS_ENDPOINT": LOOPBACK_ENDPOINT,
        },
    )
    assert result.run.returncode == 0, result.run.output
    assert result.dumps["facts"]["placement"]["zone"] == "2"
    assert result.dumps["facts"]["tags"]["Role"] == "web"
    assert result.dumps["system"] == "Linux"  # setup ran too
    assert len(result.run.instance_requests()) == 1


def test_the_real_default_endpoint_through_gather_facts(tmp_path: Path) -> None:
    """Detection (Azure's DMI asset tag) leads the module to 169.254.169.254 in the namespace."""
    result = run_playbook(
        play(dump_task("facts", FACTS), gather=True),
        tmp_path,
        profile=PROFILE,
        azure_dmi=True,
        real_address=True,
        env={"ANSIBLE_FACTS_MODULES": f"smart,{MODULE}"},
    )
    assert result.run.returncode == 0, result.run.output
    facts = result.dumps["facts"]
    assert facts["endpoint"] == transport.parse_endpoint(DEFAULT_ENDPOINT).base_url
    assert (facts["placement"]["fault_domain"], facts["placement"]["update_domain"]) == (3, 7)
    (request,) = result.run.requests
    assert request["headers"]["host"] == "169.254.169.254"


def test_check_mode_gathers_the_same_facts(tmp_path: Path) -> None:
    result = run_playbook(
        play(facts_task(endpoint=LOOPBACK_ENDPOINT), dump_task("facts", FACTS)),
        tmp_path,
        profile=PROFILE,
        args=["--check"],
    )
    assert result.run.returncode == 0, result.run.output
    assert result.dumps["facts"]["placement"]["zone"] == "2"
    assert len(result.run.instance_requests()) == 1


def test_off_azure_nothing_is_sent_and_the_play_goes_on(tmp_path: Path) -> None:
    """The emulator waits on 169.254.169.254 in the namespace: it must hear nothing."""
    result = run_playbook(
        play(
            dump_task("gathered_facts", FACTS),
            facts_task(on_unavailable="skip"),
            dump_task("skipped", "gathered"),
            {**facts_task(on_unavailable="fail"), "ignore_errors": True},
            dump_task("failed", "gathered"),
            {
                **facts_task(endpoint=DEFAULT_ENDPOINT),
                "environment": {"AZIMDS_DISABLE": "1"},  # wins over an endpoint
            },
            dump_task("disabled", "gathered"),
            gather=True,
        ),
        tmp_path,
        azure_dmi=False,
        real_address=True,
        env={"ANSIBLE_FACTS_MODULES": f"smart,{MODULE}"},
    )
    assert result.run.returncode == 0, result.run.output
    assert result.run.requests == []
    facts = result.dumps["gathered_facts"]
    assert facts["available"] is False
    assert facts["status"] == "not_on_azure"
    assert "chassis_asset_tag" in facts["message"]
    assert set(facts) == STATUS_KEYS
    assert "[WARNING]" not in result.run.output  # off Azure is normal: no noise in every play
    assert result.dumps["skipped"]["skipped"] is True
    assert "ansible_facts" not in result.dumps["skipped"]
    assert result.dumps["skipped"]["azure_imds_status"] == "not_on_azure"
    failed = result.dumps["failed"]
    assert failed["failed"] is True and failed["azure_imds_status"] == "not_on_azure"
    assert failed["msg"].startswith("not on Azure: ") and "chassis_asset_tag" in failed["msg"]
    disabled = result.dumps["disabled"]["ansible_facts"]["azure_imds"]
    assert disabled["status"] == "not_on_azure" and "AZIMDS_DISABLE=1" in disabled["message"]
    assert "unset it" in disabled["message"]  # no endpoint helps while AZIMDS_DISABLE is set


def test_imds_down_longer_than_the_timeout(tmp_path: Path) -> None:
    down = {"kind": "status", "status": 500, "seconds": 120}
    result = run_playbook(
        play(
            facts_task(endpoint=LOOPBACK_ENDPOINT, timeout=3),
            dump_task("empty", FACTS),
            {**facts_task(endpoint=LOOPBACK_ENDPOINT, timeout=1, on_unavailable="fail")},
        ),
        tmp_path,
        faults=[down],
    )
    assert result.run.returncode != 0  # the second task fails, as asked
    empty = result.dumps["empty"]
    assert (empty["available"], empty["status"]) == (False, "unavailable")
    assert empty["endpoint"] == LOOPBACK_ENDPOINT
    assert "IMDS unavailable" in empty["message"] and "deadline" in empty["message"]
    assert "Azure IMDS did not answer" in result.run.output  # the warning
    assert "IMDS unavailable" in result.run.stdout  # fail_json with the core's message
    assert "Traceback" not in result.run.output
    assert all(r["status"] == 500 for r in result.run.requests)
    assert len(result.run.requests) >= 2  # the core retried within the deadline


def test_errors_fail_with_the_cores_message_and_no_traceback(tmp_path: Path) -> None:
    tasks: List[Dict[str, Any]] = []
    cases: Dict[str, Dict[str, Any]] = {
        "pinned": {"endpoint": LOOPBACK_ENDPOINT, "api_version": "2016-05-05"},
        "bad_endpoint": {"endpoint": "ftp://127.0.0.1:8169"},
        "bad_version": {"endpoint": LOOPBACK_ENDPOINT, "api_version": "latest"},
        "bad_timeout": {"endpoint": LOOPBACK_ENDPOINT, "timeout": 0},
    }
    for name, options in cases.items():
        tasks.append({**facts_task(**options), "ignore_errors": True})
        tasks.append(dump_task(name, "gathered"))
    tasks.append(
        {**facts_task(), "ignore_errors": True, "environment": {"AZIMDS_DISABLE": "maybe"}}
    )
    tasks.append(dump_task("bad_disable", "gathered"))
    result = run_playbook(play(*tasks), tmp_path)
    assert result.run.returncode == 0, result.run.output
    dumps = result.dumps
    assert all(dumps[name]["failed"] for name in dumps)
    assert "2016-05-05" in dumps["pinned"]["msg"] and "Pin one it offers" in dumps["pinned"]["msg"]
    assert "ftp" in dumps["bad_endpoint"]["msg"]
    assert "YYYY-MM-DD" in dumps["bad_version"]["msg"]
    assert dumps["bad_timeout"]["msg"] == "timeout must be more than 0 seconds, not 0"
    assert "AZIMDS_DISABLE='maybe' is neither true" in dumps["bad_disable"]["msg"]
    assert "Traceback" not in result.run.output


def test_tag_and_field_warnings_become_module_warnings(tmp_path: Path) -> None:
    profile = {
        "compute": {
            "tagsList": [{"name": "Env", "value": "a"}, {"name": "env", "value": "b"}],
            "userData": "this is not base64: s3cret-value!",
        }
    }
    result = run_playbook(
        play(
            facts_task(endpoint=LOOPBACK_ENDPOINT, include_user_data=True),
            dump_task("facts", FACTS),
        ),
        tmp_path,
        profile=profile,
    )
    assert result.run.returncode == 0, result.run.output
    facts = result.dumps["facts"]
    (warning,) = facts["tag_warnings"]
    assert "differ only by case" in warning
    output = " ".join(result.run.output.split())
    assert "[WARNING]: Azure IMDS: tagsList: tags 'Env' and 'env' differ only by case" in output
    (field_warning,) = facts["field_warnings"]
    assert "userData" in field_warning
    assert "[WARNING]: Azure IMDS: " in output and "userData" in output
    assert facts["user_data"] is None  # unreadable, left out; the other facts are there
    assert facts["placement"]["zone"] == "1"
    assert "s3cret-value" not in result.run.output  # never the value


def test_return_documentation_matches_what_is_returned(tmp_path: Path) -> None:
    result = run_playbook(
        play(
            facts_task(endpoint=LOOPBACK_ENDPOINT, include_user_data=True),
            dump_task("facts", FACTS),
        ),
        tmp_path,
        profile=PROFILE,
    )
    assert result.run.returncode == 0, result.run.output
    documented = module_docs("RETURN")["ansible_facts"]["contains"]["azure_imds"]["contains"]
    facts = result.dumps["facts"]
    assert set(documented) == set(facts)
    for key, doc in documented.items():
        value = facts[key]
        if value is not None:
            assert isinstance(value, DOC_TYPES[doc["type"]]), key
        if "contains" in doc:
            assert set(doc["contains"]) == set(value), key


def test_documented_sections_are_the_fact_keys() -> None:
    options = module_docs("DOCUMENTATION")["options"]
    fact_keys = set(expected_facts(PROFILE)) - {"api_version"}
    assert set(options["sections"]["choices"]) == fact_keys


DOC_TYPES: Dict[str, Any] = {"str": str, "int": int, "bool": bool, "dict": dict, "list": list}


def module_docs(block: str) -> Dict[str, Any]:
    path = support.COLLECTION / "plugins" / "modules" / "metadata_facts.py"
    namespace: Dict[str, Any] = {}
    source = path.read_text(encoding="utf-8")
    start = source.index(f"{block} = r")
    end = source.index('"""', source.index('"""', start) + 3) + 3
    exec(source[start:end], namespace)  # a plain string assignment
    loaded: Dict[str, Any] = yaml.safe_load(namespace[block])
    return loaded


def test_the_module_is_documented_for_ansible_doc() -> None:
    bin_dir = support.ansible_bin()
    done = subprocess.run(
        [str(bin_dir / "ansible-doc"), "--json", MODULE],
        capture_output=True,
        text=True,
        timeout=120,
        env=support.base_env(bin_dir),
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)[MODULE]["doc"]
    assert set(doc["options"]) == {
        "endpoint",
        "api_version",
        "timeout",
        "sections",
        "include_user_data",
        "on_unavailable",
    }
    assert doc["options"]["on_unavailable"]["default"] == "empty"
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert doc["attributes"]["facts"]["support"] == "full"
    text = subprocess.run(
        [str(bin_dir / "ansible-doc"), MODULE],
        capture_output=True,
        text=True,
        timeout=120,
        env=support.base_env(bin_dir),
    )
    assert text.returncode == 0, text.stderr
    assert "on_unavailable" in text.stdout and "EXAMPLES" in text.stdout


@pytest.fixture(scope="module")
def every_target(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """Run the module once on every supported target Python found here (one host each)."""
    bin_dir = support.ansible_bin()
    found = {v: find_python(v) for v in support.supported_targets(bin_dir)}
    workdir = tmp_path_factory.mktemp("targets")
    hosts = {f"py{v.replace('.', '')}": path for v, path in found.items() if path}
    dump_dir = workdir / "dumps"
    dump_dir.mkdir()
    lines = ["[targets]"] + [
        f"{host} ansible_connection=local ansible_python_interpreter={path}"
        for host, path in hosts.items()
    ]
    (workdir / "inventory.ini").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plays = [
        {
            "hosts": "targets",
            "gather_facts": False,
            "tasks": [
                facts_task(endpoint=LOOPBACK_ENDPOINT),
                {
                    "ansible.builtin.command": "{{ ansible_python_interpreter }} -c "
                    "'import azimds'",
                    "register": "has_azimds",
                    "failed_when": False,
                    "changed_when": False,
                },
                {
                    "ansible.builtin.copy": {
                        "content": "{{ {'facts': " + FACTS + ", 'has_azimds_rc': has_azimds.rc,"
                        " 'python': ansible_python_interpreter} | to_json }}",
                        "dest": f"{dump_dir}/{{{{ inventory_hostname }}}}.json",
                        "mode": "0600",
                    },
                },
            ],
        }
    ]
    (workdir / "playbook.yml").write_text(json.dumps(plays), encoding="utf-8")
    env = support.base_env(bin_dir, home=workdir / "home")
    argv = [
        str(bin_dir / "ansible-playbook"),
        "-i",
        str(workdir / "inventory.ini"),
        str(workdir / "playbook.yml"),
    ]
    run = support.run_in_netns(argv, workdir, env, profile=PROFILE, rate_limit=False)
    dumps = {p.stem: json.loads(p.read_text()) for p in dump_dir.glob("*.json")}
    return {"found": found, "run": run, "dumps": dumps}


@pytest.mark.parametrize("version", support.supported_targets(support.ansible_bin()))
def test_the_module_runs_on_every_target_python(every_target: Dict[str, Any], version: str) -> None:
    if every_target["found"][version] is None:
        python_or_skip(version)
    run = every_target["run"]
    assert run.returncode == 0, run.output
    host = f"py{version.replace('.', '')}"
    dump = every_target["dumps"][host]
    assert dump["has_azimds_rc"] != 0  # azimds is not installed there: the shipped copy ran
    assert dump["facts"]["placement"]["zone"] == "2"
    assert dump["facts"]["tags"]["Environment"] == "Prod"
    hosts = len(every_target["dumps"])
    assert len(run.instance_requests()) == hosts  # one request per host
