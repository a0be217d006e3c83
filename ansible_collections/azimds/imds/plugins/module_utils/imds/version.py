# GENERATED from src/azimds/imds/version.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""The azimds version, in its own module: shipped ``__init__.py`` files must stay empty."""

__version__ = "0.1.0"
