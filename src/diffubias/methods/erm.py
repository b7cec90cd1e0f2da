"""ERM (vanilla cross entropy) and the GCE-trained biased model."""
from __future__ import annotations

import torch

from diffubias.losses import cross_entropy, generalized_cross_entropy
from diffubias.methods.base import METHODS, Batch, Method


@METHODS.register("erm")
class ERM(Method):
    """Empirical risk minimisation with cross entropy."""

    name = "erm"

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return cross_entropy(logits, batch.y)


@METHODS.register("gce")
class GCE(Method):
    """Generalized cross entropy (``biased.q``): the intentionally biased classifier f_B."""

    name = "gce"

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return generalized_cross_entropy(logits, batch.y, q=self.ctx.params.biased.q)
