"""The From Fake to Real section (with the USB / ASB baselines)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from diffubias.config.checks import check

FFR_RUN_DEFAULTS: tuple[str, ...] = ("ffr-erm", "ffr-groupdro")


@dataclass(frozen=True)
class FFRParams:
    """From Fake to Real (Qraitem et al.) with the USB / ASB synthetic-data baselines (bias-supervised)."""

    runs: tuple[str, ...] = FFR_RUN_DEFAULTS  # runs `dvc repro` trains (see `diffubias ffr-runs`)
    template: str = ""  # prompt template with {class} and {bias}; '' = templates[<the benchmark's bias kind>]
    templates: dict[str, str] = field(default_factory=lambda: {
        "colour": "a photo of a {bias} {class}", "background": "a photo of a {class} on a {bias} background"})
    images: int | Literal["match_usb"] = "match_usb"  # synthetic images per cell; match_usb = what USB needs
    images_ratio: float = 1.0  # multiplies the match_usb count
    max_images: int = 0        # cap on the match_usb count (0 = none)
    generation_seed: int = 0
    model: str = "models/foundation/t2i"  # local folder or hub id (CompVis/stable-diffusion-v1-4 in the paper)
    steps: int = 20
    guidance_scale: float = 4.0
    scheduler: str = "dpm"
    resolution: int = 0
    negative_prompt: str = ""
    batch_size: int = 16
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "auto"
    reference: str = "models/foundation/reference"  # subgroup fidelity ('' = skip)
    lr_grid: tuple[float, ...] = (1e-3, 1e-4)  # every training phase picks its lr on the validation split
    stage1_epochs: int = 0  # 0 = train.epochs
    select_metric: Literal["unbiased_acc", "worst_group_acc", "balanced_acc"] = "balanced_acc"
    frozen_bn: bool = False  # FFR stage 2 keeps batch-norm statistics and affine weights of stage 1
    tsne_samples: int = 300  # real and synthetic training images per t-SNE panel

    def validate(self) -> None:
        check(isinstance(self.images, str) or self.images >= 1, "ffr.images",
              f"must be >= 1 or match_usb, got {self.images}")
        check(self.images_ratio > 0, "ffr.images_ratio", f"must be > 0, got {self.images_ratio}")
        check(self.max_images >= 0, "ffr.max_images", f"must be >= 0 (0 = no cap), got {self.max_images}")
        check(self.steps >= 1 and self.batch_size >= 1, "ffr.steps", "ffr.steps and ffr.batch_size must be >= 1")
        check(len(self.lr_grid) > 0 and all(lr > 0 for lr in self.lr_grid), "ffr.lr_grid",
              f"must be a non-empty list of positive learning rates, got {list(self.lr_grid)}")
        check(self.stage1_epochs >= 0, "ffr.stage1_epochs", f"must be >= 0, got {self.stage1_epochs}")
        for name, text in {"template": self.template, **{f"templates.{k}": v for k, v in self.templates.items()}}.items():
            check(not text or ("{class}" in text and "{bias}" in text), f"ffr.{name}",
                   f"must contain {{class}} and {{bias}}, got {text!r}")
