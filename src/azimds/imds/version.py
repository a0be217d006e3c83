"""The azimds version, in its own module: shipped ``__init__.py`` files must stay empty."""

__version__ = "0.1.0"
