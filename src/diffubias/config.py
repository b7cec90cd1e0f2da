"""Typed, frozen, strict views of ``params.yaml``: one dataclass per section.

``params.yaml`` is the project's single source of configuration. Each section maps onto a
frozen dataclass; unknown keys and wrongly typed values are rejected at load time with the
key's dotted name, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from diffubias.errors import ConfigError

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class GridParams:
    """Which cells of the benchmark × ratio × seed matrix ``dvc repro`` builds."""

    benchmarks: tuple[str, ...] = ("colour",)
    ratios: tuple[str, ...] = ("1",)
    seeds: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class WorldParams:
    """The embedded, procedurally rendered biased world (METHODS.md §8)."""

    benchmarks: tuple[str, ...] = ("colour",)  # which embedded benchmarks make-data renders
    seed: int = 0
    image_size: int = 32
    train_size: int = 10000
    valid_per_group: int = 10
    test_per_group: int = 30
    ratios: tuple[str, ...] = ("0.5", "1", "2", "5")
    noise_std: float = 6.0
    workers: int = 2


@dataclass(frozen=True)
class DataParams:
    """Where each benchmark's files live; embedded names resolve under ``root``."""

    root: str = "data"
    image_size: int = 32
    # Class / bias counts for a dataset without vocab.json: name -> [num_classes, num_bias].
    groups: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainParams:
    """Classifier training shared by every method (architecture, optimiser, schedule)."""

    arch: str = "mlp"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_decay_step: int = 10
    lr_decay_gamma: float = 0.5
    augment: tuple[str, ...] = ("crop",)
    select: Literal["valid", "last"] = "valid"
    select_metric: Literal["unbiased_acc", "worst_group_acc", "balanced_acc"] = "unbiased_acc"
    eval_batch_size: int = 1024
    threads: int = 0  # 0 = let torch decide
    device: str = "auto"


@dataclass(frozen=True)
class BiasedParams:
    """The GCE-trained biased classifier f_B (DiffuBias step 1)."""

    q: float = 0.7


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


@dataclass(frozen=True)
class LfFParams:
    """Learning from Failure (Nam et al. 2020): a GCE-biased and a debiased network trained together."""

    q: float = 0.7
    ema_alpha: float = 0.7

    def validate(self) -> None:
        _check(0.0 < self.q <= 1.0, "lff.q", f"must be in (0, 1], got {self.q}")
        _check(0.0 <= self.ema_alpha < 1.0, "lff.ema_alpha", f"must be in [0, 1), got {self.ema_alpha}")


@dataclass(frozen=True)
class GroupDROParams:
    """Online GroupDRO (Sagawa et al. 2020): exponentiated-gradient weights over (class, bias) groups."""

    eta: float = 0.01
    empty_groups: Literal["skip", "error"] = "skip"

    def validate(self) -> None:
        _check(self.eta > 0.0, "groupdro.eta", f"must be > 0, got {self.eta}")


@dataclass(frozen=True)
class ResampleParams:
    """Group-balanced resampling: every (class, bias) group is drawn equally often."""

    empty_groups: Literal["skip", "error"] = "skip"


@dataclass(frozen=True)
class DFRParams:
    """Deep Feature Reweighting (Kirichenko et al. 2023): L1 last-layer retraining on held-out data."""

    c_grid: tuple[float, ...] = (1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01)
    select_metric: Literal["balanced_acc", "worst_group_acc", "unbiased_acc"] = "balanced_acc"
    refit: bool = True
    solver: Literal["liblinear", "saga"] = "liblinear"
    max_iter: int = 1000
    empty_groups: Literal["skip", "error"] = "error"

    def validate(self) -> None:
        _check(len(self.c_grid) > 0 and all(c > 0 for c in self.c_grid), "dfr.c_grid",
               f"must be a non-empty list of positive numbers, got {list(self.c_grid)}")
        _check(self.max_iter >= 1, "dfr.max_iter", f"must be >= 1, got {self.max_iter}")


