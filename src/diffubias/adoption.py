"""Seed a fresh generated-image folder with the images another folder rendered from the same plan.

When the two DiffuBias variants of a cell (filter on / off) keep the same captions (colour 5 % seed 0:
all 300), their plans agree image for image and rendering the second variant would write exactly the
bytes of the first; when the filter drops a few, the plans still agree up to the first dropped caption.
`diffubias-grid` therefore adopts those images instead of rendering them again.

A batch's bytes depend on the generation settings and on the plan items of the whole batch
[kB, (k+1)B), padding included (see `diffubias.generation`). So only whole batches are adopted, and only
where the donor's manifest lists every item of the batch exactly as this plan does (a donor's last,
padded batch is never adopted: its padding is not in its manifest). The donor's settings are copied
with the images; `generate` then checks them and every image against its own settings and plan
(`prepare_folder`) and removes anything that does not match, so adoption can save work but never
change a file's bytes: an adopted folder ends byte-identical to a rendered one.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

from diffubias.generation import MANIFEST, MANIFEST_FIELDS, SETTINGS, plan_item, read_manifest


def _copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def adoptable_batches(donor_rows: dict[int, dict[str, str]], corpus: list[dict], seed: int, num_images: int,
                      batch_size: int) -> list[int]:
    """The batches of this plan whose every item (padding included) the donor planned identically."""
    batches = range((num_images + batch_size - 1) // batch_size)
    return [k for k in batches
            if all(donor_rows.get(j) == plan_item(corpus, j, seed).row()
                   for j in range(k * batch_size, (k + 1) * batch_size))]


def adopt_folder(out_dir: Path, donor: Path, corpus: list[dict], seed: int, num_images: int) -> int:
    """Copy the donor's images of adoptable batches into an empty ``out_dir``; returns how many.

    Does nothing (returns 0) when ``out_dir`` already holds images (its own resume takes over), when the
    donor has no settings file, or when no batch agrees.
    """
    out_dir, donor = Path(out_dir), Path(donor)
    if out_dir.resolve() == donor.resolve() or any(out_dir.glob("*.png")):
        return 0
    settings_file = donor / SETTINGS
    if not settings_file.is_file():
        return 0
    settings = json.loads(settings_file.read_text())
    batch_size = int(settings.get("batch_size", 0))
    if batch_size < 1:
        return 0
    batches = adoptable_batches(read_manifest(donor), corpus, seed, num_images, batch_size)
    files = [f"{i:06d}.png" for k in batches
             for i in range(k * batch_size, min((k + 1) * batch_size, num_images))]
    files = [f for f in files if (donor / f).is_file()]
    if not files:
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in files:
        _copy(donor / f, out_dir / f)
    _copy(settings_file, out_dir / SETTINGS)
    tmp = out_dir / f".{MANIFEST}.tmp-{os.getpid()}"  # this plan, so `generate` keeps what it promises
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(plan_item(corpus, i, seed).row() for i in range(num_images))
    tmp.replace(out_dir / MANIFEST)
    return len(files)
