"""azimds: Azure Instance Metadata Service made native to configuration management.

The modules an ``azimds get`` or an Ansible module loads (client, transport, retry, detect,
errors, versions, commands, cli) do not import ``typing``, ``re``, ``argparse`` or the
``socket`` and ``json`` wrappers at run time: each costs milliseconds of start-up, together
more than the request itself. Their annotations are strings (PEP 563), so ``typing`` is
imported only for the type checker, under ``if TYPE_CHECKING:`` with a local
``TYPE_CHECKING = False`` (mypy treats that name as true).
"""

__version__ = "0.1.0"
