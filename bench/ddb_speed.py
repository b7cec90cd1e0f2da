"""DDB speed on this machine: diffusion training steps/s and sampling images/s per resolution, and the
wall time of the default DDB stages (read from their metrics JSONs, i.e. as `dvc repro` ran them).

Target: the DDB slice of `dvc repro` at the default size (one cell) in <= 10 minutes.

    python bench/ddb_speed.py [--steps 10] [--images 100] [--resolutions 16 32] [--threads 1]
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from diffubias.config import load_params
from diffubias.data import benchmark_vocabulary, load_benchmark_split
from diffubias.ddb.diffusion import train_diffusion
from diffubias.ddb.report import slice_seconds, stage_seconds
from diffubias.ddb.sampling import synthesize

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="timed diffusion training steps per resolution")
    ap.add_argument("--images", type=int, default=100, help="images sampled per resolution")
    ap.add_argument("--resolutions", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--benchmark", default="colour")
    ap.add_argument("--ratio", default="1")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    params = load_params()
    train = load_benchmark_split(params.data, args.benchmark, "train", args.ratio)
    vocab = benchmark_vocabulary(params.data, args.benchmark)
    s = params.ddb_sample
    print(f"load: {open('/proc/loadavg').read().split()[0]} (2-core CPU shared with other jobs inflates every time)")
    print("| resolution | UNet channels | train steps/s (batch) | sampling img/s (steps, guidance) |")
    print("|---|---|---|---|")
    for res in args.resolutions:
        p = dataclasses.replace(params.ddb_diffusion, resolution=res, steps=args.steps + 1, threads=args.threads,
                                checkpoint_every=10**9)
        with tempfile.TemporaryDirectory() as tmp:
            result = train_diffusion(train.images, train.labels, train.num_classes, p, params.data.image_size,
                                     0, Path(tmp) / "m", progress=False)
            per_class = max(1, args.images // train.num_classes)
            t0 = time.perf_counter()
            synthesize(Path(tmp) / "m", vocab, per_class, s.guidance_scale, s.steps, s.scheduler, s.batch_size,
                       params.data.image_size, 0, Path(tmp) / "s", progress=False)
            ips = per_class * train.num_classes / (time.perf_counter() - t0)
        print(f"| {res} px | {list(p.channels)} | {result.steps_per_s:.2f} ({p.batch_size}) | "
              f"{ips:.1f} ({s.steps}, {s.guidance_scale:g}) |")
    walls = stage_seconds(args.benchmark, args.ratio, args.seed)  # the same numbers as reports/ddb.md
    print(f"\nDDB stage wall times, {args.benchmark} {args.ratio}% seed {args.seed} (from the metrics JSONs):")
    for stage, sec in walls.items():
        print(f"  {stage:22s} {'not run' if sec is None else f'{sec:7.1f} s'}")
    total = slice_seconds(walls)
    print(f"  {'slice without ablation':22s} " + ("incomplete: some stages not run" if total is None
                                                  else f"{total:7.1f} s (target 600 s)"))


if __name__ == "__main__":
    main()
