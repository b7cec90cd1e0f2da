"""Sections of the embedded foundation models (METHODS.md §8): corpus, text-to-image, captioner, reference, evaluation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

@dataclass(frozen=True)
class CorpusParams:
    """The captioned, unbiased world corpus the foundation models are trained on (make-corpus)."""

    seed: int = 0
    image_size: int = 32
    per_combination: int = 16          # train images per shape × colour × background combination
    heldout_per_combination: int = 1  # held-out images per combination (evaluation only)
    captions_per_image: int = 3
    caption_noise: float = 0.05        # probability of a noisy caption (dropped/filler/wrong word)
    noise_std: float = 6.0
    workers: int = 2


@dataclass(frozen=True)
class T2IParams:
    """The embedded text-to-image latent diffusion model (train-t2i)."""

    seed: int = 0
    threads: int = 1                   # torch threads (1 avoids OpenMP stalls on a shared CPU); 0 = default
    # autoencoder
    vae_channels: tuple[int, ...] = (16, 32, 64)  # len-1 halvings: 32 px -> 8 × 8 latents
    latent_channels: int = 4
    vae_layers_per_block: int = 1
    vae_norm_groups: int = 8
    vae_steps: int = 200
    vae_batch_size: int = 32
    vae_lr: float = 1e-3
    vae_kl_weight: float = 1e-6
    # text encoder (CLIPTextModel) and tokenizer
    text_hidden: int = 128
    text_layers: int = 2
    text_heads: int = 4
    max_length: int = 20
    # denoiser (UNet2DConditionModel)
    unet_channels: tuple[int, ...] = (48, 96)
    unet_layers_per_block: int = 1
    unet_attention_heads: int = 4
    unet_norm_groups: int = 16
    prediction_type: Literal["epsilon", "v_prediction"] = "v_prediction"
    snr_gamma: float = 5.0             # min-SNR loss weighting; 0 = off
    steps: int = 800
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 100
    ema_decay: float = 0.999           # 0 = no EMA
    cfg_dropout: float = 0.1           # fraction of captions replaced by "" (classifier-free guidance)


@dataclass(frozen=True)
class CaptionerParams:
    """The embedded image captioner: Swin (or ViT) encoder + GPT-2 decoder (train-captioner)."""

    seed: int = 0
    threads: int = 1
    encoder: Literal["swin", "vit"] = "swin"
    patch_size: int = 2
    encoder_hidden: int = 128          # the last stage's width (Swin doubles it at each stage)
    encoder_layers: int = 3            # ViT only
    encoder_heads: int = 4             # ViT only
    swin_depths: tuple[int, ...] = (1, 1, 2)
    swin_heads: tuple[int, ...] = (2, 4, 8)
    window_size: int = 4
    decoder_hidden: int = 128
    decoder_layers: int = 2
    decoder_heads: int = 4
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 100
    temperature: float = 0.8           # sampling temperature saved in the generation config
    top_p: float = 0.95
    max_new_tokens: int = 20


@dataclass(frozen=True)
class ReferenceParams:
    """The reference classifier (shape, colour, background) of generated-image fidelity (train-reference)."""

    seed: int = 0
    threads: int = 1
    channels: tuple[int, ...] = (32, 64, 128)
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    blur_prob: float = 0.5             # augmentation: Gaussian blur (sigma up to blur_sigma)
    blur_sigma: float = 1.2
    noise_prob: float = 0.5            # augmentation: additive pixel noise (std up to noise_std / 255)
    noise_std: float = 20.0


@dataclass(frozen=True)
class FoundationEvalParams:
    """Fidelity of the foundation models, measured by the reference classifier (foundation-eval)."""

    seed: int = 0
    generator: str = "models/foundation/t2i"       # local folder or hub id
    captioner: str = "models/foundation/captioner"  # local folder or hub id
    images_per_prompt: int = 3         # × 200 prompts (100 colour + 100 background)
    steps: int = 20
    guidance_scale: float = 4.0
    scheduler: str = "dpm"
    batch_size: int = 50
    heldout_images: int = 500
    captions_per_image: int = 3
    device: str = "auto"
    dtype: str = "float32"
    threads: int = 1                   # torch threads on the CPU; 0 = torch's default
