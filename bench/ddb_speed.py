"""DDB speed on this machine: diffusion training steps/s and sampling images/s per resolution, the Bias
Amplifier's training step at the data size in the default layout against ``ddb_ba.resolution`` with
channels-last weights (side by side, as a ratio), and the wall time of the default DDB stages (read from
their metrics JSONs, i.e. as `dvc repro` ran them).

Target: the DDB slice of `dvc repro` at the default size (one cell) in <= 10 minutes.

    python bench/ddb_speed.py [--steps 10] [--images 100] [--resolutions 16 32] [--threads 1] [--ba-steps 30]
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

def ba_step_seconds(arch: str, num_classes: int, size: int, data_size: int, channels_last: bool, steps: int,
                    batch_size: int) -> float:
    """Mean seconds of one BA training step (forward, backward, Adam) on a batch of ``data_size`` px images."""
    from diffubias.models import build_model

    torch.manual_seed(0)
    model = build_model(arch, num_classes, size)
    if not channels_last:
        model = model.to(memory_format=torch.contiguous_format)
    opt = torch.optim.Adam(model.parameters())
    x = torch.randn(batch_size, 3, data_size, data_size)
    y = torch.randint(0, num_classes, (batch_size,))
    for i in range(steps + 3):  # 3 warm-up steps
        if i == 3:
            t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="timed diffusion training steps per resolution")
    ap.add_argument("--images", type=int, default=100, help="images sampled per resolution")
    ap.add_argument("--resolutions", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--benchmark", default="colour")
    ap.add_argument("--ratio", default="1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ba-steps", type=int, default=30, help="timed BA training steps per variant (0 = skip)")
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
    if args.ba_steps:
        arch = params.ddb_ba.arch or params.train.arch
        size, res, bs = params.data.image_size, params.ddb_ba.resolution or params.data.image_size, params.train.batch_size
        before = ba_step_seconds(arch, train.num_classes, size, size, False, args.ba_steps, bs)
        after = ba_step_seconds(arch, train.num_classes, res, size, True, args.ba_steps, bs)
        print(f"\nBA training step ({arch}, batch {bs}, {size} px input): {size} px contiguous {1000 * before:.1f} ms, "
              f"{res} px channels-last {1000 * after:.1f} ms: {before / after:.2f}x")
    walls = stage_seconds(args.benchmark, args.ratio, args.seed)  # the same numbers as reports/ddb.md
    print(f"\nDDB stage wall times, {args.benchmark} {args.ratio}% seed {args.seed} (from the metrics JSONs):")
    for stage, sec in walls.items():
        print(f"  {stage:22s} {'not run' if sec is None else f'{sec:7.1f} s'}")
    total = slice_seconds(walls)
    print(f"  {'slice without ablation':22s} " + ("incomplete: some stages not run" if total is None
                                                  else f"{total:7.1f} s (target 600 s)"))


if __name__ == "__main__":
    main()
