"""Just Train Twice (Liu et al., ICML 2021).

An identification model is trained with ERM for ``jtt.identification_epochs`` (T) epochs; the
training samples it misclassifies form the error set. A fresh model is then trained (the shared
loop's ``train.epochs``) on epochs in which every error-set sample appears ``jtt.upweight`` (λ)
times. Training needs no bias labels, but JTT's T and λ — like the shared loop's checkpoint
selection — are chosen on the group-labelled validation split, so reports mark it †.
"""
from __future__ import annotations

from typing import Any

import torch

from diffubias.losses import cross_entropy
from diffubias.methods.base import METHODS, Batch, Method, MethodContext


def upweighted_indices(size: int, error_set: torch.Tensor, upweight: int, generator: torch.Generator) -> torch.Tensor:
    """A shuffled epoch holding every sample once and each error-set sample ``upweight`` times."""
    idx = torch.cat([torch.arange(size), error_set.long().cpu().repeat(upweight - 1)])
    return idx[torch.randperm(len(idx), generator=generator)]


@METHODS.register("jtt")
class JTT(Method):
    """Just Train Twice: ERM for T epochs, then retrain with its error set upweighted by λ."""

    name = "jtt"
    bias_supervised = True
    needs = "group labels on the validation split (T, λ and the checkpoint are selected there)"

    def __init__(self, ctx: MethodContext) -> None:
        super().__init__(ctx)  # self.model is first the identification model
        self.jp = ctx.params.jtt
        self.error_set = self.identify_errors()
        self.model = self.new_model()
        self.optimizer = self.new_optimizer(self.model)
        self.scheduler = self.new_scheduler(self.optimizer)

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return cross_entropy(logits, batch.y)

    def identify_errors(self) -> torch.Tensor:
        """Train the identification model for T epochs; indices of the train samples it gets wrong."""
        from diffubias.training import make_batch, predict  # training imports the method registry

        train, device = self.ctx.train, self.ctx.device
        generator = torch.Generator().manual_seed(self.ctx.seed + 7919)  # its own stream
        for _ in range(self.jp.identification_epochs):
            order = torch.randperm(len(train), generator=generator)
            for start in range(0, len(order), self.tp.batch_size):
                idx = order[start:start + self.tp.batch_size]
                if len(idx) >= 2:  # BatchNorm cannot train on a single sample
                    Method.update(self, make_batch(train, idx, device, self.tp, generator))
        pred = predict(self.model, train, device, self.tp.eval_batch_size)
        return (pred != train.labels).nonzero().flatten()

    def epoch_indices(self, epoch: int, generator: torch.Generator) -> torch.Tensor:
        """Every sample once plus λ − 1 extra copies of each error-set sample, shuffled."""
        return upweighted_indices(len(self.ctx.train), self.error_set, self.jp.upweight, generator)

    def finalize(self) -> dict[str, Any]:
        """Size of the error set and, for diagnosis only, how many of it are bias-conflicting."""
        train = self.ctx.train
        conflicting = int((~train.aligned[self.error_set]).sum()) if len(self.error_set) else 0
        return {"jtt_error_set": len(self.error_set), "jtt_error_set_conflicting": conflicting,
                "train_conflicting": int((~train.aligned).sum())}
