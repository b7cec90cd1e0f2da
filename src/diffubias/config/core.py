"""Sections shared by every run: the grid, the embedded world, data, classifier training, baselines, tracking."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from diffubias.config.checks import check

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


@dataclass(frozen=True)
class LfFParams:
    """Learning from Failure (Nam et al. 2020): a GCE-biased and a debiased network trained together."""

    q: float = 0.7
    ema_alpha: float = 0.7

    def validate(self) -> None:
        check(0.0 < self.q <= 1.0, "lff.q", f"must be in (0, 1], got {self.q}")
        check(0.0 <= self.ema_alpha < 1.0, "lff.ema_alpha", f"must be in [0, 1), got {self.ema_alpha}")


@dataclass(frozen=True)
class GroupDROParams:
    """Online GroupDRO (Sagawa et al. 2020): exponentiated-gradient weights over (class, bias) groups."""

    eta: float = 0.01
    empty_groups: Literal["skip", "error"] = "skip"

    def validate(self) -> None:
        check(self.eta > 0.0, "groupdro.eta", f"must be > 0, got {self.eta}")


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
        check(len(self.c_grid) > 0 and all(c > 0 for c in self.c_grid), "dfr.c_grid",
              f"must be a non-empty list of positive numbers, got {list(self.c_grid)}")
        check(self.max_iter >= 1, "dfr.max_iter", f"must be >= 1, got {self.max_iter}")


@dataclass(frozen=True)
class JTTParams:
    """Just Train Twice (Liu et al. 2021): ERM for T epochs, then upweight its error set by λ."""

    identification_epochs: int = 1
    upweight: int = 20

    def validate(self) -> None:
        check(self.identification_epochs >= 1, "jtt.identification_epochs",
              f"must be >= 1, got {self.identification_epochs}")
        check(self.upweight >= 1, "jtt.upweight", f"must be an integer >= 1, got {self.upweight}")



@dataclass(frozen=True)
class TrackingParams:
    """MLflow and CodeCarbon settings."""

    experiment: str = "diffubias"
    country_iso_code: str = "USA"
    reference_intensity_g_per_kwh: float = 475.0
    codecarbon: bool = True
