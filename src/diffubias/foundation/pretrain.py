"""Pretraining of the embedded foundation models on the corpus: each function trains one model,
saves it in its standard format and returns its metrics (parameter counts, wall times, losses)."""
from __future__ import annotations

from pathlib import Path

import torch

from diffubias.config import CaptionerParams, ReferenceParams, T2IParams
from diffubias.foundation.autoencoder import build_vae, calibrate, encode_moments, train_vae
from diffubias.foundation.captioner import (build_captioner, caption_labels, image_processor, save_captioner,
                                            train_captioner)
from diffubias.foundation.captions import VOCABULARY
from diffubias.foundation.corpus import Corpus
from diffubias.foundation.reference import attribute_accuracy, save_reference, train_reference
from diffubias.foundation.t2i import (assemble_pipeline, build_text_encoder, build_unet, save_pipeline, tokenize,
                                      train_diffusion)
from diffubias.foundation.tokenizer import build_tokenizer
from diffubias.models import count_parameters


def _threads(n: int) -> None:
    if n > 0:
        torch.set_num_threads(n)


def images_tensor(corpus: Corpus) -> torch.Tensor:
    """The corpus images as uint8 ``[N, 3, H, W]``."""
    return torch.from_numpy(corpus.images).permute(0, 3, 1, 2).contiguous()


def pretrain_t2i(corpus: Corpus, p: T2IParams, out_dir: Path, progress: bool = True) -> dict:
    """Train autoencoder, then text encoder + UNet on its latents; save a StableDiffusionPipeline."""
    _threads(p.threads)
    images = images_tensor(corpus)
    tokenizer = build_tokenizer(VOCABULARY, p.max_length)
    vae = build_vae(p, images.shape[-1])
    vae_stats = train_vae(vae, images, p, progress)
    mean, std = encode_moments(vae, images)
    shift, factor = calibrate(vae, mean)
    mean = mean - shift[None, :, None, None]
    k = len(corpus.captions[0])
    ids = tokenize(tokenizer, [c for caps in corpus.captions for c in caps]).reshape(len(corpus), k, -1)
    empty = tokenize(tokenizer, [""])[0]
    text_encoder = build_text_encoder(p, tokenizer)
    unet = build_unet(p, mean.shape[-1], p.text_hidden)
    stats = train_diffusion(unet, text_encoder, ids, empty, mean, std, factor, p, progress)
    save_pipeline(assemble_pipeline(vae, text_encoder, tokenizer, unet, p), out_dir)
    return {
        "parameters": {"vae": count_parameters(vae), "text_encoder": count_parameters(text_encoder),
                       "unet": count_parameters(unet)},
        "latent_shape": list(mean.shape[1:]), "latent_scaling_factor": factor,
        "vae_train_s": round(vae_stats["vae_train_s"], 1), "vae_final_rec_loss": vae_stats["vae_final_rec_loss"],
        "diffusion_train_s": round(stats.train_s, 1), "diffusion_final_loss": stats.final_loss,
        "diffusion_steps": stats.steps, "train_images": len(corpus),
    }


def pretrain_captioner(corpus: Corpus, p: CaptionerParams, out_dir: Path, progress: bool = True) -> dict:
    """Train the ViT + GPT-2 captioner on every caption of the corpus; save it in transformers format."""
    _threads(p.threads)
    images = images_tensor(corpus)
    tokenizer = build_tokenizer(VOCABULARY, p.max_new_tokens + 2)
    k = len(corpus.captions[0])
    labels = caption_labels(tokenizer, [c for caps in corpus.captions for c in caps], p.max_new_tokens)
    model = build_captioner(p, tokenizer, images.shape[-1], p.max_new_tokens)
    stats = train_captioner(model, images, labels.reshape(len(corpus), k, -1), p, progress)
    save_captioner(model, tokenizer, image_processor(images.shape[-1]), out_dir)
    return {"parameters": count_parameters(model), "train_s": round(stats["train_s"], 1),
            "final_loss": stats["final_loss"], "steps": p.steps, "train_images": len(corpus)}


def pretrain_reference(corpus: Corpus, heldout: Corpus, p: ReferenceParams, out_dir: Path,
                       progress: bool = True) -> dict:
    """Train the three-headed reference classifier; report its held-out accuracy per attribute."""
    _threads(p.threads)
    images = images_tensor(corpus)
    model, stats = train_reference(images, torch.from_numpy(corpus.scenes), p, images.shape[-1], progress)
    save_reference(model, out_dir)
    acc = attribute_accuracy(model, images_tensor(heldout), torch.from_numpy(heldout.scenes))
    return {"parameters": count_parameters(model), "train_s": round(stats["train_s"], 1),
            "final_loss": stats["final_loss"], "heldout_accuracy": acc}
