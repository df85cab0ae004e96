"""The package version (a bottom-layer module: stages record it in run metadata)."""

__version__ = "0.1.0"
