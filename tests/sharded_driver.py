"""Run captioning and generation on this process's shard (launched by tests/test_generation.py).

Usage: ``accelerate launch --multi_gpu --num_processes 2 tests/sharded_driver.py OUT_DIR`` (or plain python).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from diffubias_helpers import FakeCaptioner, tiny_pipeline
from PIL import Image

from diffubias.captioning import caption_mined
from diffubias.generation import RenderOptions, render
from diffubias.mining import MinedSample
from diffubias.sharding import current_shard

CORPUS = [{"text": t, "image": f"src{i % 3}.png", "caption_index": i % 2, "label": i % 3}
          for i, t in enumerate(["a red circle", "a blue square", "green triangle on striped background",
                                 "a small shape", "photo of a big woman"])]
OPTIONS = RenderOptions(steps=2, guidance_scale=3.0, image_size=16, batch_size=3)
NUM_IMAGES = 8


def main(out: Path) -> None:
    """Caption 7 synthetic images and render NUM_IMAGES images into ``out``."""
    shard = current_shard()
    rows = [MinedSample(i, f"img{i}.png", i % 3, 1.0 / (i + 1), i) for i in range(7)]
    images = [Image.new("RGB", (8, 8), (30 * i, 10, 200 - 20 * i)) for i in range(7)]
    result = caption_mined(FakeCaptioner(), images, rows, 2, 5, 2, out / "captions.jsonl", shard, progress=False)
    stats = render(tiny_pipeline(), CORPUS, NUM_IMAGES, 11, OPTIONS, out / "gen", {"model": "tiny"}, shard,
                   progress=False)
    if shard.is_main:
        (out / "stats.json").write_text(json.dumps({"world": shard.world, "written": stats.written,
                                                    "captions": result[1].captions}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
