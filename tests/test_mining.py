"""Mining X_bc: top-K global / per class, tie order, precision@K and recall, the table, bad input."""
from __future__ import annotations

import pytest
import torch

from diffubias.data import ImageSet
from diffubias.errors import DataError
from diffubias.mining import (mined_rows, mining_metrics, per_sample_loss, read_table, select_top_k,
                              write_table)


def test_global_top_k_orders_by_loss_and_breaks_ties_by_index():
    losses = torch.tensor([0.1, 5.0, 3.0, 5.0, 0.2, 4.0])
    labels = torch.tensor([0, 0, 1, 1, 1, 0])
    assert select_top_k(losses, labels, 3, per_class=False).tolist() == [1, 3, 5]
    assert select_top_k(losses, labels, 100, per_class=False).tolist() == [1, 3, 5, 2, 4, 0]


def test_per_class_top_k_takes_k_of_each_class_then_ranks_by_loss():
    losses = torch.tensor([9.0, 8.0, 7.0, 1.0, 0.5, 0.2])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    chosen = select_top_k(losses, labels, 2, per_class=True, num_classes=3)
    assert chosen.tolist() == [0, 1, 3, 4]  # global top-2 would be [0, 1] only
    assert select_top_k(losses, labels, 2, per_class=False).tolist() == [0, 1]


def test_precision_at_k_and_recall():
    conflicting = torch.tensor([True, False, True, False, False, True])
    labels = torch.tensor([0, 0, 1, 1, 1, 0])
    m = mining_metrics(torch.tensor([0, 1, 2, 3]), conflicting, labels, num_classes=2)
    assert m["precision_at_k"] == 50.0 and m["recall"] == round(100 * 2 / 3, 4)
    assert m["mined_per_class"] == {"0": 2, "1": 2} and m["precision_per_class"] == {"0": 50.0, "1": 50.0}


def test_bad_k_and_empty_set_raise():
    with pytest.raises(DataError, match="mine.k"):
        select_top_k(torch.tensor([1.0]), torch.tensor([0]), 0, per_class=False)
    with pytest.raises(DataError, match="nothing to mine"):
        select_top_k(torch.empty(0), torch.empty(0, dtype=torch.long), 5, per_class=False)


def _set(n: int = 8) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 4, 4), generator=g, dtype=torch.uint8)
    labels = torch.arange(n) % 2
    return ImageSet(images, labels, labels.clone(), [f"a/{i}_{i % 2}_{i % 2}.png" for i in range(n)], 2, 2, [0, 1])


class Constant(torch.nn.Module):
    """A model that always predicts class 0: class-1 samples get the high loss."""

    def forward(self, x):
        return torch.tensor([[4.0, 0.0]]).expand(x.shape[0], 2)


def test_per_sample_loss_finds_the_samples_the_model_gets_wrong_and_table_roundtrips(tmp_path):
    data = _set()
    losses = per_sample_loss(Constant(), data, torch.device("cpu"), batch_size=3, progress=False)
    assert losses.shape == (8,) and bool((losses[1::2] > losses[0::2].max()).all())
    chosen = select_top_k(losses, data.labels, 4, per_class=False)
    assert sorted(chosen.tolist()) == [1, 3, 5, 7]
    rows = mined_rows(data, chosen, losses)
    write_table(rows, tmp_path / "mined.csv")
    back = read_table(tmp_path / "mined.csv")
    assert [(r.rank, r.sample_id, r.label, r.index) for r in back] == [(r.rank, r.sample_id, r.label, r.index) for r in rows]
    assert back[0].loss == pytest.approx(float(losses[1]), abs=1e-5)


def test_missing_or_empty_table_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="run `diffubias mine`"):
        read_table(tmp_path / "nope.csv")
    write_table([], tmp_path / "empty.csv")
    with pytest.raises(DataError, match="no mined image"):
        read_table(tmp_path / "empty.csv")
