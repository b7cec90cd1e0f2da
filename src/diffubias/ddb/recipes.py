"""DDB's two ways to use the Bias Amplifier, as registered training methods.

* ``ddb_groupdro`` (**Recipe I**): online GroupDRO over the pseudo-groups class × {BA right,
  BA wrong} instead of the true (class, bias) groups.
* ``ddb_lff`` (**Recipe II**): LfF's reweighting with the BA, pretrained on synthetic images, as the
  biased network: per-sample CE losses of the BA and of the target model D are kept as EMAs, divided
  by their class maximum, and D's CE is weighted by ``w = l_BA / (l_BA + l_D + 1e-8)``. As in the
  paper ("BA and target model trained jointly, end to end") the BA keeps learning on the real
  batches with GCE (``ddb_recipe2.train_ba``). Measured on colour 1 %: a *frozen* BA read from
  synthetic images leaves a CE of ~0.22 on real aligned samples, which D undercuts within a few
  epochs, so w becomes near-uniform (1.8 % -> 0.9 % of the weight on the 1 % conflicting samples)
  and Recipe II collapses to ERM; with GCE updates the BA's aligned losses fall far below D's.

Both train on an :class:`AmplifiedSet`: the real training set with every true bias label
replaced by -1 and the BA's annotations attached, so neither can read a true bias label. They
are registered when this module is imported (the ``ddb-recipe*`` commands import it); they are
not part of ``diffubias.methods``' sweep because they cannot run without a BA.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from diffubias.ddb.amplifier import pseudo_conflicting, pseudo_groups
from diffubias.data import ImageSet
from diffubias.errors import DataError
from diffubias.losses import cross_entropy, generalized_cross_entropy
from diffubias.methods.base import METHODS, Batch, Method, MethodContext
from diffubias.methods.groupdro import groupdro_update
from diffubias.methods.lff import SampleLossEMA, lff_weights

UNKNOWN_BIAS = -1


@dataclass
class AmplifiedSet(ImageSet):
    """A training set annotated by a Bias Amplifier; its true bias labels are removed (all -1)."""

    conflicting: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))
    amplifier: torch.nn.Module | None = None


def amplified_set(train: ImageSet, amplifier: torch.nn.Module, device: torch.device | str = "cpu") -> AmplifiedSet:
    """``train`` without bias labels, with the BA's pseudo-'conflicting' mask and the (frozen) BA attached."""
    mask = pseudo_conflicting(amplifier, train.images, train.labels, device)
    for q in amplifier.parameters():
        q.requires_grad_(False)
    return AmplifiedSet(train.images, train.labels, torch.full_like(train.labels, UNKNOWN_BIAS), list(train.paths),
                        train.num_classes, train.num_bias, train.aligned_bias, mask, amplifier.eval())


def _require_amplified(method: Method, data: ImageSet) -> AmplifiedSet:
    if not isinstance(data, AmplifiedSet):
        raise DataError(f"method {method.name!r} needs a training set annotated by a Bias Amplifier; run it "
                        f"through `diffubias ddb-recipe1` / `ddb-recipe2` (they build one with amplified_set)")
    return data


@METHODS.register("ddb_groupdro")
class PseudoGroupDRO(Method):
    """DDB Recipe I: online GroupDRO over the Bias Amplifier's pseudo-groups (no bias labels)."""

    name = "ddb_groupdro"

    def __init__(self, ctx: MethodContext) -> None:
        super().__init__(ctx)
        train = _require_amplified(self, ctx.train)
        self.eta = ctx.params.ddb_recipe1.eta
        self.num_groups = 2 * train.num_classes
        self.groups = pseudo_groups(train.labels, train.conflicting)
        counts = torch.bincount(self.groups, minlength=self.num_groups)
        present = (counts > 0).float()
        self.group_counts = counts
        self.group_weights = (present / present.sum()).to(ctx.device)

    def update(self, batch: Batch) -> dict[str, float]:
        """Update the pseudo-group weights on this batch's group losses, then step on the weighted loss."""
        groups = self.groups[batch.index.cpu()].to(batch.x.device)
        return groupdro_update(self, batch, groups, self.num_groups, self.eta)

    def finalize(self) -> dict[str, Any]:
        """Pseudo-group sizes and where the weight ended up."""
        weights = self.group_weights.cpu()
        return {"pseudo_groups_present": int((self.group_counts > 0).sum()),
                "pseudo_conflicting_samples": int(self.group_counts[1::2].sum()),
                "weight_on_pseudo_conflicting": round(float(weights[1::2].sum()), 4)}


@METHODS.register("ddb_lff")
class AmplifierLfF(Method):
    """DDB Recipe II: LfF-style reweighting with the Bias Amplifier as the biased model (GCE updates optional)."""

    name = "ddb_lff"

    def __init__(self, ctx: MethodContext) -> None:
        super().__init__(ctx)
        train = _require_amplified(self, ctx.train)
        if train.amplifier is None:
            raise DataError("method 'ddb_lff' needs the Bias Amplifier itself (AmplifiedSet.amplifier is None)")
        rp = ctx.params.ddb_recipe2
        self.amplifier = train.amplifier.to(ctx.device).eval()
        self.train_ba, self.ba_q = rp.train_ba, rp.ba_q
        if self.train_ba:  # joint training: its own optimiser and schedule, like LfF's biased network
            if not any(True for _ in self.amplifier.parameters()):
                raise DataError("ddb_recipe2.train_ba is true but the Bias Amplifier has no trainable parameters; "
                                "set ddb_recipe2.train_ba: false to use it frozen")
            for q in self.amplifier.parameters():
                q.requires_grad_(True)
            self.ba_optimizer = self.new_optimizer(self.amplifier)
            self.ba_scheduler = self.new_scheduler(self.ba_optimizer)
        alpha = rp.ema_alpha
        self.weighted_mean = rp.weighted_mean
        self.ema_ba = SampleLossEMA(train.labels, train.num_classes, alpha)
        self.ema_d = SampleLossEMA(train.labels, train.num_classes, alpha)

    def update(self, batch: Batch) -> dict[str, float]:
        """One step of D on CE weighted by the normalised EMA losses of the BA and of D."""
        self.model.train()
        if self.train_ba:
            self.amplifier.train()
            logits_ba = self.amplifier(batch.x)
            loss_ba = cross_entropy(logits_ba.detach(), batch.y)
        else:
            with torch.no_grad():
                loss_ba = cross_entropy(self.amplifier(batch.x), batch.y)
        logits = self.model(batch.x)
        loss_d = cross_entropy(logits, batch.y)
        self.ema_ba.update(batch.index, loss_ba)
        self.ema_d.update(batch.index, loss_d)
        weight = lff_weights(self.ema_ba.normalized(batch.index), self.ema_d.normalized(batch.index))
        weight = weight.to(logits.device)
        loss = (weight * loss_d).sum() / (weight.sum().clamp_min(1e-8) if self.weighted_mean else len(weight))
        logs = {"loss": loss.item(), "weight": weight.mean().item()}
        if self.train_ba:
            loss_gce = generalized_cross_entropy(logits_ba, batch.y, q=self.ba_q).mean()
            self.ba_optimizer.zero_grad(set_to_none=True)
            loss_gce.backward()
            self.ba_optimizer.step()
            logs["loss_ba"] = loss_gce.item()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return logs

    def end_epoch(self, epoch: int) -> None:
        """Step D's learning-rate schedule (and the BA's when it trains)."""
        super().end_epoch(epoch)
        if self.train_ba:
            self.ba_scheduler.step()
