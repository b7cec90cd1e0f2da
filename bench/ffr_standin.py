"""CPU stand-in for the text-to-image model in FFR experiments: a prompt-following world renderer with a fingerprint.

Used only when the embedded diffusion model is not trained yet. It reads the shape and colour /
background words of each prompt, renders that scene with the world's renderer (the unnamed
attribute random) and adds a synthetic fingerprint (a 3×3 box blur and no sensor noise), so real
and synthetic images differ as in the paper's setting. Images pass through ``generation.render``
(same manifest, per-image seeds, resumability) into ``data/ffr/synthetic/<benchmark>``.

    .venv/bin/python bench/ffr_standin.py --params PARAMS -b colour
    diffubias ffr-pretrain -b colour -r R -s S --params PARAMS        # then, per cell and run:
    diffubias ffr-train --run RUN -b colour -r R -s S --params PARAMS
"""
from __future__ import annotations

import argparse
from types import SimpleNamespace

import numpy as np
import torch

from diffubias.config import load_params
from diffubias.data import benchmark_vocabulary, dataset_root
from diffubias.ffr.cells import generate_metrics, pool_size, synthetic_dir
from diffubias.ffr.fidelity import pool_fidelity
from diffubias.ffr.synthetic import load_pool
from diffubias.tracking import write_json
from diffubias.ffr.prompts import subgroup_corpus, template_for
from diffubias.generation import RenderOptions, render
from diffubias.world import BACKGROUNDS, COLOURS, SHAPES, Scene, render as render_scene


class WorldRenderer:
    """Callable like a diffusers pipeline: ``pipe(prompt=[...], generator=[...]).images`` in [0, 1]."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, prompt: list[str], generator: list[torch.Generator], **_: object) -> SimpleNamespace:
        out = []
        for text, gen in zip(prompt, generator):
            rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            words = text.lower().split()
            pick = lambda names: next((i for i, n in enumerate(names) if n in words), int(rng.integers(len(names))))  # noqa: E731
            img = render_scene(Scene(pick(SHAPES), pick(COLOURS), pick(BACKGROUNDS)), self.size, rng, noise_std=0.0)
            x = torch.from_numpy(img).permute(2, 0, 1).float()[None]
            x = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)
            out.append(x[0].permute(1, 2, 0).numpy() / 255.0)
        return SimpleNamespace(images=np.stack(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("-b", "--benchmark", required=True)
    args = ap.parse_args()
    params = load_params(args.params)
    vocab = benchmark_vocabulary(params.data, args.benchmark)
    corpus = subgroup_corpus(vocab, template_for(params.ffr, vocab, args.benchmark))
    per_group, n = pool_size(params, args.benchmark, params.grid.ratios)
    opt = RenderOptions(1, 0.0, params.data.image_size, params.ffr.batch_size)
    stats = render(WorldRenderer(params.data.image_size), corpus, n, params.ffr.generation_seed, opt,
                   synthetic_dir(args.benchmark), {"model": "bench/ffr_standin.py:WorldRenderer"})
    pool = load_pool(synthetic_dir(args.benchmark), vocab, params.data.image_size)
    fidelity = pool_fidelity(params.ffr.reference, pool, dataset_root(params.data, args.benchmark), vocab)
    write_json(generate_metrics(args.benchmark), {
        "images": n, "per_subgroup": per_group, "ratios": list(params.grid.ratios), "generator": "stand-in WorldRenderer",
        "template": template_for(params.ffr, vocab, args.benchmark), "example_prompts": [r["text"] for r in corpus[:3]],
        "written": stats.written, "images_per_s": round(stats.images_per_s, 3), "fidelity": fidelity})
    print(f"{args.benchmark}: {n} stand-in images ({per_group} per subgroup), {stats.written} new; "
          f"subgroup fidelity {fidelity.get('subgroup_fidelity')}")


if __name__ == "__main__":
    main()
