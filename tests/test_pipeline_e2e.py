"""End to end: `dvc repro` of the tiny preset in a temporary copy of the repository."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(cmd: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=2400)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def _copy_repo(dst: Path) -> None:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        src = REPO / rel
        if not src.is_file() or (rel.startswith(("data/", "models/")) and not rel.endswith("README.md")):
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst / rel)


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory):
    """A git repository copy with the tiny preset applied and `dvc repro` run once."""
    root = tmp_path_factory.mktemp("e2e")
    repo = root / "repo"
    repo.mkdir()
    _copy_repo(repo)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
           "HF_HUB_OFFLINE": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    _run(["git", "init", "-q"], repo, env)
    _run(["git", "config", "user.name", "t"], repo, env)
    _run(["git", "config", "user.email", "t@t"], repo, env)
    _run(["dvc", "remote", "modify", "local", "url", str(root / "remote")], repo, env)
    _run(["diffubias", "preset", "tiny"], repo, env)
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "-qm", "tiny"], repo, env)
    first = _run(["dvc", "repro"], repo, env)
    return repo, env, first


@pytest.mark.slow
def test_repro_produces_sane_metrics(tiny_repo):
    repo, _, _ = tiny_repo
    results = {}
    for run in ("vanilla", "biased", "oracle"):
        m = json.loads((repo / f"reports/metrics/test/{run}/colour/5pct/seed0.json").read_text())
        for key in ("unbiased_acc", "aligned_acc", "conflicting_acc", "worst_group_acc", "balanced_acc"):
            assert 0.0 <= m[key] <= 100.0
        assert m["samples"] == 200 and m["groups_evaluated"] == 100
        assert "energy_kwh" in m["cost"] and m["cost"]["duration_s"] > 0
        results[run] = m
        assert (repo / f"models/{run}/colour/5pct/seed0/model.safetensors").is_file()
        curve = (repo / f"reports/plots/curves/{run}/colour/5pct/seed0.csv").read_text().splitlines()
        assert curve[0].startswith("epoch,") and len(curve) == 3  # header + 2 epochs
    # the biased training set is fitted: aligned accuracy beats conflicting accuracy for the vanilla model
    assert results["vanilla"]["aligned_acc"] >= results["vanilla"]["conflicting_acc"]
    table = (repo / "reports/results.md").read_text()
    assert "| vanilla |" in table and "| oracle † |" in table


@pytest.mark.slow
def test_second_repro_does_nothing(tiny_repo):
    repo, env, _ = tiny_repo
    again = _run(["dvc", "repro"], repo, env)
    assert "Running stage" not in again.stdout
    status = _run(["dvc", "status"], repo, env)
    assert "up to date" in status.stdout


@pytest.mark.slow
def test_push_and_pull_roundtrip(tiny_repo):
    repo, env, _ = tiny_repo
    _run(["dvc", "push"], repo, env)
    shutil.rmtree(repo / "models" / "vanilla")
    shutil.rmtree(repo / ".dvc" / "cache")
    _run(["dvc", "pull"], repo, env)
    assert (repo / "models/vanilla/colour/5pct/seed0/model.safetensors").is_file()
    assert "up to date" in _run(["dvc", "status"], repo, env).stdout


@pytest.mark.slow
def test_cli_bad_input_exits_nonzero_with_clear_message(tiny_repo):
    repo, env, _ = tiny_repo
    out = subprocess.run(["diffubias", "train-vanilla", "-b", "nope", "-r", "5"], cwd=repo, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "data/nope/: no such benchmark folder" in out.stderr and "Traceback" not in out.stderr
    bad = repo / "bad.yaml"
    bad.write_text("train:\n  epochz: 3\n")
    out = subprocess.run(["diffubias", "train-vanilla", "-b", "colour", "-r", "5", "--params", str(bad)], cwd=repo,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 2 and "train.epochz" in out.stderr
    assert not (repo / "models/vanilla/nope").exists()
