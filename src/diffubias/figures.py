"""Image grids of the reports and previews: torchvision's ``make_grid``, written as a PNG atomically."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from diffubias.io import atomic_path

if TYPE_CHECKING:
    from diffubias.data import ImageSet


def image_rows_grid(rows: Sequence[Sequence[torch.Tensor | None]], per_row: int, padding: int = 2,
                    fill: int = 255) -> np.ndarray | None:
    """uint8 ``[H, W, 3]`` grid, one row per entry of ``rows`` (``None`` or a short row leaves ``fill``)."""
    from torchvision.utils import make_grid

    first = next((im for row in rows for im in row if im is not None), None)
    if first is None:
        return None
    blank = torch.full_like(first, fill)
    cells = [row[j] if j < len(row) and row[j] is not None else blank for row in rows for j in range(per_row)]
    grid = make_grid(torch.stack(cells), nrow=per_row, padding=padding, pad_value=fill)
    return grid.permute(1, 2, 0).contiguous().numpy()


def save_image_rows(rows: Sequence[Sequence[torch.Tensor | None]], path: Path, per_row: int, padding: int = 2,
                    fill: int = 255, scale: int = 2) -> None:
    """A PNG with one row per entry of ``rows`` (uint8 ``[3, H, W]``; ``None`` or a short row leaves ``fill``)."""
    from PIL import Image

    grid = image_rows_grid(rows, per_row, padding, fill)
    if grid is None:
        return
    img = Image.fromarray(grid)
    img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)  # pixel art stays crisp
    with atomic_path(Path(path)) as tmp:
        img.save(tmp, format="PNG", optimize=True)


def preview_groups(data: "ImageSet", out: Path, title: str = "", scale: int = 3) -> Path:
    """One image per (class, bias) group: a row per class, a column per bias value (blank if absent)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for c in range(data.num_classes):
        firsts = [(data.groups == c * data.num_bias + b).nonzero().flatten() for b in range(data.num_bias)]
        rows.append([data.images[idx[0]] if len(idx) else None for idx in firsts])
    grid = image_rows_grid(rows, data.num_bias, padding=1, fill=255)
    fig, ax = plt.subplots(figsize=(max(4, grid.shape[1] * scale / 100), max(4, grid.shape[0] * scale / 100) + 0.4))
    ax.imshow(grid, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("bias value")
    ax.set_ylabel("class")
    ax.set_xticks([])
    ax.set_yticks([])
    with atomic_path(Path(out)) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return Path(out)
