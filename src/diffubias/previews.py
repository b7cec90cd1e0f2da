"""PNG previews of packed sets, where people look at images (reports/figures/)."""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import make_grid

from diffubias.data import ImageSet
from diffubias.io import atomic_path


def preview_groups(data: ImageSet, out: Path, title: str = "", scale: int = 3) -> Path:
    """One image per (class, bias) group: a row per class, a column per bias value (blank if absent)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = data.images.shape[-2:]
    tiles = torch.zeros((data.num_classes * data.num_bias, 3, h, w), dtype=torch.uint8)
    for g in range(data.num_groups):
        idx = (data.groups == g).nonzero().flatten()
        if len(idx):
            tiles[g] = data.images[idx[0]]
    grid = make_grid(tiles, nrow=data.num_bias, padding=1, pad_value=255).permute(1, 2, 0).numpy()
    fig, ax = plt.subplots(figsize=(max(4, grid.shape[1] * scale / 100), max(4, grid.shape[0] * scale / 100) + 0.4))
    ax.imshow(grid, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("bias value")
    ax.set_ylabel("class")
    ax.set_xticks([])
    ax.set_yticks([])
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return out
