"""The latent space of the text-to-image model: a diffusers ``AutoencoderKL`` trained on the corpus.

After training, the latents are centred (the shift folded exactly into the 1×1 quant convs, since
the Stable Diffusion pipeline applies only a scaling factor) and scaled to unit variance
(``scaling_factor`` registered in the config, as Stable Diffusion's 0.18215).
"""
from __future__ import annotations

import time

import torch
from diffusers import AutoencoderKL
from diffusers.optimization import get_cosine_schedule_with_warmup
from tqdm import tqdm

from diffubias.config import T2IParams


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[B, 3, H, W]`` -> float in [-1, 1] (the diffusers image convention)."""
    return images.float().div(127.5).sub(1.0)


def build_vae(p: T2IParams, image_size: int) -> AutoencoderKL:
    """An ``AutoencoderKL`` halving the resolution ``len(vae_channels) - 1`` times."""
    n = len(p.vae_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(p.vae_channels),
        layers_per_block=p.vae_layers_per_block, latent_channels=p.latent_channels,
        norm_num_groups=p.vae_norm_groups, sample_size=image_size,
    )


def train_vae(vae: AutoencoderKL, images: torch.Tensor, p: T2IParams, progress: bool = True) -> dict[str, float]:
    """Train on uint8 images ``[N, 3, H, W]`` with MSE + L1 + ``vae_kl_weight`` × KL (diffusers' cosine schedule)."""
    gen = torch.Generator().manual_seed(p.seed)
    torch.manual_seed(p.seed)
    opt = torch.optim.AdamW(vae.parameters(), lr=p.vae_lr, weight_decay=0.0)
    sched = get_cosine_schedule_with_warmup(opt, min(50, p.vae_steps // 10), p.vae_steps)
    vae.train()
    t0, loss_ema = time.perf_counter(), None
    bar = tqdm(range(p.vae_steps), desc="train vae", disable=not progress, mininterval=5)
    for _ in bar:
        idx = torch.randint(0, images.shape[0], (p.vae_batch_size,), generator=gen)
        x = to_unit(images[idx])
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen)
        recon = vae.decode(z).sample
        rec = torch.nn.functional.mse_loss(recon, x) + 0.5 * (recon - x).abs().mean()
        loss = rec + p.vae_kl_weight * posterior.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_ema = rec.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * rec.item()
        bar.set_postfix(rec=f"{loss_ema:.4f}", refresh=False)
    vae.eval()
    return {"vae_train_s": time.perf_counter() - t0, "vae_final_rec_loss": float(loss_ema or 0.0)}


@torch.no_grad()
def encode_moments(vae: AutoencoderKL, images: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and std of every image (unscaled latents)."""
    means, stds = [], []
    for start in range(0, images.shape[0], batch_size):
        dist = vae.encode(to_unit(images[start:start + batch_size])).latent_dist
        means.append(dist.mean)
        stds.append(dist.std)
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def calibrate(vae: AutoencoderKL, mean: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Centre the latents inside the model, register ``scaling_factor``; returns (shift, factor)."""
    shift = mean.mean(dim=(0, 2, 3))
    c = shift.numel()
    vae.quant_conv.bias[:c] -= shift
    w = vae.post_quant_conv.weight[:, :, 0, 0]
    vae.post_quant_conv.bias += w @ shift
    centred = mean - shift[None, :, None, None]
    factor = float(1.0 / centred.std())
    vae.register_to_config(scaling_factor=factor)
    return shift, factor
