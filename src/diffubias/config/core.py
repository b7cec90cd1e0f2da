"""Sections shared by every run: the grid, the embedded world, data, classifier training, baselines, tracking."""
from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

from pydantic import Field

from diffubias.config.schema import (Bool, Fraction, Int, LearningRate, Name, NonNegFloat, NonNegInt, PosFloat,
                                     PosFraction, PosInt, section)


@section("grid")
class GridParams:
    """Which cells of the benchmark × ratio × seed matrix ``dvc repro`` builds."""

    benchmarks: tuple[Name, ...] = ("colour",)
    ratios: tuple[Name, ...] = ("1",)
    seeds: tuple[Int, ...] = (0,)


@section("world")
class WorldParams:
    """The embedded, procedurally rendered biased world (METHODS.md §8)."""

    benchmarks: tuple[Name, ...] = ("colour",)  # which embedded benchmarks make-data renders
    seed: Int = 0
    image_size: PosInt = 32
    train_size: PosInt = 10000
    valid_per_group: PosInt = 10
    test_per_group: PosInt = 30
    ratios: tuple[Name, ...] = ("0.5", "1", "2", "5")
    noise_std: NonNegFloat = 6.0
    workers: NonNegInt = 2


@section("data")
class DataParams:
    """Where each benchmark's files live; embedded names resolve under ``root``."""

    root: str = "data"
    image_size: PosInt = 32
    # Class / bias counts for a dataset without vocab.json: name -> [num_classes, num_bias].
    groups: dict[Name, tuple[PosInt, ...]] = field(default_factory=dict)
    imports: tuple[Name, ...] = ()     # your datasets: image trees under raw_root that import-data packs
    raw_root: str = "data/raw"
    import_size: NonNegInt = 0         # px the packed images are stored at; 0 = image_size


@section("train")
class TrainParams:
    """Classifier training shared by every method (architecture, optimiser, schedule)."""

    arch: str = "mlp"
    epochs: PosInt = 20
    batch_size: PosInt = 128
    lr: LearningRate = 1e-3
    weight_decay: NonNegFloat = 0.0
    lr_decay_step: PosInt = 10
    lr_decay_gamma: PosFraction = 0.5
    augment: tuple[Literal["crop", "flip"], ...] = ("crop",)
    select: Literal["valid", "last"] = "valid"
    select_metric: Literal["unbiased_acc", "worst_group_acc", "balanced_acc"] = "unbiased_acc"
    eval_batch_size: PosInt = 1024
    threads: NonNegInt = 1  # 0 = let torch decide
    device: str = "auto"


@section("biased")
class BiasedParams:
    """The GCE-trained biased classifier f_B (DiffuBias step 1)."""

    q: PosFraction = 0.7


@section("lff")
class LfFParams:
    """Learning from Failure (Nam et al. 2020): a GCE-biased and a debiased network trained together."""

    q: PosFraction = 0.7
    ema_alpha: Fraction = 0.7


@section("groupdro")
class GroupDROParams:
    """Online GroupDRO (Sagawa et al. 2020): exponentiated-gradient weights over (class, bias) groups."""

    eta: PosFloat = 0.01
    empty_groups: Literal["skip", "error"] = "skip"


@section("resample")
class ResampleParams:
    """Group-balanced resampling: every (class, bias) group is drawn equally often."""

    empty_groups: Literal["skip", "error"] = "skip"


@section("dfr")
class DFRParams:
    """Deep Feature Reweighting (Kirichenko et al. 2023): L1 last-layer retraining on held-out data."""

    c_grid: Annotated[tuple[PosFloat, ...], Field(min_length=1)] = (1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01)
    select_metric: Literal["balanced_acc", "worst_group_acc", "unbiased_acc"] = "balanced_acc"
    refit: Bool = True
    solver: Literal["liblinear", "saga"] = "liblinear"
    max_iter: PosInt = 1000
    empty_groups: Literal["skip", "error"] = "error"


@section("jtt")
class JTTParams:
    """Just Train Twice (Liu et al. 2021): ERM for T epochs, then upweight its error set by λ."""

    identification_epochs: PosInt = 1
    upweight: PosInt = 20


@section("tracking")
class TrackingParams:
    """MLflow and CodeCarbon settings."""

    experiment: Name = "diffubias"
    country_iso_code: str = "USA"
    reference_intensity_g_per_kwh: PosFloat = 475.0
    codecarbon: Bool = True
