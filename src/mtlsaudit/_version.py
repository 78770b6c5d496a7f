"""The package version, read by hatchling and reported in every scan."""

__version__ = "0.1.0"
