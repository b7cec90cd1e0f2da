"""The embedded text-to-image model: a small Stable-Diffusion-architecture latent diffusion pipeline.

``CLIPTextModel`` + word-level tokenizer, ``UNet2DConditionModel`` and a DDPM noise schedule,
trained on the corpus latents with classifier-free-guidance dropout (the dropped caption is
tokenised as ``""``, exactly as the pipeline encodes its unconditional prompt), v-prediction or
epsilon, min-SNR weighting (diffusers' ``compute_snr``), EMA weights (diffusers' ``EMAModel``) and
diffusers' warm-up + cosine learning-rate schedule (linear from 0, then cosine down to 0); assembled as
a standard ``StableDiffusionPipeline`` and saved with ``save_pretrained`` (safetensors).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDPMScheduler, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.training_utils import EMAModel, compute_snr
from tqdm import tqdm
from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast

from diffubias.config import T2IParams
from diffubias.io import atomic_path

BETA_SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")


def build_text_encoder(p: T2IParams, tokenizer: PreTrainedTokenizerFast) -> CLIPTextModel:
    """A small ``CLIPTextModel`` over the tokenizer's vocabulary."""
    config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=p.text_hidden, intermediate_size=4 * p.text_hidden,
        num_hidden_layers=p.text_layers, num_attention_heads=p.text_heads, max_position_embeddings=p.max_length,
        projection_dim=p.text_hidden, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return CLIPTextModel(config)


def build_unet(p: T2IParams, latent_size: int, cross_attention_dim: int) -> UNet2DConditionModel:
    """A ``UNet2DConditionModel`` with cross-attention in every block."""
    n = len(p.unet_channels)
    return UNet2DConditionModel(
        sample_size=latent_size, in_channels=p.latent_channels, out_channels=p.latent_channels,
        down_block_types=("CrossAttnDownBlock2D",) * n, up_block_types=("CrossAttnUpBlock2D",) * n,
        block_out_channels=tuple(p.unet_channels), layers_per_block=p.unet_layers_per_block,
        cross_attention_dim=cross_attention_dim, attention_head_dim=p.unet_attention_heads,
        norm_num_groups=p.unet_norm_groups,
    )


def noise_scheduler(p: T2IParams) -> DDPMScheduler:
    """The training noise schedule (Stable Diffusion's betas)."""
    return DDPMScheduler(**BETA_SCHEDULE, prediction_type=p.prediction_type, clip_sample=False, steps_offset=1)


def tokenize(tokenizer: PreTrainedTokenizerFast, texts: list[str]) -> torch.Tensor:
    """Token ids exactly as ``StableDiffusionPipeline.encode_prompt`` makes them."""
    return tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                     return_tensors="pt").input_ids


@dataclass
class DiffusionStats:
    """What diffusion training reports."""

    train_s: float
    final_loss: float
    steps: int


def train_diffusion(unet: UNet2DConditionModel, text_encoder: CLIPTextModel, caption_ids: torch.Tensor,
                    empty_ids: torch.Tensor, latent_mean: torch.Tensor, latent_std: torch.Tensor,
                    scaling_factor: float, p: T2IParams, progress: bool = True) -> DiffusionStats:
    """Train UNet and text encoder jointly; ``caption_ids`` is ``[N, captions, L]``; EMA weights at the end."""
    gen = torch.Generator().manual_seed(p.seed + 1)
    torch.manual_seed(p.seed + 1)
    sched = noise_scheduler(p)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=p.lr, weight_decay=1e-2)
    lr_sched = get_cosine_schedule_with_warmup(opt, p.warmup_steps, p.steps)
    ema = EMAModel(params, decay=p.ema_decay, foreach=True) if p.ema_decay > 0 else None
    unet.train()
    text_encoder.train()
    n, k = caption_ids.shape[:2]
    t0, loss_ema = time.perf_counter(), None
    bar = tqdm(range(p.steps), desc="train t2i", disable=not progress, mininterval=5)
    for _ in bar:
        idx = torch.randint(0, n, (p.batch_size,), generator=gen)
        ids = caption_ids[idx, torch.randint(0, k, (p.batch_size,), generator=gen)]
        drop = torch.rand(p.batch_size, generator=gen) < p.cfg_dropout
        ids = torch.where(drop[:, None], empty_ids[None], ids)
        latents = (latent_mean[idx] + latent_std[idx] * torch.randn(latent_mean[idx].shape, generator=gen)) * scaling_factor
        noise = torch.randn(latents.shape, generator=gen)
        t = torch.randint(0, sched.config.num_train_timesteps, (p.batch_size,), generator=gen)
        noisy = sched.add_noise(latents, noise, t)
        target = noise if p.prediction_type == "epsilon" else sched.get_velocity(latents, noise, t)
        states = text_encoder(ids)[0]
        pred = unet(noisy, t, encoder_hidden_states=states).sample
        per_sample = ((pred - target) ** 2).mean(dim=(1, 2, 3))
        if p.snr_gamma > 0:
            snr = compute_snr(sched, t)
            clipped = torch.clamp(snr, max=p.snr_gamma)
            weight = clipped / snr if p.prediction_type == "epsilon" else clipped / (snr + 1)
            per_sample = per_sample * weight
        loss = per_sample.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        lr_sched.step()
        if ema is not None:
            ema.step(params)
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        bar.set_postfix(loss=f"{loss_ema:.4f}", refresh=False)
    if ema is not None:
        ema.copy_to(params)
    unet.eval()
    text_encoder.eval()
    return DiffusionStats(time.perf_counter() - t0, float(loss_ema or 0.0), p.steps)


def assemble_pipeline(vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: PreTrainedTokenizerFast,
                      unet: UNet2DConditionModel, p: T2IParams) -> StableDiffusionPipeline:
    """A standard ``StableDiffusionPipeline`` (no safety checker) with SD's default PNDM scheduler."""
    scheduler = PNDMScheduler(**BETA_SCHEDULE, prediction_type=p.prediction_type, skip_prk_steps=True,
                              steps_offset=1, set_alpha_to_one=False)
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def save_pipeline(pipe: StableDiffusionPipeline, out_dir: Path) -> None:
    """``save_pretrained`` (safetensors) into ``out_dir`` atomically (temp folder, then rename)."""
    with atomic_path(Path(out_dir)) as tmp:
        pipe.save_pretrained(tmp, safe_serialization=True)

