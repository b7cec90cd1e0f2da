"""FFR end to end on the tiny world with a random-weight diffusers pipeline: generate → pretrain → train → report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from diffubias_helpers import tiny_pipeline

from diffubias.errors import DataError


@pytest.mark.slow
def test_ffr_pipeline_on_the_tiny_world(tiny_data_root, tmp_path, monkeypatch):
    from stages import ffr

    tiny_pipeline().save_pretrained(tmp_path / "t2i", safe_serialization=True)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({
        "grid": {"benchmarks": ["colour"], "ratios": ["5"], "seeds": [0]},
        "data": {"root": str(tiny_data_root), "image_size": 16},
        "train": {"epochs": 1, "batch_size": 32, "eval_batch_size": 256},
        "tracking": {"codecarbon": False},
        "ffr": {"model": str(tmp_path / "t2i"), "images": 100, "steps": 1, "batch_size": 100, "lr_grid": [0.001],
                "reference": "", "tsne_samples": 20}}))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="ffr-generate"):  # training before generation names the missing step
        ffr.train_ffr_run("usb-erm", "colour", "5", 0, ffr.params_from(params_file), params_file)
    ffr.ffr_generate("colour", params_file)
    gen = json.loads(Path("reports/metrics/ffr-generate/colour.json").read_text())
    # 100 images = 1 per subgroup for ASB/FFR; USB puts them into the emptiest subgroups (up to 2 each)
    assert gen["images"] == gen["per_subgroup"] * 100 and gen["example_prompts"][0] == "a photo of a red circle"
    first = {p.name: p.read_bytes() for p in Path("data/ffr/synthetic/colour").glob("*.png")}
    ffr.ffr_generate("colour", params_file)  # a rerun renders nothing and changes no byte
    assert json.loads(Path("reports/metrics/ffr-generate/colour.json").read_text())["written"] == 0
    assert first == {p.name: p.read_bytes() for p in Path("data/ffr/synthetic/colour").glob("*.png")}
    ffr.ffr_pretrain("colour", "5", 0, params_file)
    ffr.ffr_grid(runs="ffr-erm,usb-erm,asb-erm,usb-groupdro,ffr-stage1", tsne=True, force=False, generate=True,
                 reuse_unrecorded=False, params_file=params_file)
    for run in ("ffr-erm", "usb-groupdro", "ffr-stage1"):
        test = json.loads(Path(f"reports/metrics/test/{run}/colour/5pct/seed0.json").read_text())
        assert 0.0 <= test["worst_group_acc"] <= test["balanced_acc"] <= 100.0
    usb = json.loads(Path("reports/metrics/train/usb-groupdro/colour/5pct/seed0.json").read_text())
    assert usb["usb_images"] == usb["synthetic_images"] == 100 and usb["phases"][0]["train_samples"] == 400 + 100
    assert Path("reports/figures/ffr/tsne_colour_5pct_seed0.png").stat().st_size > 1000
    ffr.ffr_report(out=Path("reports/ffr.md"), source=Path("reports"), note="")
    report = Path("reports/ffr.md").read_text()
    assert "| FFR † |" in report and "Stage 1 → Stage 2: FFR" in report and "tsne_colour_5pct_seed0.png" in report


@pytest.mark.slow
def test_ffr_grid_reuses_only_results_of_the_current_params(tiny_data_root, tmp_path, monkeypatch):
    from stages import ffr

    tiny_pipeline().save_pretrained(tmp_path / "t2i", safe_serialization=True)
    params_file = tmp_path / "params.yaml"
    cfg = {"grid": {"benchmarks": ["colour"], "ratios": ["5"], "seeds": [0]},
           "data": {"root": str(tiny_data_root), "image_size": 16},
           "train": {"epochs": 1, "batch_size": 32, "eval_batch_size": 256},
           "tracking": {"codecarbon": False},
           "ffr": {"model": str(tmp_path / "t2i"), "images": 100, "steps": 1, "batch_size": 100, "lr_grid": [0.001],
                   "reference": ""}}
    params_file.write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)

    def grid(**kw):
        ffr.ffr_grid(runs="ffr-erm,usb-erm", tsne=False, force=False, generate=kw.get("generate", False),
                     reuse_unrecorded=kw.get("reuse_unrecorded", False), params_file=params_file)

    def train_metrics(run):
        return Path(f"reports/metrics/train/{run}/colour/5pct/seed0.json")

    grid(generate=True)
    first = {r: train_metrics(r).read_text() for r in ("ffr-pretrain", "ffr-erm", "usb-erm")}
    assert all(json.loads(t)["config_fingerprint"] for t in first.values())
    grid()  # same params: every result is current, nothing is retrained (the files keep their bytes)
    assert first == {r: train_metrics(r).read_text() for r in first}

    cfg["ffr"]["lr_grid"] = [0.01]  # a params change: the old results are stale and must not be reported as current
    params_file.write_text(yaml.safe_dump(cfg))
    grid()
    for run in first:
        new = json.loads(train_metrics(run).read_text())
        assert new["config_fingerprint"] != json.loads(first[run])["config_fingerprint"]
    assert json.loads(train_metrics("usb-erm").read_text())["phases"][0]["lr"] == 0.01

    # a result without a record (made before fingerprints, or copied in) is retrained unless explicitly reused
    stripped = json.loads(train_metrics("usb-erm").read_text())
    stripped.pop("config_fingerprint")
    stripped["marker"] = 1
    train_metrics("usb-erm").write_text(json.dumps(stripped))
    grid(reuse_unrecorded=True)
    assert json.loads(train_metrics("usb-erm").read_text())["marker"] == 1
    grid()
    assert "marker" not in json.loads(train_metrics("usb-erm").read_text())

    # a current record whose checkpoint is gone (stage 2 loads stage 1's) is retrained, not trusted
    ckpt = Path("models/ffr-pretrain/colour/5pct/seed0/model.safetensors")
    ckpt.unlink()
    grid()
    assert ckpt.is_file()
