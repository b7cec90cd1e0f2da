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
    first = {p.name: p.read_bytes() for p in Path("data/ffr/synthetic/colour").glob("batch-*.npz")}
    ffr.ffr_generate("colour", params_file)  # a rerun renders nothing and changes no byte
    assert json.loads(Path("reports/metrics/ffr-generate/colour.json").read_text())["written"] == 0
    assert first == {p.name: p.read_bytes() for p in Path("data/ffr/synthetic/colour").glob("batch-*.npz")}
    ffr.ffr_pretrain("colour", "5", 0, params_file)
    for run in ("ffr-erm", "usb-erm", "asb-erm", "usb-groupdro", "ffr-stage1"):
        ffr.ffr_train(run, "colour", "5", 0, params_file)
    trained = json.loads(Path("reports/metrics/train/ffr-erm/colour/5pct/seed0.json").read_text())
    assert "config_fingerprint" not in trained  # DVC tracks what a run read; metrics hold results only
    ffr.ffr_tsne("colour", "5", 0, params_file)
    for run in ("ffr-erm", "usb-groupdro", "ffr-stage1"):
        test = json.loads(Path(f"reports/metrics/test/{run}/colour/5pct/seed0.json").read_text())
        assert 0.0 <= test["worst_group_acc"] <= test["balanced_acc"] <= 100.0
    usb = json.loads(Path("reports/metrics/train/usb-groupdro/colour/5pct/seed0.json").read_text())
    assert usb["usb_images"] == usb["synthetic_images"] == 100 and usb["phases"][0]["train_samples"] == 400 + 100
    assert Path("reports/figures/ffr/tsne_colour_5pct_seed0.png").stat().st_size > 1000
    ffr.ffr_report(out=Path("reports/ffr.md"), source=Path("reports"), note="")
    report = Path("reports/ffr.md").read_text()
    assert "| FFR † |" in report and "Stage 1 → Stage 2: FFR" in report and "tsne_colour_5pct_seed0.png" in report
