"""The DDB report's slice timing and its check of the paper's ablation claims, on hand-written metrics."""
from __future__ import annotations

import json
from pathlib import Path

from diffubias.ddb.report import ablation_frame, claims, timing_frame


def _write(path: str, data: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data))


def test_timing_sums_the_slice_and_claims_compare_measured_points(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cell = "colour/1pct/seed0.json"
    for kind, secs in (("diffusion", 100.0), ("sample", 50.0), ("ba", 10.0), ("ablation", 300.0)):
        _write(f"reports/metrics/ddb/{kind}/{cell}", {"steps_run": 400, "cost": {"duration_s": secs}})
    for run, secs in (("ddb_recipe1", 20.0), ("ddb_recipe2", 30.0)):
        _write(f"reports/metrics/train/{run}/{cell}", {"cost": {"duration_s": secs}})
        _write(f"reports/metrics/test/{run}/{cell}", {"cost": {"duration_s": 1.0}})
    point = {"pseudo": {"precision": 90.0, "recall": 90.0, "f1": 90.0}}
    _write(f"reports/metrics/ddb/ablation/{cell}", {"cost": {"duration_s": 300.0},
        "guidance": [{"guidance_scale": 1.0, "alignment_rate": 60.0, **point, "ddb_groupdro": {"unbiased_acc": 25.0}},
                     {"guidance_scale": 7.0, "alignment_rate": 90.0, **point, "ddb_groupdro": {"unbiased_acc": 30.0}}],
        "images_per_class": [],
        "ba_source": [{"ba_source": "synthetic", "pseudo": {"f1": 95.0}, "ddb_groupdro": {"unbiased_acc": 30.0},
                       "ddb_lff": {"unbiased_acc": 20.0}},
                      {"ba_source": "real", "pseudo": {"f1": 80.0}, "ddb_groupdro": {"unbiased_acc": 28.0},
                       "ddb_lff": {"unbiased_acc": 25.0}}]})
    row = timing_frame().iloc[0]
    assert row.slice_s == 100 + 50 + 10 + 20 + 30 + 2 and row.slice_with_ablation_s == row.slice_s + 300
    lines = claims(ablation_frame())
    assert "F1 95.0 vs 80.0" in lines[0].replace("pseudo-group ", "") and "synthetic higher in 2 of 3" in lines[0]
    assert "best Recipe I at scale 7" in lines[1]
    # no reference classifier (real data): the alignment rate is missing and the line still renders
    ablation = ablation_frame().assign(alignment_rate=None)
    assert "n/a % aligned" in claims(ablation)[1]
