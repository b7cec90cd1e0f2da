"""The embedded world, the packed splits it writes, the loader, and import / export of PNG trees."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diffubias import world
from diffubias.benchmarks import BENCHMARKS, biased_groups, get_benchmark, write_benchmark
from diffubias.data import load_split, load_vocabulary, select_ids, split_table
from diffubias.errors import DataError, RegistryError
from diffubias.layouts import export_lff, pack_tree, parse_labels, split_dirs, tree_ratios
from diffubias.packed import PackedArrays, read_packed, write_packed

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


def test_packed_layout_and_vocab(tiny_data_root):
    root = tiny_data_root / "colour"
    assert sorted(p.name for p in root.iterdir()) == ["oracle.npz", "test.npz", "train_5pct.npz", "valid.npz",
                                                      "vocab.json"]
    vocab = json.loads((root / "vocab.json").read_text())
    assert vocab["classes"][0] == "circle" and vocab["bias_values"][0] == "red"
    sizes = {p.stem: len(read_packed(p, images=False)) for p in root.glob("*.npz")}
    assert sizes == {"train_5pct": 400, "oracle": 400, "valid": 100, "test": 200}
    ids = read_packed(root / "train_5pct.npz", images=False).ids.tolist()
    assert ids[:2] == ["5pct/00000", "5pct/00001"] and len(set(ids)) == 400


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_writer_is_byte_deterministic_across_workers(tmp_path):
    small = {**TINY_WORLD, "train_size": 50, "valid_per_group": 1, "test_per_group": 1}
    write_benchmark(BENCHMARKS["background"], tmp_path / "a", **small)
    write_benchmark(BENCHMARKS["background"], tmp_path / "b", **{**small, "workers": 2})
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")  # every file, every byte
    other = {**small, "seed": 1}
    write_benchmark(BENCHMARKS["background"], tmp_path / "c", **other)
    assert _digests(tmp_path / "a")["test.npz"] != _digests(tmp_path / "c")["test.npz"]


def test_packed_roundtrip_and_errors(tmp_path):
    arrays = PackedArrays(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, 1]), np.array([1, -1]), np.array(["a", "b"]))
    path = write_packed(tmp_path / "x.npz", arrays)
    back = read_packed(path)
    assert back.ids.tolist() == ["a", "b"] and back.bias.tolist() == [1, -1] and back.images.shape == (2, 4, 4, 3)
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic write left nothing behind
    with pytest.raises(DataError, match="not unique"):
        write_packed(tmp_path / "dup.npz", PackedArrays(arrays.images, arrays.labels, arrays.bias, np.array(["a", "a"])))
    assert not (tmp_path / "dup.npz").exists()
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"bad\.npz: unreadable packed split"):
        read_packed(tmp_path / "bad.npz")
    with pytest.raises(DataError, match=r"missing\.npz: packed split not found"):
        read_packed(tmp_path / "missing.npz")


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
    # a flat image stays flat after the antialiased resize
    flat = torch.full((1, 3, 16, 16), 77, dtype=torch.uint8)
    from diffubias.data import resize_images
    assert torch.equal(resize_images(flat, 8), torch.full((1, 3, 8, 8), 77, dtype=torch.uint8))
    picked = select_ids(train, [train.paths[5], train.paths[2]])
    assert torch.equal(picked.images[0], train.images[5]) and picked.labels.tolist() == train.labels[[5, 2]].tolist()
    with pytest.raises(DataError, match="'nope' is not in the split"):
        select_ids(train, ["nope"])
    table = split_table(root, "train", "5", load_vocabulary(root))
    assert table.labels.tolist() == train.labels.tolist() and table.images.size == 0


def test_parse_labels_and_bad_names():
    assert parse_labels(Path("a/0.5pct/align/3/00042_3_7.png")) == (3, 7)
    with pytest.raises(DataError, match="does not end in _<class>_<bias>"):
        parse_labels(Path("x/img.png"))


def _fake_tree(root: Path, names: list[str]) -> None:
    for sub, name in [("1pct/align", n) for n in names] + [("valid", "v_0_0.png"), ("test", "t_1_1.png")]:
        (root / sub).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (255, 0, 0)).save(root / sub / name)
    (root / "vocab.json").write_text(json.dumps({"classes": ["a", "b"], "bias_values": ["x", "y"]}))


def test_import_packs_a_tree_and_errors_name_the_file(tmp_path):
    _fake_tree(tmp_path / "ok", ["0_0_0.png", "1_1_1.png"])
    counts = pack_tree(tmp_path / "ok", tmp_path / "packed", 8, load_vocabulary(tmp_path / "ok"), workers=1)
    assert counts == {"train_1pct": 2, "valid": 1, "test": 1}
    train = load_split(tmp_path / "packed", "train", "1", 8)
    assert train.paths == ["1pct/align/0_0_0", "1pct/align/1_1_1"] and train.labels.tolist() == [0, 1]
    assert train.images[0, 0].float().mean() == 255  # red
    _fake_tree(tmp_path / "range", ["0_5_0.png"])
    with pytest.raises(DataError, match=r"0_5_0\.png: class id 5 out of range 0\.\.1"):
        pack_tree(tmp_path / "range", tmp_path / "p2", 8, load_vocabulary(tmp_path / "range"), workers=1)
    assert not (tmp_path / "p2").exists()  # nothing half-written
    _fake_tree(tmp_path / "corrupt", ["0_0_0.png"])
    (tmp_path / "corrupt/1pct/align/1_1_1.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"1_1_1\.png: cannot decode image"):
        pack_tree(tmp_path / "corrupt", tmp_path / "p3", 8, load_vocabulary(tmp_path / "corrupt"), workers=1)
    with pytest.raises(DataError, match="image folder not found"):
        split_dirs(tmp_path / "missing", "train", "1")
    with pytest.raises(DataError, match="missing"):
        load_vocabulary(tmp_path / "nowhere")
    (tmp_path / "badvocab").mkdir()
    (tmp_path / "badvocab/vocab.json").write_text("{\"classes\": [")
    with pytest.raises(DataError, match=r"badvocab/vocab\.json: invalid vocabulary"):
        load_vocabulary(tmp_path / "badvocab")


def test_bar_layout_ratios_and_flat_valid(tmp_path):
    root = tmp_path / "bar"
    for sub, name in [("train/align/0", "a_0_0.png"), ("train/conflict/1pct/1", "b_1_0.png"), ("valid", "c_0_1.png")]:
        (root / sub).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(root / sub / name)
    (root / "vocab.json").write_text(json.dumps({"classes": ["a", "b"], "bias_values": ["x", "y"]}))
    assert [d.name for d in split_dirs(root, "train", "1")] == ["align", "1pct"]
    assert tree_ratios(root) == ("1",)
    with pytest.raises(DataError, match="no train split for ratio 5"):
        split_dirs(root, "train", "5")


def test_export_then_import_gives_the_same_pixels(tiny_data_root, tmp_path):
    n = export_lff(tiny_data_root / "colour", tmp_path / "lff")
    assert n == 400 + 400 + 100 + 200
    assert (tmp_path / "lff/5pct/align/0").is_dir() and (tmp_path / "lff/5pct/conflict").is_dir()
    back = pack_tree(tmp_path / "lff", tmp_path / "again", 16, load_vocabulary(tmp_path / "lff"), workers=1)
    assert back["train_5pct"] == 400
    a = load_split(tiny_data_root / "colour", "test", None, 16)
    b = load_split(tmp_path / "again", "test", None, 16)
    order = sorted(range(len(b)), key=lambda i: Path(b.paths[i]).name)
    assert torch.equal(a.images, b.images[order]) and torch.equal(a.labels, b.labels[order])


def test_unknown_benchmark_lists_names():
    with pytest.raises(RegistryError, match="background"):
        get_benchmark("cmnist")
