"""Sections of Diffusing DeBias: diffusion, sampling, Bias Amplifier, Recipes I and II, ablations."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from diffubias.config.checks import check

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
        check(self.resolution >= 0, "ddb_diffusion.resolution", f"must be >= 0, got {self.resolution}")
        check(len(self.channels) >= 1 and all(c % self.norm_groups == 0 for c in self.channels),
              "ddb_diffusion.channels", f"every entry must be a multiple of norm_groups={self.norm_groups}")
        check(self.steps >= 1 and self.batch_size >= 2 and self.checkpoint_every >= 1, "ddb_diffusion.steps",
              "steps and checkpoint_every must be >= 1 and batch_size >= 2")
        check(0.0 <= self.label_dropout < 1.0, "ddb_diffusion.label_dropout",
              f"must be in [0, 1), got {self.label_dropout}")
        check(0.0 <= self.ema_decay < 1.0, "ddb_diffusion.ema_decay", f"must be in [0, 1), got {self.ema_decay}")


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
        check(self.images_per_class >= 1 and self.steps >= 1 and self.batch_size >= 1, "ddb_sample",
              "images_per_class, steps and batch_size must be >= 1")
        check(self.guidance_scale >= 0.0, "ddb_sample.guidance_scale", f"must be >= 0, got {self.guidance_scale}")


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
        check(0.0 < self.q <= 1.0, "ddb_ba.q", f"must be in (0, 1], got {self.q}")
        check(self.epochs >= 1, "ddb_ba.epochs", f"must be >= 1, got {self.epochs}")
        check(self.resolution >= 0, "ddb_ba.resolution", f"must be >= 0 (0 = data.image_size), got {self.resolution}")


@dataclass(frozen=True)
class DDBRecipe1Params:
    """Diffusing DeBias Recipe I: GroupDRO over the BA's pseudo-groups class × {aligned, conflicting}."""

    eta: float = 0.01

    def validate(self) -> None:
        check(self.eta > 0.0, "ddb_recipe1.eta", f"must be > 0, got {self.eta}")


@dataclass(frozen=True)
class DDBRecipe2Params:
    """Diffusing DeBias Recipe II: LfF-style reweighting with the BA's per-sample losses."""

    ema_alpha: float = 0.7
    weighted_mean: bool = False        # true: divide by the batch's weight sum instead of its size (not LfF's)
    train_ba: bool = True              # the paper trains BA and target jointly: the BA keeps learning with GCE
    ba_q: float = 0.7                  # GCE exponent of the BA's updates on the real set (train_ba only)

    def validate(self) -> None:
        check(0.0 <= self.ema_alpha < 1.0, "ddb_recipe2.ema_alpha", f"must be in [0, 1), got {self.ema_alpha}")
        check(0.0 < self.ba_q <= 1.0, "ddb_recipe2.ba_q", f"must be in (0, 1], got {self.ba_q}")


@dataclass(frozen=True)
class DDBAblationParams:
    """Diffusing DeBias ablations: guidance scale, images per class, BA on synthetic vs real (ddb-ablate)."""

    guidance_scales: tuple[float, ...] = (1.0, 3.0, 7.0, 15.0)
    images_per_class: int = 50         # sampled per guidance scale
    images_per_class_grid: tuple[int, ...] = (10, 20, 50, 100)  # prefixes of the ddb-sample folder
    recipes: bool = False              # also train Recipe I per ablation point (costs a classifier each)

    def validate(self) -> None:
        check(self.images_per_class >= 1, "ddb_ablation.images_per_class", "must be >= 1")
        check(all(n >= 1 for n in self.images_per_class_grid), "ddb_ablation.images_per_class_grid",
              "every entry must be >= 1")
