"""Sections of the DiffuBias pipeline: mine → caption → filter → generate → train-debiased."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator

from diffubias.config.schema import Bool, Int, NonNegFloat, NonNegInt, PosFloat, PosInt, count_or, section

Images = Annotated[Int | Literal["match_aligned"], BeforeValidator(count_or("match_aligned"))]


@section("mine")
class MineParams:
    """Mining X_bc: the biased model's highest-loss training samples (DiffuBias step 2)."""

    k: PosInt = 100  # samples mined in total (per_class: false) or per class (per_class: true)
    per_class: Bool = False  # false: global top-K (the paper's equation); true: per class (public code)


@section("caption")
class CaptionParams:
    """Captioning the mined images with a pretrained captioner (DiffuBias step 3)."""

    model: str = "models/foundation/captioner"  # local folder or hub id
    captions_per_image: PosInt = 3
    batch_size: PosInt = 32
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "auto"  # auto = this process's accelerate device (cuda:<rank> or cpu)


@section("text_filter")
class TextFilterParams:
    """The caption text filter F_T (DiffuBias step 4)."""

    enabled: Bool = True
    f_multiplier: PosFloat = 2.0  # F = round(f_multiplier x number of classes) top words
    stopwords: Literal["auto", "nltk", "shipped"] = "auto"  # auto: NLTK corpus if installed, else shipped


@section("generate")
class GenerateParams:
    """Rendering X_gen from the filtered captions with a text-to-image model (DiffuBias step 5)."""

    model: str = "models/foundation/t2i"  # local folder or hub id
    images: Images = "match_aligned"  # a number, or train size minus |X_bc|
    images_ratio: PosFloat = 1.0  # multiplies the match_aligned count
    steps: PosInt = 20
    guidance_scale: NonNegFloat = 4.0
    scheduler: str = "dpm"
    resolution: NonNegInt = 0  # render size in px (0 = the pipeline's default); saved at data.image_size
    negative_prompt: str = ""
    batch_size: PosInt = 64  # fixed batch composition: part of what makes reruns byte-identical
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "auto"
    attention_slicing: Bool = False
    cpu_offload: Bool = False
    reference: str = "models/foundation/reference"  # reference classifier for fidelity ('' = skip)


@section("debiased")
class DebiasedParams:
    """The debiased classifier f_D on X_bc + X_ba + X_gen (DiffuBias step 6)."""

    method: str = "erm"  # a method that needs no bias labels (generated images have none)
