"""`make demo`'s Ansible section runs a real ansible-playbook against the emulator."""

from __future__ import annotations

import pytest

from azimds import demo
from azimds.emulator import Emulator


@pytest.mark.timeout(300)
def test_the_demo_prints_zone_domains_and_tags_from_a_real_playbook(
    imds: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.ansible_playbook(imds)
    shown = capsys.readouterr().out
    assert '"zone 1"' in shown
    assert '"fault domain 1"' in shown and '"update domain 1"' in shown
    assert "'Environment': 'Prod'" in shown
    assert "(exit code 0; the emulator received 1 request(s) for it)" in shown
