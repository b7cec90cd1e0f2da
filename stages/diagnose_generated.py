"""`diagnose-generated`: what the generator's label noise costs DiffuBias (evaluation only, not the method).

A generated image carries the class of the mined image whose caption prompted it, but a generator that
does not draw the prompted class gives it a wrong label (the `generate` metrics' class fidelity). This
diagnostic retrains the debiased model (same method, params and seed as `train-debiased`) on the real
train set plus three variations of X_gen and scores each on the unbiased test split:

* ``label_clean``: only the generated images the reference classifier recognises as their labelled class;
* ``size_matched``: a seeded random subset of X_gen of the same size (so clean − matched is the cost of
  the label noise at equal size);
* ``relabelled``: every generated image, labelled with the class the reference sees in it (what a
  generator that draws *some* class, named correctly, would give).

It reads the reference classifier, which has true attribute knowledge: its numbers explain the method's
result and must never be reported as the method's.
"""
from __future__ import annotations

from pathlib import Path

import torch
import typer

from diffubias import artifacts, paths
from diffubias.data import ImageSet, benchmark_vocabulary, dataset_root, load_benchmark_split
from diffubias.debiased import check_method, debiased_train_set, load_generated
from diffubias.devices import resolve_device
from diffubias.errors import ConfigError
from diffubias.fidelity_reference import _kinds, predict_attributes
from diffubias.metrics import headline
from diffubias.sharding import derive_seed
from diffubias.tracking import track_stage, write_json
from diffubias.training import evaluate as evaluate_model, fit
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from
from stages.diffubias_common import VARIANT

def diagnose_metrics(variant: str, benchmark: str, ratio: str, seed: int) -> Path:
    return paths.REPORTS / "metrics" / "diagnose" / variant / paths.cell(benchmark, ratio, seed).with_suffix(".json")


def generated_arms(generated: ImageSet, seen_class: torch.Tensor, seed: int) -> dict[str, ImageSet]:
    """The three variations of X_gen (see the module docstring), from the reference's class predictions."""
    clean = torch.nonzero(seen_class == generated.labels).flatten()
    g = torch.Generator().manual_seed(derive_seed(seed, 0, "diagnose-generated"))
    matched = torch.randperm(len(generated), generator=g)[:len(clean)].sort().values
    relabelled = ImageSet(generated.images, seen_class.clone(), generated.bias, generated.paths,
                          generated.num_classes, generated.num_bias, generated.aligned_bias)
    return {"label_clean": generated.subset(clean), "size_matched": generated.subset(matched),
            "relabelled": relabelled}


def diagnose_generated(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, variant: str = VARIANT,
                       params_file: Path = PARAMS) -> None:
    """Retrain the debiased model on label-clean / size-matched / relabelled X_gen (reference classifier)."""
    params = params_from(params_file)
    reference = params.generate.reference
    if not reference or not Path(reference).exists():
        raise ConfigError(f"generate.reference: {reference!r} is not a reference classifier; the diagnostic needs "
                          "one (build it with `dvc repro train-reference`)")
    method = check_method(params.debiased.method)
    data = params.data
    train = load_benchmark_split(data, benchmark, "train", ratio)
    valid = load_benchmark_split(data, benchmark, "valid")
    test = load_benchmark_split(data, benchmark, "test")
    generated = load_generated(artifacts.generated_dir(variant, benchmark, ratio, seed), train, data.image_size)
    class_kind, _ = _kinds(dataset_root(data, benchmark), benchmark_vocabulary(data, benchmark))
    seen = predict_attributes(reference, generated.images)
    if class_kind not in seen:
        raise ConfigError(f"{reference}: the reference predicts {sorted(seen)}, not this benchmark's {class_kind!r}")
    device = resolve_device(params.train.device)
    out: dict = {"variant": variant, "generated": len(generated), "note": "evaluation-only diagnostic: uses the "
                 "reference classifier; not a DiffuBias result"}
    with track_stage("diagnose-generated", params.tracking, {"variant": variant}, benchmark=benchmark, ratio=ratio,
                     seed=seed, variant=variant) as run:
        for arm, subset in generated_arms(generated, seen[class_kind].long(), seed).items():
            if len(subset) == 0:  # never train an arm on the unchanged biased set and call it a result
                out[arm] = {"generated_samples": 0, "skipped": "the reference recognises no generated image's class"}
                continue
            result = fit(method, debiased_train_set(train, subset), valid, params, seed, progress=False)
            metrics = headline(evaluate_model(result.method.model, test, device, params.train.eval_batch_size))
            out[arm] = {"generated_samples": len(subset), "selected_epoch": result.selected_epoch, **metrics}
            run.log_metrics(metrics, prefix=f"{arm}.")
            typer.echo(f"diagnose {variant} {benchmark} {ratio}% seed {seed} {arm}: {len(subset)} generated, "
                       f"unbiased {metrics['unbiased_acc']:.2f}")
    out["cost"] = run.cost
    write_json(diagnose_metrics(variant, benchmark, ratio, seed), out)
