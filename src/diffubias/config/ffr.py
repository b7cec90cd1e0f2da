"""The From Fake to Real section (with the USB / ASB baselines)."""
from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from diffubias.config.checks import check
from diffubias.config.schema import (Bool, Int, LearningRate, NonNegFloat, NonNegInt, PosFloat, PosInt, count_or,
                                     section)

FFR_RUN_DEFAULTS: tuple[str, ...] = ("ffr-erm", "ffr-groupdro")

Images = Annotated[Int | Literal["match_usb"], BeforeValidator(count_or("match_usb"))]


@section("ffr")
class FFRParams:
    """From Fake to Real (Qraitem et al.) with the USB / ASB synthetic-data baselines (bias-supervised)."""

    runs: tuple[str, ...] = FFR_RUN_DEFAULTS  # runs `dvc repro` trains (see `diffubias ffr-runs`)
    template: str = ""  # prompt template with {class} and {bias}; '' = templates[<the benchmark's bias kind>]
    templates: dict[str, str] = field(default_factory=lambda: {
        "colour": "a photo of a {bias} {class}", "background": "a photo of a {class} on a {bias} background"})
    images: Images = "match_usb"  # synthetic images per cell; match_usb = what USB needs
    images_ratio: PosFloat = 1.0  # multiplies the match_usb count
    max_images: NonNegInt = 2000  # cap on the match_usb count (0 = none)
    generation_seed: Int = 0
    model: str = "models/foundation/t2i"  # local folder or hub id (CompVis/stable-diffusion-v1-4 in the paper)
    steps: PosInt = 20
    guidance_scale: NonNegFloat = 4.0
    scheduler: str = "dpm"
    resolution: NonNegInt = 0
    negative_prompt: str = ""
    batch_size: PosInt = 16
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "auto"
    reference: str = "models/foundation/reference"  # subgroup fidelity ('' = skip)
    # every training phase picks its lr on the validation split
    lr_grid: Annotated[tuple[LearningRate, ...], Field(min_length=1)] = (1e-3, 1e-4)
    stage1_epochs: NonNegInt = 0  # 0 = train.epochs
    select_metric: Literal["unbiased_acc", "worst_group_acc", "balanced_acc"] = "balanced_acc"
    frozen_bn: Bool = False  # FFR stage 2 keeps batch-norm statistics and affine weights of stage 1
    tsne_samples: PosInt = 300  # real and synthetic training images per t-SNE panel

    def validate(self) -> None:
        """Check that every prompt template names both attributes."""
        for name, text in {"template": self.template, **{f"templates.{k}": v for k, v in self.templates.items()}}.items():
            check(not text or ("{class}" in text and "{bias}" in text), f"ffr.{name}",
                  f"must contain {{class}} and {{bias}}, got {text!r}")
