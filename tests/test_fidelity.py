"""Generated-image fidelity from reference predictions; skipped (never invented) without a reference."""
from __future__ import annotations

import pytest
import torch

from diffubias.data import Vocabulary
from diffubias.fidelity import generation_fidelity
from diffubias.fidelity_reference import reference_fidelity


def test_fidelity_counts_class_hits_and_conflicting_bias():
    labels = torch.tensor([0, 0, 1, 1])
    pred_class = torch.tensor([0, 1, 1, 1])
    pred_bias = torch.tensor([0, 1, 0, 1])  # aligned values: class 0 -> 0, class 1 -> 1
    m = generation_fidelity(pred_class, pred_bias, labels, [0, 1], ("red", "green"))
    assert m["class_fidelity"] == 75.0 and m["conflicting_rate"] == 50.0
    assert m["class_and_conflicting"] == 25.0  # only image 2: class right, bias 0 != aligned 1
    assert m["bias_distribution"] == {"red": 50.0, "green": 50.0}


def test_missing_reference_is_reported_as_skipped(tmp_path):
    vocab = Vocabulary(("a", "b"), ("x", "y"), (0, 1))
    assert "skipped" in reference_fidelity("", tmp_path, tmp_path, vocab, 16)
    assert "no reference" in reference_fidelity(str(tmp_path / "none"), tmp_path, tmp_path, vocab, 16)["skipped"]


def test_fidelity_runs_the_saved_reference_classifier(tmp_path):
    from diffubias.fidelity_reference import fidelity_of_images
    from diffubias.foundation.reference import ReferenceClassifier, save_reference

    torch.manual_seed(0)
    save_reference(ReferenceClassifier((4, 8), 16), tmp_path / "ref")
    (tmp_path / "vocab.json").write_text('{"class_kind": "shape", "bias_kind": "colour"}')
    vocab = Vocabulary(tuple("abcdefghij"), tuple("ABCDEFGHIJ"), tuple(range(10)), "colour")
    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    m = fidelity_of_images(str(tmp_path / "ref"), images, torch.arange(5), tmp_path, vocab)
    assert (m["class_attribute"], m["bias_attribute"], m["images"]) == ("shape", "colour", 5)
    assert 0 <= m["class_fidelity"] <= 100 and sum(m["bias_distribution"].values()) == pytest.approx(100, abs=0.1)
