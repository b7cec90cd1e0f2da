"""The DiffuBias report: Table 3 / Table 4 layouts, pipeline diagnostics, image grids.

Reads only what the stages wrote: ``reports/metrics/test`` (accuracies), ``reports/metrics/{mine,
caption,filter,generate,diagnose}`` (diagnostics), the mined tables and generated manifests (grids).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from diffubias import artifacts
from diffubias.data import load_split, select_ids
from diffubias.figures import save_image_rows
from diffubias.generation import MANIFEST, load_generated
from diffubias.paths import REPORTS
from diffubias.reports import collect, markdown_table, summarize

TABLE_RUNS = ("vanilla", "biased", "diffubias", "diffubias_nofilter", "oracle")


def _cells(stage: str, variant: str = "") -> list[tuple[tuple[str, str, int], dict]]:
    root = REPORTS / "metrics" / stage / variant if variant else REPORTS / "metrics" / stage
    out = []
    for f in sorted(Path(root).glob("*/*pct/seed*.json")):
        benchmark, ratio_dir, seed = f.relative_to(root).with_suffix("").parts
        out.append(((benchmark, ratio_dir.removesuffix("pct"), int(seed.removeprefix("seed"))), json.loads(f.read_text())))
    return out


def diagnostics() -> pd.DataFrame:
    """One row per (variant, cell): precision@K, recall, keep rate, fidelity, throughput, energy."""
    mine = dict(_cells("mine"))
    cap = dict(_cells("caption"))
    rows = []
    for variant in artifacts.VARIANTS:
        filt = dict(_cells("filter", variant))
        gens = dict(_cells("generate", variant))
        for cell in sorted(set(filt) | set(gens)):
            m, c, f, gen = mine.get(cell, {}), cap.get(cell, {}), filt.get(cell, {}), gens.get(cell, {})
            fid = gen.get("fidelity", {})
            energy = [x.get("cost", {}).get("energy_kwh") for x in (m, c, f, gen)]
            rows.append({
                "variant": variant, "benchmark": cell[0], "ratio": cell[1], "seed": cell[2],
                "precision_at_k": m.get("precision_at_k"), "recall": m.get("recall"), "mined": m.get("mined"),
                "captions": f.get("captions"), "kept": f.get("kept"), "keep_rate": f.get("keep_rate"),
                "top_words": " ".join(list(f.get("top_words", {}))[:10]),
                "generated": gen.get("images"), "class_fidelity": fid.get("class_fidelity"),
                "conflicting_rate": fid.get("conflicting_rate"),
                "class_and_conflicting": fid.get("class_and_conflicting"),
                "caption_images_per_s": c.get("images_per_s"), "generate_images_per_s": gen.get("images_per_s"),
                "energy_wh": 1000 * sum(e for e in energy if e is not None) if any(e is not None for e in energy) else None,
            })
    return pd.DataFrame(rows)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def diagnostics_table(df: pd.DataFrame) -> str:
    """Markdown table of the diagnostics (one row per variant and cell)."""
    if df.empty:
        return "_no filter or generate metrics yet_\n"
    cols = ["variant", "benchmark", "ratio", "seed", "precision_at_k", "recall", "kept", "captions", "keep_rate",
            "generated", "class_fidelity", "conflicting_rate", "class_and_conflicting", "caption_images_per_s",
            "generate_images_per_s", "energy_wh", "top_words"]
    lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    for _, r in df.sort_values(["benchmark", "ratio", "seed", "variant"]).iterrows():
        lines.append("| " + " | ".join(_fmt(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


LABEL_NOISE_ARMS = ("label_clean", "size_matched", "relabelled")


def label_noise_table() -> str:
    """The `diagnose-generated` results: the method's accuracy next to the label-clean, size-matched and
    reference-relabelled retrainings, one row per cell (unbiased accuracy, %; generated images in brackets)."""
    tests = dict(_cells("test", "diffubias"))
    vanilla = dict(_cells("test", "vanilla"))
    fidelity = {cell: g.get("fidelity", {}).get("class_fidelity") for cell, g in _cells("generate", "diffubias")}
    lines = ["| benchmark | ratio | seed | vanilla | DiffuBias (all X_gen) | class fidelity of X_gen | "
             "label-clean X_gen | size-matched random X_gen | relabelled X_gen |", "|---" * 9 + "|"]
    groups: dict[tuple[str, str], list[list]] = {}
    for (b, r, s), d in _cells("diagnose", "diffubias"):
        arms = [d.get(a, {}) for a in LABEL_NOISE_ARMS]
        values = [vanilla.get((b, r, s), {}).get("unbiased_acc"), tests.get((b, r, s), {}).get("unbiased_acc"),
                  fidelity.get((b, r, s))] + [a.get("unbiased_acc") for a in arms]
        groups.setdefault((b, r), []).append(values)
        cells = [f"{_fmt(a.get('unbiased_acc'))} ({a.get('generated_samples', 0)})" if "unbiased_acc" in a
                 else f"skipped ({a.get('generated_samples', 0)})" for a in arms]
        lines.append(f"| {b} | {r}% | {s} | {_fmt(values[0])} | {_fmt(values[1])} ({d.get('generated')}) | "
                     f"{_fmt(values[2])} | " + " | ".join(cells) + " |")
    for (b, r), rows in groups.items():
        if len(rows) > 1:  # mean ± std over seeds (ddof 0, as every table here; a column with a missing value is left out)
            cols = [[v for v in col if v is not None] for col in zip(*rows)]
            stats = [f"{np.mean(c):.2f} ± {np.std(c):.2f}" if len(c) == len(rows) else "–" for c in cols]
            lines.append(f"| {b} | {r}% | mean of {len(rows)} | " + " | ".join(stats) + " |")
    return "\n".join(lines) + "\n" if len(lines) > 2 else "_no diagnose-generated metrics yet_\n"


def ablation_table(summary: pd.DataFrame, metric: str = "unbiased_acc") -> str:
    """Table 4: DiffuBias with and without the text filter, and the difference, per cell."""
    lines = ["| benchmark | ratio | with filter | without filter | Δ (with − without) |", "|---|---|---|---|---|"]
    for (b, r), g in summary.groupby(["benchmark", "ratio"]):
        on, off = g[g.run == "diffubias"], g[g.run == "diffubias_nofilter"]
        if on.empty or off.empty:
            continue
        a, z = on.iloc[0], off.iloc[0]
        lines.append(f"| {b} | {r}% | {a[f'{metric}_mean']:.2f} ± {a[f'{metric}_std']:.2f} | "
                     f"{z[f'{metric}_mean']:.2f} ± {z[f'{metric}_std']:.2f} | "
                     f"{a[f'{metric}_mean'] - z[f'{metric}_mean']:+.2f} |")
    return "\n".join(lines) + "\n" if len(lines) > 2 else "_both variants not evaluated yet_\n"


def grid_png(images_by_class: dict[int, list[np.ndarray]], out: Path, per_row: int = 8, scale: int = 2) -> None:
    """A class-per-row grid of HWC uint8 images, upscaled ``scale``×, written atomically."""
    rows = [[torch.from_numpy(np.ascontiguousarray(im[:, :, :3])).permute(2, 0, 1) for im in ims[:per_row]]
            for _, ims in sorted(images_by_class.items())]
    save_image_rows(rows, out, per_row, scale=scale)


def mined_grid(data_root: Path, benchmark: str, ratio: str, seed: int, out: Path) -> bool:
    """Mined images, one row per class (highest loss first)."""
    table = artifacts.mined_table(benchmark, ratio, seed)
    if not table.is_file():
        return False
    rows = list(csv.DictReader(open(table)))
    mined = select_ids(load_split(data_root, "train", ratio, 0), [r["id"] for r in rows], str(table))
    by_class: dict[int, list[np.ndarray]] = {}
    for r, img in zip(rows, mined.images):
        by_class.setdefault(int(r["class"]), []).append(img.permute(1, 2, 0).numpy())
    grid_png(by_class, out)
    return True


def generated_grid(variant: str, benchmark: str, ratio: str, seed: int, out: Path) -> bool:
    """Generated images, one row per labelled class."""
    folder = artifacts.generated_dir(variant, benchmark, ratio, seed)
    if not (folder / MANIFEST).is_file():
        return False
    rows, images = load_generated(folder)
    by_class: dict[int, list[np.ndarray]] = {}
    for r, img in zip(rows, images):
        lst = by_class.setdefault(int(r["label"]), [])
        if len(lst) < 8:
            lst.append(img)
    grid_png(by_class, out)
    return True


def caption_examples(benchmark: str, ratio: str, seed: int, n: int = 6) -> str:
    """A few kept and dropped captions of the filtered `diffubias` corpus."""
    folder = artifacts.filtered_dir("diffubias", benchmark, ratio, seed)
    parts = []
    for name in ("kept", "dropped"):
        f = folder / f"{name}.jsonl"
        if f.is_file():
            lines = [json.loads(x) for x in f.read_text().splitlines()[:n]]
            parts.append(f"**{name}**: " + "; ".join(f"“{r['text']}” (class {r['label']})" for r in lines))
    return "\n\n".join(parts) + "\n" if parts else ""


def accuracy_tables() -> tuple[pd.DataFrame, str]:
    """Per-seed rows of the report's runs and the Table-3-style Markdown (unbiased / conflicting / worst-group)."""
    df = collect()
    df = df[df.run.isin(TABLE_RUNS)] if not df.empty else df
    summary = summarize(df)
    text = ""
    for metric, title in (("unbiased_acc", "Unbiased accuracy"), ("conflicting_acc", "Bias-conflicting accuracy"),
                          ("worst_group_acc", "Worst-group accuracy")):
        text += f"\n### {title} (%)\n\n" + markdown_table(summary, metric)
    if not summary.empty:
        text += "\n### Table 4: the text filter ablation (unbiased accuracy, %)\n\n" + ablation_table(summary)
    return df, text
