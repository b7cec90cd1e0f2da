"""reports/ffr.md: the paper's Figure 3/4 grids, Table 1 (stages), Table 2 (pretraining), fidelity and t-SNE."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from diffubias.ffr.runs import FFR_RUNS, STAGE2_METHODS
from diffubias.reports import collect as shared_collect
from diffubias.reports import provenance

METRICS = ("worst_group_acc", "balanced_acc", "unbiased_acc", "conflicting_acc")
VARIANTS = {"none": "None", "usb": "USB", "asb": "ASB", "ffr": "FFR"}
METHOD_NAMES = {"erm": "ERM", "groupdro": "GroupDRO", "resample": "Resampling", "dfr": "DFR"}
ABLATION = {"ffr-stage1": "Stage 1", "none-erm": "Stage 2", "ffr-reverse": "Stage 2 → Stage 1",
            "ffr-erm": "Stage 1 → Stage 2: FFR"}
PRETRAINING = {"none-erm": "No synthetic augmentation", "ffr-biased": "FFR w/ biased pretraining",
               "ffr-erm": "FFR w/ balanced pretraining"}


def collect(reports: Path) -> pd.DataFrame:
    """One row per FFR run × benchmark × ratio × seed from ``reports/metrics/test``."""
    df = shared_collect(Path(reports) / "metrics" / "test")
    order = {r: i for i, r in enumerate(FFR_RUNS)}  # FFR_RUNS order, as the tables list them
    df = df[df.run.isin(order)]
    return df.sort_values("run", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def over_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Mean over ratios per seed, then mean and std over seeds, per (run, benchmark).

    Only ratios run with every seed of the benchmark enter the average (the per-ratio table shows the rest).
    """
    seeds = df.groupby(["benchmark", "ratio"]).seed.nunique()
    full = seeds[seeds == seeds.groupby(level="benchmark").transform("max")].reset_index()[["benchmark", "ratio"]]
    df = df.merge(full, on=["benchmark", "ratio"])
    per_seed = df.groupby(["run", "benchmark", "seed"])[list(METRICS)].mean().reset_index()
    g = per_seed.groupby(["run", "benchmark"])[list(METRICS)]
    return g.mean().add_suffix("_mean").join(g.std(ddof=0).add_suffix("_std")).join(g.size().rename("seeds")).reset_index()


def _cell(s: pd.DataFrame, run: str, benchmark: str, metrics: tuple[str, ...] = ("worst_group_acc", "balanced_acc")) -> str:
    row = s[(s.run == run) & (s.benchmark == benchmark)]
    if row.empty:
        return "–"
    r = row.iloc[0]
    return " / ".join(f"{r[f'{m}_mean']:.1f} ± {r[f'{m}_std']:.1f}" for m in metrics)


def grid_table(s: pd.DataFrame, benchmark: str) -> str:
    """Figure 4: variants × stage-2 methods, WA / BA averaged over ratios."""
    lines = ["| data | " + " | ".join(f"{METHOD_NAMES[m]}{'' if m == 'erm' else ' †'}" for m in STAGE2_METHODS) + " |",
             "|---" * (len(STAGE2_METHODS) + 1) + "|"]
    for v, label in VARIANTS.items():
        lines.append(f"| {label}{'' if v == 'none' else ' †'} | " +
                     " | ".join(_cell(s, f"{v}-{m}", benchmark) for m in STAGE2_METHODS) + " |")
    return "\n".join(lines) + "\n"


