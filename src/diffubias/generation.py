"""Render X_gen from the filtered captions: deterministic, resumable, incremental, sharded.

Image i uses caption ``corpus[i mod len(corpus)]``, is labelled with the class of that caption's
mined image, and is rendered from its own seed ``derive_seed(seed, i)`` (a CPU generator, so
the initial noise is the same on every device). Batch k always holds images [kB, (k+1)B): the
last batch is padded with the following plan items, rendered and not saved, so a file's bytes
never depend on how many images were asked for, where a run was interrupted, or how many
processes shared the work. Files are written to a temporary name and renamed (a present
``i:06d.png`` is complete); ``manifest.csv`` (the plan) and ``generation.json`` (the settings)
are written before rendering, so a rerun knows what every existing file must contain.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from diffubias.errors import DataError
from diffubias.sharding import Shard, derive_seed

MANIFEST = "manifest.csv"
SETTINGS = "generation.json"
MANIFEST_FIELDS = ("file", "index", "prompt", "source_image", "caption_index", "label", "seed")


@dataclass(frozen=True)
class GenItem:
    """What image ``index`` shows: its prompt, the mined image the prompt describes, label, seed."""

    index: int
    prompt: str
    source_image: str
    caption_index: int
    label: int
    seed: int

    @property
    def file(self) -> str:
        return f"{self.index:06d}.png"

    def row(self) -> dict[str, str]:
        return {"file": self.file, **{k: str(v) for k, v in asdict(self).items()}}


def plan_item(corpus: list[dict], index: int, seed: int) -> GenItem:
    """The plan of image ``index``: cycle through the corpus, one seed per image."""
    r = corpus[index % len(corpus)]
    return GenItem(index, r["text"], r["image"], int(r["caption_index"]), int(r["label"]),
                   derive_seed(seed, index, "generate"))


def plan(corpus: list[dict], num_images: int, seed: int) -> list[GenItem]:
    """The plan of images 0..num_images-1."""
    if not corpus:
        raise DataError("no caption to generate from: the filtered corpus is empty; raise "
                        "text_filter.f_multiplier, mine.k or caption.captions_per_image, or set "
                        "text_filter.enabled: false")
    if num_images < 1:
        raise DataError(f"asked for {num_images} generated images; set generate.images >= 1")
    return [plan_item(corpus, i, seed) for i in range(num_images)]


def requested_images(images: int | str, ratio: float, train_size: int, mined: int) -> int:
    """``generate.images``: a number, or ``match_aligned`` × ratio = (train size − |X_bc|) × ratio."""
    if images == "match_aligned":
        n = round((train_size - mined) * ratio)
        if n < 1:
            raise DataError(f"match_aligned gives {n} images (train {train_size} − mined {mined}, × "
                            f"generate.images_ratio {ratio}); set generate.images to a number")
        return n
    return int(images)


def model_fingerprint(model: str) -> str:
    """A content hash of a local model folder, or the hub id itself."""
    path = Path(model)
    if not path.is_dir():
        return model
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def read_manifest(out_dir: Path) -> dict[int, dict[str, str]]:
    """Manifest rows by image index ({} when there is no manifest)."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return {}
    with open(path, newline="") as fh:
        return {int(r["index"]): r for r in csv.DictReader(fh)}


