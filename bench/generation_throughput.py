"""Throughput of the foundation models, side by side in one run.

Generation: batched with a fewer-step solver (DPM-Solver, 20 steps) versus one image per call
with the pipeline's own default scheduler and step count. Captioning: one batched call versus
one call per image. Both models come through the project's one loader, so a hub id works too.

    .venv/bin/python bench/generation_throughput.py [--generator models/foundation/t2i] [--out bench.json]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from PIL import Image

from diffubias.foundation.corpus import read_corpus
from diffubias.foundation.loading import load_captioner, load_generator


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_generation(model: str, n_batched: int, n_single: int, batch: int, steps: int, threads: int) -> dict:
    """images/s: batched DPM-Solver at ``steps`` vs single calls with the default scheduler."""
    prompts = [f"a red {s}" for s in ("circle", "square", "star", "heart")]
    fast = load_generator(model, scheduler="dpm")
    default = load_generator(model, scheduler=None)
    default_steps = 50  # StableDiffusionPipeline's default num_inference_steps

    def run_batched() -> None:
        for start in range(0, n_batched, batch):
            n = min(batch, n_batched - start)
            fast(prompt=[prompts[i % 4] for i in range(start, start + n)], num_inference_steps=steps,
                 guidance_scale=4.0, generator=[torch.Generator("cpu").manual_seed(start + i) for i in range(n)],
                 output_type="pil")

    def run_single() -> None:
        for i in range(n_single):
            default(prompt=prompts[i % 4], generator=torch.Generator("cpu").manual_seed(i), output_type="pil")

    fast(prompt=prompts[:1], num_inference_steps=2, output_type="pil")  # warm-up
    t_single = _timed(run_single)
    t_batched = _timed(run_batched)
    single, batched = n_single / t_single, n_batched / t_batched
    return {"single_default": {"scheduler": type(default.scheduler).__name__, "steps": default_steps,
                               "images": n_single, "images_per_s": single},
            "batched_fast": {"scheduler": type(fast.scheduler).__name__, "steps": steps, "batch": batch,
                             "images": n_batched, "images_per_s": batched},
            "speedup": batched / single, "threads": threads}


def bench_captions(model: str, images: list[Image.Image], n_single: int, batch: int, k: int) -> dict:
    """captions/s: one batched call vs one call per image (k sampled captions each)."""
    captioner = load_captioner(model)
    captioner.caption(images[:2], k=k, seed=0)  # warm-up
    t_single = _timed(lambda: [captioner.caption([im], k=k, seed=i, batch_size=1) for i, im in enumerate(images[:n_single])])
    t_batched = _timed(lambda: captioner.caption(images, k=k, seed=0, batch_size=batch))
    single, batched = n_single * k / t_single, len(images) * k / t_batched
    return {"single": {"images": n_single, "captions_per_s": single},
            "batched": {"images": len(images), "batch": batch, "captions_per_s": batched},
            "speedup": batched / single, "k": k}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generator", default="models/foundation/t2i")
    ap.add_argument("--captioner", default="models/foundation/captioner")
    ap.add_argument("--corpus", default="data/foundation/corpus")
    ap.add_argument("--images", type=int, default=128, help="images generated in batches")
    ap.add_argument("--single", type=int, default=8, help="images generated / captioned one per call")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--captions", type=int, default=256, help="images captioned in batches")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default=None, help="also write the result as JSON here")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    heldout = read_corpus(args.corpus, "heldout")
    images = [Image.fromarray(np.asarray(im)) for im in heldout.images[:args.captions]]
    result = {"generation": bench_generation(args.generator, args.images, args.single, args.batch, args.steps,
                                             torch.get_num_threads()),
              "captioning": bench_captions(args.captioner, images, args.single, args.batch, args.k)}
    g, c = result["generation"], result["captioning"]
    print(f"generation: single {g['single_default']['scheduler']} x{g['single_default']['steps']} steps "
          f"{g['single_default']['images_per_s']:.2f} img/s | batched {g['batched_fast']['scheduler']} "
          f"x{g['batched_fast']['steps']} {g['batched_fast']['images_per_s']:.2f} img/s | speed-up {g['speedup']:.1f}x")
    print(f"captioning: single {c['single']['captions_per_s']:.2f} captions/s | batched "
          f"{c['batched']['captions_per_s']:.2f} captions/s | speed-up {c['speedup']:.1f}x")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
