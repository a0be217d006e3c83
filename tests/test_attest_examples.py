"""Every example of ``azimds attest --help``, ``azimds verify --help`` and docs/attestation.md,
run as written.

Each shell example runs in bash, one command after another as a person would type them (a
command ending in ``&`` is given time to start listening), in a folder of its own, inside a
private network namespace (``unshare -rn``, ``azimds.emulator.netns``) where 127.0.0.1:8169
belongs to the test alone: so ``azimds emulator serve &`` and the URLs run verbatim, with
nothing substituted. The Python example of the page runs as a file, after the page's shell
examples, against their emulator.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List

import pytest

from azimds.attest.cli import register
from azimds.emulator import sandbox
from azimds.emulator.netns import PrivateNetwork
from ci_rule import skip_or_fail
from test_attest_support import REPO, USGOV_2023_NONCE

pytestmark = pytest.mark.netns  # conftest.py skips these where no private network can be made


@pytest.fixture(autouse=True)
def shell_tools() -> None:
    """Skip without bash and curl; in CI, fail instead: there the examples must really run
    (.ci/run installs curl)."""
    if not (shutil.which("bash") and shutil.which("curl")):
        why = "the examples need bash and curl"
        skip_or_fail(why, f"the examples cannot run: {why}")


DOC = REPO / "docs" / "attestation.md"
VM_ID = "13f56399-bd52-4150-9748-7190aae1ff21"  # the emulator's default VM
PYTHON_EXAMPLE = "attestation-example.py"


@dataclass
class Step:
    """One command as typed, and what it did."""

    command: str
    code: int
    out: str
    err: str


def commands(text: str) -> List[str]:
    """Return the commands of a shell example: continuation lines joined, comments dropped."""
    found: List[str] = []
    pending = ""
    for line in text.splitlines():
        line = line.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        found.append(pending + line)
        pending = ""
    assert not pending, f"a continuation line ends the example: {pending!r}"
    return found


def help_examples(command: str) -> List[str]:
    """Return the commands under "Examples:" in ``azimds <command> --help``."""
    parser = argparse.ArgumentParser(prog="azimds")
    subparsers = parser.add_subparsers()
    register(subparsers)
    text = subparsers.choices[command].format_help()
    block = text.split("\nExamples:\n", 1)[1].split("\n\n", 1)[0]
    return commands(block)


def doc_blocks(language: str) -> List[str]:
    """Return the fenced ``language`` blocks of docs/attestation.md."""
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def run_session(
    commands: List[str], folder: Path, *, serve: bool, python_example: str = ""
) -> List[Step]:
    """Run ``commands`` in bash in ``folder``, in a private network namespace; return each
    command's exit code and output. With ``serve``, an emulator listens on 127.0.0.1:8169
    first (the help texts assume one); ``python_example`` runs last, as a file."""
    folder.mkdir()
    harness = folder.parent / f"{folder.name}.harness"
    harness.mkdir()
    (folder / "tests").symlink_to(REPO / "tests")  # "in a clone of azimds"
    steps = list(commands)
    if python_example:
        (folder / PYTHON_EXAMPLE).write_text(python_example, encoding="utf-8")
        steps.append(f"python3 {PYTHON_EXAMPLE}")
    lines = [
        "set -u",
        "listening() {",
        "  for _ in $(seq 400); do",
        "    (exec 3<>/dev/tcp/127.0.0.1/8169) 2>/dev/null && return 0",
        "    sleep 0.05",
        "  done",
        "  echo 'the emulator did not start listening on 127.0.0.1:8169' >&2; exit 97",
        "}",
        f"cd {folder}",
    ]
    if serve:
        lines += [f"azimds emulator serve --quiet > {harness}/serve.log 2>&1 &", "listening"]
    for index, command in enumerate(steps):
        lines += [
            "{ " + command,
            f"}} > {harness}/{index}.out 2> {harness}/{index}.err; echo $? > {harness}/{index}.rc",
        ]
        if re.search(r"(?<!&)&$", command):
            lines.append("listening")
    lines += ["kill $(jobs -p) 2>/dev/null", "wait"]
    script = harness / "session.sh"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    environment = sandbox.environment(  # not an Azure VM: nothing detects IMDS
        PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/sbin:/usr/bin:/sbin:/bin"]),
        HOME=str(folder),
    )
    with PrivateNetwork() as network:
        done = network.run(
            ["bash", str(script)], capture_output=True, text=True, timeout=300, env=environment
        )
    assert done.returncode == 0, f"the session failed: {done.stderr}"
    return [
        Step(
            command,
            int((harness / f"{index}.rc").read_text()),
            (harness / f"{index}.out").read_text(encoding="utf-8"),
            (harness / f"{index}.err").read_text(encoding="utf-8"),
        )
        for index, command in enumerate(steps)
    ]


def check(steps: List[Step], folder: Path) -> None:
    """Assert that every command succeeded and every verification verified."""
    for step in steps:
        context = f"{step.command}\n--- stdout\n{step.out}\n--- stderr\n{step.err}"
        assert step.code == 0, context
        verifies = step.command.startswith("azimds verify ") or " --verify" in step.command
        if verifies and "--json" in step.command:
            assert json.loads(step.out)["verified"] is True, context
        elif verifies:
            assert step.out.startswith("VERIFIED  attested document from "), context
            assert "(matches the request)" in step.out, context
        if "--expect-vm-id" in step.command:
            assert VM_ID in step.out, context
        if step.command.endswith("> doc.json") or "> doc.json " in step.command:
            document = json.loads((folder / "doc.json").read_text(encoding="utf-8"))
            assert document["encoding"] == "pkcs7", context


def test_the_attest_help_examples_run_as_written(tmp_path: Path) -> None:
    examples = help_examples("attest")
    assert len(examples) >= 4
    steps = run_session(examples, tmp_path / "attest-help", serve=True)
    check(steps, tmp_path / "attest-help")
    assert any("--verify" in s.command and "--json" not in s.command for s in steps)


def test_the_verify_help_examples_run_as_written(tmp_path: Path) -> None:
    examples = help_examples("verify")
    assert len(examples) >= 5
    steps = run_session(examples, tmp_path / "verify-help", serve=True)
    check(steps, tmp_path / "verify-help")
    assert sum(s.command.startswith("azimds verify ") for s in steps) == 2
    assert "AzureUSGovernmentCloud" in steps[0].out


def test_the_documents_examples_run_as_written(tmp_path: Path) -> None:
    (shell,) = doc_blocks("sh")
    (python,) = doc_blocks("python")
    examples = commands(shell)
    assert examples[0] == "azimds emulator serve &"  # the page starts the emulator itself
    steps = run_session(examples, tmp_path / "doc", serve=False, python_example=python)
    check(steps, tmp_path / "doc")

    # The Python example verified (it prints the vmId first; a rejection prints its code).
    example = steps[-1]
    assert example.out.split()[0] == VM_ID, example.out + example.err
    assert "AzurePublicCloud" in example.out

    # The report the page shows is what its real-document example prints.
    (usgov,) = [s for s in steps if f"--nonce {USGOV_2023_NONCE}" in s.command]
    shown = [b for b in doc_blocks("text") if b.startswith("VERIFIED")]
    assert shown == [usgov.out]
