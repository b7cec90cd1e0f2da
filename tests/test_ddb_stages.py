"""The DDB stage commands end to end on the tiny world: diffusion -> samples -> BA -> recipes -> report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "foundation" / "reference"

TINY_DDB = {
    "ddb_diffusion": {"resolution": 8, "channels": [8, 16], "norm_groups": 4, "steps": 3, "batch_size": 8,
                      "warmup_steps": 1, "checkpoint_every": 2},
    "ddb_sample": {"images_per_class": 2, "steps": 2, "batch_size": 10,
                   "reference": str(REFERENCE) if (REFERENCE / "model.safetensors").is_file() else ""},
    "ddb_ba": {"epochs": 1, "resolution": 8},  # the BA works at 8 px on 16 px images
    "ddb_ablation": {"guidance_scales": [1.0, 7.0], "images_per_class": 1, "images_per_class_grid": [1, 2, 5]},
}


@pytest.mark.slow
def test_ddb_stages_end_to_end(tiny_data_root, tmp_path, monkeypatch):
    from stages import ddb, ddb_recipes, ddb_report
    from stages.evaluate import evaluate

    from diffubias.training import load_checkpoint

    monkeypatch.chdir(tmp_path)
    params = {"data": {"root": str(tiny_data_root), "image_size": 16},
              "train": {"epochs": 2, "batch_size": 32, "eval_batch_size": 256},
              "tracking": {"codecarbon": False}, **TINY_DDB}
    Path("params.yaml").write_text(yaml.safe_dump(params))
    cell = dict(benchmark="colour", ratio="5", seed=0, params_file=Path("params.yaml"))
    ddb.ddb_train_diffusion(**cell)
    assert (tmp_path / "models/ddb/diffusion/colour/5pct/seed0/unet/config.json").is_file()
    ddb.ddb_sample(**cell)
    sample = json.loads(Path("reports/metrics/ddb/sample/colour/5pct/seed0.json").read_text())
    assert sample["images"] == 20 and len(list(Path("data/ddb/synthetic/colour/5pct/seed0").glob("batch-*.npz"))) == 2  # 20 images in batches of 10
    if TINY_DDB["ddb_sample"]["reference"]:
        assert 0.0 <= sample["alignment_rate"] <= 100.0 and 0.0 <= sample["real_train_alignment_rate"] <= 100.0
    assert Path("reports/figures/ddb/samples/colour/5pct/seed0.png").is_file()
    ddb.ddb_train_ba(**cell)
    ba = json.loads(Path("reports/metrics/ddb/ba/colour/5pct/seed0.json").read_text())
    assert ba["source"] == "synthetic" and ba["source_images"] == 20
    assert ba["pseudo_groups"]["true_conflicting"] == 20  # 5 % of 400, counted for evaluation only
    _, ba_meta = load_checkpoint(Path("models/ddb/ba/colour/5pct/seed0/model.safetensors"))
    assert ba_meta["image_size"] == 8
    for run in ddb_recipes.RECIPES:
        ddb_recipes.make_command(run)(**cell)
        evaluate(run=run, **cell)
        test = json.loads(Path(f"reports/metrics/test/{run}/colour/5pct/seed0.json").read_text())
        assert 0.0 <= test["worst_group_acc"] <= test["unbiased_acc"] <= 100.0
    ddb_report.ddb_ablate(**cell)
    ablation = json.loads(Path("reports/metrics/ddb/ablation/colour/5pct/seed0.json").read_text())
    assert [p["guidance_scale"] for p in ablation["guidance"]] == [1.0, 7.0]
    assert "skipped" in ablation["images_per_class"][2]  # 5 > ddb_sample.images_per_class
    assert {p["ba_source"] for p in ablation["ba_source"]} == {"synthetic", "real"}
    ddb_report.ddb_report()
    text = Path("reports/ddb.md").read_text()
    assert "ddb_recipe1" in text and "Ablation: Guidance scale" in text and "seed0.png" in text
    assert Path("reports/ddb.csv").stat().st_size > 0
