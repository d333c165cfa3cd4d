"""Checks applied at pyagc's boundaries (public functions, loaders, configs)."""
from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A config file or override that cannot be used (unknown key, bad YAML, bad value)."""