def ratio_table(df: pd.DataFrame, benchmark: str, method: str = "erm") -> str:
    """Figure 3: WA / BA per conflict ratio for each variant with ``method``."""
    sub = df[df.benchmark == benchmark]
    ratios = sorted(sub.ratio.unique(), key=float)
    lines = ["| data | " + " | ".join(f"{r}%" for r in ratios) + " |", "|---" * (len(ratios) + 1) + "|"]
    for v, label in VARIANTS.items():
        cells = []
        for r in ratios:
            x = sub[(sub.run == f"{v}-{method}") & (sub.ratio == r)]
            cells.append("–" if x.empty else f"{x.worst_group_acc.mean():.1f} ± {x.worst_group_acc.std(ddof=0):.1f} / "
                                             f"{x.balanced_acc.mean():.1f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def named_table(s: pd.DataFrame, rows: dict[str, str], benchmarks: list[str]) -> str:
    """Table 1 / Table 2: named runs × benchmarks, WA / BA averaged over ratios."""
    lines = ["| | " + " | ".join(f"{b} WA / BA" for b in benchmarks) + " |", "|---" * (len(benchmarks) + 1) + "|"]
    for run, label in rows.items():
        lines.append(f"| {label} | " + " | ".join(_cell(s, run, b) for b in benchmarks) + " |")
    return "\n".join(lines) + "\n"


def orderings(df: pd.DataFrame) -> list[str]:
    """Whether the paper's orderings hold, cell by cell (benchmark × ratio × seed), on WA and on BA."""
    out = []
    for metric, short in (("worst_group_acc", "WA"), ("balanced_acc", "BA")):
        wide = df.pivot_table(index=["benchmark", "ratio", "seed"], columns="run", values=metric)
        for a, b in (("ffr-erm", "asb-erm"), ("ffr-erm", "usb-erm"), ("ffr-groupdro", "asb-groupdro"),
                     ("ffr-groupdro", "usb-groupdro"), ("ffr-erm", "none-erm")):
            if a in wide and b in wide:
                both = wide[[a, b]].dropna()
                wins, ties = int((both[a] > both[b]).sum()), int((both[a] == both[b]).sum())
                out.append(f"- {short}: {a} vs {b}: higher in {wins}, equal in {ties}, lower in "
                           f"{len(both) - wins - ties} of {len(both)} cells; mean difference "
                           f"{(both[a] - both[b]).mean():+.1f} points")
        if all(r in wide for r in ABLATION):
            full = wide[list(ABLATION)].dropna()
            best = full.eq(full.max(axis=1), axis=0)["ffr-erm"]
            out.append(f"- {short}: stage 1 → 2 (ffr-erm) is the best (or tied best) of the four stage variants in "
                       f"{int(best.sum())} of {len(full)} cells")
    return out


def _fidelity(reports: Path) -> str:
    rows = []
    for f in sorted((Path(reports) / "metrics" / "ffr-generate").glob("*.json")):
        m = json.loads(f.read_text())
        fid = m.get("fidelity", {})
        if "skipped" in fid:
            rows.append(f"| {f.stem} | {m['images']} | {m['per_subgroup']} | `{m['template']}` | skipped: {fid['skipped']} | | | |")
            continue
        rows.append(f"| {f.stem} | {m['images']} | {m['per_subgroup']} | `{m['template']}` | {fid['class_fidelity']:.1f} | "
                    f"{fid['bias_fidelity']:.1f} | {fid['subgroup_fidelity']:.1f} | {fid['worst_subgroup_fidelity']:.1f} "
                    f"({fid['worst_subgroup']}) |")
    if not rows:
        return "_no synthetic pool yet (run `diffubias ffr-generate`)_\n"
    return ("| benchmark | images | per subgroup | template | class % | bias % | both % | worst subgroup % |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


def _tsne(reports: Path, out_dir: Path) -> str:
    rows = []
    for f in sorted((Path(reports) / "metrics" / "ffr-tsne").rglob("seed*.json")):
        m = json.loads(f.read_text())
        rel = os.path.relpath(Path(reports) / "figures" / "ffr" / Path(m["figure"]).name, Path(out_dir))
        acc = m["knn_source_accuracy"]
        rows.append(f"| {f.parent.parent.name} {f.parent.name} {f.stem} | " + " | ".join(f"{acc.get(r, float('nan')):.1f}"
                    for r in ("usb-erm", "asb-erm", "ffr-erm")) + f" | ![t-SNE]({rel}) |")
    if not rows:
        return "_no t-SNE yet (run `diffubias ffr-tsne`)_\n"
    return ("| cell | USB | ASB | FFR | figure |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


def render_ffr_report(reports: Path, note: str = "", out_dir: Path = Path("reports")) -> str:
    """The whole Markdown report from the metrics files under ``reports`` (figure links relative to ``out_dir``)."""
    df = collect(reports)
    parts = ["# From Fake to Real (FFR) with USB and ASB\n\n",
             f"Generated by `diffubias ffr-report` from `{Path(reports).as_posix()}/metrics/`; do not edit by hand. "
             "Test split of the embedded world (unbiased, uniform over (class, bias)). "
             "WA = worst-group accuracy, BA = balanced accuracy (mean of per-group accuracies), in %, "
             "averaged over the conflict ratios present, then mean ± std over seeds. "
             "† = bias-supervised. **Every USB / ASB / FFR row is bias-supervised**: the prompts name the bias values.\n",
             "\n" + provenance(df, Path(reports) / "metrics" / "test")]
    if note:
        parts.append(f"\n{note}\n")
    parts.append("\n## Synthetic pool and subgroup fidelity (reference classifier)\n\n" + _fidelity(reports))
    if df.empty:
        parts.append("\n_no FFR test metrics yet: run `dvc repro`_\n")
        return "".join(parts)
    s = over_ratios(df)
    benchmarks = sorted(df.benchmark.unique())
    for b in benchmarks:
        counts = df[df.benchmark == b].groupby("ratio").seed.nunique()
        used = sorted(counts[counts == counts.max()].index, key=float)
        seeds = sorted(df[df.benchmark == b].seed.unique())
        parts.append(f"\n## {b}: synthetic data × bias mitigation (Figure 4), WA / BA\n\nAveraged over ratios "
                     f"{', '.join(r + '%' for r in used)} (those run with every seed); seeds "
                     f"{', '.join(map(str, seeds))}.\n\n" + grid_table(s, b))
        parts.append(f"\n### {b}: ERM per conflict ratio (Figure 3), WA ± std / BA\n\n" + ratio_table(df, b))
    parts.append("\n## Stage ablation (Table 1), WA / BA\n\nStage 2 alone is `none-erm` (ERM on the real set).\n\n"
                 + named_table(s, ABLATION, benchmarks))
    parts.append("\n## Balanced vs biased stage 1 (Table 2), WA / BA\n\n" + named_table(s, PRETRAINING, benchmarks))
    order = orderings(df)
    if order:
        parts.append("\n## Do the paper's orderings hold here?\n\n" + "\n".join(order) + "\n")
    parts.append("\n## Real vs synthetic embeddings (Figure 5)\n\nAccuracy (%) of a 5-NN classifier telling real "
                 "from synthetic training images in each model's penultimate features (5-fold; 50 = inseparable).\n\n"
                 + _tsne(reports, out_dir))
    return "".join(parts)
