"""Real vs synthetic embeddings of trained models (the paper's Figure 5): t-SNE panels and a separability score."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from diffubias.data import ImageSet
from diffubias.io import atomic_path


def sample(data: ImageSet, n: int, seed: int) -> ImageSet:
    """A seeded random subset of at most ``n`` samples."""
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return data.subset(torch.sort(idx).values)


def source_separability(features: np.ndarray, synthetic: np.ndarray, seed: int, k: int = 5) -> float:
    """5-fold accuracy (%) of a k-NN telling real from synthetic in feature space (50 = inseparable when balanced)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(100 * cross_val_score(KNeighborsClassifier(k), features, synthetic, cv=folds).mean())


def tsne_panels(panels: dict[str, tuple[np.ndarray, np.ndarray]], out_png: Path, seed: int, title: str) -> None:
    """One t-SNE scatter per model: real (blue) vs synthetic (orange) embeddings; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (name, (feats, synthetic)) in zip(axes[0], panels.items()):
        xy = TSNE(2, init="pca", random_state=seed, perplexity=min(30, max(5, len(feats) // 4))).fit_transform(feats)
        for flag, colour, label in ((False, "tab:blue", "real"), (True, "tab:orange", "synthetic")):
            m = synthetic == flag
            ax.scatter(xy[m, 0], xy[m, 1], s=6, c=colour, alpha=0.6, label=label)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].legend(loc="best", markerscale=2)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(Path(out_png)) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
