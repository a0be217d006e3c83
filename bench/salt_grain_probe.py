"""The azure_imds module's own cost, as Salt's loader pays it, in one fresh process.

    python salt_grain_probe.py off CONFIG
    python salt_grain_probe.py on CONFIG BASE_URL

CONFIG is a minion config folder: for ``on``, its ``azure_imds:endpoint`` is the emulator at
BASE_URL; for ``off``, nothing says Azure. With Salt's real loader (``salt.loader.grain_funcs``)
this times, in order:

- ``off``: off Azure, Salt loading the module (import and ``__virtual__``), which declines;

or

- ``load``: on the VM, Salt loading the module (import and ``__virtual__``);
- ``request``: one raw ``http.client`` GET + ``json.loads`` of the instance document, the
  floor of one IMDS request;
- ``cold``: the grain function with no cache (importing the client, the model and the
  shapes, one request, normalizing, writing the cache);
- ``warm``: the grain function again, from that cache.

Prints the durations in seconds as JSON.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict
from urllib.parse import urlsplit

import salt.config
import salt.loader

from azimds.imds import versions


def raw_request(base_url: str) -> Any:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        target = f"/metadata/instance?api-version={versions.NEWEST}"
        connection.request("GET", target, headers={"Metadata": "true"})
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def grain_functions(config: str) -> Any:
    opts = salt.config.minion_config(str(Path(config) / "minion"))
    opts["grains"] = {}
    return salt.loader.grain_funcs(opts)


def main(mode: str, config: str, base_url: str = "") -> int:
    seconds: Dict[str, float] = {}

    def timed(name: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = call()
        seconds[name] = time.perf_counter() - started
        return result

    functions = grain_functions(config)
    # _load_module is what Salt's loader runs for each module file of a grains load (importing
    # it, then __virtual__); asking for a missing key instead would load every grains module.
    if mode == "off":
        assert timed("off", lambda: functions._load_module("azure_imds")) is False
    else:
        assert timed("load", lambda: functions._load_module("azure_imds")) is True
        grain = functions["azure_imds.azure"]
        assert timed("request", lambda: raw_request(base_url))
        assert timed("cold", grain)["azure"]["stale"] is False
        assert timed("warm", grain)["azure"]["stale"] is False
    print(json.dumps(seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
