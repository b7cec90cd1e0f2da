"""Sections of the DiffuBias pipeline: mine → caption → filter → generate → train-debiased."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from diffubias.errors import ConfigError

@dataclass(frozen=True)
class MineParams:
    """Mining X_bc: the biased model's highest-loss training samples (DiffuBias step 2)."""

    k: int = 100  # samples mined in total (per_class: false) or per class (per_class: true)
    per_class: bool = False  # false: global top-K (the paper's equation); true: per class (public code)

    def validate(self) -> None:
        if self.k < 1:
            raise ConfigError(f"mine.k: must be at least 1, got {self.k}")


@dataclass(frozen=True)
class CaptionParams:
    """Captioning the mined images with a pretrained captioner (DiffuBias step 3)."""

    model: str = "models/foundation/captioner"  # local folder or hub id
    captions_per_image: int = 3
    batch_size: int = 32
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "auto"  # auto = this process's accelerate device (cuda:<rank> or cpu)

    def validate(self) -> None:
        if self.captions_per_image < 1 or self.batch_size < 1:
            raise ConfigError("caption.captions_per_image and caption.batch_size must be at least 1")


@dataclass(frozen=True)
class TextFilterParams:
    """The caption text filter F_T (DiffuBias step 4)."""

    enabled: bool = True
    f_multiplier: float = 2.0  # F = round(f_multiplier x number of classes) top words
    stopwords: Literal["auto", "nltk", "shipped"] = "auto"  # auto: NLTK corpus if installed, else shipped

    def validate(self) -> None:
        if self.f_multiplier <= 0:
            raise ConfigError(f"text_filter.f_multiplier: must be > 0, got {self.f_multiplier}")


@dataclass(frozen=True)
class GenerateParams:
    """Rendering X_gen from the filtered captions with a text-to-image model (DiffuBias step 5)."""

    model: str = "models/foundation/t2i"  # local folder or hub id
    images: int | Literal["match_aligned"] = "match_aligned"  # a number, or train size minus |X_bc|
    images_ratio: float = 1.0  # multiplies the match_aligned count
    steps: int = 20
    guidance_scale: float = 4.0
    scheduler: str = "dpm"
    resolution: int = 0  # render size in px (0 = the pipeline's default); saved at data.image_size
    negative_prompt: str = ""
    batch_size: int = 64  # fixed batch composition: part of what makes reruns byte-identical
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "auto"
    attention_slicing: bool = False
    cpu_offload: bool = False
    reference: str = "models/foundation/reference"  # reference classifier for fidelity ('' = skip)

    def validate(self) -> None:
        if isinstance(self.images, int) and self.images < 1:
            raise ConfigError(f"generate.images: must be >= 1 or match_aligned, got {self.images}")
        if self.images_ratio <= 0 or self.steps < 1 or self.batch_size < 1:
            raise ConfigError("generate.images_ratio must be > 0; generate.steps and generate.batch_size >= 1")


@dataclass(frozen=True)
class DebiasedParams:
    """The debiased classifier f_D on X_bc + X_ba + X_gen (DiffuBias step 6)."""

    method: str = "erm"  # a method that needs no bias labels (generated images have none)
