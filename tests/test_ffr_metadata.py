"""Metadata-CSV datasets (CelebA-HQ, UTK-Face, SpuCo Animals): import into the LfF layout, presets, prompts."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from diffubias.layouts import pack_tree
import yaml
from PIL import Image

from diffubias.config import parse_params
from diffubias.data import load_split, load_vocabulary
from diffubias.errors import DataError
from diffubias.ffr.metadata import METADATA_DATASETS, import_metadata
from diffubias.ffr.prompts import render_prompt, subgroup_corpus

REPO = Path(__file__).resolve().parents[1]
PROMPTS = {"celebahq": "A photo of a smiling man", "utkface": "A photo of an old woman",
           "spuco_animals": "A photo of a waterbird on land", "waterbirds": "A photo of a waterbird on land"}


def write_fixture(root: Path, name: str, aligned: int = 20, conflicting: int = 6) -> Path:
    """A tiny metadata dataset: per class `aligned` aligned + `conflicting` per other bias value in train."""
    spec = METADATA_DATASETS[name]
    rows, i = [], 0
    rng = np.random.default_rng(0)
    for split, code in (("train", "0"), ("valid", "1"), ("test", "2")):
        for y in range(len(spec.classes)):
            for b in range(len(spec.bias_values)):
                n = (aligned if b == spec.aligned_bias[y] else conflicting) if split == "train" else 2
                for _ in range(n):
                    f = f"img/{i:05d}.jpg"
                    (root / f).parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / f)
                    rows.append({spec.path_column: f, spec.y_column: y, spec.bias_column: b, spec.split_column: code})
                    i += 1
    with open(root / "metadata.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root / "metadata.csv"


@pytest.mark.parametrize("name", sorted(METADATA_DATASETS))
def test_import_reaches_the_bias_ratio_and_the_preset_prompts(name, tmp_path):
    csv_path = write_fixture(tmp_path / "raw", name)
    achieved = import_metadata(name, csv_path, tmp_path / "raw", tmp_path / "tree" / name, ("10", "5"))
    pack_tree(tmp_path / "tree" / name, tmp_path / "data" / name, 8, load_vocabulary(tmp_path / "tree" / name), 1)
    spec = METADATA_DATASETS[name]
    n_cls = len(spec.classes)
    for ratio, pct in (("10", 10.0), ("5", 5.0)):
        train = load_split(tmp_path / "data" / name, "train", ratio, 8)
        assert len(train) == n_cls * 20 + round(n_cls * 20 * pct / (100 - pct) / n_cls) * n_cls
        assert abs(achieved[ratio] - pct) < 1.0
        assert float((~train.aligned).float().mean()) * 100 == pytest.approx(achieved[ratio])
    test = load_split(tmp_path / "data" / name, "test", None, 8)
    assert len(test) == 2 * n_cls * len(spec.bias_values)
    vocab = load_vocabulary(tmp_path / "data" / name)
    preset_file = REPO / "presets" / f"ffr_{name}.yaml"  # FFR's datasets; Waterbirds has its own (DDB) preset
    preset = yaml.safe_load((preset_file if preset_file.is_file() else REPO / "presets" / f"{name}.yaml").read_text())
    merged = parse_params({**yaml.safe_load((REPO / "params.yaml").read_text()), **preset})
    assert merged.ffr.template == spec.template and merged.grid.benchmarks == (name,)
    prompts = [c["text"] for c in subgroup_corpus(vocab, merged.ffr.template)]
    assert PROMPTS[name] in prompts and len(prompts) == n_cls * len(spec.bias_values)
    assert render_prompt(spec.template, "x", "y").startswith("A photo of")


def test_bad_metadata_errors_name_the_problem(tmp_path):
    csv_path = write_fixture(tmp_path, "celebahq", aligned=2, conflicting=1)
    text = csv_path.read_text().splitlines()
    (tmp_path / "no_col.csv").write_text("\n".join([text[0].replace("male", "gender")] + text[1:]))
    with pytest.raises(DataError, match="missing column"):
        import_metadata("celebahq", tmp_path / "no_col.csv", tmp_path, tmp_path / "out", ("5",))
    (tmp_path / "bad.csv").write_text("\n".join(text[:2] + ["img/x.jpg,3,0,0"]))
    with pytest.raises(DataError, match="out of range"):
        import_metadata("celebahq", tmp_path / "bad.csv", tmp_path, tmp_path / "out", ("5",))
    (tmp_path / "gone.csv").write_text("\n".join(text[:2] + ["img/missing.jpg,0,0,0"]))
    with pytest.raises(DataError, match="missing"):
        import_metadata("celebahq", tmp_path / "gone.csv", tmp_path, tmp_path / "out", ("5",))
    assert not (tmp_path / "out").exists()  # nothing half-written
