"""`reports/ddb.md` + `reports/ddb.csv`: DDB next to the baselines, its diagnostics and its ablations."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from diffubias import paths, reports
from diffubias.ddb import paths as ddb_paths
from diffubias.io import atomic_path, write_text_atomic

COMPARED = ["vanilla", "lff", "groupdro", "ddb_recipe1", "ddb_recipe2", "oracle"]
HEADLINE = ("worst_group_acc", "unbiased_acc", "conflicting_acc", "balanced_acc", "train_weighted_acc")


def _cells(kind: str) -> list[tuple[str, str, int, dict]]:
    root = ddb_paths.METRICS / kind
    out = []
    for f in sorted(root.rglob("seed*.json")) if root.is_dir() else []:
        benchmark, ratio_dir, seed = f.relative_to(root).with_suffix("").parts
        out.append((benchmark, ratio_dir.removesuffix("pct"), int(seed.removeprefix("seed")), json.loads(f.read_text())))
    return out


def _pm(values: pd.Series) -> str:
    values = values.dropna().astype(float)
    if values.empty:
        return "–"
    return f"{values.mean():.2f} ± {values.std(ddof=0):.2f}" + (" (1 seed)" if len(values) == 1 else "")


def diagnostics_frame() -> pd.DataFrame:
    """One row per cell: diffusion speed, synthetic alignment, pseudo-group precision/recall."""
    rows: dict[tuple, dict] = {}
    for b, r, s, m in _cells("diffusion"):
        rows.setdefault((b, r, s), {}).update(diffusion_steps=m.get("steps"), diffusion_steps_per_s=m.get("steps_per_s"),
                                              diffusion_loss=m.get("final_loss"))
    for b, r, s, m in _cells("sample"):
        rows.setdefault((b, r, s), {}).update(guidance_scale=m.get("guidance_scale"), images=m.get("images"),
                                              alignment_rate=m.get("alignment_rate"),
                                              real_train_alignment_rate=m.get("real_train_alignment_rate"),
                                              class_fidelity=m.get("class_fidelity"), sample_images_per_s=m.get("images_per_s"))
    for b, r, s, m in _cells("ba"):
        pg, cues = m.get("pseudo_groups", {}), m.get("ba_on_valid_conflicting", {})
        rows.setdefault((b, r, s), {}).update(ba_source=m.get("source"), pseudo_precision=pg.get("precision"),
                                              pseudo_recall=pg.get("recall"), pseudo_flagged=pg.get("pseudo_conflicting"),
                                              true_conflicting=pg.get("true_conflicting"),
                                              ba_follows_bias=cues.get("follows_bias"),
                                              ba_follows_class=cues.get("follows_class"))
    return pd.DataFrame([{"benchmark": b, "ratio": r, "seed": s, **v} for (b, r, s), v in sorted(rows.items())])


def ablation_frame() -> pd.DataFrame:
    """Long table of every ablation point of every cell."""
    rows = []
    for b, r, s, m in _cells("ablation"):
        for kind, key in (("guidance", "guidance_scale"), ("images_per_class", "images_per_class"),
                          ("ba_source", "ba_source")):
            for point in m.get(kind, []):
                row = {"benchmark": b, "ratio": r, "seed": s, "ablation": kind, "setting": str(point[key]),
                       "alignment_rate": point.get("alignment_rate"), "skipped": point.get("skipped", "")}
                row.update({f"pseudo_{k}": point.get("pseudo", {}).get(k) for k in ("precision", "recall", "f1")})
                row.update({f"ba_{k}": point.get("valid_conflicting", {}).get(k) for k in ("follows_bias", "follows_class")})
                for method, tag in (("ddb_groupdro", "recipe1"), ("ddb_lff", "recipe2")):
                    row.update({f"{tag}_{k}": point.get(method, {}).get(k) for k in ("worst_group_acc", "unbiased_acc")})
                rows.append(row)
    return pd.DataFrame(rows)


def _duration(path: Path) -> float | None:
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("cost", {}).get("duration_s")


SLICE = ("diffusion", "sample", "ba", *ddb_paths.RECIPE_RUNS, *(f"evaluate_{r}" for r in ddb_paths.RECIPE_RUNS))


def stage_seconds(benchmark: str, ratio: str, seed: int) -> dict[str, float | None]:
    """Wall seconds of each DDB stage of one cell, from the metrics it wrote (None where it has not run)."""
    out = {kind: _duration(ddb_paths.metrics(kind, benchmark, ratio, seed))
           for kind in ("diffusion", "sample", "ba", "ablation")}
    for run in ddb_paths.RECIPE_RUNS:
        out[run] = _duration(paths.train_metrics(run, benchmark, ratio, seed))
        out[f"evaluate_{run}"] = _duration(paths.test_metrics(run, benchmark, ratio, seed))
    return out


def slice_seconds(seconds: dict[str, float | None]) -> float | None:
    """The DDB slice of `dvc repro` (every stage in ``SLICE``); None until all of them have run."""
    core = [seconds[k] for k in SLICE]
    return round(sum(core), 1) if all(v is not None for v in core) else None


def timing_frame() -> pd.DataFrame:
    """``stage_seconds`` of every cell with a diffusion model, plus the slice totals."""
    rows = []
    for b, r, s, _ in _cells("diffusion"):
        sec = stage_seconds(b, r, s)
        total = slice_seconds(sec)
        with_ablation = round(total + sec["ablation"], 1) if total is not None and sec["ablation"] is not None else None
        rows.append({"benchmark": b, "ratio": r, "seed": s, **sec, "slice_s": total,
                     "slice_with_ablation_s": with_ablation})
    return pd.DataFrame(rows)


def _num(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.1f}"


def claims(ablation: pd.DataFrame) -> list[str]:
    """The paper's two ablation claims, checked on every cell that has the ablation (measured, either way)."""
    if ablation.empty:
        return ["_no ablation results yet_"]
    out = []
    src = ablation[ablation.ablation == "ba_source"]
    for (b, r, s), g in src.groupby(["benchmark", "ratio", "seed"]):
        if not {"synthetic", "real"} <= set(g.setting):
            continue
        syn, real = g[g.setting == "synthetic"].iloc[0], g[g.setting == "real"].iloc[0]
        measured = [(k, float(syn[c]), float(real[c])) for k, c in
                    (("pseudo-group F1", "pseudo_f1"), ("Recipe I unbiased", "recipe1_unbiased_acc"),
                     ("Recipe II unbiased", "recipe2_unbiased_acc")) if pd.notna(syn.get(c)) and pd.notna(real.get(c))]
        parts = [f"{k} {a:.1f} vs {b_:.1f}" for k, a, b_ in measured]
        wins = sum(a > b_ for _, a, b_ in measured)
        out.append(f"- BA on synthetic vs real, {b} {r} % seed {s}: {'; '.join(parts)} "
                   f"(synthetic higher in {wins} of {len(parts)})")
    gui = ablation[ablation.ablation == "guidance"]
    for (b, r, s), g in gui.groupby(["benchmark", "ratio", "seed"]):
        g = g.assign(scale=g.setting.astype(float)).sort_values("scale")
        best = g.loc[g.recipe1_unbiased_acc.astype(float).idxmax()] if g.recipe1_unbiased_acc.notna().any() else None
        seq = ", ".join(f"{x.scale:g}: {_num(x.alignment_rate)} % aligned / F1 {_num(x.pseudo_f1)}"
                        + (f" / Recipe I {x.recipe1_unbiased_acc:.1f}" if pd.notna(x.recipe1_unbiased_acc) else "")
                        for x in g.itertuples())
        out.append(f"- Guidance scale, {b} {r} % seed {s}: {seq}"
                   + (f"; best Recipe I at scale {best.scale:g}" if best is not None else ""))
    return out


