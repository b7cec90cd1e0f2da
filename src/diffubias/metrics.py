"""The one set of metrics (METHODS.md §6), computed from predictions and group labels.

All accuracies are percentages. ``unbiased_acc`` is plain accuracy on the (group-uniform)
test set, the LfF-style headline; ``balanced_acc`` is the mean of per-group accuracies;
``train_weighted_acc`` weights per-group accuracies by the *training* group proportions
(WILDS ``adj_acc_avg``, JTT, DFR). The worst group is the lowest-accuracy group, not the smallest.
"""
from __future__ import annotations

import torch


def _pct(x: float) -> float:
    return round(100.0 * x, 4)


def group_accuracies(pred: torch.Tensor, labels: torch.Tensor, bias: torch.Tensor,
                     num_bias: int, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-group (correct counts, totals) over groups ``class * num_bias + bias``."""
    groups = labels * num_bias + bias
    correct = (pred == labels).double()
    totals = torch.bincount(groups, minlength=num_groups).double()
    hits = torch.bincount(groups, weights=correct, minlength=num_groups)
    return hits, totals


def classification_metrics(
    pred: torch.Tensor,
    labels: torch.Tensor,
    bias: torch.Tensor,
    num_classes: int,
    num_bias: int,
    aligned_bias: list[int] | None = None,
    train_group_counts: torch.Tensor | None = None,
) -> dict:
    """Unbiased, aligned, conflicting, per-group, worst-group and balanced accuracy (in %)."""
    pred, labels, bias = pred.long().cpu(), labels.long().cpu(), bias.long().cpu()
    n_groups = num_classes * num_bias
    correct = pred == labels
    table = torch.tensor(aligned_bias or list(range(num_classes)))
    aligned = bias == table[labels]
    hits, totals = group_accuracies(pred, labels, bias, num_bias, n_groups)
    present = totals > 0
    group_acc = torch.where(present, hits / totals.clamp(min=1), torch.nan)
    worst = int(torch.argmin(torch.where(present, group_acc, torch.inf)))
    out = {
        "unbiased_acc": _pct(correct.double().mean().item()),
        "aligned_acc": _pct(correct[aligned].double().mean().item()) if aligned.any() else None,
        "conflicting_acc": _pct(correct[~aligned].double().mean().item()) if (~aligned).any() else None,
        "worst_group_acc": _pct(group_acc[worst].item()),
        "worst_group": f"{worst // num_bias}/{worst % num_bias}",
        "balanced_acc": _pct(group_acc[present].mean().item()),
        "groups_evaluated": int(present.sum()),
        "samples": int(labels.numel()),
    }
    if train_group_counts is not None:
        w = train_group_counts.double()[present]
        out["train_weighted_acc"] = _pct(float((group_acc[present] * w).sum() / w.sum()))
    out["per_group"] = {
        f"{g // num_bias}/{g % num_bias}": _pct(group_acc[g].item()) for g in range(n_groups) if present[g]
    }
    return out


def headline(metrics: dict) -> dict:
    """The scalar metrics (no per-group table), for DVC and MLflow."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
