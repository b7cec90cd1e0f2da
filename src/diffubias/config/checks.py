"""The one-line validation helper every section's ``validate`` uses."""
from __future__ import annotations

from diffubias.errors import ConfigError


def check(ok: bool, key: str, message: str) -> None:
    """Raise :class:`ConfigError` ``"<key>: <message>"`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}: {message}")
