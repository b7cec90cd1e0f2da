"""Tiny real stand-ins for the foundation models, built in well under a second (no network).

``tiny_pipeline`` is a random-weight ``StableDiffusionPipeline`` in the shape diffusers' own
tests use (UNet block_out_channels=(8, 16), tiny CLIP text encoder, tiny VAE) with a word-level
tokenizer; ``FakeCaptioner`` writes seeded captions from a fixed phrase bank.
"""
from __future__ import annotations

import random

import torch
from PIL import Image

WORDS = ("a red green blue circle square triangle shape on plain striped background photo of the "
         "with dark small big picture drawing woman man").split()


def tiny_tokenizer(max_length: int = 16):
    """A word-level tokenizer wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[BOS]": 2, "[EOS]": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 2), ("[EOS]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]",
                                   eos_token="[EOS]", model_max_length=max_length)


def tiny_pipeline(seed: int = 0, sample_size: int = 8):
    """A random-weight StableDiffusionPipeline rendering ``4 * sample_size`` px images on the CPU."""
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=sample_size, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, norm_num_groups=4, attention_head_dim=4)
    vae = AutoencoderKL(block_out_channels=(8, 16, 16), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                        latent_channels=4, norm_num_groups=4, sample_size=4 * sample_size)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=2, eos_token_id=3, pad_token_id=0, hidden_size=16, intermediate_size=32, num_attention_heads=2,
        num_hidden_layers=2, vocab_size=len(WORDS) + 4, max_position_embeddings=16))
    scheduler = DPMSolverMultistepScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                            steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tiny_tokenizer(), unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


PHRASES = ("a red circle on a plain background", "a green square shape", "photo of a blue triangle",
           "a dark picture", "a small drawing with the background", "a woman with a big shape")


class FakeCaptioner:
    """Seeded captions from ``PHRASES`` that also depend on the image's mean colour."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def caption(self, images: list[Image.Image], k: int, seed: int, batch_size: int = 32) -> list[list[str]]:
        self.calls.append((len(images), seed))
        rng = random.Random(seed)
        out = []
        for im in images:
            base = int(sum(im.convert("L").getdata())) % len(PHRASES)
            out.append([PHRASES[(base + rng.randrange(len(PHRASES))) % len(PHRASES)] for _ in range(k)])
        return out
