"""Mining X_bc: rank training samples by the biased model's cross-entropy, keep the top K.

Scoring uses exactly the training pipeline's preprocessing (images loaded and resized at
``data.image_size`` and normalised by ``training.normalize``) without augmentation. Bias
labels are read only by :func:`mining_metrics`, to report precision@K and recall.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from diffubias.data import ImageSet
from diffubias.errors import DataError
from diffubias.io import atomic_path
from diffubias.training import normalize

TABLE_FIELDS = ("rank", "id", "class", "loss", "index")


@torch.no_grad()
def per_sample_loss(model: torch.nn.Module, data: ImageSet, device: torch.device,
                    batch_size: int = 1024, progress: bool = True) -> torch.Tensor:
    """Cross entropy of ``model`` on every sample of ``data`` (eval mode, no augmentation)."""
    model.eval()
    out = []
    starts = range(0, len(data), batch_size)
    for start in tqdm(starts, desc="score", unit="batch", disable=not progress):
        x = normalize(data.images[start:start + batch_size].to(device))
        y = data.labels[start:start + batch_size].to(device)
        out.append(F.cross_entropy(model(x), y, reduction="none").float().cpu())
    return torch.cat(out) if out else torch.empty(0)


def select_top_k(losses: torch.Tensor, labels: torch.Tensor, k: int, per_class: bool,
                 num_classes: int | None = None) -> torch.Tensor:
    """Indices of the top-``k`` losses (globally or per class), highest loss first.

    Ties are broken by the lower index so the selection is deterministic.
    """
    if k < 1:
        raise DataError(f"mine.k must be at least 1, got {k}")
    if losses.numel() == 0:
        raise DataError("nothing to mine: the training set is empty")
    order = _descending(losses)
    if not per_class:
        return order[:k]
    n_cls = num_classes or int(labels.max()) + 1
    picked = [order[labels[order] == c][:k] for c in range(n_cls)]
    chosen = torch.cat(picked)
    return chosen[_descending(losses[chosen])]


def _descending(values: torch.Tensor) -> torch.Tensor:
    """A stable descending argsort (equal values keep index order)."""
    return torch.sort(values, descending=True, stable=True).indices


def mining_metrics(selected: torch.Tensor, conflicting: torch.Tensor, labels: torch.Tensor,
                   num_classes: int) -> dict:
    """Precision@K (share of mined samples truly bias-conflicting) and recall (of all conflicting)."""
    hits = int(conflicting[selected].sum())
    total = int(conflicting.sum())
    per_class = torch.bincount(labels[selected], minlength=num_classes)
    hits_per_class = torch.bincount(labels[selected][conflicting[selected]], minlength=num_classes)
    return {
        "mined": int(selected.numel()),
        "true_conflicting_mined": hits,
        "precision_at_k": round(100.0 * hits / max(int(selected.numel()), 1), 4),
        "recall": round(100.0 * hits / total, 4) if total else None,
        "conflicting_in_train": total,
        "train_size": int(conflicting.numel()),
        "mined_per_class": {str(c): int(per_class[c]) for c in range(num_classes)},
        "precision_per_class": {str(c): (round(100.0 * int(hits_per_class[c]) / int(per_class[c]), 2)
                                         if per_class[c] else None) for c in range(num_classes)},
    }


@dataclass(frozen=True)
class MinedSample:
    """One row of the mined table: rank (0 = highest loss), sample id, class, loss, train index."""

    rank: int
    sample_id: str
    label: int
    loss: float
    index: int


def mined_rows(data: ImageSet, selected: torch.Tensor, losses: torch.Tensor) -> list[MinedSample]:
    """The mined samples in rank order."""
    return [MinedSample(rank, data.paths[i], int(data.labels[i]), float(losses[i]), i)
            for rank, i in enumerate(selected.tolist())]


def write_table(rows: list[MinedSample], path: Path) -> None:
    """Write the mined table as CSV (rank, id, class, loss, index), atomically."""
    with atomic_path(Path(path)) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(TABLE_FIELDS)
        for r in rows:
            w.writerow([r.rank, r.sample_id, r.label, f"{r.loss:.6f}", r.index])


def read_table(path: Path) -> list[MinedSample]:
    """Read a mined table; errors name the file and the stage that writes it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: mined table not found; run `diffubias mine` (dvc repro mine) first")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or set(TABLE_FIELDS) - set(reader.fieldnames):
            raise DataError(f"{path}: not a mined table (expected columns {list(TABLE_FIELDS)})")
        rows = [MinedSample(int(r["rank"]), r["id"], int(r["class"]), float(r["loss"]), int(r["index"]))
                for r in reader]
    if not rows:
        raise DataError(f"{path}: no mined image; raise mine.k or check the biased model")
    return rows
