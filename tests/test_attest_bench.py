"""The verification benchmark stays runnable: its cases get the same verdict from azimds and
from the documented openssl path (speed is measured by ``make bench``, never asserted here)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from test_attest_support import REPO


def bench_module() -> ModuleType:
    path = REPO / "bench" / "bench_attest.py"
    spec = importlib.util.spec_from_file_location("bench_attest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the baseline needs openssl")
def test_each_benchmark_case_gets_the_same_verdict_from_both_paths(tmp_path: Path) -> None:
    bench = bench_module()
    verdicts = {}
    for case in bench.cases():
        ours = bench.azimds_verdict(case)()
        theirs = bench.openssl_verdict(case, tmp_path)()
        assert ours == theirs, case.name
        verdicts[case.name] = ours
    assert verdicts == {
        "emulator": True,
        "emulator-untrusted-root": False,
        "emulator-flipped-byte": False,
        "usgov-2023-at-its-time": True,
        "usgov-2023-today": False,
    }
