"""`report`: gather every test-metrics file into reports/results.{csv,md}."""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias import paths
from diffubias.reports import collect, render_report, summarize


def report(out_dir: Path = typer.Option(paths.REPORTS, "--out", help="Folder for results.csv and results.md.")) -> None:
    """Aggregate reports/metrics/test/**.json into results.csv (per seed) and results.md (mean ± std)."""
    df = collect()
    if df.empty:
        raise typer.BadParameter("no test metrics under reports/metrics/test/; run the evaluate stages first")
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp_csv, tmp_md = out_dir / ".results.csv.tmp", out_dir / ".results.md.tmp"
    df.sort_values(["benchmark", "ratio", "run", "seed"]).to_csv(tmp_csv, index=False)
    tmp_md.write_text(render_report(summarize(df)))
    tmp_csv.replace(out_dir / "results.csv")
    tmp_md.replace(out_dir / "results.md")
    typer.echo(f"wrote {out_dir / 'results.md'} ({len(df)} rows)")
