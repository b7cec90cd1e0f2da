"""Caption the mined images: k sampled captions per image, batched, seeded, sharded.

Batch k (mined images [kB, (k+1)B)) is captioned with seed ``derive_seed(seed, k)`` by the
process that owns it; parts are merged by the main process into one ``captions.jsonl`` in
mined-rank order, identical whatever the number of processes.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image
from tqdm import tqdm

from diffubias.data import ImageSet, select_ids
from diffubias.errors import DataError
from diffubias.io import atomic_path
from diffubias.mining import MinedSample
from diffubias.sharding import Shard, derive_seed

class Captioner(Protocol):
    """What the caption stage needs from a captioner (``foundation.loading.load_captioner``)."""

    def caption(self, images: list[Image.Image], k: int, seed: int, batch_size: int = 32) -> list[list[str]]:
        ...


@dataclass
class CaptionStats:
    """Captioning throughput (main process: all processes' images over the wall time)."""

    images: int
    captions: int
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def load_mined_images(train: ImageSet, rows: list[MinedSample]) -> list[Image.Image]:
    """The mined images as RGB PIL images, taken from the packed train split by sample id."""
    mined = select_ids(train, [r.sample_id for r in rows], "the mined table")
    return [Image.fromarray(img.permute(1, 2, 0).numpy()) for img in mined.images]


def caption_batch(captioner: Captioner, images: list[Image.Image], rows: list[MinedSample], k: int,
                  seed: int) -> list[dict]:
    """Caption one batch; checks the captioner returned k strings per image."""
    texts = captioner.caption(images, k=k, seed=seed, batch_size=len(images))
    if len(texts) != len(images) or any(len(t) != k or not all(isinstance(s, str) for s in t) for t in texts):
        raise DataError(f"the captioner returned {len(texts)} lists for {len(images)} images; expected "
                        f"{k} strings per image (caption.captions_per_image={k})")
    return [{"image": r.sample_id, "caption_index": j, "text": t.strip(), "label": r.label, "rank": r.rank}
            for r, ts in zip(rows, texts) for j, t in enumerate(ts)]


def caption_mined(captioner: Captioner, images: list[Image.Image], rows: list[MinedSample], k: int,
                  seed: int, batch_size: int, out_file: Path, shard: Shard = Shard(),
                  progress: bool = True) -> tuple[list[dict], CaptionStats] | None:
    """Caption this process's batches and merge on the main process; returns (records, stats) there."""
    if not rows:
        raise DataError("no mined image to caption; raise mine.k and rerun `diffubias mine`")
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    mine: list[dict] = []
    batches = list(shard.batches(len(rows), batch_size))
    for b, idx in tqdm(batches, desc=f"caption [{shard.rank}/{shard.world}]", unit="batch", disable=not progress):
        mine.extend(caption_batch(captioner, [images[i] for i in idx], [rows[i] for i in idx], k,
                                  derive_seed(seed, b, "caption", bits=32)))
    if shard.world > 1:
        _write_jsonl(mine, _part(out_file, shard.rank))
    shard.barrier()
    if not shard.is_main:
        return None
    records = mine if shard.world == 1 else _merge_parts(out_file, shard.world)
    records.sort(key=lambda r: (r["rank"], r["caption_index"]))
    write_jsonl(records, out_file)
    stats = CaptionStats(len(rows), len(records), time.perf_counter() - t0)
    return records, stats


def _part(out_file: Path, rank: int) -> Path:
    return out_file.with_name(f".{out_file.name}.part{rank}")


def _merge_parts(out_file: Path, world: int) -> list[dict]:
    records = []
    for rank in range(world):
        part = _part(out_file, rank)
        records.extend(read_jsonl(part))
        part.unlink()
    return records


def _write_jsonl(records: list[dict], path: Path) -> None:
    with open(path, "w") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_jsonl(records: list[dict], path: Path) -> None:
    """Write records as JSON lines, atomically."""
    with atomic_path(Path(path)) as tmp:
        _write_jsonl(records, tmp)


def read_jsonl(path: Path) -> list[dict]:
    """Read JSON lines; a missing file names the stage that writes it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found; run the stage that writes it (caption / filter) first")
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]
