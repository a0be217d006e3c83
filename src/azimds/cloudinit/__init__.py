"""The cloud-init datasource ``AzureImds`` (module ``DataSourceAzureImds``, as cloud-init's
loader expects), its settings, and the ready ``cloud.cfg.d`` snippet that enables it.

``python3 -m azimds.cloudinit`` prints the snippet. Importing this package does not import
cloud-init; only the datasource module does.
"""

from __future__ import annotations

from importlib import resources

SNIPPET_NAME = "95_azimds.cfg"


def snippet() -> str:
    """Return the cloud.cfg.d snippet that makes cloud-init use the AzureImds datasource."""
    return resources.files(__name__).joinpath(SNIPPET_NAME).read_text(encoding="utf-8")
