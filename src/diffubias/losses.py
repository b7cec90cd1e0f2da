"""Per-sample classification losses."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    """Per-sample cross entropy (``q`` is ignored; it is there so every loss has one signature)."""
    return F.cross_entropy(logits, targets, reduction="none")


def generalized_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    """Generalized cross entropy ``(1 - p_y^q) / q`` (Zhang & Sabuncu 2018).

    Its gradient is the CE gradient scaled by ``p_y^q``, so confident (easy, bias-aligned)
    samples dominate training: the biased model becomes a shortcut learner.
    """
    if not 0.0 < q <= 1.0:
        raise ValueError(f"GCE needs 0 < q <= 1, got q={q}")
    log_p = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
    return (1.0 - torch.exp(q * log_p)) / q
