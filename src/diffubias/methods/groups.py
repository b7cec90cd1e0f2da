"""Group bookkeeping shared by the group-dependent methods (GroupDRO, resampling, DFR).

A group is a (class, bias) pair with id ``class * num_bias + bias``. An empty group can never
be reweighted or balanced; depending on the method's ``empty_groups`` option it is either
skipped (and counted) or reported as a :class:`DataError` naming the method, split and group.
"""
from __future__ import annotations

import torch

from diffubias.data import ImageSet
from diffubias.errors import DataError


def group_name(group: int, num_bias: int) -> str:
    """``class/bias`` of a group id (the notation of the per-group metrics)."""
    return f"{group // num_bias}/{group % num_bias}"


def group_counts(groups: torch.Tensor, num_groups: int) -> torch.Tensor:
    """Number of samples in each of ``num_groups`` groups."""
    return torch.bincount(groups.long().cpu(), minlength=num_groups)


def check_groups(data: ImageSet, method: str, split: str, policy: str, min_size: int = 1,
                 groups: torch.Tensor | None = None) -> torch.Tensor:
    """Per-group counts of ``data`` (or of ``groups``); raise if a group is short and ``policy`` is 'error'.

    Always raises when no group at all has ``min_size`` samples: nothing could be balanced.
    """
    groups = data.groups if groups is None else groups
    counts = group_counts(groups, data.num_groups)
    short = (counts < min_size).nonzero().flatten().tolist()
    if short and (policy == "error" or len(short) == data.num_groups):
        names = ", ".join(group_name(g, data.num_bias) for g in short[:10])
        more = f" and {len(short) - 10} more" if len(short) > 10 else ""
        need = "no sample" if min_size == 1 else f"fewer than {min_size} samples"
        fix = ("set " + f"{method}.empty_groups: skip to balance over the groups present, or "
               if policy == "error" else "") + "add samples of those groups"
        raise DataError(
            f"method {method!r}: {len(short)} (class/bias) group(s) of the {split} split have {need}: "
            f"{names}{more}; {fix}"
        )
    return counts
