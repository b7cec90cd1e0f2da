"""DDB ablations on one cell: guidance scale, synthetic images per class, BA on synthetic vs real.

Each point trains a Bias Amplifier and reports how well its pseudo-groups match the true groups
(precision / recall of 'conflicting', evaluation only) and, with ``ddb_ablation.recipes``, the
test accuracy of Recipe I (and, for the BA-source ablation, Recipe II) trained with it.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from diffubias.config import Params
from diffubias.data import ImageSet, Vocabulary
from diffubias.ddb.amplifier import cue_following, group_match, pseudo_conflicting, train_amplifier
from diffubias.metrics import headline

_TEST_KEYS = ("unbiased_acc", "worst_group_acc", "conflicting_acc", "balanced_acc")


def _recipe(method: str, train: ImageSet, valid: ImageSet, test: ImageSet, amplifier: torch.nn.Module,
            params: Params, seed: int, device: torch.device) -> dict[str, float]:
    from diffubias.ddb.recipes import amplified_set
    from diffubias.training import evaluate, fit

    result = fit(method, amplified_set(train, amplifier, device), valid, params, seed, progress=False)
    m = headline(evaluate(result.method, test, device))
    return {k: m[k] for k in _TEST_KEYS}


def ablation_point(source: ImageSet, train: ImageSet, valid: ImageSet, test: ImageSet, params: Params, seed: int,
                   device: torch.device, recipes: tuple[str, ...]) -> dict[str, Any]:
    """Train a BA on ``source``; pseudo-group match on ``train``; optionally the recipes' test accuracy."""
    t0 = time.perf_counter()
    ba = train_amplifier(source, valid, params, seed, progress=False).method.model
    out: dict[str, Any] = {"source_images": len(source),
                           "pseudo": group_match(pseudo_conflicting(ba, train.images, train.labels, device),
                                                 ~train.aligned),
                           "valid_conflicting": cue_following(ba, valid, device)}
    for method in recipes:
        out[method] = _recipe(method, train, valid, test, ba, params, seed, device)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def run_ablation(model_dir: Path, samples_dir: Path, scratch_dir: Path, vocab: Vocabulary, data_root: Path,
                 train: ImageSet, valid: ImageSet, test: ImageSet, params: Params, seed: int,
                 device: torch.device) -> dict[str, Any]:
    """All three ablations of one cell; returns JSON-ready results."""
    from diffubias.ddb.sampling import alignment_metrics, load_synthetic, synthesize

    a, s = params.ddb_ablation, params.ddb_sample
    size = params.data.image_size
    recipe1 = ("ddb_groupdro",) if a.recipes else ()
    guidance = []
    for g in a.guidance_scales:
        out_dir = Path(scratch_dir) / f"g{g:g}"
        stats = synthesize(model_dir, vocab, a.images_per_class, g, s.steps, s.scheduler, s.batch_size, size, seed,
                           out_dir, str(device), progress=False)
        synth = load_synthetic(out_dir, train, size)
        align = alignment_metrics(s.reference, synth.images, synth.labels, data_root, vocab)
        guidance.append({"guidance_scale": g, "alignment_rate": align.get("alignment_rate"),
                         "class_fidelity": align.get("class_fidelity"), "images_per_s": round(stats.images_per_s, 2),
                         **ablation_point(synth, train, valid, test, params, seed, device, recipe1)})
    per_class = []
    for n in a.images_per_class_grid:
        if n > s.images_per_class:
            per_class.append({"images_per_class": n, "skipped": f"ddb_sample.images_per_class is {s.images_per_class}"})
            continue
        synth = load_synthetic(samples_dir, train, size, per_class=n)
        per_class.append({"images_per_class": n, **ablation_point(synth, train, valid, test, params, seed, device,
                                                                  recipe1)})
    both = ("ddb_groupdro", "ddb_lff") if a.recipes else ()
    sources = [{"ba_source": "synthetic", **ablation_point(load_synthetic(samples_dir, train, size), train, valid,
                                                           test, params, seed, device, both)},
               {"ba_source": "real", **ablation_point(train, train, valid, test, params, seed, device, both)}]
    return {"guidance": guidance, "images_per_class": per_class, "ba_source": sources,
            "sample_guidance_scale": s.guidance_scale, "ablation_images_per_class": a.images_per_class}
