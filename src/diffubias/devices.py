"""The one place that turns a ``device`` param (``auto``, ``cpu``, ``cuda:1``, ...) into a torch device."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from diffubias.sharding import Shard


def resolve_device(name: str | torch.device = "auto", shard: Shard | None = None) -> torch.device:
    """``auto``: the shard's device when given, else CUDA when available, else the CPU; anything else as named."""
    if str(name) != "auto":
        return torch.device(name)
    if shard is not None:  # under accelerate each process owns its own GPU (cuda:<local rank>)
        return torch.device(shard.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