def _table(df: pd.DataFrame, by: list[str], cols: list[str]) -> str:
    if df.empty:
        return "_no results yet_\n"
    cols = [c for c in cols if c in df.columns]
    lines = ["| " + " | ".join(by + cols) + " |", "|---" * (len(by) + len(cols)) + "|"]
    for key, g in df.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        lines.append("| " + " | ".join(map(str, key)) + " | " + " | ".join(_pm(g[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def render(results: pd.DataFrame, diagnostics: pd.DataFrame, ablation: pd.DataFrame, grids: list[Path],
           timing: pd.DataFrame | None = None) -> str:
    """The Markdown report."""
    parts = ["# Diffusing DeBias (DDB) on the embedded world\n\n",
             "Generated by `diffubias ddb-report` (DVC stage `ddb-report`); do not edit by hand. Test accuracy (%) "
             "on the unbiased test split, mean ± std over seeds. **Worst-group** = the lowest-accuracy (class, bias) "
             "group; **average** = plain accuracy on the group-uniform test set (LfF convention); "
             "train-weighted = per-group accuracies weighted by training group proportions (WILDS). "
             "† = uses bias labels. DDB's recipes use none: their pseudo-groups come from the Bias Amplifier.\n"]
    sub = results[results.run.isin(COMPARED)].copy() if not results.empty else results
    if not sub.empty:  # only the cells DDB ran on (the baseline grid covers more: reports/results.md)
        ddb_cells = set(map(tuple, sub[sub.run.isin(ddb_paths.RECIPE_RUNS)][["benchmark", "ratio"]].values))
        sub = sub[[(b, r) in ddb_cells for b, r in sub[["benchmark", "ratio"]].values]]
        parts.append("\n" + reports.provenance(sub))
    if not sub.empty:
        sub["run"] = sub.run.map(lambda r: r + (" †" if r in reports.BIAS_SUPERVISED else ""))
        sub["order"] = sub.run.map(lambda r: COMPARED.index(r.removesuffix(" †")))
        sub = sub.sort_values(["benchmark", "ratio", "order"])
    parts.append("\n## Results (worst-group and average accuracy)\n\n"
                 + _table(sub, ["benchmark", "ratio", "run"], list(HEADLINE)))
    parts.append("\n## DDB diagnostics\n\nAlignment rate = share of images whose bias value, as read by the reference "
                 "classifier, is the class's aligned value (synthetic vs the real biased train set). Pseudo-group "
                 "precision / recall = of the real train samples the BA gets wrong ('conflicting'), the share truly "
                 "conflicting, and the share of true conflicting samples caught. BA follows bias / class = on the "
                 "conflicting samples of the unbiased validation split, how often the BA predicts the class whose "
                 "aligned bias value the image carries (what a Bias Amplifier should do) / the true class (it "
                 "learned the target feature instead).\n\n"
                 + _table(diagnostics, ["benchmark", "ratio"],
                          ["alignment_rate", "real_train_alignment_rate", "class_fidelity", "pseudo_precision",
                           "pseudo_recall", "pseudo_flagged", "true_conflicting", "ba_follows_bias", "ba_follows_class",
                           "diffusion_steps_per_s", "sample_images_per_s"]))
    names = {"guidance": "Guidance scale", "images_per_class": "Synthetic images per class (prefixes of the "
             "ddb-sample folder)", "ba_source": "Bias Amplifier trained on synthetic vs real images"}
    for kind, title in names.items():
        g = ablation[ablation.ablation == kind] if not ablation.empty else ablation
        if not g.empty:
            g = g[g.skipped == ""]
        cols = ["alignment_rate", "pseudo_precision", "pseudo_recall", "pseudo_f1", "ba_follows_bias",
                "ba_follows_class", "recipe1_worst_group_acc",
                "recipe1_unbiased_acc", "recipe2_worst_group_acc", "recipe2_unbiased_acc"]
        if g is not None and not g.empty:
            cols = [c for c in cols if g[c].notna().any()]
        parts.append(f"\n## Ablation: {title}\n\n" + _table(g, ["benchmark", "ratio", "setting"], cols))
    parts.append("\n## Do the paper's claims hold here?\n\nMeasured per ablated cell (unbiased test accuracy in %; "
                 "F1 of pseudo-'conflicting' against the true groups):\n\n" + "\n".join(claims(ablation)) + "\n")
    if timing is not None and not timing.empty:
        parts.append("\n## Wall time of the DDB stages (s)\n\nFrom each stage's own metrics (`cost.duration_s`). "
                     "slice = ddb-train-diffusion + ddb-sample + ddb-train-ba + both recipes + their evaluation; "
                     "a resumed stage that had nothing left to do shows its short rerun, not the original time.\n\n"
                     + _table(timing, ["benchmark", "ratio", "seed"],
                              ["diffusion", "sample", "ba", "ddb_recipe1", "ddb_recipe2", "slice_s", "ablation",
                               "slice_with_ablation_s"]).replace(" (1 seed)", "").replace(" ± 0.00", ""))
    if grids:
        parts.append("\n## Synthetic samples (one row per class, ddb_sample.guidance_scale)\n\n")
        parts.extend(f"![{p.stem}]({p.relative_to(ddb_paths.FIGURES.parent.parent).as_posix()})\n\n" for p in grids)
    return "".join(parts)


def write_report(md_path: Path, csv_path: Path) -> str:
    """Collect every DDB metric and write the Markdown + CSV report atomically; returns the Markdown."""
    results = reports.collect()
    diagnostics, ablation = diagnostics_frame(), ablation_frame()
    grids = sorted((ddb_paths.FIGURES / "samples").rglob("*.png")) if (ddb_paths.FIGURES / "samples").is_dir() else []
    text = render(results, diagnostics, ablation, grids, timing_frame())
    frames = [results[results.run.isin(COMPARED)].assign(section="results") if not results.empty else results,
              diagnostics.assign(section="diagnostics"), ablation.assign(section="ablation")]
    table = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(not f.empty for f in frames) \
        else pd.DataFrame()
    write_text_atomic(Path(md_path), text)
    with atomic_path(Path(csv_path)) as tmp:
        table.to_csv(tmp, index=False)
    return text
