"""Group-balanced resampling: each epoch draws ``len(train)`` samples with replacement so that
every (class, bias) group present in the train split is drawn equally often in expectation.
"""
from __future__ import annotations

from typing import Any

import torch

from diffubias.losses import cross_entropy
from diffubias.methods.base import METHODS, Batch, Method, MethodContext
from diffubias.methods.groups import check_groups


def balanced_sample_weights(groups: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Per-sample probability ``1 / (groups present * size of its group)``: uniform over groups."""
    present = int((counts > 0).sum())
    return 1.0 / (present * counts[groups].double())


def group_balanced_indices(weights: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """``size`` sample indices drawn with replacement with probabilities ``weights``."""
    return torch.multinomial(weights, size, replacement=True, generator=generator)


@METHODS.register("resample")
class Resample(Method):
    """ERM on a group-balanced sampler (bias labels pick the groups)."""

    name = "resample"
    bias_supervised = True
    needs = "a bias label on every training sample to balance (class, bias) groups"

    def __init__(self, ctx: MethodContext) -> None:
        super().__init__(ctx)
        groups = ctx.train.groups
        self.counts = check_groups(ctx.train, self.name, "train", ctx.params.resample.empty_groups)
        self.sample_weights = balanced_sample_weights(groups, self.counts)

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return cross_entropy(logits, batch.y)

    def epoch_indices(self, epoch: int, generator: torch.Generator) -> torch.Tensor:
        """A group-balanced epoch of ``len(train)`` draws."""
        return group_balanced_indices(self.sample_weights, len(self.ctx.train), generator)

    def finalize(self) -> dict[str, Any]:
        """Record how many groups could be balanced."""
        return {"train_groups_present": int((self.counts > 0).sum()), "train_groups": len(self.counts)}
