"""Salt's real loader with real minion opts, run by test_salt_loader.py in a private network.

    python salt_loader_probe.py CONFIG_DIR [UUID ...]

Loads every grain as a minion does (``salt.loader.grains``) and prints one JSON object: the
``azure`` grain (null when absent), the ``kernel`` grain (proof the other grains loaded), and
the file the loader took the ``azure_imds`` module from. For each UUID given, the loaded
``azure_imds.azure`` function is then called as Salt calls it, with core grains holding that
``uuid``; the results are listed under ``calls``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import salt.config
import salt.loader


def main(argv: List[str]) -> int:
    opts = salt.config.minion_config(str(Path(argv[1]) / "minion"))
    grains = salt.loader.grains(opts)
    functions = salt.loader.grain_funcs(opts)
    report: Dict[str, Any] = {
        "azure": grains.get("azure"),
        "kernel": grains.get("kernel"),
        "module_file": None,
        "calls": [],
    }
    if "azure_imds.azure" in functions:
        report["module_file"] = functions.file_mapping["azure_imds"][0]
        for uuid in argv[2:]:
            report["calls"].append(functions["azure_imds.azure"](grains={"uuid": uuid}))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
