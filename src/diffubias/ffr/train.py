"""Training an FFR run: each phase picks its learning rate on validation; stage 2 starts from stage 1."""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from diffubias.config import Params
from diffubias.data import ImageSet
from diffubias.ffr.runs import FFRRun
from diffubias.methods import Method
from diffubias.training import FitResult, fit


def freeze_batchnorm(model: nn.Module) -> int:
    """Keep every batch-norm layer in eval mode with frozen affine weights, even under ``model.train()``."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.requires_grad_(False)
        m.eval()
    base_train = type(model).train

    def train(mode: bool = True) -> nn.Module:
        base_train(model, mode)
        for m in norms:
            m.eval()
        return model

    model.train = train  # instance attribute: Method.update's model.train() leaves the norms frozen
    return len(norms)


def starter(state: dict[str, torch.Tensor] | None, frozen_bn: bool) -> Callable[[Method], None] | None:
    """The ``fit(init=...)`` hook: load ``state`` into the scored model, then optionally freeze batch norm."""
    if state is None:
        return None

    def init(method: Method) -> None:
        method.model.load_state_dict(state)
        if frozen_bn:
            freeze_batchnorm(method.model)

    return init


@dataclass
class PhaseResult:
    """The selected fit of one phase and the validation score of every learning rate tried."""

    fit: FitResult
    lr: float
    scores: dict[float, float] = field(default_factory=dict)


def fit_lr_grid(method: str, train: ImageSet, valid: ImageSet, params: Params, seed: int,
                state: dict[str, torch.Tensor] | None = None, frozen_bn: bool = False,
                epochs: int = 0) -> PhaseResult:
    """Fit once per ``ffr.lr_grid`` value; keep the best on ``ffr.select_metric`` (ties: the first lr)."""
    p = params.ffr
    best: PhaseResult | None = None
    scores: dict[float, float] = {}
    for lr in p.lr_grid:
        tp = dataclasses.replace(params.train, lr=lr, select_metric=p.select_metric, epochs=epochs or params.train.epochs)
        result = fit(method, train, valid, dataclasses.replace(params, train=tp), seed, progress=False,
                     init=starter(state, frozen_bn))
        scores[lr] = float(result.valid_metrics[p.select_metric])
        if best is None or scores[lr] > scores[best.lr]:
            best = PhaseResult(result, lr)
    assert best is not None
    best.scores = scores
    return best


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a model's weights."""
    return {k: v.detach().cpu().clone() for k, v in copy.deepcopy(model.state_dict()).items()}


def run_phases(run: FFRRun, sets: dict[str, ImageSet], valid: ImageSet, params: Params, seed: int,
               pretrained: dict[str, torch.Tensor] | None = None) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """Train the phases of ``run`` in order; returns the final weights and one record per phase.

    A phase on real data that follows synthetic training (FFR stage 2) honours ``ffr.frozen_bn``.
    """
    state = pretrained if run.pretrained else None
    after_synthetic = run.pretrained
    records: list[dict] = []
    if state is None and not run.phases:
        raise ValueError("a run without phases must start from the stage-1 checkpoint")
    for i, phase in enumerate(run.phases):
        synthetic_phase = phase.data in ("balanced", "biased")
        epochs = params.ffr.stage1_epochs if synthetic_phase else 0
        frozen = params.ffr.frozen_bn and after_synthetic and phase.data == "real"
        res = fit_lr_grid(phase.method, sets[phase.data], valid, params, seed + i, state, frozen, epochs)
        state = state_of(res.fit.method.model)
        after_synthetic = after_synthetic or synthetic_phase
        records.append({"data": phase.data, "method": phase.method, "train_samples": len(sets[phase.data]),
                        "lr": res.lr, "lr_scores": {str(k): round(v, 3) for k, v in res.scores.items()},
                        "frozen_bn": frozen, "selected_epoch": res.fit.selected_epoch,
                        "train_s": round(res.fit.train_seconds, 2),
                        **({"method_extra": res.fit.extra} if res.fit.extra else {})})
    assert state is not None
    return state, records
