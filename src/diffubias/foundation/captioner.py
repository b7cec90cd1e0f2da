"""The embedded image captioner: a transformers ``VisionEncoderDecoderModel`` (a small Swin or ViT
encoder and a small GPT-2 decoder with cross-attention, both from configs) trained on the corpus captions,
saved in transformers format with its image processor, tokenizer and a sampling generation config.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch
from diffusers.optimization import get_cosine_schedule_with_warmup
from tqdm import tqdm
from transformers import (GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, SwinConfig,
                          SwinModel, ViTConfig, ViTImageProcessor, ViTModel, VisionEncoderDecoderModel)

from diffubias.config import CaptionerParams
from diffubias.errors import ConfigError
from diffubias.foundation.autoencoder import to_unit
from diffubias.io import atomic_path


def _vit(p: CaptionerParams, image_size: int) -> ViTModel:
    return ViTModel(ViTConfig(
        image_size=image_size, patch_size=p.patch_size, num_channels=3, hidden_size=p.encoder_hidden,
        num_hidden_layers=p.encoder_layers, num_attention_heads=p.encoder_heads,
        intermediate_size=4 * p.encoder_hidden, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    ))


def _swin(p: CaptionerParams, image_size: int) -> SwinModel:
    n = len(p.swin_depths)
    return SwinModel(SwinConfig(
        image_size=image_size, patch_size=p.patch_size, num_channels=3, embed_dim=p.encoder_hidden // 2 ** (n - 1),
        depths=list(p.swin_depths), num_heads=list(p.swin_heads), window_size=p.window_size,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, drop_path_rate=0.0,
    ))


# Vision encoders by name (captioner.encoder): a plain ViT, or Swin (local windows + patch merging: the
# locality that lets a small model learn shapes from a few thousand steps, as Donut's Swin encoder).
ENCODERS: dict[str, Callable[[CaptionerParams, int], torch.nn.Module]] = {"vit": _vit, "swin": _swin}


def build_captioner(p: CaptionerParams, tokenizer: PreTrainedTokenizerFast, image_size: int,
                    max_caption_tokens: int) -> VisionEncoderDecoderModel:
    """Vision encoder (``p.encoder``) + GPT-2 decoder (cross-attention), special tokens from ``tokenizer``."""
    if p.encoder not in ENCODERS:
        raise ConfigError(f"captioner.encoder: {p.encoder!r} is not one of {sorted(ENCODERS)}")
    encoder = ENCODERS[p.encoder](p, image_size)
    decoder = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_positions=max_caption_tokens + 2, n_embd=p.decoder_hidden,
        n_layer=p.decoder_layers, n_head=p.decoder_heads, add_cross_attention=True, is_decoder=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    ))
    model = VisionEncoderDecoderModel(encoder=encoder, decoder=decoder)
    model.config.decoder_start_token_id = tokenizer.bos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.eos_token_id = tokenizer.eos_token_id
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.bos_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=True,
        temperature=p.temperature, top_p=p.top_p, top_k=0, max_new_tokens=p.max_new_tokens,
    )
    return model


def image_processor(image_size: int) -> ViTImageProcessor:
    """Resize to the training size and map to [-1, 1] (what :func:`to_unit` does in training)."""
    return ViTImageProcessor(do_resize=True, size={"height": image_size, "width": image_size},
                             do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
                             image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])


def caption_labels(tokenizer: PreTrainedTokenizerFast, captions: list[str], max_tokens: int) -> torch.Tensor:
    """Decoder labels ``words [EOS]``, padded with -100 to ``max_tokens + 1``."""
    rows = tokenizer(captions, add_special_tokens=False).input_ids
    out = torch.full((len(rows), max_tokens + 1), -100, dtype=torch.long)
    for i, ids in enumerate(rows):
        ids = ids[:max_tokens] + [tokenizer.eos_token_id]
        out[i, :len(ids)] = torch.tensor(ids)
    return out


def train_captioner(model: VisionEncoderDecoderModel, images: torch.Tensor, labels: torch.Tensor,
                    p: CaptionerParams, progress: bool = True) -> dict[str, float]:
    """Teacher-forced cross entropy on (uint8 image ``[N,3,H,W]``, a caption ``[N,k,T]``), cosine schedule."""
    gen = torch.Generator().manual_seed(p.seed)
    torch.manual_seed(p.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=1e-2)
    sched = get_cosine_schedule_with_warmup(opt, p.warmup_steps, p.steps)
    model.train()
    n, k = labels.shape[:2]
    t0, loss_ema = time.perf_counter(), None
    bar = tqdm(range(p.steps), desc="train captioner", disable=not progress, mininterval=5)
    for _ in bar:
        idx = torch.randint(0, n, (p.batch_size,), generator=gen)
        lab = labels[idx, torch.randint(0, k, (p.batch_size,), generator=gen)]
        lab = lab[:, : int((lab != -100).sum(1).max())]
        loss = model(pixel_values=to_unit(images[idx]), labels=lab).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        bar.set_postfix(loss=f"{loss_ema:.3f}", refresh=False)
    model.eval()
    return {"train_s": time.perf_counter() - t0, "final_loss": float(loss_ema or 0.0)}


def save_captioner(model: VisionEncoderDecoderModel, tokenizer: PreTrainedTokenizerFast,
                   processor: ViTImageProcessor, out_dir: Path) -> None:
    """Model (safetensors), image processor and tokenizer into ``out_dir`` atomically."""
    with atomic_path(Path(out_dir)) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
