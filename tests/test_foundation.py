"""The foundation models' loader: tiny random-config pipeline and captioner, saved and reloaded offline."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diffubias.config import CaptionerParams, T2IParams
from diffubias.errors import ConfigError, DiffubiasError
from diffubias.foundation.autoencoder import build_vae, calibrate, encode_moments
from diffubias.foundation.captioner import build_captioner, image_processor, save_captioner
from diffubias.foundation.captions import VOCABULARY
from diffubias.foundation.loading import (ModelNotAvailableError, UnsafeWeightsError, load_captioner,
                                          load_generator)
from diffubias.foundation.t2i import assemble_pipeline, build_text_encoder, build_unet, save_pipeline, tokenize
from diffubias.foundation.tokenizer import build_tokenizer

TINY_T2I = T2IParams(vae_channels=(8, 16), vae_norm_groups=4, text_hidden=16, text_layers=1, text_heads=2,
                     max_length=20, unet_channels=(16, 32), unet_attention_heads=2, unet_norm_groups=8)
TINY_CAPTIONER = CaptionerParams(patch_size=2, encoder_hidden=16, encoder_layers=1, encoder_heads=2,
                                 swin_depths=(1, 1), swin_heads=(2, 2), decoder_hidden=16, decoder_layers=1,
                                 decoder_heads=2, max_new_tokens=12)


@pytest.fixture(scope="module")
def tiny_pipeline_dir(tmp_path_factory) -> Path:
    """A random-weight StableDiffusionPipeline at 16 px, saved with save_pretrained."""
    torch.manual_seed(0)
    vae = build_vae(TINY_T2I, 16)
    mean, _ = encode_moments(vae, torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8))
    calibrate(vae, mean)
    tokenizer = build_tokenizer(VOCABULARY, TINY_T2I.max_length)
    text_encoder = build_text_encoder(TINY_T2I, tokenizer)
    unet = build_unet(TINY_T2I, mean.shape[-1], TINY_T2I.text_hidden)
    out = tmp_path_factory.mktemp("gen") / "t2i"
    save_pipeline(assemble_pipeline(vae, text_encoder, tokenizer, unet, TINY_T2I), out)
    return out


@pytest.fixture(scope="module")
def tiny_captioner_dir(tmp_path_factory) -> Path:
    """A random-weight ViT + GPT-2 captioner at 16 px, saved in transformers format."""
    torch.manual_seed(0)
    tokenizer = build_tokenizer(VOCABULARY, TINY_CAPTIONER.max_new_tokens + 2)
    model = build_captioner(TINY_CAPTIONER, tokenizer, 16, TINY_CAPTIONER.max_new_tokens)
    out = tmp_path_factory.mktemp("cap") / "captioner"
    save_captioner(model, tokenizer, image_processor(16), out)
    return out


def _generate(pipe, prompts, seeds, size):
    return pipe(prompt=prompts, num_inference_steps=2, guidance_scale=3.0,
                generator=[torch.Generator("cpu").manual_seed(s) for s in seeds], height=size, width=size,
                output_type="pil").images


@pytest.mark.slow
def test_generator_roundtrip_size_count_and_determinism(tiny_pipeline_dir):
    pipe = load_generator(str(tiny_pipeline_dir), device="cpu", scheduler="dpm")
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert type(pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"
    prompts = ["a red circle", "a square on a striped background", ""]
    first = _generate(pipe, prompts, [1, 2, 3], 16)
    again = _generate(pipe, prompts, [1, 2, 3], 16)
    assert len(first) == 3 and all(im.size == (16, 16) for im in first)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, again))
    other = _generate(pipe, prompts[:1], [4], 16)
    assert not np.array_equal(np.asarray(first[0]), np.asarray(other[0]))
    assert _generate(pipe, prompts[:2], [1, 2], 32)[0].size == (32, 32)


def test_generator_keeps_own_scheduler_and_rejects_unknown(tiny_pipeline_dir):
    pipe = load_generator(str(tiny_pipeline_dir), device="cpu", scheduler=None)
    assert type(pipe.scheduler).__name__ == "PNDMScheduler"
    with pytest.raises(ConfigError, match="scheduler"):
        load_generator(str(tiny_pipeline_dir), device="cpu", scheduler="nope")


def test_cfg_dropout_tokenisation_matches_the_pipeline(tiny_pipeline_dir):
    pipe = load_generator(str(tiny_pipeline_dir), device="cpu")
    ids = pipe.tokenizer([""], padding="max_length", max_length=pipe.tokenizer.model_max_length,
                         truncation=True, return_tensors="pt").input_ids
    assert torch.equal(tokenize(pipe.tokenizer, [""]), ids)
    assert pipe.tokenizer.model_max_length <= pipe.text_encoder.config.max_position_embeddings


def test_captioner_roundtrip_k_captions_and_determinism(tiny_captioner_dir):
    captioner = load_captioner(str(tiny_captioner_dir), device="cpu")
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)) for _ in range(5)]
    caps = captioner.caption(images, k=3, seed=7, batch_size=2)
    assert len(caps) == 5 and all(len(c) == 3 for c in caps)
    assert all(isinstance(t, str) for c in caps for t in c)
    assert all(len(set(c)) == 3 for c in caps)  # a random model samples distinct captions
    assert caps == captioner.caption(images, k=3, seed=7, batch_size=2)
    assert caps != captioner.caption(images, k=3, seed=8, batch_size=2)


def test_every_captioner_encoder_builds_and_rejects_unknown():
    tokenizer = build_tokenizer(VOCABULARY, 14)
    for name in ("swin", "vit"):
        model = build_captioner(dataclasses.replace(TINY_CAPTIONER, encoder=name), tokenizer, 16, 12)
        out = model(pixel_values=torch.zeros(2, 3, 16, 16), labels=torch.tensor([[5, 6, 3], [7, 3, -100]]))
        assert torch.isfinite(out.loss)
    with pytest.raises(ConfigError, match="captioner.encoder"):
        build_captioner(dataclasses.replace(TINY_CAPTIONER, encoder="nope"), tokenizer, 16, 12)


def test_hub_ids_fail_cleanly_offline():
    for load, model in ((load_generator, "stable-diffusion-v1-5/stable-diffusion-v1-5"),
                        (load_captioner, "Salesforce/blip-image-captioning-base")):
        with pytest.raises(ModelNotAvailableError) as info:
            load(model, device="cpu")
        message = str(info.value)
        assert model in message and "offline" in message and "local" in message
        assert isinstance(info.value, DiffubiasError)
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_missing_local_folder_is_named(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="no such folder"):
        load_generator(str(tmp_path / "nothing" / "here"), device="cpu")


def test_pickle_only_folders_are_refused(tmp_path, tiny_pipeline_dir, tiny_captioner_dir):
    gen = tmp_path / "gen"
    (gen / "unet").mkdir(parents=True)
    (gen / "model_index.json").write_text("{}")
    (gen / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(UnsafeWeightsError, match="pickle"):
        load_generator(str(gen), device="cpu")
    cap = tmp_path / "cap"
    cap.mkdir()
    (cap / "config.json").write_text("{}")
    (cap / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(UnsafeWeightsError, match="safetensors"):
        load_captioner(str(cap), device="cpu")
