"""azimds: Azure Instance Metadata Service made native to configuration management."""

__version__ = "0.1.0"
