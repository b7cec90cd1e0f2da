"""How many synthetic images each (class, bias) subgroup gets under USB, ASB and FFR.

USB adds images only to under-represented subgroups until all are equal (water-filling: with a
budget below what full balance needs, the emptiest subgroups are raised to a common level first).
ASB and FFR use a balanced set with the same total, ``round(total / groups)`` per subgroup.
"""
from __future__ import annotations

import torch

from diffubias.errors import ConfigError, DataError


def usb_need(counts: torch.Tensor) -> int:
    """Synthetic images that make every subgroup as large as the largest: ``sum(max - n_g)``."""
    return int((counts.max() - counts).sum())


def budget(images: int | str, ratio: float, counts: torch.Tensor, max_images: int = 0) -> int:
    """``ffr.images``: a number, or ``match_usb`` × ``images_ratio`` (the paper's shared amount), capped at
    ``ffr.max_images`` when that is > 0 (full USB balance of a 1 % set is ~9 synthetic images per real one)."""
    if images == "match_usb":
        n = round(usb_need(counts) * ratio)
        if n < 1:
            raise DataError("ffr.images: match_usb gives 0 images (the real train set is already balanced); "
                            "set ffr.images to a number")
        return min(n, max_images) if max_images > 0 else n
    if not isinstance(images, int) or images < 1:
        raise ConfigError(f"ffr.images: must be >= 1 or match_usb, got {images!r}")
    return images


def usb_deficits(counts: torch.Tensor, total: int) -> torch.Tensor:
    """Synthetic images per subgroup: raise the smallest subgroups to a common level using ``total`` images.

    With ``total == usb_need(counts)`` every subgroup ends at ``max(counts)``; a smaller total stops
    at the highest level it can fill, the remainder going one each to the lowest group ids at that level.
    """
    counts = counts.long()
    if total < 0:
        raise ConfigError(f"USB budget must be >= 0, got {total}")
    total = min(total, usb_need(counts))
    lo, hi = int(counts.min()), int(counts.max())
    while lo < hi:  # the highest level whose fill costs at most `total`
        mid = (lo + hi + 1) // 2
        if int((mid - counts).clamp_min(0).sum()) <= total:
            lo = mid
        else:
            hi = mid - 1
    add = (lo - counts).clamp_min(0)
    rest = total - int(add.sum())
    at_level = ((counts + add) == lo).nonzero().flatten()[:rest]
    add[at_level] += 1
    return add


def balanced_per_group(total: int, num_groups: int) -> int:
    """ASB / FFR: the same count in every subgroup, ``round(total / groups)`` (at least 1)."""
    return max(1, round(total / num_groups))


def biased_counts(counts: torch.Tensor, per_group: int) -> torch.Tensor:
    """The biased stage-1 ablation: the real subgroup proportions scaled so the largest gets ``per_group``."""
    counts = counts.long()
    return (counts * per_group) // max(int(counts.max()), 1)


def pool_per_group(per_ratio_counts: list[torch.Tensor], images: int | str, ratio: float, max_images: int = 0) -> int:
    """Images per subgroup the synthetic pool needs so every configured ratio finds its USB and ASB sets in it."""
    need = 1
    for counts in per_ratio_counts:
        total = budget(images, ratio, counts, max_images)
        need = max(need, balanced_per_group(total, len(counts)), int(usb_deficits(counts, total).max()))
    return need
