"""Online GroupDRO (Sagawa et al., ICLR 2020) over the (class, bias) groups of the train split.

Each step, the mean loss of every group in the batch raises that group's weight by
``exp(eta * loss_g)``; the weights are renormalised and the batch loss is ``sum_g q_g loss_g``.
Groups absent from the whole train split get weight 0 (or a :class:`DataError` with
``groupdro.empty_groups: error``); groups absent from a batch keep their weight.
"""
from __future__ import annotations

from typing import Any

import torch

from diffubias.losses import cross_entropy
from diffubias.methods.base import METHODS, Batch, Method, MethodContext
from diffubias.methods.groups import check_groups, group_name


def group_mean_losses(losses: torch.Tensor, groups: torch.Tensor, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss per group, samples per group) of one batch; a group not in the batch has loss 0."""
    counts = torch.bincount(groups, minlength=num_groups).to(losses.dtype)
    sums = torch.zeros(num_groups, dtype=losses.dtype, device=losses.device).index_add(0, groups, losses)
    return sums / counts.clamp_min(1.0), counts


def groupdro_step(weights: torch.Tensor, group_losses: torch.Tensor, eta: float) -> torch.Tensor:
    """Exponentiated-gradient ascent on the group weights: ``q_g exp(eta l_g)``, renormalised."""
    new = weights * torch.exp(eta * group_losses.detach())
    return new / new.sum()


def groupdro_update(method: Method, batch: Batch, groups: torch.Tensor, num_groups: int, eta: float) -> dict[str, float]:
    """One GroupDRO step of ``method`` (with ``group_weights``) over the given per-sample ``groups``."""
    method.model.train()
    logits = method.model(batch.x)
    group_losses, _ = group_mean_losses(cross_entropy(logits, batch.y), groups, num_groups)
    method.group_weights = groupdro_step(method.group_weights, group_losses, eta)
    loss = (method.group_weights * group_losses).sum()
    method.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    method.optimizer.step()
    return {"loss": loss.item(), "max_group_weight": method.group_weights.max().item()}


@METHODS.register("groupdro")
class GroupDRO(Method):
    """Online GroupDRO: minimise the weighted group loss, weights pushed toward the worst groups."""

    name = "groupdro"
    bias_supervised = True
    needs = "a bias label on every training sample to form (class, bias) groups"

    def __init__(self, ctx: MethodContext) -> None:
        super().__init__(ctx)
        self.gp = ctx.params.groupdro
        counts = check_groups(ctx.train, self.name, "train", self.gp.empty_groups)
        present = (counts > 0).float()
        self.group_weights = (present / present.sum()).to(ctx.device)
        self.empty_groups = [group_name(g, ctx.train.num_bias) for g in (counts == 0).nonzero().flatten().tolist()]

    def update(self, batch: Batch) -> dict[str, float]:
        """Update the group weights on this batch's group losses, then step on the weighted loss."""
        return groupdro_update(self, batch, batch.group, self.ctx.train.num_groups, self.gp.eta)

    def finalize(self) -> dict[str, Any]:
        """Record which groups could not be weighted and where the weight ended up."""
        top = torch.topk(self.group_weights.cpu(), k=min(3, len(self.group_weights)))
        return {"empty_train_groups": len(self.empty_groups),
                "top_group_weights": {group_name(int(g), self.ctx.train.num_bias): round(float(w), 4)
                                      for w, g in zip(top.values, top.indices)}}
