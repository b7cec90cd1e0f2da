"""The DDB presets (BFFHQ, BAR, Waterbirds) run the DDB stages on tiny fixtures in their datasets' exact layouts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
# flat: no class folders; bar: train/align + train/conflict/<r>pct; metadata: the release's metadata.csv, imported
LAYOUTS = {"bffhq": "flat", "bar": "bar", "waterbirds": "metadata"}


def write_fixture(root: Path, layout: str, n_cls: int, n_bias: int, ratio: str) -> None:
    """Three aligned and one conflicting training image per class, one valid/test image per group."""
    rng = np.random.default_rng(0)

    def png(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(path)

    pct = f"{ratio}pct"
    for c in range(n_cls):
        sub = "" if layout == "flat" else f"{c}/"
        for i in range(3):
            png(root / (f"train/align/{sub}" if layout == "bar" else f"{pct}/align/{sub}") / f"{c}{i:03d}_{c}_{c}.png")
        conflict = f"train/conflict/{pct}/{sub}" if layout == "bar" else f"{pct}/conflict/{sub}"
        png(root / conflict / f"{c}999_{c}_{(c + 1) % n_bias}.png")
        for split in ("valid", "test"):
            for b in range(n_bias):
                png(root / f"{split}/{sub}{c}{b:03d}_{c}_{b}.png")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_ddb_preset_runs_on_a_tiny_fixture(name, tmp_path, monkeypatch):
    from stages import ddb, ddb_recipes, import_data
    from stages.utility import _merge

    base = yaml.safe_load((REPO / "presets" / f"{name}.yaml").read_text())
    preset = yaml.safe_load((REPO / "presets" / f"ddb_{name}.yaml").read_text())
    assert preset["ddb_diffusion"]["device"] == "cuda" and preset["ddb_sample"]["reference"] == ""
    ratio = base["grid"]["ratios"][0]
    monkeypatch.chdir(tmp_path)
    if LAYOUTS[name] == "metadata":
        from diffubias.ffr.metadata import METADATA_DATASETS, import_metadata
        from test_ffr_metadata import write_fixture as write_metadata

        spec = METADATA_DATASETS[name]
        n_cls, n_bias = len(spec.classes), len(spec.bias_values)
        csv_path = write_metadata(tmp_path / "raw", name, aligned=38, conflicting=2)  # 5 % conflicting
        import_metadata(name, csv_path, tmp_path / "raw", tmp_path / "data" / "raw" / name, (ratio,))
    else:
        n_cls, n_bias = base["data"]["groups"][name]
        write_fixture(tmp_path / "data" / "raw" / name, LAYOUTS[name], n_cls, n_bias, ratio)
    small = {"data": {"image_size": 16, "imports": [name]}, "tracking": {"codecarbon": False},
             "train": {"arch": "mlp", "epochs": 1, "batch_size": 8, "device": "cpu"},
             "ddb_diffusion": {"resolution": 8, "channels": [8, 16], "layers_per_block": 1, "norm_groups": 4,
                               "steps": 2, "batch_size": 4, "warmup_steps": 1, "device": "cpu", "threads": 1},
             "ddb_sample": {"images_per_class": 2, "steps": 2, "batch_size": 4},
             "ddb_ba": {"epochs": 1}}
    raw = _merge(_merge(_merge(yaml.safe_load((REPO / "params.yaml").read_text()), base), preset), small)
    Path("params.yaml").write_text(yaml.safe_dump(raw))
    cell = dict(benchmark=name, ratio=ratio, seed=0, params_file=Path("params.yaml"))
    import_data.import_data(benchmark=name, params_file=Path("params.yaml"))  # pack the image tree once
    ddb.ddb_train_diffusion(**cell)
    ddb.ddb_sample(**cell)
    sample = json.loads(Path(f"reports/metrics/ddb/sample/{name}/{ratio}pct/seed0.json").read_text())
    assert sample["images"] == 2 * n_cls and "skipped" in sample["synthetic"]  # no reference for real data
    ddb.ddb_train_ba(**cell)
    for run in ddb_recipes.RECIPES:
        ddb_recipes.make_command(run)(**cell)
        assert Path(f"models/{run}/{name}/{ratio}pct/seed0/model.safetensors").is_file()
