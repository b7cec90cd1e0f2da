"""Fidelity of the foundation models as the reference classifier and simple word matching see it.

Generation: images from "a {colour} {shape}" and "a {shape} on a {background} background" for every
combination; the fraction whose shape (class) and whose prompted colour / background (bias value)
the reference classifier recognises. Captioning: on held-out corpus images, the fraction of
sampled captions that name the right shape, colour and background as whole words.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from diffubias.figures import save_image_rows
from diffubias.foundation.captions import prompt_background, prompt_colour
from diffubias.foundation.corpus import Corpus
from diffubias.foundation.loading import Captioner
from diffubias.foundation.reference import ReferenceClassifier
from diffubias.world import BACKGROUNDS, COLOURS, SHAPES


@dataclass(frozen=True)
class PromptSpec:
    """One evaluation prompt and what it asks for (``bias_kind`` is colour or background)."""

    text: str
    shape: int
    bias_kind: str
    bias: int


def evaluation_prompts() -> list[PromptSpec]:
    """All 100 shape × colour and 100 shape × background prompts."""
    out = [PromptSpec(prompt_colour(s, c), s, "colour", c) for s in range(len(SHAPES)) for c in range(len(COLOURS))]
    out += [PromptSpec(prompt_background(s, b), s, "background", b)
            for s in range(len(SHAPES)) for b in range(len(BACKGROUNDS))]
    return out


def pil_to_uint8(images: list[Image.Image]) -> torch.Tensor:
    """PIL images -> uint8 ``[B, 3, H, W]``."""
    return torch.from_numpy(np.stack([np.asarray(im.convert("RGB")) for im in images])).permute(0, 3, 1, 2).contiguous()


def generate(pipe, prompts: list[str], seeds: list[int], *, steps: int, guidance_scale: float, batch_size: int,
             size: int | None = None, progress: bool = True) -> list[Image.Image]:
    """Images for ``prompts`` (image i seeded with ``seeds[i]``), in batches."""
    device = getattr(pipe, "_execution_device", None) or pipe.device
    out: list[Image.Image] = []
    for start in tqdm(range(0, len(prompts), batch_size), desc="generate", disable=not progress, mininterval=5):
        gens = [torch.Generator(device).manual_seed(s) for s in seeds[start:start + batch_size]]
        kw = dict(height=size, width=size) if size else {}
        out += pipe(prompt=prompts[start:start + batch_size], num_inference_steps=steps, guidance_scale=guidance_scale,
                    generator=gens, output_type="pil", **kw).images
    return out


def generation_fidelity(pipe, reference: ReferenceClassifier, *, images_per_prompt: int, seed: int, steps: int,
                        guidance_scale: float, batch_size: int, progress: bool = True) -> tuple[dict, list[Image.Image], list[PromptSpec]]:
    """Class / bias recognition rates over generated images; also returns the images and their prompts."""
    specs = [s for s in evaluation_prompts() for _ in range(images_per_prompt)]
    seeds = [seed * 1_000_003 + i for i in range(len(specs))]
    t0 = time.perf_counter()
    images = generate(pipe, [s.text for s in specs], seeds, steps=steps, guidance_scale=guidance_scale,
                      batch_size=batch_size, progress=progress)
    seconds = time.perf_counter() - t0
    pred = reference.predict_attributes(pil_to_uint8(images))
    shape_ok = np.array([int(pred["shape"][i]) == s.shape for i, s in enumerate(specs)])
    bias_ok = np.array([int(pred[s.bias_kind][i]) == s.bias for i, s in enumerate(specs)])
    is_colour = np.array([s.bias_kind == "colour" for s in specs])
    metrics = {
        "images": len(specs), "class_recognised": float(shape_ok.mean()), "bias_recognised": float(bias_ok.mean()),
        "both_recognised": float((shape_ok & bias_ok).mean()),
        "colour_prompts": {"class_recognised": float(shape_ok[is_colour].mean()),
                           "colour_recognised": float(bias_ok[is_colour].mean())},
        "background_prompts": {"class_recognised": float(shape_ok[~is_colour].mean()),
                               "background_recognised": float(bias_ok[~is_colour].mean())},
        "per_class_recognised": {SHAPES[c]: float(shape_ok[[s.shape == c for s in specs]].mean())
                                 for c in range(len(SHAPES))},
        "images_per_s": len(specs) / seconds, "steps": steps, "guidance_scale": guidance_scale,
    }
    return metrics, images, specs


def names_word(caption: str, word: str) -> bool:
    """Whether ``word`` occurs in ``caption`` as a whole word (case-insensitive)."""
    return re.search(rf"\b{re.escape(word)}\b", caption.lower()) is not None


def caption_fidelity(captioner: Captioner, corpus: Corpus, *, k: int, seed: int, batch_size: int) -> dict:
    """How often k sampled captions per held-out image name its shape, colour and background."""
    images = [Image.fromarray(im) for im in corpus.images]
    t0 = time.perf_counter()
    captions = captioner.caption(images, k=k, seed=seed, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    hits = {"class_word": [], "colour_word": [], "background_word": []}
    distinct = []
    for caps, (s, c, b) in zip(captions, corpus.scenes.tolist()):
        distinct.append(len(set(caps)))
        for cap in caps:
            hits["class_word"].append(names_word(cap, SHAPES[s]))
            hits["colour_word"].append(names_word(cap, COLOURS[c]))
            hits["background_word"].append(names_word(cap, BACKGROUNDS[b]))
    rates = {k_: float(np.mean(v)) for k_, v in hits.items()}
    return {"images": len(images), "captions": len(images) * k, **rates,
            "bias_word": float(np.mean([rates["colour_word"], rates["background_word"]])),
            "mean_distinct_per_image": float(np.mean(distinct)), "captions_per_s": len(images) * k / seconds,
            "examples": [captions[i] for i in range(min(5, len(captions)))]}


def save_grid(images: list[Image.Image], specs: list[PromptSpec], path: Path, scale: int = 2) -> None:
    """One row per class, one column per colour (first image of each "a {colour} {shape}" prompt)."""
    first: dict[tuple[int, int], Image.Image] = {}
    for im, s in zip(images, specs):
        if s.bias_kind == "colour":
            first.setdefault((s.shape, s.bias), im)
    cells = {k: pil_to_uint8([im])[0] for k, im in first.items()}
    rows = [[cells.get((shape, colour)) for colour in range(len(COLOURS))] for shape in range(len(SHAPES))]
    save_image_rows(rows, path, len(COLOURS), padding=0, fill=0, scale=scale)


@torch.no_grad()
def reconstruction_fidelity(vae, reference: ReferenceClassifier, corpus: Corpus) -> dict:
    """Reference accuracy on autoencoder reconstructions: the ceiling the latent space puts on generation."""
    x = torch.from_numpy(corpus.images).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(vae.device, vae.dtype)
    recon = torch.cat([vae.decode(vae.encode(x[i:i + 256]).latent_dist.mean).sample for i in range(0, len(x), 256)])
    images = recon.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()
    pred = reference.predict_attributes(images)
    return {name: float((pred[name] == torch.from_numpy(corpus.scenes[:, i])).float().mean())
            for i, name in enumerate(("shape", "colour", "background"))}
