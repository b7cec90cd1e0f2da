"""The ``diffubias`` command: one documented sub-command per pipeline step."""
from __future__ import annotations

import sys

import typer

from diffubias.errors import DiffubiasError
from stages import evaluate, foundation, make_data, report, train, utility
from stages import caption, filter_captions, generate, mine, report_diffubias, train_debiased  # DiffuBias
from stages import ffr  # From Fake to Real, USB, ASB
from stages import ddb, ddb_recipes, ddb_report  # Diffusing DeBias

app = typer.Typer(
    help="Reproducible diffusion-based dataset debiasing. Each command is one DVC stage (see dvc.yaml); "
    "run the pipeline with `dvc repro`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command("make-data")(make_data.make_data)
for _run in train.RUNS:
    app.command(f"train-{_run}")(train.make_command(_run))
app.command("mine")(mine.mine)
app.command("caption")(caption.caption)
app.command("filter")(filter_captions.filter_command)
app.command("generate")(generate.generate)
app.command("train-debiased")(train_debiased.train_debiased)
app.command("report-diffubias")(report_diffubias.report_diffubias)
app.command("ddb-train-diffusion")(ddb.ddb_train_diffusion)
app.command("ddb-sample")(ddb.ddb_sample)
app.command("ddb-train-ba")(ddb.ddb_train_ba)
for _run in ddb_recipes.RECIPES:
    app.command(_run.replace("_", "-"))(ddb_recipes.make_command(_run))
app.command("ddb-ablate")(ddb_report.ddb_ablate)
app.command("ddb-report")(ddb_report.ddb_report)
app.command("evaluate")(evaluate.evaluate)
app.command("report")(report.report)
app.command("make-corpus")(foundation.make_corpus)
app.command("train-t2i")(foundation.train_t2i)
app.command("train-captioner")(foundation.train_captioner)
app.command("train-reference")(foundation.train_reference)
app.command("foundation-eval")(foundation.foundation_eval)
app.command("ffr-generate")(ffr.ffr_generate)
app.command("ffr-pretrain")(ffr.ffr_pretrain)
app.command("ffr-train")(ffr.ffr_train)
app.command("ffr-grid")(ffr.ffr_grid)
app.command("ffr-tsne")(ffr.ffr_tsne)
app.command("ffr-report")(ffr.ffr_report)
app.command("ffr-runs")(ffr.ffr_runs)
app.command("ffr-import")(ffr.ffr_import)
app.command("methods")(utility.methods)
app.command("preset")(utility.preset)


def main() -> None:
    """Console entry point: user errors print one clear line and exit with status 2."""
    try:
        app(standalone_mode=False)
    except DiffubiasError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except FileNotFoundError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.secho("aborted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors carry their own exit codes
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