@dataclass(frozen=True)
class JTTParams:
    """Just Train Twice (Liu et al. 2021): ERM for T epochs, then upweight its error set by λ."""

    identification_epochs: int = 1
    upweight: int = 20

    def validate(self) -> None:
        _check(self.identification_epochs >= 1, "jtt.identification_epochs",
               f"must be >= 1, got {self.identification_epochs}")
        _check(self.upweight >= 1, "jtt.upweight", f"must be an integer >= 1, got {self.upweight}")


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


@dataclass(frozen=True)
class TrackingParams:
    """MLflow and CodeCarbon settings."""

    experiment: str = "diffubias"
    country_iso_code: str = "USA"
    reference_intensity_g_per_kwh: float = 475.0
    codecarbon: bool = True


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


@dataclass(frozen=True)
class DDBDiffusionParams:
    """Diffusing DeBias step 1: a class-conditional pixel-space UNet trained on the biased set (ddb-train-diffusion)."""

    resolution: int = 16               # train/sample size in px (images are downsampled); 0 = data.image_size
    channels: tuple[int, ...] = (32, 64, 64)  # UNet2DModel block_out_channels (each extra level halves)
    layers_per_block: int = 1
    norm_groups: int = 8               # must divide every entry of channels
    prediction_type: Literal["epsilon", "v_prediction"] = "epsilon"
    train_timesteps: int = 1000
    steps: int = 400                   # optimisation steps (a rerun with more steps resumes)
    batch_size: int = 64
    lr: float = 2e-3
    warmup_steps: int = 50
    ema_decay: float = 0.995           # EMA of the weights that are saved; 0 = off
    label_dropout: float = 0.1         # class label replaced by the null class (classifier-free guidance)
    checkpoint_every: int = 100        # steps between resumable checkpoints
    threads: int = 1                   # torch threads (1: no OpenMP stalls on a shared CPU); 0 = default
    device: str = "auto"

    def validate(self) -> None:
        _check(self.resolution >= 0, "ddb_diffusion.resolution", f"must be >= 0, got {self.resolution}")
        _check(len(self.channels) >= 1 and all(c % self.norm_groups == 0 for c in self.channels),
               "ddb_diffusion.channels", f"every entry must be a multiple of norm_groups={self.norm_groups}")
        _check(self.steps >= 1 and self.batch_size >= 2 and self.checkpoint_every >= 1, "ddb_diffusion.steps",
               "steps and checkpoint_every must be >= 1 and batch_size >= 2")
        _check(0.0 <= self.label_dropout < 1.0, "ddb_diffusion.label_dropout",
               f"must be in [0, 1), got {self.label_dropout}")
        _check(0.0 <= self.ema_decay < 1.0, "ddb_diffusion.ema_decay", f"must be in [0, 1), got {self.ema_decay}")


@dataclass(frozen=True)
class DDBSampleParams:
    """Diffusing DeBias step 2: synthetic, bias-amplified images per class (ddb-sample)."""

    images_per_class: int = 100
    guidance_scale: float = 7.0        # classifier-free guidance; the paper's range is 7-15; 1 = no guidance
    steps: int = 15
    scheduler: Literal["dpm", "ddim"] = "dpm"   # dpm = DPM-Solver++ (2M), deterministic
    batch_size: int = 50               # fixed batch composition: part of what makes reruns byte-identical
    reference: str = "models/foundation/reference"  # measures the alignment rate ('' = skip)
    threads: int = 1                   # torch threads (1: no OpenMP stalls on a shared CPU); 0 = default

    def validate(self) -> None:
        _check(self.images_per_class >= 1 and self.steps >= 1 and self.batch_size >= 1, "ddb_sample",
               "images_per_class, steps and batch_size must be >= 1")
        _check(self.guidance_scale >= 0.0, "ddb_sample.guidance_scale", f"must be >= 0, got {self.guidance_scale}")


