"""The Bias Amplifier (BA, DDB step 3) and the pseudo-groups it assigns to real training samples.

The BA is an ordinary classifier trained on the synthetic, bias-amplified images (or, for the
paper's ablation, on the real biased set). It never sees the real bias-conflicting samples, so
it cannot memorise them: on the real training set it is right on aligned samples and wrong on
conflicting ones. ``pseudo_conflicting`` takes images and class labels only — never bias labels.
"""
from __future__ import annotations

import dataclasses

import torch

from diffubias.config import Params
from diffubias.data import ImageSet


def amplifier_params(params: Params) -> Params:
    """``params`` with the BA's loss, epochs and architecture; always the last epoch (no unbiased selection)."""
    ba = params.ddb_ba
    train = dataclasses.replace(params.train, epochs=ba.epochs, select="last", arch=ba.arch or params.train.arch)
    biased = dataclasses.replace(params.biased, q=ba.q)
    return dataclasses.replace(params, train=train, biased=biased)


def amplifier_method(params: Params) -> str:
    """The registered method that trains the BA: ``gce`` or ``erm`` (cross entropy)."""
    return "gce" if params.ddb_ba.loss == "gce" else "erm"


def amplifier_resolution(params: Params) -> int:
    """The size the BA is built for (``ddb_ba.resolution``, 0 = ``data.image_size``); inputs are resized to it."""
    return params.ddb_ba.resolution or params.data.image_size


def train_amplifier(source: ImageSet, valid: ImageSet, params: Params, seed: int, progress: bool = True):
    """Train the BA on ``source`` (synthetic or real images); returns the shared trainer's FitResult."""
    from diffubias.training import fit

    return fit(amplifier_method(params), source, valid, amplifier_params(params), seed, progress=progress,
               image_size=amplifier_resolution(params))


@torch.no_grad()
def pseudo_conflicting(amplifier: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                       device: torch.device | str = "cpu", batch_size: int = 1024) -> torch.Tensor:
    """Boolean mask: the BA misclassifies the sample (pseudo 'bias-conflicting'); uses images and labels only."""
    from diffubias.training import normalize

    amplifier.eval()
    preds = []
    for start in range(0, images.shape[0], batch_size):
        preds.append(amplifier(normalize(images[start:start + batch_size].to(device))).argmax(1).cpu())
    pred = torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)
    return pred != labels.long().cpu()


@torch.no_grad()
def cue_following(amplifier: torch.nn.Module, data: ImageSet, device: torch.device | str = "cpu") -> dict[str, float]:
    """On ``data``'s bias-conflicting samples: how often the BA predicts the class (it read the target cue)
    vs the class whose aligned bias value the sample carries (it read the bias). Evaluation only.

    A Bias Amplifier should follow the bias: a high ``follows_class`` means it learned the target
    feature instead and will flag few real conflicting samples.
    """
    from diffubias.training import predict

    conflicting = ~data.aligned
    n = int(conflicting.sum())
    if n == 0:
        return {"conflicting_samples": 0, "follows_class": 0.0, "follows_bias": 0.0}
    aligned = data.aligned_bias or list(range(data.num_classes))
    class_of_bias = torch.full((data.num_bias,), -1, dtype=torch.long)
    for cls, value in enumerate(aligned):
        class_of_bias[value] = cls
    pred = predict(amplifier, data, torch.device(device))[conflicting]
    bias_class = class_of_bias[data.bias[conflicting].long()]
    return {"conflicting_samples": n,
            "follows_class": round(100.0 * float((pred == data.labels[conflicting]).float().mean()), 2),
            "follows_bias": round(100.0 * float((pred == bias_class).float().mean()), 2)}


def pseudo_groups(labels: torch.Tensor, conflicting: torch.Tensor) -> torch.Tensor:
    """Pseudo-group id ``class * 2 + is_conflicting``."""
    return labels.long().cpu() * 2 + conflicting.long().cpu()


def group_match(pseudo: torch.Tensor, truly_conflicting: torch.Tensor) -> dict[str, float]:
    """Precision / recall / F1 (%) of pseudo-'conflicting' against the true groups (evaluation only)."""
    pseudo, truth = pseudo.bool().cpu(), truly_conflicting.bool().cpu()
    hit = int((pseudo & truth).sum())
    n_pseudo, n_true = int(pseudo.sum()), int(truth.sum())
    precision = 100.0 * hit / n_pseudo if n_pseudo else 0.0
    recall = 100.0 * hit / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pseudo_conflicting": n_pseudo, "true_conflicting": n_true, "true_positives": hit,
            "precision": round(precision, 2), "recall": round(recall, 2), "f1": round(f1, 2),
            "pseudo_conflicting_fraction": round(100.0 * n_pseudo / max(len(pseudo), 1), 2)}
