"""Generated-image fidelity: does an image show its prompted class, and a bias-conflicting bias value?

A reference classifier (trained on the broad world, not on the biased set) predicts every
attribute of a generated image. ``class_fidelity`` is how often it sees the labelled class;
``conflicting_rate`` how often the predicted bias value differs from the class's aligned value
(the point of X_gen); ``bias_distribution`` shows which bias values the generator produced.
"""
from __future__ import annotations

from collections import Counter

import torch


def generation_fidelity(predicted_class: torch.Tensor, predicted_bias: torch.Tensor, labels: torch.Tensor,
                        aligned_bias: list[int], bias_names: tuple[str, ...] = ()) -> dict:
    """Fidelity metrics (in %) from the reference's class and bias predictions."""
    labels = labels.long().cpu()
    predicted_class, predicted_bias = predicted_class.long().cpu(), predicted_bias.long().cpu()
    n = int(labels.numel())
    if n == 0:
        return {"images": 0}
    aligned_value = torch.tensor(aligned_bias)[labels]
    correct = predicted_class == labels
    conflicting = predicted_bias != aligned_value
    counts = Counter(predicted_bias.tolist())
    name = (lambda b: bias_names[b] if 0 <= b < len(bias_names) else str(b))
    return {
        "images": n,
        "class_fidelity": round(100.0 * correct.double().mean().item(), 2),
        "conflicting_rate": round(100.0 * conflicting.double().mean().item(), 2),
        "class_and_conflicting": round(100.0 * (correct & conflicting).double().mean().item(), 2),
        "bias_distribution": {name(b): round(100.0 * c / n, 2) for b, c in sorted(counts.items())},
    }
