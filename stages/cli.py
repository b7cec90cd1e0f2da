"""The ``diffubias`` command: one documented sub-command per pipeline step."""
from __future__ import annotations

import sys

import typer

from diffubias.errors import DiffubiasError
from stages import evaluate, foundation, make_data, report, train, utility
from stages import caption, filter_captions, generate, mine, train_debiased  # DiffuBias steps 2-6

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
app.command("evaluate")(evaluate.evaluate)
app.command("report")(report.report)
app.command("make-corpus")(foundation.make_corpus)
app.command("train-t2i")(foundation.train_t2i)
app.command("train-captioner")(foundation.train_captioner)
app.command("train-reference")(foundation.train_reference)
app.command("foundation-eval")(foundation.foundation_eval)
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
