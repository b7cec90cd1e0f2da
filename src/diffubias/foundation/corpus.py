"""The captioned world corpus: unbiased (balanced over class × colour × background), disjoint
from every benchmark split (its own random-stream key), several imperfect captions per image.

On disk (``data/foundation/corpus``): ``<split>_images.npy`` (uint8 ``[N, H, W, 3]``),
``<split>_scenes.npy`` (int ``[N, 3]``: shape, colour, background) and ``<split>_captions.jsonl``
(one JSON list of captions per line), for the splits ``train`` and ``heldout``.
"""
from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from diffubias import world
from diffubias.errors import DataError
from diffubias.foundation.captions import make_captions

CORPUS_KEY = 7  # random-stream key of the corpus; benchmarks use 1 and 2
SPLIT_IDS = {"train": 0, "heldout": 1}


@dataclass
class Corpus:
    """One split of the corpus in memory."""

    images: np.ndarray  # uint8 [N, H, W, 3]
    scenes: np.ndarray  # int64 [N, 3]: shape, colour, background
    captions: list[list[str]]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: np.ndarray | list[int]) -> "Corpus":
        """The images at ``index``."""
        idx = np.asarray(index, dtype=np.int64)
        return Corpus(self.images[idx], self.scenes[idx], [self.captions[i] for i in idx.tolist()])


def balanced_scenes(per_combination: int, rng: np.random.Generator) -> list[world.Scene]:
    """Every shape × colour × background combination ``per_combination`` times, shuffled."""
    combos = [world.Scene(s, c, b) for s in range(len(world.SHAPES)) for c in range(len(world.COLOURS))
              for b in range(len(world.BACKGROUNDS))]
    scenes = [s for s in combos for _ in range(per_combination)]
    return [scenes[i] for i in rng.permutation(len(scenes))]


def _render_chunk(job: tuple) -> tuple[np.ndarray, list[list[str]]]:
    seed, split_id, start, scenes, size, noise_std, n_captions, caption_noise = job
    images, captions = [], []
    for offset, scene in enumerate(scenes):
        rng = world.image_rng(seed, CORPUS_KEY, split_id, start + offset)
        images.append(world.render(scene, size, rng, noise_std))
        captions.append(make_captions(scene, n_captions, rng, caption_noise))
    return np.stack(images), captions


def render_split(split: str, *, seed: int, per_combination: int, image_size: int, noise_std: float,
                 captions_per_image: int, caption_noise: float, workers: int = 1) -> Corpus:
    """Render one split: balanced scenes, each image with its own seeded random stream."""
    split_id = SPLIT_IDS[split]
    scenes = balanced_scenes(per_combination, np.random.default_rng([seed, CORPUS_KEY, split_id, 99]))
    chunk = 250
    jobs = [(seed, split_id, i, scenes[i:i + chunk], image_size, noise_std, captions_per_image, caption_noise)
            for i in range(0, len(scenes), chunk)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(tqdm(pool.map(_render_chunk, jobs), total=len(jobs), desc=f"corpus {split}", unit="chunk"))
    else:
        parts = [_render_chunk(j) for j in tqdm(jobs, desc=f"corpus {split}", unit="chunk")]
    arr = np.array([(s.shape, s.colour, s.background) for s in scenes], dtype=np.int64).reshape(-1, 3)
    return Corpus(np.concatenate([p[0] for p in parts]), arr, [c for p in parts for c in p[1]])


def write_corpus(out_dir: Path, splits: dict[str, Corpus]) -> None:
    """Write the splits into ``out_dir`` atomically (temp folder, then rename)."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name, corpus in splits.items():
        np.save(tmp / f"{name}_images.npy", corpus.images)
        np.save(tmp / f"{name}_scenes.npy", corpus.scenes)
        with open(tmp / f"{name}_captions.jsonl", "w") as fh:
            for caps in corpus.captions:
                fh.write(json.dumps(caps) + "\n")
    vocab = {"shapes": list(world.SHAPES), "colours": list(world.COLOURS), "backgrounds": list(world.BACKGROUNDS),
             "splits": {k: len(v) for k, v in splits.items()}}
    (tmp / "vocab.json").write_text(json.dumps(vocab, indent=2) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)


def read_corpus(corpus_dir: Path, split: str) -> Corpus:
    """Read one split written by :func:`write_corpus`."""
    corpus_dir = Path(corpus_dir)
    path = corpus_dir / f"{split}_images.npy"
    if not path.is_file():
        raise DataError(f"{path}: corpus split {split!r} not found; run `diffubias make-corpus` first")
    with open(corpus_dir / f"{split}_captions.jsonl") as fh:
        captions = [json.loads(line) for line in fh]
    return Corpus(np.load(path), np.load(corpus_dir / f"{split}_scenes.npy"), captions)
