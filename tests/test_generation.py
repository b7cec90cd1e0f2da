"""Generation: determinism, exact resume after a crash, incremental growth, repair, sharding."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from diffubias_helpers import tiny_pipeline
from sharded_driver import CORPUS, NUM_IMAGES, OPTIONS

from diffubias.errors import DataError
from diffubias.generation import (MANIFEST, load_generated, load_manifest, plan, read_manifest, render,
                                  requested_images)

SETTINGS = {"model": "tiny"}


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline()


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def reference_run(pipe, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("uninterrupted")
    stats = render(pipe, CORPUS, NUM_IMAGES, 11, OPTIONS, out, SETTINGS, progress=False)
    assert stats.written == NUM_IMAGES and stats.rendered_with_padding == 9  # 3 batches of 3
    return files(out)


def test_plan_cycles_corpus_with_per_image_seeds():
    items = plan(CORPUS, 12, seed=11)
    assert [it.prompt for it in items[5:7]] == [CORPUS[0]["text"], CORPUS[1]["text"]]
    assert items[5].label == CORPUS[0]["label"] and items[5].source_image == CORPUS[0]["image"]
    assert len({it.seed for it in items}) == 12 and plan(CORPUS, 3, seed=11) == items[:3]
    assert plan(CORPUS, 3, seed=12)[0].seed != items[0].seed


def test_rendering_is_deterministic_and_manifest_complete(pipe, reference_run, tmp_path):
    render(pipe, CORPUS, NUM_IMAGES, 11, OPTIONS, tmp_path, SETTINGS, progress=False)
    assert files(tmp_path) == reference_run
    rows, images = load_generated(tmp_path)
    assert [r["file"] for r in rows] == [f"batch-{i // 3:05d}.npz" for i in range(NUM_IMAGES)]
    assert rows[6]["prompt"] == CORPUS[1]["text"] and rows[6]["label"] == str(CORPUS[1]["label"])
    assert images.shape == (NUM_IMAGES, 16, 16, 3)  # resized from the pipeline's 32 px to the training resolution
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch-00000.npz", "batch-00001.npz", "batch-00002.npz",
                                                          "generation.json", MANIFEST]


def test_resume_after_a_crash_reproduces_the_uninterrupted_bytes(pipe, reference_run, tmp_path):
    def crash(batch: int) -> None:
        if batch == 1:
            raise RuntimeError("injected failure")

    with pytest.raises(RuntimeError, match="injected"):
        render(pipe, CORPUS, NUM_IMAGES, 11, OPTIONS, tmp_path, SETTINGS, progress=False, after_batch=crash)
    done = sorted(p.name for p in tmp_path.glob("batch-*.npz"))
    assert done == ["batch-00000.npz", "batch-00001.npz"]  # batches 0 and 1 finished, batch 2 never started
    stats = render(pipe, CORPUS, NUM_IMAGES, 11, OPTIONS, tmp_path, SETTINGS, progress=False)
    assert (stats.already_present, stats.written) == (6, 2)
    assert files(tmp_path) == reference_run


def test_asking_for_more_renders_only_the_new_images(pipe, reference_run, tmp_path):
    first = render(pipe, CORPUS, 4, 11, OPTIONS, tmp_path, SETTINGS, progress=False)
    assert first.written == 4
    before = (tmp_path / "batch-00000.npz").stat().st_mtime_ns
    grown = render(pipe, CORPUS, NUM_IMAGES, 11, OPTIONS, tmp_path, SETTINGS, progress=False)
    assert (grown.already_present, grown.written) == (3, 5)  # the partial batch 1 grew, so it is rendered again
    assert grown.repaired["stale_plan"] == 1
    assert (tmp_path / "batch-00000.npz").stat().st_mtime_ns == before  # the full batch 0 was kept
    assert files(tmp_path) == reference_run  # padded batches: image 3 has the same bytes either way


def test_mismatched_folder_is_repaired(pipe, reference_run, tmp_path):
    render(pipe, CORPUS, NUM_IMAGES, 11, OPTIONS, tmp_path, SETTINGS, progress=False)
    (tmp_path / "batch-00001.npz").unlink()                      # a missing shard
    (tmp_path / "batch-00002.npz").write_bytes(b"PK truncated")  # a corrupt shard
    (tmp_path / "batch-00123.npz").write_bytes(b"stray")         # a shard beyond the plan
    (tmp_path / "000001.png").write_bytes(b"old format")         # a file the renderer never writes
    with pytest.raises(DataError, match="manifest and shards disagree"):
        load_manifest(tmp_path)
    stats = render(pipe, CORPUS, NUM_IMAGES, 11, OPTIONS, tmp_path, SETTINGS, progress=False)
    assert stats.repaired["corrupt"] == 1 and stats.repaired["beyond_plan"] == 1 and stats.repaired["stray"] == 1
    assert stats.written == 5
    assert files(tmp_path) == reference_run


def test_changed_captions_or_settings_invalidate_the_affected_images(pipe, reference_run, tmp_path):
    render(pipe, CORPUS, NUM_IMAGES, 11, OPTIONS, tmp_path, SETTINGS, progress=False)
    edited = [dict(CORPUS[0], text="a gray heart"), *CORPUS[1:]]
    stats = render(pipe, edited, NUM_IMAGES, 11, OPTIONS, tmp_path, SETTINGS, progress=False)
    assert stats.repaired["stale_plan"] == 2 and stats.written == 6  # images 0 and 5 (batches 0, 1) use caption 0
    assert read_manifest(tmp_path)[5]["prompt"] == "a gray heart"
    stats = render(pipe, CORPUS, NUM_IMAGES, 11, OPTIONS, tmp_path, {"model": "other"}, progress=False)
    assert stats.repaired["stale_settings"] == 3 and stats.written == NUM_IMAGES  # all three shards
    assert files(tmp_path).keys() == reference_run.keys()
    assert json.loads((tmp_path / "generation.json").read_text())["model"] == "other"


def test_bad_inputs_raise_clear_errors(pipe, tmp_path):
    with pytest.raises(DataError, match="filtered corpus is empty"):
        render(pipe, [], 3, 0, OPTIONS, tmp_path, SETTINGS, progress=False)
    with pytest.raises(DataError, match="generate.images"):
        requested_images("match_aligned", 1.0, train_size=10, mined=10)
    assert requested_images("match_aligned", 0.5, train_size=110, mined=10) == 50
    assert requested_images(7, 0.5, train_size=110, mined=10) == 7
    with pytest.raises(DataError, match="run the stage that renders this folder"):
        load_manifest(tmp_path)
    assert not (tmp_path / MANIFEST).exists()


@pytest.mark.slow
def test_two_cpu_processes_match_a_single_process(reference_run, tmp_path):
    """`accelerate launch --multi_gpu --num_processes 2` on CPUs: shards merge into the single-process outputs.

    (accelerate's `--cpu` launcher runs several processes only through mpirun; `--multi_gpu` uses
    torchrun, and our shard picks the gloo backend when there is no GPU.)
    """
    driver = Path(__file__).with_name("sharded_driver.py")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    single, double = tmp_path / "single", tmp_path / "double"
    subprocess.run([sys.executable, str(driver), str(single)], check=True, env=env, timeout=600)
    accelerate = Path(sys.executable).with_name("accelerate")
    subprocess.run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                    "--mixed_precision", "no", "--dynamo_backend", "no", str(driver), str(double)],
                   check=True, env=env, timeout=600)
    assert json.loads((double / "stats.json").read_text())["world"] == 2
    assert (double / "captions.jsonl").read_bytes() == (single / "captions.jsonl").read_bytes()
    assert not list(double.glob(".*part*"))
    assert (double / "gen" / MANIFEST).read_bytes() == (single / "gen" / MANIFEST).read_bytes()
    assert files(double / "gen") == files(single / "gen") == reference_run
