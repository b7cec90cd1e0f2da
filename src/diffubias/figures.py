"""Image grids of the reports and previews: torchvision's ``make_grid``, written as a PNG atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from diffubias.io import atomic_path


def save_image_rows(rows: Sequence[Sequence[torch.Tensor | None]], path: Path, per_row: int, padding: int = 2,
                    fill: int = 255, scale: int = 2) -> None:
    """A PNG with one row per entry of ``rows`` (uint8 ``[3, H, W]``; ``None`` or a short row leaves ``fill``)."""
    from PIL import Image
    from torchvision.utils import make_grid

    first = next((im for row in rows for im in row if im is not None), None)
    if first is None:
        return
    blank = torch.full_like(first, fill)
    cells = [row[j] if j < len(row) and row[j] is not None else blank for row in rows for j in range(per_row)]
    grid = make_grid(torch.stack(cells), nrow=per_row, padding=padding, pad_value=fill)
    img = Image.fromarray(grid.permute(1, 2, 0).contiguous().numpy())
    img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)  # pixel art stays crisp
    with atomic_path(Path(path)) as tmp:
        img.save(tmp, format="PNG", optimize=True)
