"""`report`: gather every test-metrics file into reports/results.{csv,md}."""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias import paths
from diffubias.io import atomic_path, write_text_atomic
from diffubias.reports import collect, provenance, render_report, summarize


def report(out_dir: Path = typer.Option(paths.REPORTS, "--out", help="Folder for results.csv and results.md.")) -> None:
    """Aggregate reports/metrics/test/**.json into results.csv (per seed) and results.md (mean ± std)."""
    df = collect()
    if df.empty:
        raise typer.BadParameter("no test metrics under reports/metrics/test/; run the evaluate stages first")
    with atomic_path(out_dir / "results.csv") as tmp:
        df.sort_values(["benchmark", "ratio", "run", "seed"]).to_csv(tmp, index=False)
    write_text_atomic(out_dir / "results.md", render_report(summarize(df), provenance_line=provenance(df)))
    typer.echo(f"wrote {out_dir / 'results.md'} ({len(df)} rows)")
