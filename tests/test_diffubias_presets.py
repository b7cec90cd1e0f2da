"""Each paper preset runs the DiffuBias stages on a tiny fixture in its dataset's exact layout.

The hub models of the presets are swapped for tiny stand-ins (the loaders are patched and must be
asked for the preset's model ids); sizes are shrunk so the check runs on a CPU.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from diffubias_helpers import FakeCaptioner, tiny_pipeline
from PIL import Image

from diffubias import artifacts, paths
from diffubias.config import load_params
from diffubias.foundation import loading
from stages import caption, filter_captions, generate, import_data, mine, train_debiased
from stages.train import train_run
from stages.utility import _merge

REPO = Path(__file__).resolve().parents[1]
# dataset -> layout: "lff" (class folders), "flat" (BFFHQ: no class folders), "bar" (train/align + train/conflict/<r>pct)
LAYOUTS = {"ccifar10": "lff", "bffhq": "flat", "bar": "bar", "dogs_cats": "lff"}


def _png(path: Path, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(path)


def write_fixture(root: Path, layout: str, n_cls: int, n_bias: int, ratio: str) -> None:
    """Three aligned and one conflicting training image per class, one valid/test image per group."""
    rng = np.random.default_rng(0)
    pct = f"{ratio}pct"
    for c in range(n_cls):
        sub = "" if layout == "flat" else f"{c}/"
        for i in range(3):
            align = f"train/align/{sub}" if layout == "bar" else f"{pct}/align/{sub}"
            _png(root / f"{align}{c}{i:03d}_{c}_{c}.png", rng)
        conflict = f"train/conflict/{pct}/{sub}" if layout == "bar" else f"{pct}/conflict/{sub}"
        _png(root / f"{conflict}{c}999_{c}_{(c + 1) % n_bias}.png", rng)
        for split in ("valid", "test"):
            for b in range(n_bias):
                _png(root / f"{split}/{sub}{c}{b:03d}_{c}_{b}.png", rng)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_paper_preset_runs_on_a_tiny_fixture_in_its_layout(name, tmp_path, monkeypatch):
    preset = yaml.safe_load((REPO / "presets" / f"{name}.yaml").read_text())
    assert preset["grid"]["benchmarks"] == [name] and "/" in preset["generate"]["model"]
    n_cls, n_bias = preset["data"]["groups"][name]
    ratio = preset["grid"]["ratios"][0]
    monkeypatch.chdir(tmp_path)
    write_fixture(tmp_path / "data" / "raw" / name, LAYOUTS[name], n_cls, n_bias, ratio)
    small = {"data": {"image_size": 16, "imports": [name]}, "tracking": {"codecarbon": False},
             "train": {"arch": "mlp", "epochs": 1, "batch_size": 16, "device": "cpu"},
             "caption": {"dtype": "float32", "batch_size": 8},
             "generate": {"images": 6, "batch_size": 4, "steps": 2, "resolution": 0, "dtype": "float32"}}
    raw = _merge(_merge(yaml.safe_load((REPO / "params.yaml").read_text()), preset), small)
    Path("params.yaml").write_text(yaml.safe_dump(raw))
    asked: list[tuple[str, dict]] = []
    monkeypatch.setattr(loading, "load_captioner", lambda model, **kw: asked.append((model, kw)) or FakeCaptioner())
    monkeypatch.setattr(loading, "load_generator", lambda model, **kw: asked.append((model, kw)) or tiny_pipeline())
    cell = dict(benchmark=name, ratio=ratio, seed=0)
    P = Path("params.yaml")

    import_data.import_data(benchmark=name, params_file=P)  # pack the image tree once
    train_run("biased", name, ratio, 0, load_params(P))
    mine.mine(**cell, params_file=P)
    caption.caption(**cell, params_file=P)
    for variant in artifacts.VARIANTS:
        filter_captions.filter_command(**cell, variant=variant, params_file=P)
    generate.generate(**cell, variant="diffubias", params_file=P)
    train_debiased.train_debiased(**cell, variant="diffubias", params_file=P)

    assert [m for m, _ in asked] == [preset["caption"]["model"], preset["generate"]["model"]]
    assert asked[1][1]["scheduler"] is None  # "" keeps the flow-matching model's own scheduler
    mined = json.loads(artifacts.stage_metrics("mine", **cell).read_text())
    assert mined["train_size"] == 4 * n_cls and mined["conflicting_in_train"] == n_cls
    t = json.loads(paths.train_metrics("diffubias", **cell).read_text())
    assert (t["real_samples"], t["generated_samples"]) == (4 * n_cls, 6)
