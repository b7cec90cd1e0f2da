"""Deep Feature Reweighting (Kirichenko et al., ICLR 2023): ERM, then last-layer retraining.

After ERM training (and checkpoint selection), ``finalize`` splits the *validation* split in
two halves stratified by (class, bias) group. For each C of ``dfr.c_grid`` an L1 logistic
regression on the penultimate features (``model.features``) is fit on the group-balanced first
half and scored on the second; the best C (by ``dfr.select_metric``) is optionally refit on the
whole balanced validation split and written into ``model.head``. The test split is never read.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from diffubias.config import DFRParams
from diffubias.data import ImageSet
from diffubias.losses import cross_entropy
from diffubias.methods.base import METHODS, Batch, Method
from diffubias.methods.groups import check_groups
from diffubias.metrics import classification_metrics


def stratified_halves(groups: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Split sample indices in two halves within every group (an odd extra sample goes to the first)."""
    first, second = [], []
    for g in torch.unique(groups).tolist():
        idx = (groups == g).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        cut = (len(idx) + 1) // 2
        first.append(idx[:cut])
        second.append(idx[cut:])
    return torch.sort(torch.cat(first)).values, torch.sort(torch.cat(second)).values


def balanced_subset(groups: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Indices keeping the same number of samples (the smallest group's size) from every present group."""
    present = torch.unique(groups).tolist()
    size = min(int((groups == g).sum()) for g in present)
    keep = []
    for g in present:
        idx = (groups == g).nonzero().flatten()
        keep.append(idx[torch.randperm(len(idx), generator=generator)[:size]])
    return torch.sort(torch.cat(keep)).values


@torch.no_grad()
def extract_features(model: torch.nn.Module, data: ImageSet, device: torch.device, batch_size: int = 1024) -> np.ndarray:
    """Penultimate features ``model.features(x)`` of every sample (no augmentation)."""
    from diffubias.training import normalize  # training imports the method registry

    model.eval()
    out = [model.features(normalize(data.images[i:i + batch_size].to(device))).cpu()
           for i in range(0, len(data), batch_size)]
    return torch.cat(out).double().numpy()


class LinearHead:
    """A standardised L1 logistic regression expressed as ``W x + b`` over all classes."""

    def __init__(self, p: DFRParams, C: float, num_classes: int, seed: int) -> None:
        self.p, self.C, self.num_classes, self.seed = p, C, num_classes, seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> "LinearHead":
        """Fit on features ``x`` and labels ``y``; every class must be present."""
        self.mean, self.scale = x.mean(0), x.std(0) + 1e-8
        z = (x - self.mean) / self.scale
        from sklearn.linear_model import LogisticRegression  # lazy: 2 s of import for every other method
        from sklearn.multiclass import OneVsRestClassifier

        base = LogisticRegression(C=self.C, l1_ratio=1.0, solver=self.p.solver, max_iter=self.p.max_iter,
                                  random_state=self.seed)
        clf = OneVsRestClassifier(base) if self.p.solver == "liblinear" else base
        clf.fit(z, y)
        if self.p.solver == "liblinear":
            coef = np.vstack([e.coef_ for e in clf.estimators_])
            intercept = np.concatenate([e.intercept_ for e in clf.estimators_])
        else:
            coef, intercept = clf.coef_, clf.intercept_
        classes = clf.classes_
        if len(classes) == 2 and coef.shape[0] == 1:  # binary: one logit for the second class
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        weight = np.zeros((self.num_classes, x.shape[1]))
        bias = np.full(self.num_classes, -1e4)  # a class absent from the fit data is never predicted
        weight[classes] = coef / self.scale
        bias[classes] = intercept - (coef * self.mean / self.scale).sum(1)
        self.weight, self.bias = weight, bias
        return self

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T + self.bias


def select_c(p: DFRParams, fit_x: np.ndarray, fit_y: np.ndarray, sel_x: np.ndarray, sel_y: np.ndarray,
             sel_bias: np.ndarray, num_classes: int, num_bias: int, seed: int) -> tuple[float, dict[float, float]]:
    """The C of ``p.c_grid`` whose head, fit on (fit_x, fit_y), scores best on the selection half."""
    scores: dict[float, float] = {}
    tiebreak: dict[float, float] = {}
    for C in p.c_grid:
        head = LinearHead(p, C, num_classes, seed).fit(fit_x, fit_y)
        pred = torch.from_numpy(head.logits(sel_x).argmax(1))
        m = classification_metrics(pred, torch.from_numpy(sel_y), torch.from_numpy(sel_bias), num_classes, num_bias)
        scores[C], tiebreak[C] = m[p.select_metric], m["balanced_acc"]
    # Ties (common for worst-group accuracy on small halves) go to balanced accuracy, then grid order.
    best = max(p.c_grid, key=lambda c: (scores[c], tiebreak[c], -p.c_grid.index(c)))
    return best, scores


@METHODS.register("dfr")
class DFR(Method):
    """ERM, then the last layer retrained by L1 logistic regression on group-balanced validation data."""

    name = "dfr"
    bias_supervised = True
    needs = "bias labels on the validation split to balance groups and choose C"

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return cross_entropy(logits, batch.y)

    def finalize(self) -> dict[str, Any]:
        """Retrain ``model.head`` on the validation split (never the test split)."""
        p, valid, seed = self.ctx.params.dfr, self.ctx.valid, self.ctx.seed
        if valid is None:
            raise ValueError("DFR needs the validation split in its MethodContext (fit passes it)")
        gen = torch.Generator().manual_seed(seed)
        check_groups(valid, self.name, "valid", p.empty_groups, min_size=2)
        first, second = stratified_halves(valid.groups, gen)
        fit_idx = first[balanced_subset(valid.groups[first], gen)].numpy()
        second = second.numpy()
        feats = extract_features(self.model, valid, self.ctx.device, self.tp.eval_batch_size)
        y, b = valid.labels.numpy(), valid.bias.numpy()
        best, scores = select_c(p, feats[fit_idx], y[fit_idx], feats[second], y[second], b[second],
                                valid.num_classes, valid.num_bias, seed)
        if p.refit:
            fit_idx = balanced_subset(valid.groups, gen).numpy()
        head = LinearHead(p, best, valid.num_classes, seed).fit(feats[fit_idx], y[fit_idx])
        dtype = self.model.head.weight.dtype
        with torch.no_grad():
            self.model.head.weight.copy_(torch.from_numpy(head.weight).to(self.ctx.device, dtype))
            self.model.head.bias.copy_(torch.from_numpy(head.bias).to(self.ctx.device, dtype))
        return {"dfr_c": best, "dfr_select_scores": {str(c): s for c, s in scores.items()},
                "dfr_fit_samples": len(fit_idx), "dfr_select_samples": len(second)}
