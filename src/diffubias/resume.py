"""Resumable grids: a finished run is reused only when it was made with the settings that would make it now.

A grid command (``ffr-grid``) skips the runs it already has. "Has" must mean "has, from these settings":
a results folder copied from another experiment, or a run left over from before a params change, would
otherwise be reported as if it came from the current params. Each run therefore records a fingerprint
of what it read (the params sections its DVC stage declares, its cell, and the content of its input
folders' plan files) in its train metrics; the grid reruns a run whose record is missing or different.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

CONFIG_KEY = "config_fingerprint"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def files_digest(paths: list[Path]) -> str:
    """Content hash of small files (a folder's manifest and settings); a missing file hashes as absent."""
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p.name).encode())
        h.update(p.read_bytes() if p.is_file() else b"<absent>")
    return h.hexdigest()


def fingerprint(**parts: Any) -> str:
    """A short, order-independent hash of params sections (dataclasses), scalars and digests."""
    payload = json.dumps(_plain(parts), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def status(metrics_path: Path, current: str) -> str:
    """``current`` (reuse it), ``missing`` (never run), ``unreadable`` (cut short or corrupt: rerun),
    ``unrecorded`` (made before fingerprints) or ``stale`` (made with other settings)."""
    path = Path(metrics_path)
    if not path.is_file():
        return "missing"
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return "unreadable"
    value = found.get(CONFIG_KEY) if isinstance(found, dict) else None
    if not isinstance(value, str):
        return "unrecorded"
    return "current" if value == current else "stale"