def _write_csv(rows: list[dict[str, str]], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def _png_ok(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except (OSError, SyntaxError, ValueError):
        return False


def prepare_folder(out_dir: Path, items: list[GenItem], settings: dict[str, Any]) -> dict[str, int]:
    """Reconcile an existing folder with the plan (main process only); returns what was repaired.

    Settings changed → every image is stale. Otherwise an image is kept only if the previous
    manifest promised it the same prompt, label and seed and it decodes. Images beyond the
    plan, stale or corrupt images and leftover temporary files are removed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = dict(kept=0, stale_settings=0, stale_plan=0, corrupt=0, beyond_plan=0, temp_removed=0)
    for tmp in out_dir.glob(".*.tmp*"):
        tmp.unlink()
        report["temp_removed"] += 1
    settings_file = out_dir / SETTINGS
    same_settings = settings_file.is_file() and json.loads(settings_file.read_text()) == settings
    previous = read_manifest(out_dir) if same_settings else {}
    wanted = {it.file: it.row() for it in items}
    for png in sorted(out_dir.glob("*.png")):
        old = previous.get(int(png.stem)) if png.stem.isdigit() else None
        if png.name not in wanted:
            reason = "beyond_plan"
        elif not same_settings:
            reason = "stale_settings"
        elif old != wanted[png.name]:
            reason = "stale_plan"
        elif not _png_ok(png):
            reason = "corrupt"
        else:
            report["kept"] += 1
            continue
        png.unlink()
        report[reason] += 1
    tmp = settings_file.with_name(f".{SETTINGS}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    tmp.replace(settings_file)
    _write_csv([it.row() for it in items], out_dir / MANIFEST)
    return report


@dataclass(frozen=True)
class RenderOptions:
    """How the pipeline is called; all of it is part of the settings a file's bytes depend on."""

    steps: int
    guidance_scale: float
    image_size: int
    batch_size: int
    resolution: int = 0
    negative_prompt: str = ""


def render_batch(pipe: Any, items: list[GenItem], opt: RenderOptions) -> np.ndarray:
    """Render one batch; uint8 ``[B, image_size, image_size, 3]``."""
    kwargs: dict[str, Any] = dict(
        prompt=[it.prompt for it in items], num_inference_steps=opt.steps, guidance_scale=opt.guidance_scale,
        generator=[torch.Generator("cpu").manual_seed(it.seed) for it in items], output_type="np")
    if opt.negative_prompt:
        kwargs["negative_prompt"] = [opt.negative_prompt] * len(items)
    if opt.resolution:
        kwargs["height"] = kwargs["width"] = opt.resolution
    images = np.asarray(pipe(**kwargs).images)
    arr = (images * 255.0).round().clip(0, 255).astype(np.uint8)
    if arr.shape[1:3] != (opt.image_size, opt.image_size):
        size = (opt.image_size, opt.image_size)
        arr = np.stack([np.asarray(Image.fromarray(a).resize(size, Image.Resampling.LANCZOS)) for a in arr])
    return arr


def save_png(array: np.ndarray, path: Path) -> None:
    """Write a PNG to a temporary name, then rename (a present file is always complete)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    Image.fromarray(array).save(tmp, format="PNG")
    tmp.replace(path)


@dataclass
class RenderStats:
    """What one generate run did: images requested / already there / written, throughput."""

    requested: int
    already_present: int
    written: int
    rendered_with_padding: int
    seconds: float
    repaired: dict[str, int]

    @property
    def images_per_s(self) -> float:
        return self.rendered_with_padding / self.seconds if self.seconds > 0 else 0.0


def _missing(items: list[GenItem], out_dir: Path) -> set[int]:
    return {it.index for it in items if not (out_dir / it.file).exists()}


def render(pipe: Any, corpus: list[dict], num_images: int, seed: int, opt: RenderOptions, out_dir: Path,
           settings: dict[str, Any], shard: Shard = Shard(), progress: bool = True,
           after_batch: Callable[[int], None] | None = None) -> RenderStats | None:
    """Render the missing images of the plan into ``out_dir``; returns stats on the main process."""
    out_dir = Path(out_dir)
    items = plan(corpus, num_images, seed)
    repaired: dict[str, int] = {}
    if shard.is_main:
        repaired = prepare_folder(out_dir, items, {**settings, "batch_size": opt.batch_size})
        missing = _missing(items, out_dir)  # before the barrier: no process has written yet
    shard.barrier()
    if not shard.is_main:
        missing = _missing(items, out_dir)
    t0 = time.perf_counter()
    bsz = opt.batch_size
    all_batches = sorted({i // bsz for i in missing})
    todo = [k for k in all_batches if shard.owns(k)]
    for k in tqdm(todo, desc=f"generate [{shard.rank}/{shard.world}]", unit="batch", disable=not progress):
        batch = [items[i] if i < num_images else plan_item(corpus, i, seed) for i in range(k * bsz, (k + 1) * bsz)]
        arrays = render_batch(pipe, batch, opt)
        for it, arr in zip(batch, arrays):
            if it.index in missing:
                save_png(arr, out_dir / it.file)
        if after_batch is not None:
            after_batch(k)
    shard.barrier()
    if not shard.is_main:
        return None
    absent = [it.file for it in items if not (out_dir / it.file).exists()]
    if absent:
        raise DataError(f"{out_dir}: {len(absent)} planned images are missing after rendering "
                        f"(first: {absent[0]}); rerun `diffubias generate` to complete them")
    return RenderStats(num_images, num_images - len(missing), len(missing), len(all_batches) * bsz,
                       time.perf_counter() - t0, repaired)


def load_manifest(out_dir: Path) -> list[dict[str, str]]:
    """The manifest rows of a finished folder; every row's file must exist and no PNG may be unlisted."""
    out_dir = Path(out_dir)
    rows = read_manifest(out_dir)
    if not rows:
        raise DataError(f"{out_dir}/{MANIFEST}: missing or empty; run `diffubias generate` for this cell")
    listed = {r["file"] for r in rows.values()}
    missing = sorted(f for f in listed if not (out_dir / f).is_file())
    extra = sorted(p.name for p in out_dir.glob("*.png") if p.name not in listed)
    if missing or extra:
        raise DataError(f"{out_dir}: manifest and files disagree ({len(missing)} listed files missing, "
                        f"{len(extra)} unlisted files); rerun `diffubias generate` to repair the folder")
    return [rows[i] for i in sorted(rows)]
