"""Render X_gen from the filtered captions: deterministic, resumable, incremental, sharded.

Image i uses caption ``corpus[i mod len(corpus)]``, is labelled with the class of that caption's
mined image, and is rendered from its own seed ``derive_seed(seed, i)`` (a CPU generator, so
the initial noise is the same on every device). Batch k always holds images [kB, (k+1)B): the
last batch is padded with the following plan items, rendered and not saved, so a file's bytes
never depend on how many images were asked for, where a run was interrupted, or how many
processes shared the work. Each batch is one packed shard ``batch-<k>.npz`` (:mod:`diffubias.packed`),
written atomically (a present shard is complete): a folder of a few hundred shards hashes in
milliseconds where one PNG per image did not. ``manifest.csv`` (the plan) and ``generation.json``
(the settings) are written before rendering, so a rerun knows what every existing shard must contain.
"""
from __future__ import annotations

import csv
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from diffubias.errors import DataError
from diffubias.io import atomic_path, remove_path, write_text_atomic
from diffubias.packed import UNKNOWN_BIAS, PackedArrays, read_packed, write_packed
from diffubias.sharding import Shard, derive_seed

MANIFEST = "manifest.csv"
SETTINGS = "generation.json"
MANIFEST_FIELDS = ("file", "index", "prompt", "source_image", "caption_index", "label", "seed")
BATCH_GLOB = "batch-*.npz"


def batch_file(batch: int) -> str:
    """File name of packed shard ``batch``."""
    return f"batch-{batch:05d}.npz"


