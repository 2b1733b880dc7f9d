"""The package version (one place; `bayeslead --version`, manifests and run-folder checks)."""

__version__ = "0.1.0"
