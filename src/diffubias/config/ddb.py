"""Sections of Diffusing DeBias: diffusion, sampling, Bias Amplifier, Recipes I and II, ablations."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from diffubias.config.checks import check
from diffubias.config.schema import (Bool, Fraction, Int, LearningRate, NonNegFloat, NonNegInt, PosFloat,
                                     PosFraction, PosInt, section)


@section("ddb_diffusion")
class DDBDiffusionParams:
    """Diffusing DeBias step 1: a class-conditional pixel-space UNet trained on the biased set (ddb-train-diffusion)."""

    resolution: NonNegInt = 16         # train/sample size in px (images are downsampled); 0 = data.image_size
    # UNet2DModel block_out_channels (each extra level halves)
    channels: Annotated[tuple[PosInt, ...], Field(min_length=1)] = (32, 64, 64)
    layers_per_block: PosInt = 1
    norm_groups: PosInt = 8            # must divide every entry of channels
    prediction_type: Literal["epsilon", "v_prediction"] = "epsilon"
    train_timesteps: PosInt = 1000
    steps: PosInt = 400                # optimisation steps (a rerun with more steps resumes)
    batch_size: Annotated[Int, Field(ge=2)] = 64
    lr: LearningRate = 2e-3
    warmup_steps: NonNegInt = 50
    ema_decay: Fraction = 0.995        # EMA of the weights that are saved; 0 = off
    label_dropout: Fraction = 0.1      # class label replaced by the null class (classifier-free guidance)
    checkpoint_every: PosInt = 100     # steps between resumable checkpoints
    threads: NonNegInt = 1             # torch threads (1: no OpenMP stalls on a shared CPU); 0 = default
    device: str = "auto"

    def validate(self) -> None:
        """Check that GroupNorm's groups divide every UNet level's channels."""
        check(all(c % self.norm_groups == 0 for c in self.channels), "ddb_diffusion.channels",
              f"every entry must be a multiple of norm_groups={self.norm_groups}, got {list(self.channels)}")


@section("ddb_sample")
class DDBSampleParams:
    """Diffusing DeBias step 2: synthetic, bias-amplified images per class (ddb-sample)."""

    images_per_class: PosInt = 100
    guidance_scale: NonNegFloat = 7.0  # classifier-free guidance; the paper's range is 7-15; 1 = no guidance
    steps: PosInt = 15
    scheduler: Literal["dpm", "ddim"] = "dpm"   # dpm = DPM-Solver++ (2M), deterministic
    batch_size: PosInt = 50            # fixed batch composition: part of what makes reruns byte-identical
    reference: str = "models/foundation/reference"  # measures the alignment rate ('' = skip)
    threads: NonNegInt = 1             # torch threads (1: no OpenMP stalls on a shared CPU); 0 = default


@section("ddb_ba")
class DDBAmplifierParams:
    """Diffusing DeBias step 3: the Bias Amplifier classifier (ddb-train-ba)."""

    source: Literal["synthetic", "real"] = "synthetic"  # real = the paper's ablation: BA on the biased train set
    loss: Literal["gce", "ce"] = "gce"
    q: PosFraction = 0.7               # GCE exponent
    epochs: PosInt = 10                # always the last epoch (no selection on unbiased data)
    arch: str = "cnn"                  # a conv net reads the bias across the synthetic->real gap; "" = train.arch
    resolution: NonNegInt = 0          # px the BA sees (inputs area-resized); 0 = data.image_size


@section("ddb_recipe1")
class DDBRecipe1Params:
    """Diffusing DeBias Recipe I: GroupDRO over the BA's pseudo-groups class × {aligned, conflicting}."""

    eta: PosFloat = 0.01


@section("ddb_recipe2")
class DDBRecipe2Params:
    """Diffusing DeBias Recipe II: LfF-style reweighting with the BA's per-sample losses."""

    ema_alpha: Fraction = 0.7
    weighted_mean: Bool = False        # true: divide by the batch's weight sum instead of its size (not LfF's)
    train_ba: Bool = True              # the paper trains BA and target jointly: the BA keeps learning with GCE
    ba_q: PosFraction = 0.7            # GCE exponent of the BA's updates on the real set (train_ba only)


@section("ddb_ablation")
class DDBAblationParams:
    """Diffusing DeBias ablations: guidance scale, images per class, BA on synthetic vs real (ddb-ablate)."""

    guidance_scales: tuple[NonNegFloat, ...] = (1.0, 3.0, 7.0, 15.0)
    images_per_class: PosInt = 50      # sampled per guidance scale
    images_per_class_grid: tuple[PosInt, ...] = (10, 20, 50, 100)  # prefixes of the ddb-sample folder
    recipes: Bool = False              # also train Recipe I per ablation point (costs a classifier each)