@dataclass(frozen=True)
class DDBAmplifierParams:
    """Diffusing DeBias step 3: the Bias Amplifier classifier (ddb-train-ba)."""

    source: Literal["synthetic", "real"] = "synthetic"  # real = the paper's ablation: BA on the biased train set
    loss: Literal["gce", "ce"] = "gce"
    q: float = 0.7                     # GCE exponent
    epochs: int = 10                   # always the last epoch (no selection on unbiased data)
    arch: str = "cnn"                  # a conv net reads the bias across the synthetic->real gap; "" = train.arch
    resolution: int = 16               # px the BA sees (inputs area-resized); 0 = data.image_size

    def validate(self) -> None:
        _check(0.0 < self.q <= 1.0, "ddb_ba.q", f"must be in (0, 1], got {self.q}")
        _check(self.epochs >= 1, "ddb_ba.epochs", f"must be >= 1, got {self.epochs}")
        _check(self.resolution >= 0, "ddb_ba.resolution", f"must be >= 0 (0 = data.image_size), got {self.resolution}")


@dataclass(frozen=True)
class DDBRecipe1Params:
    """Diffusing DeBias Recipe I: GroupDRO over the BA's pseudo-groups class × {aligned, conflicting}."""

    eta: float = 0.01

    def validate(self) -> None:
        _check(self.eta > 0.0, "ddb_recipe1.eta", f"must be > 0, got {self.eta}")


@dataclass(frozen=True)
class DDBRecipe2Params:
    """Diffusing DeBias Recipe II: LfF-style reweighting with the BA's per-sample losses."""

    ema_alpha: float = 0.7
    weighted_mean: bool = False        # true: divide by the batch's weight sum instead of its size (not LfF's)
    train_ba: bool = True              # the paper trains BA and target jointly: the BA keeps learning with GCE
    ba_q: float = 0.7                  # GCE exponent of the BA's updates on the real set (train_ba only)

    def validate(self) -> None:
        _check(0.0 <= self.ema_alpha < 1.0, "ddb_recipe2.ema_alpha", f"must be in [0, 1), got {self.ema_alpha}")
        _check(0.0 < self.ba_q <= 1.0, "ddb_recipe2.ba_q", f"must be in (0, 1], got {self.ba_q}")


@dataclass(frozen=True)
class DDBAblationParams:
    """Diffusing DeBias ablations: guidance scale, images per class, BA on synthetic vs real (ddb-ablate)."""

    guidance_scales: tuple[float, ...] = (1.0, 3.0, 7.0, 15.0)
    images_per_class: int = 50         # sampled per guidance scale
    images_per_class_grid: tuple[int, ...] = (10, 20, 50, 100)  # prefixes of the ddb-sample folder
    recipes: bool = False              # also train Recipe I per ablation point (costs a classifier each)

    def validate(self) -> None:
        _check(self.images_per_class >= 1, "ddb_ablation.images_per_class", "must be >= 1")
        _check(all(n >= 1 for n in self.images_per_class_grid), "ddb_ablation.images_per_class_grid",
               "every entry must be >= 1")


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
        _check(isinstance(self.images, str) or self.images >= 1, "ffr.images",
               f"must be >= 1 or match_usb, got {self.images}")
        _check(self.images_ratio > 0, "ffr.images_ratio", f"must be > 0, got {self.images_ratio}")
        _check(self.max_images >= 0, "ffr.max_images", f"must be >= 0 (0 = no cap), got {self.max_images}")
        _check(self.steps >= 1 and self.batch_size >= 1, "ffr.steps", "ffr.steps and ffr.batch_size must be >= 1")
        _check(len(self.lr_grid) > 0 and all(lr > 0 for lr in self.lr_grid), "ffr.lr_grid",
               f"must be a non-empty list of positive learning rates, got {list(self.lr_grid)}")
        _check(self.stage1_epochs >= 0, "ffr.stage1_epochs", f"must be >= 0, got {self.stage1_epochs}")
        for name, text in {"template": self.template, **{f"templates.{k}": v for k, v in self.templates.items()}}.items():
            _check(not text or ("{class}" in text and "{bias}" in text), f"ffr.{name}",
                   f"must contain {{class}} and {{bias}}, got {text!r}")


