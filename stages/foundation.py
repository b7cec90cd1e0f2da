"""Foundation-model stages: make-corpus, train-t2i, train-captioner, train-reference, foundation-eval."""
from __future__ import annotations

from pathlib import Path

import torch
import typer

from diffubias.config import as_flat_dict
from diffubias.foundation import evaluation, pretrain
from diffubias.foundation.corpus import read_corpus, render_split, write_corpus
from diffubias.foundation.loading import load_captioner, load_generator
from diffubias.foundation.reference import load_reference
from diffubias.tracking import track_stage, write_json
from stages.common import PARAMS, params_from

CORPUS = Path("data/foundation/corpus")
T2I = Path("models/foundation/t2i")
CAPTIONER = Path("models/foundation/captioner")
REFERENCE = Path("models/foundation/reference")
METRICS = Path("reports/metrics/foundation")
EVAL_METRICS = Path("reports/metrics/foundation.json")
GRID = Path("reports/figures/foundation_grid.png")


def make_corpus(params_file: Path = PARAMS) -> None:
    """Render the captioned, unbiased world corpus (train + held-out) under data/foundation/corpus."""
    params = params_from(params_file)
    p = params.corpus
    with track_stage("make-corpus", params.tracking, as_flat_dict(p, "corpus.")) as run:
        common = dict(seed=p.seed, image_size=p.image_size, noise_std=p.noise_std,
                      captions_per_image=p.captions_per_image, caption_noise=p.caption_noise, workers=p.workers)
        splits = {"train": render_split("train", per_combination=p.per_combination, **common),
                  "heldout": render_split("heldout", per_combination=p.heldout_per_combination, **common)}
        write_corpus(CORPUS, splits)
        run.log_metrics({f"images.{k}": len(v) for k, v in splits.items()})
    typer.echo(f"wrote {', '.join(f'{k}: {len(v)}' for k, v in splits.items())} captioned images to {CORPUS}/")


def train_t2i(params_file: Path = PARAMS) -> None:
    """Pretrain the text-to-image latent diffusion pipeline on the corpus -> models/foundation/t2i."""
    params = params_from(params_file)
    with track_stage("train-t2i", params.tracking, as_flat_dict(params.t2i, "t2i.")) as run:
        metrics = pretrain.pretrain_t2i(read_corpus(CORPUS, "train"), params.t2i, T2I)
        run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        run.log_metrics(metrics["parameters"], prefix="parameters.")
    write_json(METRICS / "t2i.json", {**metrics, "cost": run.cost})
    typer.echo(f"t2i: {metrics['parameters']} parameters, vae {metrics['vae_train_s']} s + diffusion "
               f"{metrics['diffusion_train_s']} s -> {T2I}")


def train_captioner(params_file: Path = PARAMS) -> None:
    """Pretrain the image captioner on the corpus -> models/foundation/captioner."""
    params = params_from(params_file)
    with track_stage("train-captioner", params.tracking, as_flat_dict(params.captioner, "captioner.")) as run:
        metrics = pretrain.pretrain_captioner(read_corpus(CORPUS, "train"), params.captioner, CAPTIONER)
        run.log_metrics(metrics)
    write_json(METRICS / "captioner.json", {**metrics, "cost": run.cost})
    typer.echo(f"captioner: {metrics['parameters']} parameters, {metrics['train_s']} s -> {CAPTIONER}")


def train_reference(params_file: Path = PARAMS) -> None:
    """Train the reference classifier (shape, colour, background) on the corpus -> models/foundation/reference."""
    params = params_from(params_file)
    with track_stage("train-reference", params.tracking, as_flat_dict(params.reference, "reference.")) as run:
        metrics = pretrain.pretrain_reference(read_corpus(CORPUS, "train"), read_corpus(CORPUS, "heldout"),
                                              params.reference, REFERENCE)
        run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        run.log_metrics(metrics["heldout_accuracy"], prefix="heldout_accuracy.")
    write_json(METRICS / "reference.json", {**metrics, "cost": run.cost})
    typer.echo(f"reference: held-out accuracy {metrics['heldout_accuracy']} ({metrics['train_s']} s) -> {REFERENCE}")


def foundation_eval(params_file: Path = PARAMS) -> None:
    """Measure generated-image and caption fidelity with the reference classifier -> reports/metrics/foundation.json."""
    params = params_from(params_file)
    p = params.foundation_eval
    if p.threads > 0:
        torch.set_num_threads(p.threads)
    with track_stage("foundation-eval", params.tracking, as_flat_dict(p, "foundation_eval.")) as run:
        reference = load_reference(REFERENCE)
        heldout = read_corpus(CORPUS, "heldout")
        pipe = load_generator(p.generator, dtype=p.dtype, device=p.device, scheduler=p.scheduler)
        gen, images, specs = evaluation.generation_fidelity(
            pipe, reference, images_per_prompt=p.images_per_prompt, seed=p.seed, steps=p.steps,
            guidance_scale=p.guidance_scale, batch_size=p.batch_size)
        evaluation.save_grid(images, specs, GRID)
        recon = evaluation.reconstruction_fidelity(pipe.vae, reference, heldout)
        del pipe
        subset = heldout.subset(list(range(min(p.heldout_images, len(heldout)))))
        captioner = load_captioner(p.captioner, dtype=p.dtype, device=p.device)
        cap = evaluation.caption_fidelity(captioner, subset, k=p.captions_per_image, seed=p.seed,
                                          batch_size=p.batch_size)
        run.log_metrics({k: v for k, v in gen.items() if isinstance(v, (int, float))}, prefix="generation.")
        run.log_metrics({k: v for k, v in cap.items() if isinstance(v, (int, float))}, prefix="captions.")
        run.log_metrics(recon, prefix="vae_reconstruction.")
        run.log_artifact(GRID)
    targets = {"generation.class_recognised": 0.85, "generation.bias_recognised": 0.85,
               "captions.class_word": 0.90, "captions.colour_word": 0.80, "captions.background_word": 0.80}
    write_json(EVAL_METRICS, {"generation": gen, "captions": cap, "vae_reconstruction": recon,
                              "targets": targets, "cost": run.cost})
    typer.echo(f"generation: class {gen['class_recognised']:.3f}, bias {gen['bias_recognised']:.3f} "
               f"({gen['images']} images); captions: class word {cap['class_word']:.3f}, colour word "
               f"{cap['colour_word']:.3f}, background word {cap['background_word']:.3f} -> {EVAL_METRICS}, {GRID}")
