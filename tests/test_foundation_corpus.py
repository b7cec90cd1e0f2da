"""The captioned world corpus, its captions, tokenizer and the reference classifier's API."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from diffubias.config import ReferenceParams
from diffubias.foundation.captions import KINDS, VOCABULARY, make_caption
from diffubias.foundation.corpus import read_corpus, render_split, write_corpus
from diffubias.foundation.evaluation import evaluation_prompts, names_word
from diffubias.foundation.reference import load_reference, save_reference, train_reference
from diffubias.foundation.tokenizer import build_tokenizer
from diffubias.world import BACKGROUNDS, COLOURS, SHAPES, Scene


def _split(split: str = "train", per: int = 1):
    return render_split(split, seed=0, per_combination=per, image_size=16, noise_std=4.0, captions_per_image=2,
                        caption_noise=0.05, workers=1)


@pytest.mark.slow
def test_corpus_is_balanced_deterministic_and_disjoint(tmp_path):
    train = _split()
    assert len(train) == 1000 and train.images.shape == (1000, 16, 16, 3)
    combos = {tuple(s) for s in train.scenes.tolist()}
    assert len(combos) == len(SHAPES) * len(COLOURS) * len(BACKGROUNDS)
    heldout = _split("heldout")
    assert not any(np.array_equal(a, b) for a, b in zip(train.images[:50], heldout.images[:50]))
    write_corpus(tmp_path / "corpus", {"train": train, "heldout": heldout})
    again = read_corpus(tmp_path / "corpus", "train")
    assert np.array_equal(again.images, _split().images) and again.captions == train.captions


def test_captions_are_varied_and_imperfect():
    rng = np.random.default_rng(0)
    scenes = [Scene(i % 10, (i // 10) % 10, (i // 100) % 10) for i in range(2000)]
    caps = [make_caption(s, rng) for s in scenes]
    has_shape = np.mean([names_word(c, SHAPES[s.shape]) for c, s in zip(caps, scenes)])
    has_colour = np.mean([names_word(c, COLOURS[s.colour]) for c, s in zip(caps, scenes)])
    has_bg = np.mean([names_word(c, BACKGROUNDS[s.background]) for c, s in zip(caps, scenes)])
    assert 0.85 < has_shape < 0.97 and 0.7 < has_colour < 0.95 and 0.65 < has_bg < 0.9
    assert len(set(caps)) > 1500
    assert abs(sum(KINDS.values()) - 1) < 1e-9
    assert all(w in VOCABULARY for c in caps for w in c.split())


def test_tokenizer_covers_prompts_without_unknowns():
    tok = build_tokenizer(VOCABULARY, 20)
    for spec in evaluation_prompts():
        ids = tok(spec.text).input_ids
        assert tok.unk_token_id not in ids and ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id


def test_reference_trains_saves_and_predicts(tmp_path):
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (40, 3, 16, 16), dtype=torch.uint8, generator=gen)
    scenes = torch.randint(0, 10, (40, 3), generator=gen)
    p = ReferenceParams(channels=(8, 16), steps=3, batch_size=16)
    model, stats = train_reference(images, scenes, p, 16, progress=False)
    save_reference(model, tmp_path / "ref")
    loaded = load_reference(tmp_path / "ref")
    pred = loaded.predict_attributes(images[:5])
    assert set(pred) == {"shape", "colour", "background"} and all(v.shape == (5,) for v in pred.values())
    assert torch.equal(pred["shape"], model.predict_attributes(images[:5])["shape"])
    big = torch.nn.functional.interpolate(images[:5].float(), size=(32, 32)).to(torch.uint8)
    assert loaded.predict_attributes(big)["colour"].shape == (5,)
