"""Adopting another folder's images: only whole batches of the same plan, and never a different byte."""
from __future__ import annotations

from pathlib import Path

import pytest
from diffubias_helpers import tiny_pipeline
from sharded_driver import CORPUS, NUM_IMAGES, OPTIONS

from diffubias.adoption import adopt_folder, adoptable_batches
from diffubias.generation import read_manifest, render

SETTINGS = {"model": "tiny"}


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline()


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def run(pipe, corpus, out: Path, settings=SETTINGS):
    return render(pipe, corpus, NUM_IMAGES, 11, OPTIONS, out, settings, progress=False)


@pytest.fixture(scope="module")
def donor(pipe, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("donor")
    run(pipe, CORPUS, out)
    return out


def test_same_plan_adopts_every_full_batch_and_ends_byte_identical(pipe, donor, tmp_path):
    # 8 images in batches of 3: batches 0 and 1 are adoptable, batch 2 (6, 7 + padding 8) is not
    assert adopt_folder(tmp_path, donor, CORPUS, 11, NUM_IMAGES) == 6
    stats = run(pipe, CORPUS, tmp_path)
    assert (stats.already_present, stats.written, stats.rendered_with_padding) == (6, 2, 3)
    assert files(tmp_path) == files(donor)


def test_a_different_caption_blocks_only_the_batches_that_use_it(pipe, donor, tmp_path):
    edited = [*CORPUS[:4], dict(CORPUS[4], text="a gray heart")]  # caption 4 -> images 4 and 9 (padding)
    assert adoptable_batches(read_manifest(donor), edited, 11, NUM_IMAGES, OPTIONS.batch_size) == [0]
    assert adopt_folder(tmp_path / "adopted", donor, edited, 11, NUM_IMAGES) == 3
    run(pipe, edited, tmp_path / "adopted")
    run(pipe, edited, tmp_path / "fresh")
    assert files(tmp_path / "adopted") == files(tmp_path / "fresh")
    assert files(tmp_path / "adopted")["000000.png"] == files(donor)["000000.png"]
    assert adoptable_batches(read_manifest(donor), CORPUS, 12, NUM_IMAGES, OPTIONS.batch_size) == []  # other seed


def test_different_settings_discard_every_adopted_image(pipe, donor, tmp_path):
    assert adopt_folder(tmp_path, donor, CORPUS, 11, NUM_IMAGES) == 6
    stats = run(pipe, CORPUS, tmp_path, settings={"model": "other"})
    assert stats.repaired["stale_settings"] == 6 and stats.written == NUM_IMAGES


def test_a_folder_with_images_or_a_donor_without_settings_adopts_nothing(donor, tmp_path):
    (tmp_path / "000000.png").write_bytes(b"own")
    assert adopt_folder(tmp_path, donor, CORPUS, 11, NUM_IMAGES) == 0
    assert adopt_folder(tmp_path / "new", tmp_path / "empty", CORPUS, 11, NUM_IMAGES) == 0
    assert adopt_folder(donor, donor, CORPUS, 11, NUM_IMAGES) == 0
    assert not (tmp_path / "new").exists()
