"""The DiffuBias report: Table 4 deltas, diagnostics rows, class-per-row grids."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from diffubias import diffubias_report as rep


def _write(path: str, content: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(content))


def test_tables_and_diagnostics_from_stage_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for run, accs in {"diffubias": (60.0, 64.0), "diffubias_nofilter": (50.0, 50.0), "vanilla": (20.0, 22.0)}.items():
        for seed, acc in enumerate(accs):
            _write(f"reports/metrics/test/{run}/colour/1pct/seed{seed}.json",
                   {"unbiased_acc": acc, "conflicting_acc": acc - 5, "worst_group_acc": acc - 30})
    _write("reports/metrics/mine/colour/1pct/seed0.json", {"precision_at_k": 92.0, "recall": 92.0, "mined": 100})
    _write("reports/metrics/filter/diffubias/colour/1pct/seed0.json",
           {"captions": 300, "kept": 240, "keep_rate": 0.8, "top_words": {"red": 9, "circle": 5}})
    _write("reports/metrics/generate/diffubias/colour/1pct/seed0.json",
           {"images": 500, "images_per_s": 12.5, "fidelity": {"class_fidelity": 70.0, "conflicting_rate": 80.0},
            "cost": {"energy_kwh": 0.002}})
    df, text = rep.accuracy_tables()
    assert len(df) == 6 and "| colour | 1% | 62.00 ± 2.00 | 50.00 ± 0.00 | +12.00 |" in text
    diag = rep.diagnostics()
    row = diag[diag.variant == "diffubias"].iloc[0]
    assert (row.precision_at_k, row.keep_rate, row.class_fidelity, row.top_words) == (92.0, 0.8, 70.0, "red circle")
    assert row.energy_wh == 2.0 and "| diffubias | colour |" in rep.diagnostics_table(diag)
    assert "no diagnose-generated" in rep.label_noise_table()
    _write("reports/metrics/diagnose/diffubias/colour/1pct/seed0.json",
           {"generated": 500, "label_clean": {"generated_samples": 350, "unbiased_acc": 70.5},
            "size_matched": {"generated_samples": 350, "unbiased_acc": 55.25},
            "relabelled": {"generated_samples": 0, "skipped": "no image"}})
    assert ("| colour | 1% | 0 | 20.00 | 60.00 (500) | 70.00 | 70.50 (350) | 55.25 (350) | skipped (0) |"
            in rep.label_noise_table())
    _write("reports/metrics/diagnose/diffubias/colour/1pct/seed1.json",
           {"generated": 500, "label_clean": {"generated_samples": 340, "unbiased_acc": 72.5},
            "size_matched": {"generated_samples": 340, "unbiased_acc": 57.25},
            "relabelled": {"generated_samples": 0, "skipped": "no image"}})
    assert "| colour | 1% | mean of 2 | 21.00 ± 1.00 | 62.00 ± 2.00 | – | 71.50 ± 1.00 | 56.25 ± 1.00 | – |" in (
        rep.label_noise_table())


def test_grid_has_one_row_per_class(tmp_path):
    ims = {c: [np.full((4, 4, 3), 40 * c, dtype=np.uint8)] * 3 for c in range(3)}
    rep.grid_png(ims, tmp_path / "g.png", per_row=8, scale=2)
    with Image.open(tmp_path / "g.png") as im:
        assert im.size == ((8 * 6 + 2) * 2, (3 * 6 + 2) * 2)  # make_grid: 2 px around every 4 px cell
