"""Learning from Failure (Nam et al., NeurIPS 2020).

Two networks train together on the same batches: ``B`` with generalized cross entropy, so it
latches onto the shortcut, and ``D`` (the scored model) with cross entropy weighted per sample
by ``w = l_B / (l_B + l_D + 1e-8)``: samples that B finds hard (bias-conflicting) get weight
near 1, those B finds easy get weight near 0. ``l_B`` and ``l_D`` are exponential moving
averages of each sample's CE loss under B and D, divided by their class maximum.
"""
from __future__ import annotations

import torch

from diffubias.losses import cross_entropy, generalized_cross_entropy
from diffubias.methods.base import METHODS, Batch, Method, MethodContext


class SampleLossEMA:
    """Per-sample loss EMA over a dataset; the first update of a sample stores its raw loss."""

    def __init__(self, labels: torch.Tensor, num_classes: int, alpha: float = 0.7) -> None:
        self.labels = labels.long().cpu()
        self.num_classes = num_classes
        self.alpha = alpha
        self.values = torch.zeros(len(labels))
        self.updated = torch.zeros(len(labels))

    def update(self, index: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """Fold ``loss`` of the samples at ``index`` into their EMA; returns the new values."""
        index = index.long().cpu()
        loss = loss.detach().float().cpu()
        seen = self.updated[index]
        self.values[index] = self.alpha * self.values[index] + (1.0 - self.alpha * seen) * loss
        self.updated[index] = 1.0
        return self.values[index].clone()

    def class_max(self) -> torch.Tensor:
        """The largest EMA value of each class (0 for a class not seen yet)."""
        out = torch.zeros(self.num_classes)
        return out.scatter_reduce(0, self.labels, self.values, reduce="amax", include_self=True)

    def normalized(self, index: torch.Tensor) -> torch.Tensor:
        """EMA values at ``index`` divided by the maximum over their class."""
        index = index.long().cpu()
        denom = self.class_max()[self.labels[index]].clamp_min(1e-8)  # all-zero class: avoid 0/0
        return self.values[index] / denom


def lff_weights(loss_b: torch.Tensor, loss_d: torch.Tensor) -> torch.Tensor:
    """Relative difficulty ``l_B / (l_B + l_D + 1e-8)`` of each sample for the biased model."""
    return loss_b / (loss_b + loss_d + 1e-8)


@METHODS.register("lff")
class LfF(Method):
    """Learning from Failure: a GCE-biased network B reweights the debiased network D's CE."""

    name = "lff"

    def __init__(self, ctx: MethodContext) -> None:
        super().__init__(ctx)  # self.model is D
        self.lp = ctx.params.lff
        self.biased_model = self.new_model()
        self.biased_optimizer = self.new_optimizer(self.biased_model)
        self.biased_scheduler = self.new_scheduler(self.biased_optimizer)
        self.ema_b = SampleLossEMA(ctx.train.labels, ctx.num_classes, self.lp.ema_alpha)
        self.ema_d = SampleLossEMA(ctx.train.labels, ctx.num_classes, self.lp.ema_alpha)

    def update(self, batch: Batch) -> dict[str, float]:
        """One joint step of B (GCE) and D (CE weighted by the normalised EMA losses)."""
        self.model.train()
        self.biased_model.train()
        logits_b = self.biased_model(batch.x)
        logits_d = self.model(batch.x)
        self.ema_b.update(batch.index, cross_entropy(logits_b, batch.y))
        self.ema_d.update(batch.index, cross_entropy(logits_d, batch.y))
        weight = lff_weights(self.ema_b.normalized(batch.index), self.ema_d.normalized(batch.index))
        weight = weight.to(logits_d.device)
        loss_b = generalized_cross_entropy(logits_b, batch.y, q=self.lp.q).mean()
        loss_d = (weight * cross_entropy(logits_d, batch.y)).mean()
        loss = loss_b + loss_d
        self.optimizer.zero_grad(set_to_none=True)
        self.biased_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.biased_optimizer.step()
        return {"loss": loss.item(), "loss_b": loss_b.item(), "loss_d": loss_d.item(),
                "weight": weight.mean().item()}

    def end_epoch(self, epoch: int) -> None:
        """Step both learning-rate schedules."""
        self.scheduler.step()
        self.biased_scheduler.step()
