"""Guided class-conditional sampling (DDB step 2) and how bias-aligned the samples are.

Synthesis reuses DiffuBias' resumable renderer (``generation.render``): image ``i`` shows class
``i mod C`` (so any prefix of ``n·C`` images holds ``n`` per class), starts from its own seeded
noise, batch ``k`` always holds images ``[kB, (k+1)B)``, files are written to a temporary name
and renamed, and ``manifest.csv`` + ``generation.json`` let a rerun keep exactly the files that
are still valid. :class:`ClassConditionalPipeline` adapts the UNet to the renderer's call.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffubias.data import ImageSet, Vocabulary
from diffubias.errors import ConfigError


@dataclass
class _Output:
    images: np.ndarray


class ClassConditionalPipeline:
    """Callable like a diffusers pipeline: class names as prompts, CFG with the null class, DPM-Solver."""

    def __init__(self, unet: Any, train_scheduler: Any, class_names: tuple[str, ...], null_class: int,
                 scheduler: str = "dpm") -> None:
        self.unet = unet
        self.train_config = train_scheduler.config
        self.class_ids = {name: i for i, name in enumerate(class_names)}
        self.null_class = null_class
        self.scheduler_name = scheduler

    def new_scheduler(self) -> Any:
        """A fresh sampler (multistep solvers keep per-run state)."""
        from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

        if self.scheduler_name == "dpm":
            return DPMSolverMultistepScheduler.from_config(self.train_config, algorithm_type="dpmsolver++",
                                                           solver_order=2)
        if self.scheduler_name == "ddim":
            return DDIMScheduler.from_config(self.train_config)
        raise ConfigError(f"ddb_sample.scheduler: unknown {self.scheduler_name!r}; valid: ['dpm', 'ddim']")

    @torch.no_grad()
    def __call__(self, prompt: list[str], num_inference_steps: int, guidance_scale: float,
                 generator: list[torch.Generator], output_type: str = "np", **_: Any) -> _Output:
        """Images in [0, 1], ``[B, H, W, 3]``; ``guidance_scale`` 1 runs the conditional model only."""
        unknown = sorted({p for p in prompt if p not in self.class_ids})
        if unknown:
            raise ConfigError(f"unknown class name(s) {unknown}; the model knows {sorted(self.class_ids)}")
        device = next(self.unet.parameters()).device
        size = int(self.unet.config.sample_size)
        x = torch.stack([torch.randn((3, size, size), generator=g) for g in generator]).to(device)
        y = torch.tensor([self.class_ids[p] for p in prompt], device=device)
        null = torch.full_like(y, self.null_class)
        sched = self.new_scheduler()
        sched.set_timesteps(num_inference_steps)
        x = x * sched.init_noise_sigma
        for t in sched.timesteps:
            inp = sched.scale_model_input(x, t)
            if guidance_scale == 1.0:
                out = self.unet(inp, t, class_labels=y).sample
            else:
                both = self.unet(torch.cat([inp, inp]), t, class_labels=torch.cat([y, null])).sample
                cond, uncond = both.chunk(2)
                out = uncond + guidance_scale * (cond - uncond)
            x = sched.step(out, t, x).prev_sample
        images = (x.clamp(-1, 1) + 1) / 2
        return _Output(images.permute(0, 2, 3, 1).cpu().numpy())


def class_corpus(vocab: Vocabulary) -> list[dict]:
    """One 'caption' per class for the renderer: the class name, labelled with its id."""
    return [{"text": name, "image": "", "caption_index": 0, "label": i} for i, name in enumerate(vocab.classes)]


def load_synthetic(out_dir: Path, like: ImageSet, image_size: int, per_class: int | None = None) -> ImageSet:
    """The synthetic images of a finished folder (bias = -1); ``per_class`` keeps the first n of each class."""
    from diffubias.debiased import load_generated

    data = load_generated(out_dir, like, image_size)
    if per_class is not None:
        keep = torch.cat([(data.labels == c).nonzero().flatten()[:per_class] for c in range(like.num_classes)])
        data = data.subset(keep.sort().values)
    return data


def alignment_metrics(reference: str, images: torch.Tensor, labels: torch.Tensor, data_root: Path,
                      vocab: Vocabulary) -> dict:
    """Alignment rate (%): the reference sees the class's aligned bias value; plus class fidelity."""
    from diffubias.fidelity_reference import fidelity_of_images

    out = fidelity_of_images(reference, images, labels, data_root, vocab)
    if "conflicting_rate" in out:
        out = {"alignment_rate": round(100.0 - out["conflicting_rate"], 2), **out}
    return out


def sample_grid(images: torch.Tensor, labels: torch.Tensor, num_classes: int, per_class: int, path: Path,
                scale: int = 2) -> None:
    """A PNG with one row of ``per_class`` images per class (upscaled ``scale``×), written atomically."""
    from diffubias.figures import save_image_rows

    rows = [[images[i] for i in (labels == c).nonzero().flatten()[:per_class].tolist()] for c in range(num_classes)]
    save_image_rows(rows, path, per_class, scale=scale)


def synthesize(model_dir: Path, vocab: Vocabulary, images_per_class: int, guidance_scale: float, steps: int,
               scheduler: str, batch_size: int, image_size: int, seed: int, out_dir: Path,
               device: str = "cpu", progress: bool = True) -> Any:
    """Render ``images_per_class × C`` images into ``out_dir`` (resumable); returns the renderer's stats."""
    from diffubias.ddb.diffusion import load_model
    from diffubias.generation import RenderOptions, model_fingerprint, render

    unet, train_sched, meta = load_model(model_dir, device)
    if meta["num_classes"] != len(vocab.classes):
        raise ConfigError(f"{model_dir}: trained for {meta['num_classes']} classes, the benchmark has "
                          f"{len(vocab.classes)}; retrain with `diffubias ddb-train-diffusion`")
    pipe = ClassConditionalPipeline(unet, train_sched, vocab.classes, meta["null_class"], scheduler)
    opt = RenderOptions(steps=steps, guidance_scale=guidance_scale, image_size=image_size, batch_size=batch_size)
    settings = {"model": model_fingerprint(str(model_dir)), "steps": steps, "guidance_scale": guidance_scale,
                "scheduler": scheduler, "image_size": image_size, "seed": seed, "sampler": "ddb-class-conditional"}
    return render(pipe, class_corpus(vocab), images_per_class * len(vocab.classes), seed, opt, Path(out_dir),
                  settings, progress=progress)
