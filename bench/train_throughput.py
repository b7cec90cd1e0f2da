"""Training throughput: the real loop vs compute-only forward+backward, side by side in one run.

The real loop slices the in-memory uint8 cache, normalises, augments and calls the method's
``update`` (forward, loss, backward, Adam step). The compute-only loop runs the same model, loss and
optimiser on a pre-made random float batch of the same shape. Target: real ≥ 90 % of compute-only.

    python bench/train_throughput.py [--arch mlp cnn] [--batches 60] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from diffubias.benchmarks import BENCHMARKS, write_benchmark
from diffubias.config import parse_params
from diffubias.data import load_benchmark_split
from diffubias.methods import Batch, MethodContext, get_method
from diffubias.training import make_batch


def _time_real(method, train, params, n_batches: int, generator: torch.Generator) -> float:
    order = torch.randperm(len(train), generator=generator)
    bs = params.train.batch_size
    t0 = time.perf_counter()
    for k in range(n_batches):
        idx = order[(k * bs) % (len(order) - bs):][:bs]
        method.update(make_batch(train, idx, torch.device("cpu"), params.train, generator))
    return n_batches * bs / (time.perf_counter() - t0)


def _time_compute(method, shape, num_classes: int, n_batches: int) -> float:
    x = torch.randn(shape)
    y = torch.randint(0, num_classes, (shape[0],))
    batch = Batch(x, y, torch.zeros_like(y), y, torch.arange(shape[0]))
    t0 = time.perf_counter()
    for _ in range(n_batches):
        method.update(batch)
    return n_batches * shape[0] / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", nargs="+", default=["mlp", "cnn"])
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data-root", default="/tmp/diffubias-bench-world")
    args = ap.parse_args()
    from pathlib import Path

    root = Path(args.data_root)
    if not (root / "colour").is_dir():
        write_benchmark(BENCHMARKS["colour"], root / "colour", seed=0, image_size=32, train_size=4000,
                        ratios=("1",), valid_per_group=1, test_per_group=1, noise_std=6.0, workers=2)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'arch':6} {'real img/s':>11} {'compute img/s':>14} {'ratio':>7}")
    for arch in args.arch:
        params = parse_params({"data": {"root": str(root)}, "train": {"arch": arch}, "tracking": {"codecarbon": False}})
        train = load_benchmark_split(params.data, "colour", "train", "1")
        method = get_method("erm")(MethodContext(train, params, 32, torch.device("cpu"), 0))
        g = torch.Generator().manual_seed(0)
        shape = (params.train.batch_size, 3, 32, 32)
        _time_real(method, train, params, 5, g), _time_compute(method, shape, 10, 5)  # warm-up
        real, comp = [], []
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
            real.append(_time_real(method, train, params, args.batches, g))
            comp.append(_time_compute(method, shape, 10, args.batches))
        r, c = statistics.median(real), statistics.median(comp)
        print(f"{arch:6} {r:11.0f} {c:14.0f} {r / c:7.1%}")


if __name__ == "__main__":
    main()
