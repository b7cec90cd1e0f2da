"""Aggregate per-cell test metrics into results tables (CSV + Markdown, mean ± std over seeds)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from diffubias import paths

METRICS = ("unbiased_acc", "aligned_acc", "conflicting_acc", "worst_group_acc", "balanced_acc", "train_weighted_acc")
# Runs that use bias labels in training or model selection (flagged † in every table).
BIAS_SUPERVISED: set[str] = {"oracle", "groupdro", "resample", "dfr", "jtt"}
RUN_ORDER = ["vanilla", "biased", "lff", "groupdro", "resample", "dfr", "jtt", "diffubias", "diffubias_nofilter", "oracle"]
# FFR with the USB / ASB baselines (stages/ffr.py): every synthetic-data run is bias-supervised (the prompts name
# the bias values), and so are the group-based stage-2 methods.
_FFR_RUNS = [f"{v}-{m}" for v in ("none", "usb", "asb", "ffr") for m in ("erm", "groupdro", "resample", "dfr")]
BIAS_SUPERVISED |= {r for r in _FFR_RUNS if r != "none-erm"} | {"ffr-stage1", "ffr-reverse", "ffr-biased"}
RUN_ORDER += [*_FFR_RUNS, "ffr-stage1", "ffr-reverse", "ffr-biased"]
# Diffusing DeBias (no bias labels: pseudo-groups from the Bias Amplifier), after DiffuBias.
RUN_ORDER[RUN_ORDER.index("diffubias_nofilter") + 1:RUN_ORDER.index("diffubias_nofilter") + 1] = ["ddb_recipe1", "ddb_recipe2"]


def collect(root: Path = paths.REPORTS / "metrics" / "test") -> pd.DataFrame:
    """One row per (run, benchmark, ratio, seed) from ``reports/metrics/test/**.json``."""
    rows = []
    for f in sorted(Path(root).rglob("seed*.json")):
        run, benchmark, ratio_dir, seed = f.relative_to(root).with_suffix("").parts
        m = json.loads(f.read_text())
        rows.append({"run": run, "benchmark": benchmark, "ratio": ratio_dir.removesuffix("pct"),
                     "seed": int(seed.removeprefix("seed")), **{k: m.get(k) for k in METRICS}})
    return pd.DataFrame(rows, columns=["run", "benchmark", "ratio", "seed", *METRICS])


def lock_records(lock: Path = Path("dvc.lock")) -> set[str]:
    """Paths of every output and metrics file a stage in ``dvc.lock`` records."""
    import yaml

    if not Path(lock).is_file():
        return set()
    stages = (yaml.safe_load(Path(lock).read_text()) or {}).get("stages", {})
    return {o["path"] for st in stages.values() for key in ("outs", "metrics") for o in st.get(key, []) or []}


def provenance(df: pd.DataFrame, root: Path = paths.REPORTS / "metrics" / "test",
               lock: Path = Path("dvc.lock")) -> str:
    """One Markdown line: how many of the test-metric files behind ``df``'s rows ``dvc.lock`` records."""
    recorded = lock_records(lock)
    files = [Path(root) / r.run / paths.cell(r.benchmark, r.ratio, r.seed).with_suffix(".json")
             for r in df.itertuples()]
    n = sum(str(f) in recorded for f in files)
    if n == len(files):
        return f"**Provenance:** all {n} tabled metric files are recorded in `dvc.lock`.\n"
    return (f"**Provenance:** {n} of {len(files)} tabled metric files are recorded in `dvc.lock`; the other "
            f"{len(files) - n} were made outside DVC and are **pending** a rebuild through `dvc repro`.\n")


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and seed count per (benchmark, ratio, run)."""
    if df.empty:
        return df
    g = df.groupby(["benchmark", "ratio", "run"])[list(METRICS)]
    out = g.mean().add_suffix("_mean").join(g.std(ddof=0).add_suffix("_std")).join(g.size().rename("seeds"))
    return out.reset_index()


def _order(run: str) -> tuple[int, str]:
    return (RUN_ORDER.index(run) if run in RUN_ORDER else len(RUN_ORDER), run)


def markdown_table(summary: pd.DataFrame, metric: str) -> str:
    """Runs × (benchmark, ratio) table of ``metric`` as mean ± std."""
    if summary.empty:
        return "_no results yet_\n"
    cols = sorted({(b, r) for b, r in zip(summary.benchmark, summary.ratio)}, key=lambda c: (c[0], float(c[1])))
    head = "| run | " + " | ".join(f"{b} {r}%" for b, r in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    for run in sorted(summary.run.unique(), key=_order):
        cells = []
        for b, r in cols:
            row = summary[(summary.run == run) & (summary.benchmark == b) & (summary.ratio == r)]
            if row.empty or pd.isna(row[f"{metric}_mean"].iloc[0]):
                cells.append("–")
            else:
                mean, std, n = row[f"{metric}_mean"].iloc[0], row[f"{metric}_std"].iloc[0], row["seeds"].iloc[0]
                cells.append(f"{mean:.2f} ± {std:.2f}" + ("" if n > 1 else " (1 seed)"))
        mark = " †" if run in BIAS_SUPERVISED else ""
        lines.append(f"| {run}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_report(summary: pd.DataFrame, title: str = "Results", provenance_line: str = "") -> str:
    """The Markdown results report (``provenance_line``: see :func:`provenance`)."""
    parts = [f"# {title}\n",
             "Test accuracy (%) on the unbiased test split, mean ± std over seeds. "
             "† = uses bias labels (bias-supervised) in training or model selection. "
             "Generated by `dvc repro report`; do not edit by hand.\n", "\n" + provenance_line if provenance_line else ""]
    names = {"unbiased_acc": "Unbiased accuracy (plain accuracy on the group-uniform test set)",
             "conflicting_acc": "Bias-conflicting accuracy",
             "worst_group_acc": "Worst-group accuracy (lowest-accuracy (class, bias) group)",
             "balanced_acc": "Balanced accuracy (mean of per-group accuracies)",
             "aligned_acc": "Bias-aligned accuracy",
             "train_weighted_acc": "Train-weighted average accuracy (per-group accuracies weighted by training group proportions, WILDS adj_acc_avg)"}
    for metric, name in names.items():
        parts.append(f"\n## {name}\n\n" + markdown_table(summary, metric))
    return "".join(parts)
