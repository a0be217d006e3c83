"""The fact_cache source over a real Redis, through community.general.redis.

A redis-server (Debian's package; ``.ci/run`` installs it) is started on a free loopback port
without persistence and stopped at the end. The same VMs are gathered by metadata_facts into
Redis and into a jsonfile cache; the inventory built from each must be the same.
community.general comes from the `ansible` package of the package index, installed with the
redis client into ``.cache/ansible-extras`` by ``make test`` (never from galaxy).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

import inventory_support as inv
from azimds.emulator import Emulator

pytestmark = pytest.mark.timeout(300)

REDIS_PLUGIN = inv.ANSIBLE_EXTRAS / "ansible_collections/community/general/plugins/cache/redis.py"


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_port() -> Iterator[int]:
    """Run a throw-away redis-server on 127.0.0.1; yield its port."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server (.ci/run does)")
    if not REDIS_PLUGIN.is_file() or not (inv.ANSIBLE_EXTRAS / "redis").is_dir():
        pytest.fail(
            f"community.general and the redis client are missing in {inv.ANSIBLE_EXTRAS}:"
            " run `make test`, which installs them from the package index"
        )
    port = inv.free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not redis_ping(port):
            assert process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer within 30 s"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def redis_keys(port: int) -> int:
    """Return how many keys the Redis at ``port`` holds (DBSIZE)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(b"DBSIZE\r\n")
        return int(connection.recv(64).strip().lstrip(b":"))


def test_redis_fact_cache_gives_the_same_inventory_as_jsonfile(
    tmp_path: Path, redis_port: int
) -> None:
    names = ["alpha", "beta", "gamma"]
    profiles = [
        inv.profile(
            {
                "name": name,
                "vmId": f"00000000-0000-4000-8000-00000000010{i}",
                "osProfile": {"computerName": name},
                "zone": str(i + 1),
                "tags": {"Environment": "prod" if i else "dev"},
            }
        )
        for i, name in enumerate(names)
    ]
    redis: Dict[str, str] = {
        "ANSIBLE_CACHE_PLUGIN": "community.general.redis",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": f"127.0.0.1:{redis_port}:0",
        "ANSIBLE_COLLECTIONS_PATH": f"{inv.REPO}:{inv.ANSIBLE_EXTRAS}",
        "PYTHONPATH": str(inv.ANSIBLE_EXTRAS),
    }
    jsonfile = {
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts"),
    }
    with Emulator(profiles) as emulator:
        hosts = {vm.profile.name: vm.base_url for vm in emulator.vms}
        inv.gather(tmp_path / "to-redis", hosts, redis)
        inv.gather(tmp_path / "to-jsonfile", hosts, jsonfile)
    assert redis_keys(redis_port) >= len(names)

    config = inv.write_config(tmp_path)  # the fact cache Ansible is configured with
    over_redis = inv.inventory(config, inv.environment(tmp_path, redis))
    over_jsonfile = inv.inventory(config, inv.environment(tmp_path, jsonfile))
    assert over_redis.warnings() == [] and over_jsonfile.warnings() == []
    listing = over_redis.listing()
    assert set(inv.hostvars(listing)) == set(names)
    assert inv.groups(listing)["azure_tag_environment_prod"] == {"beta", "gamma"}
    assert listing == over_jsonfile.listing()
