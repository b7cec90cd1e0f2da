"""Subgroup fidelity of the synthetic pool: how often the reference classifier reads the prompted class and bias."""
from __future__ import annotations

from pathlib import Path

import torch

from diffubias.data import ImageSet, Vocabulary


def subgroup_fidelity(pred_class: torch.Tensor, pred_bias: torch.Tensor, pool: ImageSet) -> dict:
    """Class, bias and joint agreement (%) overall, and the joint agreement of the worst subgroup."""
    ok_c, ok_b = pred_class == pool.labels, pred_bias == pool.bias
    both = (ok_c & ok_b).float()
    counts = torch.bincount(pool.groups, minlength=pool.num_groups)
    per_group = torch.zeros(pool.num_groups).index_add(0, pool.groups, both) / counts.clamp_min(1)
    present = counts > 0
    worst = int(torch.nonzero(present).flatten()[per_group[present].argmin()])
    return {"images": len(pool), "class_fidelity": round(100 * ok_c.float().mean().item(), 2),
            "bias_fidelity": round(100 * ok_b.float().mean().item(), 2),
            "subgroup_fidelity": round(100 * both.mean().item(), 2),
            "worst_subgroup_fidelity": round(100 * per_group[worst].item(), 2),
            "worst_subgroup": f"{worst // pool.num_bias}/{worst % pool.num_bias}",
            "per_subgroup": [round(100 * v, 1) for v in per_group.tolist()]}


def pool_fidelity(reference: str, pool: ImageSet, data_root: Path, vocab: Vocabulary) -> dict:
    """Subgroup fidelity with the reference classifier, or the reason it was skipped."""
    from diffubias.fidelity_reference import _kinds, predict_attributes

    if not reference:
        return {"skipped": "ffr.reference is empty"}
    if not Path(reference).exists():
        return {"skipped": f"{reference}: no reference classifier (build it with the foundation stage)"}
    class_kind, bias_kind = _kinds(data_root, vocab)
    preds = predict_attributes(reference, pool.images)
    if class_kind not in preds or bias_kind not in preds:
        return {"skipped": f"the reference predicts {sorted(preds)}, not {class_kind!r} / {bias_kind!r}"}
    return {"reference": reference, "class_attribute": class_kind, "bias_attribute": bias_kind,
            **subgroup_fidelity(preds[class_kind], preds[bias_kind], pool)}
