"""The `diffubias` command: lazy registration, every DVC stage's command exists, usage errors."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from stages.cli import COMMANDS, FAMILIES, _command_name, build_app

ROOT = Path(__file__).resolve().parents[1]


def _names(app) -> set[str]:
    return {c.name for c in app.registered_commands}


def test_every_dvc_stage_command_is_registered():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    used = set()
    for stage in stages.values():
        name = re.match(r"diffubias (\S+)", stage["cmd"]).group(1)
        for key, values in (stage.get("matrix") or {}).items():  # e.g. ddb-recipe${item.recipe}
            if f"${{item.{key}}}" in name and isinstance(values, list):
                used |= {name.replace(f"${{item.{key}}}", str(v)) for v in values}
                break
        else:
            used.add(name)
    full = _names(build_app())
    assert used and used <= full, f"dvc.yaml calls unregistered commands: {sorted(used - full)}"
    assert any(n.startswith("train-") for n in used - set(COMMANDS))  # the families are exercised


def test_single_command_app_registers_only_that_command():
    assert _names(build_app("evaluate")) == {"evaluate"}
    assert _names(build_app("train-lff")) == {"train-lff"}
    assert _names(build_app("ddb-recipe2")) == {"ddb-recipe2"}
    assert _names(build_app("no-such")) == _names(build_app())  # unknown: full app, click reports it
    assert set(FAMILIES) == {"train-", "ddb-recipe"}


def test_command_name_skips_options():
    assert _command_name(["--help"]) is None
    assert _command_name(["train-vanilla", "-b", "colour"]) == "train-vanilla"


def test_train_command_does_not_import_diffusers_or_sklearn():
    code = ("import sys; from stages.cli import build_app; build_app('train-vanilla'); "
            "print(sorted(m for m in ('diffusers', 'transformers', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_command_is_a_usage_error_not_a_traceback():
    out = subprocess.run([sys.executable, "-m", "stages.cli", "no-such-command"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "No such command 'no-such-command'" in out.stderr
    assert "Traceback" not in out.stderr