@dataclass(frozen=True)
class Params:
    """All sections of params.yaml."""

    grid: GridParams = field(default_factory=GridParams)
    world: WorldParams = field(default_factory=WorldParams)
    data: DataParams = field(default_factory=DataParams)
    train: TrainParams = field(default_factory=TrainParams)
    biased: BiasedParams = field(default_factory=BiasedParams)
    mine: MineParams = field(default_factory=MineParams)
    caption: CaptionParams = field(default_factory=CaptionParams)
    text_filter: TextFilterParams = field(default_factory=TextFilterParams)
    generate: GenerateParams = field(default_factory=GenerateParams)
    debiased: DebiasedParams = field(default_factory=DebiasedParams)
    lff: LfFParams = field(default_factory=LfFParams)
    groupdro: GroupDROParams = field(default_factory=GroupDROParams)
    resample: ResampleParams = field(default_factory=ResampleParams)
    dfr: DFRParams = field(default_factory=DFRParams)
    jtt: JTTParams = field(default_factory=JTTParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    corpus: CorpusParams = field(default_factory=CorpusParams)
    t2i: T2IParams = field(default_factory=T2IParams)
    captioner: CaptionerParams = field(default_factory=CaptionerParams)
    reference: ReferenceParams = field(default_factory=ReferenceParams)
    foundation_eval: FoundationEvalParams = field(default_factory=FoundationEvalParams)
    ffr: FFRParams = field(default_factory=FFRParams)
    ddb_diffusion: DDBDiffusionParams = field(default_factory=DDBDiffusionParams)
    ddb_sample: DDBSampleParams = field(default_factory=DDBSampleParams)
    ddb_ba: DDBAmplifierParams = field(default_factory=DDBAmplifierParams)
    ddb_recipe1: DDBRecipe1Params = field(default_factory=DDBRecipe1Params)
    ddb_recipe2: DDBRecipe2Params = field(default_factory=DDBRecipe2Params)
    ddb_ablation: DDBAblationParams = field(default_factory=DDBAblationParams)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it in canonical form."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in args:
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: {value!r} matches none of {[_name(a) for a in args]}")
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{key}: expected null, got {value!r}")
        return None
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        item_tp = args[0] if args else Any
        return tuple(_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        ktp, vtp = args if args else (Any, Any)
        return {_coerce(k, ktp, key): _coerce(v, vtp, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build_section(tp, value, key)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is str:
        # YAML reads `ratios: [1, 0.5]` as numbers; ratios and ids are strings here.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _number_to_str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__} {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported annotation {tp!r}")  # pragma: no cover


def _number_to_str(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def build_section(cls: type, raw: Any, key: str) -> Any:
    """Build the dataclass ``cls`` from the mapping ``raw`` (strict: unknown keys fail)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a mapping of options, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    where = key or "params.yaml"
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(_join(key, u) for u in unknown)}; "
            f"valid keys are {sorted(known)}"
        )
    values = {name: _coerce(raw[name], hints[name], _join(key, name)) for name in raw}
    try:
        obj = cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def parse_params(raw: dict[str, Any], source: str = PARAMS_FILE) -> Params:
    """Build :class:`Params` from an already-parsed YAML mapping."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    try:
        return build_section(Params, raw, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read and validate ``params.yaml`` (or another file with the same sections)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: not found; run from the repository root or pass --params")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse_params(raw, str(path))


def as_flat_dict(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a params dataclass into ``{"section.key": value}`` for logging."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out.update(as_flat_dict(value, key + "."))
        else:
            out[key] = value
    return out
