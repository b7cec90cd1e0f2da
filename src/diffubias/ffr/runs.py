"""Every trainable FFR / USB / ASB variant, by name: a list of training phases on named data sets.

Data sets: ``real`` (the biased train split), ``usb`` (real + synthetic fill-ins of the
under-represented subgroups), ``asb`` (real + a balanced synthetic set), ``balanced`` (the balanced
synthetic set alone: FFR stage 1) and ``biased`` (synthetic, in the real set's subgroup proportions).
USB and ASB sets carry (class, bias, real-or-synthetic) groups; the others (class, bias).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from diffubias.data import ImageSet
from diffubias.errors import ConfigError
from diffubias.ffr.counts import balanced_per_group, biased_counts, budget, usb_deficits
from diffubias.ffr.synthetic import balanced, take_per_group, with_source_axis
from diffubias.registry import Registry

STAGE2_METHODS = ("erm", "groupdro", "resample", "dfr")
DATASETS = ("real", "usb", "asb", "balanced", "biased")


@dataclass(frozen=True)
class Phase:
    """Train ``method`` on data set ``data``, starting from the previous phase's weights (if any)."""

    data: str
    method: str


@dataclass(frozen=True)
class FFRRun:
    """A named variant: optional FFR stage-1 weights, then its phases; ``table`` is where the report puts it."""

    phases: tuple[Phase, ...]
    pretrained: bool = False  # start from the ffr-pretrain checkpoint (ERM on the balanced synthetic set)
    table: str = "grid"  # grid | ablation | pretraining
    help: str = ""


FFR_RUNS: Registry = Registry("FFR run", "ffr.runs")
_VARIANT_HELP = {"none": "the real set only", "usb": "real + synthetic fill-ins of under-represented subgroups",
                 "asb": "real + a balanced synthetic set", "ffr": "FFR: stage 1 weights, fine-tuned on the real set"}
for _m in STAGE2_METHODS:
    FFR_RUNS.register(f"none-{_m}")(FFRRun((Phase("real", _m),), help=f"{_m} on {_VARIANT_HELP['none']}"))
    FFR_RUNS.register(f"usb-{_m}")(FFRRun((Phase("usb", _m),), help=f"{_m} on {_VARIANT_HELP['usb']}"))
    FFR_RUNS.register(f"asb-{_m}")(FFRRun((Phase("asb", _m),), help=f"{_m} on {_VARIANT_HELP['asb']}"))
    FFR_RUNS.register(f"ffr-{_m}")(FFRRun((Phase("real", _m),), pretrained=True,
                                          help=f"{_VARIANT_HELP['ffr']} with {_m}"))
FFR_RUNS.register("ffr-stage1")(FFRRun((), pretrained=True, table="ablation",
                                       help="stage 1 only: ERM on the balanced synthetic set"))
FFR_RUNS.register("ffr-reverse")(FFRRun((Phase("real", "erm"), Phase("balanced", "erm")), table="ablation",
                                        help="stage 2 -> stage 1: ERM on real, then fine-tuned on synthetic"))
FFR_RUNS.register("ffr-biased")(FFRRun((Phase("biased", "erm"), Phase("real", "erm")), table="pretraining",
                                       help="FFR with a biased stage 1 (synthetic set in the real proportions)"))


def get_run(name: str) -> FFRRun:
    """The run called ``name`` (an unknown name lists the valid ones)."""
    return FFR_RUNS.get(name)


def check_runs(names: tuple[str, ...]) -> tuple[str, ...]:
    """``ffr.runs``: every name must be registered."""
    unknown = [n for n in names if n not in FFR_RUNS]
    if unknown:
        raise ConfigError(f"ffr.runs: unknown run(s) {unknown}; valid runs are {sorted(FFR_RUNS)}")
    return names


@dataclass
class SyntheticPlan:
    """The synthetic amounts of one cell: the shared total, USB fill-ins, balanced count per subgroup."""

    total: int
    usb: torch.Tensor
    per_group: int
    real_counts: torch.Tensor

    def summary(self) -> dict:
        """Amounts for the metrics files (``usb_balanced``: every subgroup ends equal)."""
        after = self.real_counts + self.usb
        return {"synthetic_images": self.total, "usb_images": int(self.usb.sum()),
                "usb_balanced": bool(after.min() == after.max()), "usb_min_group": int(after.min()),
                "usb_max_group": int(after.max()), "balanced_per_group": self.per_group,
                "balanced_images": self.per_group * len(self.usb)}


def plan_cell(real: ImageSet, images: int | str, ratio: float, max_images: int = 0) -> SyntheticPlan:
    """The synthetic amounts for ``real``: ``ffr.images`` (default: what USB needs) shared by USB, ASB and FFR."""
    counts = torch.bincount(real.groups, minlength=real.num_groups)
    total = budget(images, ratio, counts, max_images)
    return SyntheticPlan(total, usb_deficits(counts, total), balanced_per_group(total, real.num_groups), counts)


def training_set(kind: str, real: ImageSet, pool: ImageSet | None, plan: SyntheticPlan) -> ImageSet:
    """The data set ``kind`` of one cell (see the module docstring)."""
    if kind == "real":
        return real
    if pool is None:
        raise ConfigError(f"data set {kind!r} needs the synthetic pool; run `diffubias ffr-generate` first")
    if kind == "usb":
        return with_source_axis(real, take_per_group(pool, plan.usb))
    if kind == "asb":
        return with_source_axis(real, balanced(pool, plan.per_group))
    if kind == "balanced":
        return balanced(pool, plan.per_group)
    if kind == "biased":
        counts = torch.bincount(real.groups, minlength=real.num_groups)
        return take_per_group(pool, biased_counts(counts, plan.per_group))
    raise ConfigError(f"unknown FFR data set {kind!r}; valid: {list(DATASETS)}")
