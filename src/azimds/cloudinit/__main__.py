"""``python3 -m azimds.cloudinit``: print the cloud.cfg.d snippet that enables the datasource.

python3 -m azimds.cloudinit | sudo tee /etc/cloud/cloud.cfg.d/95_azimds.cfg
"""

from __future__ import annotations

import sys

from . import snippet

if __name__ == "__main__":
    sys.stdout.write(snippet())
