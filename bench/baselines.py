"""Train and test-score runs of the baseline harness without DVC (a quick comparison table).

    .venv/bin/python bench/baselines.py -b colour -r 1 -s 0 --runs vanilla lff groupdro resample dfr jtt oracle

Same code path as the `train-<run>` and `evaluate` stages (``fit`` + ``evaluate``), but nothing
is written under models/ or reports/; the table goes to stdout (and to --out as JSON lines).
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from diffubias.config import load_params
from diffubias.data import count_split, load_benchmark_split
from diffubias.reports import BIAS_SUPERVISED
from diffubias.training import evaluate, fit, resolve_device
from stages.train import RUNS

COLUMNS = ("unbiased_acc", "conflicting_acc", "worst_group_acc", "balanced_acc")


def main() -> None:
    """Train each run of ``--runs`` on one cell and print its test metrics."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", "--benchmark", default="colour")
    ap.add_argument("-r", "--ratio", default="1")
    ap.add_argument("-s", "--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--runs", nargs="+", default=list(RUNS))
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    params = load_params(args.params)
    data = params.data
    train = load_benchmark_split(data, args.benchmark, "train", args.ratio)
    valid = load_benchmark_split(data, args.benchmark, "valid")
    test = load_benchmark_split(data, args.benchmark, "test")
    counts = torch.bincount(train.groups, minlength=train.num_groups)
    device = resolve_device(params.train.device)
    print(f"| run | seed | {' | '.join(COLUMNS)} | train s |\n|---" + "|---" * (len(COLUMNS) + 2) + "|", flush=True)
    for run in args.runs:
        spec = RUNS[run]
        for seed in args.seeds:
            split = train
            if spec.split == "oracle":
                split = load_benchmark_split(data, args.benchmark, "oracle",
                                             limit=count_split(data, args.benchmark, "train", args.ratio), seed=seed)
            t0 = time.perf_counter()
            result = fit(spec.method, split, valid, params, seed, progress=False)
            seconds = time.perf_counter() - t0
            m = evaluate(result.method.model, test, device, params.train.eval_batch_size, counts)
            mark = " †" if run in BIAS_SUPERVISED else ""
            print(f"| {run}{mark} | {seed} | " + " | ".join(f"{m[c]:.2f}" for c in COLUMNS) + f" | {seconds:.0f} |",
                  flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps({"run": run, "benchmark": args.benchmark, "ratio": args.ratio, "seed": seed,
                                         "selected_epoch": result.selected_epoch, "train_s": round(seconds, 1),
                                         "extra": result.extra, **{c: m[c] for c in COLUMNS}}) + "\n")


if __name__ == "__main__":
    main()
