"""The ``diffubias`` command: one documented sub-command per pipeline step."""
from __future__ import annotations

import functools
import importlib
import sys
from typing import Callable

import typer

from diffubias.errors import DiffubiasError

# Every command, as "module:function". Modules are imported only for the command being run, so a
# stage pays for torch but not for diffusers, transformers or sklearn it does not use (a DVC grid runs
# hundreds of stages: ~10 s of imports each). `diffubias --help` imports them all.
COMMANDS: dict[str, str] = {
    "make-data": "stages.make_data:make_data",
    "import-data": "stages.import_data:import_data",
    "export-lff": "stages.import_data:export_lff_command",
    "mine": "stages.mine:mine",
    "caption": "stages.caption:caption",
    "filter": "stages.filter_captions:filter_command",
    "generate": "stages.generate:generate",
    "train-debiased": "stages.train_debiased:train_debiased",
    "report-diffubias": "stages.report_diffubias:report_diffubias",
    "diagnose-generated": "stages.diagnose_generated:diagnose_generated",
    "ddb-train-diffusion": "stages.ddb:ddb_train_diffusion",
    "ddb-sample": "stages.ddb:ddb_sample",
    "ddb-train-ba": "stages.ddb:ddb_train_ba",
    "ddb-ablate": "stages.ddb_report:ddb_ablate",
    "ddb-report": "stages.ddb_report:ddb_report",
    "evaluate": "stages.evaluate:evaluate",
    "report": "stages.report:report",
    "make-corpus": "stages.foundation:make_corpus",
    "train-t2i": "stages.foundation:train_t2i",
    "train-captioner": "stages.foundation:train_captioner",
    "train-reference": "stages.foundation:train_reference",
    "foundation-eval": "stages.foundation:foundation_eval",
    "ffr-generate": "stages.ffr:ffr_generate",
    "ffr-pretrain": "stages.ffr:ffr_pretrain",
    "ffr-train": "stages.ffr:ffr_train",
    "ffr-tsne": "stages.ffr:ffr_tsne",
    "ffr-report": "stages.ffr:ffr_report",
    "ffr-runs": "stages.ffr:ffr_runs",
    "ffr-import": "stages.ffr:ffr_import",
    "methods": "stages.utility:methods",
    "preset": "stages.utility:preset",
}

# Command families built from a registry: prefix -> (module, registry, factory, "_" in names -> "-").
FAMILIES: dict[str, tuple[str, str, str]] = {
    "train-": ("stages.train", "RUNS", "make_command"),  # train-vanilla, train-lff, ...
    "ddb-recipe": ("stages.ddb_recipes", "RECIPES", "make_command"),  # ddb-recipe1, ddb-recipe2
}


def _family_commands(prefix: str) -> dict[str, Callable[[], Callable]]:
    module, registry, factory = FAMILIES[prefix]
    mod = importlib.import_module(module)
    make = getattr(mod, factory)
    out = {}
    for run in getattr(mod, registry):
        name = run.replace("_", "-")
        out[name if name.startswith(prefix) else prefix + name] = functools.partial(make, run)
    return out


def _group() -> None:
    """Reproducible diffusion-based dataset debiasing. Each command is one DVC stage (see dvc.yaml); run the
    pipeline with `dvc repro`."""


def build_app(only: str | None = None) -> typer.Typer:
    """The Typer app with every command, or with just ``only`` when that name is known (fast start)."""
    app = typer.Typer(
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(_group)  # its docstring is the help; keeps sub-command names when only one is registered
    if only in COMMANDS:
        module, attr = COMMANDS[only].split(":")
        app.command(only)(getattr(importlib.import_module(module), attr))
        return app
    for prefix in FAMILIES:
        if only and only.startswith(prefix) and only in (named := _family_commands(prefix)):
            app.command(only)(named[only]())
            return app
    families = {name: make for prefix in FAMILIES for name, make in _family_commands(prefix).items()}
    for name, target in COMMANDS.items():
        module, attr = target.split(":")
        app.command(name)(getattr(importlib.import_module(module), attr))
    for name, make in families.items():
        app.command(name)(make())
    return app


def _command_name(argv: list[str]) -> str | None:
    """The sub-command named on the command line (its first non-option word), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def main() -> None:
    """Console entry point: user errors print one clear line and exit with status 2."""
    try:
        build_app(_command_name(sys.argv[1:]))(standalone_mode=False)
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
    except Exception as exc:  # usage errors of (Typer's vendored) click carry their own message and exit code
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
