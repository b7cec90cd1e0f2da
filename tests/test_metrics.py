"""The shared metrics against hand-computed values."""
import torch

from diffubias.metrics import classification_metrics


def test_metrics_by_hand():
    # 2 classes × 2 bias values; aligned groups (0,0), (1,1).
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    bias = torch.tensor([0, 0, 1, 1, 1, 1, 0, 0])
    pred = torch.tensor([0, 0, 1, 0, 1, 1, 0, 0])
    m = classification_metrics(pred, labels, bias, 2, 2, train_group_counts=torch.tensor([90, 10, 10, 90]))
    assert m["unbiased_acc"] == 62.5
    assert m["aligned_acc"] == 100.0
    assert m["conflicting_acc"] == 25.0
    assert m["per_group"] == {"0/0": 100.0, "0/1": 50.0, "1/0": 0.0, "1/1": 100.0}
    assert m["worst_group_acc"] == 0.0 and m["worst_group"] == "1/0"
    assert m["balanced_acc"] == 62.5
    assert m["train_weighted_acc"] == 92.5  # 0.45*100 + 0.05*50 + 0.05*0 + 0.45*100
    assert m["groups_evaluated"] == 4


def test_worst_group_is_lowest_accuracy_not_smallest_and_empty_groups_skipped():
    labels = torch.tensor([0, 0, 0, 1])
    bias = torch.tensor([0, 0, 0, 0])  # group (1,1) and (0,1) empty
    pred = torch.tensor([1, 1, 0, 1])
    m = classification_metrics(pred, labels, bias, 2, 2)
    assert m["worst_group"] == "0/0"  # 33 % on 3 samples, while the 1-sample group scores 100 %
    assert m["groups_evaluated"] == 2
    assert m["balanced_acc"] == round(100 * (1 / 3 + 1) / 2, 4)


def test_provenance_counts_only_files_the_lock_records(tmp_path):
    import pandas as pd
    import yaml

    from diffubias.reports import provenance

    lock = tmp_path / "dvc.lock"
    lock.write_text(yaml.safe_dump({"schema": "2.0", "stages": {"evaluate@vanilla-colour-1-0": {
        "cmd": "x", "metrics": [{"path": "reports/metrics/test/vanilla/colour/1pct/seed0.json"}]}}}))
    df = pd.DataFrame([{"run": "vanilla", "benchmark": "colour", "ratio": r, "seed": 0} for r in ("1", "5")])
    line = provenance(df, lock=lock)
    assert "1 of 2 tabled metric files are recorded" in line and "the other 1" in line and "pending" in line
    assert provenance(df.iloc[:1], lock=lock).startswith("**Provenance:** all 1 tabled")
    assert "0 of 2" in provenance(df, lock=tmp_path / "missing.lock")
