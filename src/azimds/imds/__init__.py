"""The wire: talking to IMDS.

detect (whether and where, without traffic), identity (is a vmId this machine's DMI system
UUID), transport (one HTTP GET on a plain socket), retry (what is retried, backoff, pacing),
versions (the api-version and field table), errors, and client (all of it together:
``Client().instance()``).

Standard library only, Python 3.8+: this package is shipped to managed hosts. Keep this file
free of code: the shipped copy of every ``__init__.py`` is empty (ansible-test's empty-init).
"""
