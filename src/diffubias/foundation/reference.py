"""The reference classifier: a small CNN with three heads (shape, colour, background) trained on
the unbiased corpus with blur / noise / shift augmentation, so that it also reads the blurrier
images a small generator makes. It is the yardstick of generated-image fidelity.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from diffusers.optimization import get_cosine_schedule_with_warmup
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from diffubias.config import ReferenceParams
from diffubias.errors import DataError
from diffubias.foundation.autoencoder import to_unit
from diffubias.io import atomic_path, write_json_atomic
from diffubias.world import BACKGROUNDS, COLOURS, SHAPES

ATTRIBUTES: dict[str, tuple[str, ...]] = {"shape": SHAPES, "colour": COLOURS, "background": BACKGROUNDS}


class ReferenceClassifier(nn.Module):
    """Conv body + one linear head per attribute; ``predict_attributes`` takes uint8 images."""

    def __init__(self, channels: tuple[int, ...], image_size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in = c
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.heads = nn.ModuleDict({name: nn.Linear(c_in, len(values)) for name, values in ATTRIBUTES.items()})
        self.channels = tuple(channels)
        self.image_size = image_size

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.body(x)
        return {name: head(features) for name, head in self.heads.items()}

    @torch.no_grad()
    def predict_attributes(self, images: torch.Tensor, batch_size: int = 512) -> dict[str, torch.Tensor]:
        """Predicted index of shape, colour and background for uint8 images ``[B, 3, H, W]``."""
        self.eval()
        out: dict[str, list[torch.Tensor]] = {name: [] for name in ATTRIBUTES}
        device = next(self.parameters()).device
        for start in range(0, images.shape[0], batch_size):
            x = to_unit(images[start:start + batch_size].to(device))
            if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
                x = nn.functional.interpolate(x, size=(self.image_size,) * 2, mode="bilinear", antialias=True)
            for name, logits in self(x).items():
                out[name].append(logits.argmax(1).cpu())
        return {name: torch.cat(v) for name, v in out.items()}


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-sample Gaussian blur (5×5 separable kernel) with standard deviations ``sigma``."""
    r = torch.arange(-2, 3, dtype=x.dtype)
    k = torch.exp(-(r[None] ** 2) / (2 * sigma[:, None].clamp_min(1e-3) ** 2))
    k = k / k.sum(1, keepdim=True)
    b, c, h, w = x.shape
    flat = x.reshape(1, b * c, h, w)
    kc = k.repeat_interleave(c, 0)
    flat = nn.functional.conv2d(nn.functional.pad(flat, (2, 2, 0, 0), mode="reflect"), kc[:, None, None, :], groups=b * c)
    flat = nn.functional.conv2d(nn.functional.pad(flat, (0, 0, 2, 2), mode="reflect"), kc[:, None, :, None], groups=b * c)
    return flat.reshape(b, c, h, w)


def augment(x: torch.Tensor, p: ReferenceParams, gen: torch.Generator) -> torch.Tensor:
    """Random shift (±2 px), blur and pixel noise on a float batch in [-1, 1]."""
    b = x.shape[0]
    padded = nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    dy, dx = torch.randint(0, 5, (2,), generator=gen).tolist()
    x = padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]
    sigma = torch.rand(b, generator=gen) * p.blur_sigma * (torch.rand(b, generator=gen) < p.blur_prob)
    x = torch.where((sigma > 0.05)[:, None, None, None], _blur(x, sigma), x)
    std = torch.rand(b, generator=gen) * (p.noise_std / 127.5) * (torch.rand(b, generator=gen) < p.noise_prob)
    return x + std[:, None, None, None] * torch.randn(x.shape, generator=gen)


def train_reference(images: torch.Tensor, scenes: torch.Tensor, p: ReferenceParams, image_size: int,
                    progress: bool = True) -> tuple[ReferenceClassifier, dict[str, float]]:
    """Train on uint8 images ``[N,3,H,W]`` with scene labels ``[N,3]`` (shape, colour, background); cosine schedule."""
    torch.manual_seed(p.seed)
    gen = torch.Generator().manual_seed(p.seed)
    model = ReferenceClassifier(p.channels, image_size)
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=5e-4)
    sched = get_cosine_schedule_with_warmup(opt, min(100, p.steps // 10), p.steps)
    model.train()
    t0, loss_ema = time.perf_counter(), None
    bar = tqdm(range(p.steps), desc="train reference", disable=not progress, mininterval=5)
    for _ in bar:
        idx = torch.randint(0, images.shape[0], (p.batch_size,), generator=gen)
        logits = model(augment(to_unit(images[idx]), p, gen))
        loss = sum(nn.functional.cross_entropy(logits[n], scenes[idx, i]) for i, n in enumerate(ATTRIBUTES))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        bar.set_postfix(loss=f"{loss_ema:.3f}", refresh=False)
    model.eval()
    return model, {"train_s": time.perf_counter() - t0, "final_loss": float(loss_ema or 0.0)}


def attribute_accuracy(model: ReferenceClassifier, images: torch.Tensor, scenes: torch.Tensor) -> dict[str, float]:
    """Fraction of images whose shape / colour / background the classifier gets right."""
    pred = model.predict_attributes(images)
    return {name: float((pred[name] == scenes[:, i]).float().mean()) for i, name in enumerate(ATTRIBUTES)}


def save_reference(model: ReferenceClassifier, out_dir: Path) -> None:
    """``model.safetensors`` + ``config.json`` into ``out_dir`` (each written atomically)."""
    out_dir = Path(out_dir)
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    write_json_atomic(out_dir / "config.json", {"channels": list(model.channels), "image_size": model.image_size,
                                                "attributes": {k: list(v) for k, v in ATTRIBUTES.items()}})


def load_reference(path: str | Path, device: str | torch.device = "cpu") -> ReferenceClassifier:
    """The reference classifier saved in ``path`` (safetensors), in eval mode."""
    path = Path(path)
    if not (path / "model.safetensors").is_file():
        raise DataError(f"{path}: no reference classifier (model.safetensors); run `diffubias train-reference`")
    config = json.loads((path / "config.json").read_text())
    model = ReferenceClassifier(tuple(config["channels"]), int(config["image_size"]))
    model.load_state_dict(load_file(str(path / "model.safetensors")))
    return model.to(device).eval()
