"""The azure_imds module's own cost inside one fresh process, for bench_salt.py.

    python salt_grain_probe.py CACHEDIR BASE_URL

Imports Salt's loader first (salt-call has by the time grains load), then times, in order:

- ``load``: importing the module (it imports azimds detection and errors);
- ``virtual_off``: ``__virtual__`` off Azure (no endpoint; the DMI folder has no Azure tag);
- ``virtual``: ``__virtual__`` with the emulator as endpoint;
- ``request``: one raw ``http.client`` GET + ``json.loads`` of the instance document, the
  floor of one IMDS request;
- ``cold``: ``azure()`` with no cache, its first call: importing the client, the model and
  the shapes, one request, normalizing, writing the cache;
- ``warm``: ``azure()`` again, from that cache.

Prints the durations in seconds as JSON.
"""

from __future__ import annotations

import http.client
import importlib
import json
import sys
import time
from typing import Any, Callable, Dict
from urllib.parse import urlsplit

import salt.loader  # noqa: F401 (what salt-call has imported before grains load)

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


def main(cachedir: str, base_url: str) -> int:
    seconds: Dict[str, float] = {}

    def timed(name: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = call()
        seconds[name] = time.perf_counter() - started
        return result

    module = timed("load", lambda: importlib.import_module("azimds.saltext.grains.azure_imds"))
    module.__opts__ = {"cachedir": cachedir}
    assert timed("virtual_off", module.__virtual__)[0] is False
    module.__opts__["azure_imds"] = {"endpoint": base_url}
    assert timed("virtual", module.__virtual__) == "azure_imds"
    assert timed("request", lambda: raw_request(base_url))
    assert timed("cold", module.azure)["azure"]["stale"] is False
    assert timed("warm", module.azure)["azure"]["stale"] is False
    print(json.dumps(seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
