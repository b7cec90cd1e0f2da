"""The embedded world, its LfF-layout writer and the one loader."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diffubias import world
from diffubias.benchmarks import BENCHMARKS, biased_groups, get_benchmark, write_benchmark
from diffubias.data import load_split, load_vocabulary, parse_labels, split_dirs
from diffubias.errors import DataError, RegistryError

from conftest import TINY_WORLD


def test_render_is_deterministic_and_varied():
    a = world.render(world.Scene(3, 2, 0), 32, world.image_rng(0, 1, 2))
    b = world.render(world.Scene(3, 2, 0), 32, world.image_rng(0, 1, 2))
    c = world.render(world.Scene(3, 2, 0), 32, world.image_rng(0, 1, 3))
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)  # pose, shading, noise differ between images of one group


def test_object_colour_dominates_in_colour_scenes():
    img = world.render(world.Scene(1, 0, 0), 32, world.image_rng(0, 9)).astype(float)  # red square
    centre = img[12:20, 12:20].reshape(-1, 3).mean(0)
    assert centre[0] > 150 and centre[1] < 100 and centre[2] < 100


def test_biased_groups_hit_the_ratio():
    rng = np.random.default_rng(0)
    groups = biased_groups(2000, "5", rng)
    conflict = sum(y != b for y, b in groups)
    assert conflict == 100
    assert np.bincount([y for y, _ in groups]).tolist() == [200] * 10


def test_layout_manifest_vocab(tiny_data_root):
    root = tiny_data_root / "colour"
    assert (root / "5pct" / "align" / "0").is_dir() and (root / "5pct" / "conflict").is_dir()
    assert (root / "valid" / "0").is_dir() and (root / "test").is_dir() and (root / "oracle").is_dir()
    vocab = json.loads((root / "vocab.json").read_text())
    assert vocab["classes"][0] == "circle" and vocab["bias_values"][0] == "red"
    lines = (root / "manifest.csv").read_text().splitlines()
    assert lines[0] == "split,path,label,bias,aligned"
    assert len(lines) - 1 == 400 + 400 + 100 + 200


def test_writer_is_deterministic(tmp_path):
    small = {**TINY_WORLD, "train_size": 50, "valid_per_group": 1, "test_per_group": 1}
    write_benchmark(BENCHMARKS["background"], tmp_path / "a", **small)
    write_benchmark(BENCHMARKS["background"], tmp_path / "b", **small)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert files
    for f in files[:40]:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_loader_reads_splits(tiny_data_root):
    root = tiny_data_root / "colour"
    train = load_split(root, "train", "5", 16)
    assert train.images.shape == (400, 3, 16, 16) and train.images.dtype == torch.uint8
    assert int((~train.aligned).sum()) == 20
    test = load_split(root, "test", None, 16)
    counts = torch.bincount(test.groups, minlength=100)
    assert counts.min() == counts.max() == 2  # uniform over (class, bias)
    resized = load_split(root, "valid", None, 8)
    assert resized.images.shape[-1] == 8


def test_parse_labels_and_bad_names(tmp_path):
    assert parse_labels(Path("a/0.5pct/align/3/00042_3_7.png")) == (3, 7)
    with pytest.raises(DataError, match="does not end in _<class>_<bias>"):
        parse_labels(Path("x/img.png"))


def _fake_dataset(root: Path, names: list[str], layout: str = "lff") -> None:
    for name in names:
        d = root / ("1pct/align" if layout == "lff" else "train/align/0")
        d.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (255, 0, 0)).save(d / name)
    (root / "vocab.json").write_text(json.dumps({"classes": ["a", "b"], "bias_values": ["x", "y"]}))


def test_loader_errors_name_the_file(tmp_path):
    _fake_dataset(tmp_path / "ok", ["0_0_0.png"])
    assert len(load_split(tmp_path / "ok", "train", "1", 8)) == 1
    _fake_dataset(tmp_path / "range", ["0_5_0.png"])
    with pytest.raises(DataError, match=r"0_5_0\.png: class id 5 out of range 0\.\.1"):
        load_split(tmp_path / "range", "train", "1", 8)
    _fake_dataset(tmp_path / "bias", ["0_1_9.png"])
    with pytest.raises(DataError, match="bias id 9 out of range"):
        load_split(tmp_path / "bias", "train", "1", 8)
    _fake_dataset(tmp_path / "corrupt", ["0_0_0.png"])
    (tmp_path / "corrupt/1pct/align/1_1_1.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"1_1_1\.png: cannot decode image"):
        load_split(tmp_path / "corrupt", "train", "1", 8)
    with pytest.raises(DataError, match="data directory not found"):
        load_split(tmp_path / "missing", "train", "1", 8)
    (tmp_path / "empty/1pct").mkdir(parents=True)
    (tmp_path / "empty/vocab.json").write_text(json.dumps({"classes": ["a"], "bias_values": ["x"]}))
    with pytest.raises(DataError, match="no images"):
        load_split(tmp_path / "empty", "train", "1", 8)
    with pytest.raises(DataError, match="missing"):
        load_vocabulary(tmp_path / "nowhere")


def test_bar_layout_and_flat_valid(tmp_path):
    root = tmp_path / "bar"
    for sub, name in [("train/align/0", "a_0_0.png"), ("train/conflict/1pct/1", "b_1_0.png"), ("valid", "c_0_1.png")]:
        (root / sub).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(root / sub / name)
    (root / "vocab.json").write_text(json.dumps({"classes": ["a", "b"], "bias_values": ["x", "y"]}))
    assert [d.name for d in split_dirs(root, "train", "1")] == ["align", "1pct"]
    assert len(load_split(root, "train", "1", 8)) == 2
    assert len(load_split(root, "valid", None, 8)) == 1
    with pytest.raises(DataError, match="no train split for ratio 5"):
        split_dirs(root, "train", "5")


def test_unknown_benchmark_lists_names():
    with pytest.raises(RegistryError, match="background"):
        get_benchmark("cmnist")
