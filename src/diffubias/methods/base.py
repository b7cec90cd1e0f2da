"""The method contract (after DomainBed's ``update``/``predict``) and its registry.

A method owns its networks and optimisers. The trainer (``training.fit``) feeds it batches,
calls ``end_epoch`` once per epoch, evaluates ``predict`` on the validation split, and saves
``model`` — the network whose predictions are scored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from diffubias.config import Params
from diffubias.data import ImageSet
from diffubias.errors import DataError
from diffubias.models import build_model
from diffubias.registry import Registry

METHODS: Registry = Registry("method")


@dataclass
class Batch:
    """One training batch: normalised inputs, labels, bias labels, group ids, dataset indices."""

    x: torch.Tensor
    y: torch.Tensor
    bias: torch.Tensor
    group: torch.Tensor
    index: torch.Tensor


@dataclass
class MethodContext:
    """What a method may know when it is built."""

    train: ImageSet
    params: Params
    image_size: int
    device: torch.device
    seed: int
    valid: ImageSet | None = None

    @property
    def num_classes(self) -> int:
        return self.train.num_classes


class Method:
    """Base class: a single network trained with a per-sample loss averaged over the batch."""

    name: ClassVar[str] = "base"
    bias_supervised: ClassVar[bool] = False
    needs: ClassVar[str] = ""  # what the bias labels are used for (for error messages and reports)

    def __init__(self, ctx: MethodContext) -> None:
        self.ctx = ctx
        self.tp = ctx.params.train
        if self.bias_supervised:
            require_bias_labels(self, ctx.train)
        self.model = self.new_model()
        self.optimizer = self.new_optimizer(self.model)
        self.scheduler = self.new_scheduler(self.optimizer)

    # -- construction helpers shared by all methods --------------------------------------
    def new_model(self) -> nn.Module:
        return build_model(self.tp.arch, self.ctx.num_classes, self.ctx.image_size).to(self.ctx.device)

    def new_optimizer(self, model: nn.Module, lr: float | None = None) -> torch.optim.Optimizer:
        return torch.optim.Adam(model.parameters(), lr=lr or self.tp.lr, weight_decay=self.tp.weight_decay)

    def new_scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, self.tp.lr_decay_step),
                                               gamma=self.tp.lr_decay_gamma)

    # -- the contract ----------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Per-sample loss; subclasses override."""
        raise NotImplementedError

    def update(self, batch: Batch) -> dict[str, float]:
        """One optimisation step; returns scalars to log."""
        self.model.train()
        logits = self.model(batch.x)
        loss = self.loss(logits, batch).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the scored network."""
        self.model.eval()
        return self.model(x)

    def epoch_indices(self, epoch: int, generator: torch.Generator) -> torch.Tensor:
        """Order of training samples for one epoch (a sampler may repeat or skip samples)."""
        return torch.randperm(len(self.ctx.train), generator=generator)

    def end_epoch(self, epoch: int) -> None:
        """Called after each epoch: step learning-rate schedules."""
        self.scheduler.step()

    def finalize(self) -> dict[str, Any]:
        """Called once after training on the selected checkpoint (DFR retrains its head here)."""
        return {}

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])


def require_bias_labels(method: Method | type, data: ImageSet) -> None:
    """Bias-supervised methods need a bias label on every training sample."""
    if data.bias.numel() and bool((data.bias < 0).any()):
        raise DataError(
            f"method {method.name!r} is bias-supervised: it needs {method.needs or 'bias labels'}, "
            "but some training samples have no bias label (file names must end in _<class>_<bias>)"
        )


def get_method(name: str) -> type[Method]:
    """The method class called ``name``."""
    return METHODS.get(name)
