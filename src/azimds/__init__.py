"""azimds: Azure Instance Metadata Service made native to configuration management.

The layers, in the order data flows through them:

- ``imds``: the wire. Detection, transport, retries, api-versions, errors, the client.
- ``facts``: document to facts. The normalized model, tags, one shape per host tool.
- ``cli``: the ``azimds`` command.
- ``attest``: attested documents, fetched with a fresh nonce and verified.
- ``emulator``: the other side of the wire.

``imds`` and ``facts`` are standard library only and run on Python 3.8: they are what is
shipped to managed hosts (the Ansible collection's module_utils carry a copy of them).
"""

from .imds.version import __version__ as __version__

# The sub-packages shipped to managed hosts, as they are: standard library only, Python 3.8+.
SHIPPED_PACKAGES = ("imds", "facts")