@dataclass(frozen=True)
class GenItem:
    """What image ``index`` shows: its prompt, the mined image the prompt describes, label, seed."""

    index: int
    prompt: str
    source_image: str
    caption_index: int
    label: int
    seed: int

    def row(self, batch_size: int) -> dict[str, str]:
        """The manifest row: ``file`` is the shard holding this image."""
        return {"file": batch_file(self.index // batch_size), **{k: str(v) for k, v in asdict(self).items()}}


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
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(rows)


def _shard_ids(path: Path) -> list[str] | None:
    try:
        return read_packed(path).ids.tolist()
    except DataError:
        return None


def prepare_folder(out_dir: Path, items: list[GenItem], settings: dict[str, Any]) -> dict[str, int]:
    """Reconcile an existing folder with the plan (main process only); returns what was repaired.

    Settings changed → every shard is stale. Otherwise a shard is kept only if the previous
    manifest promised each of its images the same prompt, label and seed and it reads back with
    exactly those images. Shards beyond the plan, stale or corrupt shards, leftover temporary files
    and files this renderer never writes (``stray``: counted so the caller can say so) are removed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bsz = int(settings["batch_size"])
    report = dict(kept=0, stale_settings=0, stale_plan=0, corrupt=0, beyond_plan=0, temp_removed=0, stray=0)
    for tmp in out_dir.glob(".*.tmp*"):
        remove_path(tmp)
        report["temp_removed"] += 1
    settings_file = out_dir / SETTINGS
    same_settings = settings_file.is_file() and json.loads(settings_file.read_text()) == settings
    previous = read_manifest(out_dir) if same_settings else {}
    wanted: dict[str, list[GenItem]] = {}
    for it in items:
        wanted.setdefault(batch_file(it.index // bsz), []).append(it)
    for path in sorted(out_dir.iterdir()):
        if path.name in (SETTINGS, MANIFEST) or path.name.startswith("."):
            continue
        batch = wanted.get(path.name)
        if not path.match(BATCH_GLOB) or not path.is_file():
            reason = "stray"
        elif batch is None:
            reason = "beyond_plan"
        elif not same_settings:
            reason = "stale_settings"
        elif any(previous.get(it.index) != it.row(bsz) for it in batch):
            reason = "stale_plan"
        elif _shard_ids(path) != [str(it.index) for it in batch]:
            reason = "corrupt"
        else:
            report["kept"] += len(batch)
            continue
        remove_path(path)
        report[reason] += 1
    write_text_atomic(settings_file, json.dumps(settings, indent=2, sort_keys=True) + "\n")
    _write_csv([it.row(bsz) for it in items], out_dir / MANIFEST)
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


def save_batch(items: list[GenItem], arrays: np.ndarray, path: Path) -> None:
    """Write one batch's planned images as a packed shard (ids = image indices, bias unknown)."""
    write_packed(path, PackedArrays(arrays, np.array([it.label for it in items]),
                                    np.full(len(items), UNKNOWN_BIAS), np.array([str(it.index) for it in items]),
                                    {"batch": items[0].index}))


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


def _missing(items: list[GenItem], out_dir: Path, bsz: int) -> set[int]:
    return {it.index for it in items if not (out_dir / batch_file(it.index // bsz)).exists()}


def render(pipe: Any, corpus: list[dict], num_images: int, seed: int, opt: RenderOptions, out_dir: Path,
           settings: dict[str, Any], shard: Shard = Shard(), progress: bool = True,
           after_batch: Callable[[int], None] | None = None) -> RenderStats | None:
    """Render the missing images of the plan into ``out_dir``; returns stats on the main process."""
    out_dir = Path(out_dir)
    items = plan(corpus, num_images, seed)
    repaired: dict[str, int] = {}
    if shard.is_main:
        repaired = prepare_folder(out_dir, items, {**settings, "batch_size": opt.batch_size})
        missing = _missing(items, out_dir, opt.batch_size)  # before the barrier: no process has written yet
    shard.barrier()
    if not shard.is_main:
        missing = _missing(items, out_dir, opt.batch_size)
    t0 = time.perf_counter()
    bsz = opt.batch_size
    all_batches = sorted({i // bsz for i in missing})
    todo = [k for k in all_batches if shard.owns(k)]
    for k in tqdm(todo, desc=f"generate [{shard.rank}/{shard.world}]", unit="batch", disable=not progress):
        batch = [items[i] if i < num_images else plan_item(corpus, i, seed) for i in range(k * bsz, (k + 1) * bsz)]
        arrays = render_batch(pipe, batch, opt)
        keep = [j for j, it in enumerate(batch) if it.index < num_images]
        save_batch([batch[j] for j in keep], arrays[keep], out_dir / batch_file(k))
        if after_batch is not None:
            after_batch(k)
    shard.barrier()
    if not shard.is_main:
        return None
    absent = sorted({batch_file(i // bsz) for i in _missing(items, out_dir, bsz)})
    if absent:
        raise DataError(f"{out_dir}: {len(absent)} planned shards are missing after rendering "
                        f"(first: {absent[0]}); rerun `diffubias generate` to complete them")
    return RenderStats(num_images, num_images - len(missing), len(missing), len(all_batches) * bsz,
                       time.perf_counter() - t0, repaired)


def load_manifest(out_dir: Path) -> list[dict[str, str]]:
    """The manifest rows of a finished folder; every listed shard must exist and none may be unlisted."""
    out_dir = Path(out_dir)
    rows = read_manifest(out_dir)
    if not rows:
        raise DataError(f"{out_dir}/{MANIFEST}: missing or empty; run the stage that renders this folder")
    listed = {r["file"] for r in rows.values()}
    missing = sorted(f for f in listed if not (out_dir / f).is_file())
    extra = sorted(p.name for p in out_dir.glob(BATCH_GLOB) if p.name not in listed)
    if missing or extra:
        raise DataError(f"{out_dir}: manifest and shards disagree ({len(missing)} listed shards missing, "
                        f"{len(extra)} unlisted shards); rerun the stage that renders this folder to repair it")
    return [rows[i] for i in sorted(rows)]


def load_generated(out_dir: Path) -> tuple[list[dict[str, str]], np.ndarray]:
    """Manifest rows and their images (uint8 ``[N, H, W, 3]``, row order) of a finished folder."""
    rows = load_manifest(out_dir)
    parts, ids = [], []
    for name in dict.fromkeys(r["file"] for r in rows):
        shard = read_packed(Path(out_dir) / name)
        parts.append(shard.images)
        ids.extend(shard.ids.tolist())
    if ids != [r["index"] for r in rows]:
        raise DataError(f"{out_dir}: shards do not hold the images the manifest lists; rerun the stage that "
                        "renders this folder to repair it")
    return rows, np.concatenate(parts)


def load_generated_set(out_dir: Path, image_size: int) -> tuple[list[dict[str, str]], torch.Tensor]:
    """Manifest rows and their images as uint8 ``[N, 3, image_size, image_size]`` (resized if needed)."""
    from diffubias.data import resize_images

    rows, images = load_generated(out_dir)
    return rows, resize_images(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), image_size)
