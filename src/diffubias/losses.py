"""Per-sample classification losses, chosen by name from ``LOSSES``."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from diffubias.registry import Registry

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSSES: Registry = Registry("loss")


@LOSSES.register("ce")
def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    """Per-sample cross entropy (``q`` is ignored; it is there so every loss has one signature)."""
    return F.cross_entropy(logits, targets, reduction="none")


@LOSSES.register("gce")
def generalized_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    """Generalized cross entropy ``(1 - p_y^q) / q`` (Zhang & Sabuncu 2018).

    Its gradient is the CE gradient scaled by ``p_y^q``, so confident (easy, bias-aligned)
    samples dominate training: the biased model becomes a shortcut learner.
    """
    if not 0.0 < q <= 1.0:
        raise ValueError(f"GCE needs 0 < q <= 1, got q={q}")
    log_p = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
    return (1.0 - torch.exp(q * log_p)) / q


def get_loss(name: str) -> LossFn:
    """The loss called ``name``."""
    return LOSSES.get(name)
