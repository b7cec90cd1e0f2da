"""Sections of the embedded foundation models (METHODS.md §8): corpus, text-to-image, captioner, reference, evaluation."""
from __future__ import annotations

from typing import Literal

from diffubias.config.schema import (Fraction, Int, LearningRate, NonNegFloat, NonNegInt, PosFloat, PosFraction,
                                     PosInt, Probability, section)


@section("corpus")
class CorpusParams:
    """The captioned, unbiased world corpus the foundation models are trained on (make-corpus)."""

    seed: Int = 0
    image_size: PosInt = 32
    per_combination: PosInt = 16          # train images per shape × colour × background combination
    heldout_per_combination: NonNegInt = 1  # held-out images per combination (evaluation only)
    captions_per_image: PosInt = 3
    caption_noise: Probability = 0.05     # probability of a noisy caption (dropped/filler/wrong word)
    noise_std: NonNegFloat = 6.0
    workers: NonNegInt = 2


@section("t2i")
class T2IParams:
    """The embedded text-to-image latent diffusion model (train-t2i)."""

    seed: Int = 0
    threads: NonNegInt = 1             # torch threads (1 avoids OpenMP stalls on a shared CPU); 0 = default
    # autoencoder
    vae_channels: tuple[PosInt, ...] = (16, 32, 64)  # len-1 halvings: 32 px -> 8 × 8 latents
    latent_channels: PosInt = 4
    vae_layers_per_block: PosInt = 1
    vae_norm_groups: PosInt = 8
    vae_steps: PosInt = 1000
    vae_batch_size: PosInt = 32
    vae_lr: LearningRate = 1e-3
    vae_kl_weight: NonNegFloat = 1e-6
    # text encoder (CLIPTextModel) and tokenizer
    text_hidden: PosInt = 128
    text_layers: PosInt = 2
    text_heads: PosInt = 4
    max_length: PosInt = 20
    # denoiser (UNet2DConditionModel)
    unet_channels: tuple[PosInt, ...] = (48, 96)
    unet_layers_per_block: PosInt = 1
    unet_attention_heads: PosInt = 4
    unet_norm_groups: PosInt = 16
    prediction_type: Literal["epsilon", "v_prediction"] = "v_prediction"
    snr_gamma: NonNegFloat = 5.0       # min-SNR loss weighting; 0 = off
    steps: PosInt = 2800
    batch_size: PosInt = 32
    lr: LearningRate = 1e-3
    warmup_steps: NonNegInt = 100
    ema_decay: Fraction = 0.999        # 0 = no EMA
    cfg_dropout: Fraction = 0.1        # fraction of captions replaced by "" (classifier-free guidance)


@section("captioner")
class CaptionerParams:
    """The embedded image captioner: Swin (or ViT) encoder + GPT-2 decoder (train-captioner)."""

    seed: Int = 0
    threads: NonNegInt = 1
    encoder: Literal["swin", "vit"] = "swin"
    patch_size: PosInt = 2
    encoder_hidden: PosInt = 128       # the last stage's width (Swin doubles it at each stage)
    encoder_layers: PosInt = 3         # ViT only
    encoder_heads: PosInt = 4          # ViT only
    swin_depths: tuple[PosInt, ...] = (1, 1, 2)
    swin_heads: tuple[PosInt, ...] = (2, 4, 8)
    window_size: PosInt = 4
    decoder_hidden: PosInt = 128
    decoder_layers: PosInt = 2
    decoder_heads: PosInt = 4
    steps: PosInt = 4000
    batch_size: PosInt = 32
    lr: LearningRate = 1e-3
    warmup_steps: NonNegInt = 100
    temperature: PosFloat = 0.8        # sampling temperature saved in the generation config
    top_p: PosFraction = 0.95
    max_new_tokens: PosInt = 20


@section("reference")
class ReferenceParams:
    """The reference classifier (shape, colour, background) of generated-image fidelity (train-reference)."""

    seed: Int = 0
    threads: NonNegInt = 1
    channels: tuple[PosInt, ...] = (32, 64, 128)
    steps: PosInt = 1500
    batch_size: PosInt = 64
    lr: LearningRate = 2e-3
    blur_prob: Probability = 0.5       # augmentation: Gaussian blur (sigma up to blur_sigma)
    blur_sigma: NonNegFloat = 1.2
    noise_prob: Probability = 0.5      # augmentation: additive pixel noise (std up to noise_std / 255)
    noise_std: NonNegFloat = 20.0


@section("foundation_eval")
class FoundationEvalParams:
    """Fidelity of the foundation models, measured by the reference classifier (foundation-eval)."""

    seed: Int = 0
    generator: str = "models/foundation/t2i"       # local folder or hub id
    captioner: str = "models/foundation/captioner"  # local folder or hub id
    images_per_prompt: PosInt = 3      # × 200 prompts (100 colour + 100 background)
    steps: PosInt = 20
    guidance_scale: NonNegFloat = 4.0
    scheduler: str = "dpm"
    batch_size: PosInt = 50
    heldout_images: PosInt = 500
    captions_per_image: PosInt = 3
    device: str = "auto"
    dtype: str = "float32"
    threads: NonNegInt = 1             # torch threads on the CPU; 0 = torch's default
