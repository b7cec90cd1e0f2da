"""The training loop shared by every method: in-memory batches, augmentation, selection.

Data never leaves memory: a uint8 tensor is sliced, converted and augmented per batch on the
training device, so the loop is compute-bound (see ``bench/train_throughput.py``).
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from diffubias.config import Params, TrainParams
from diffubias.data import ImageSet
from diffubias.devices import resolve_device
from diffubias.errors import ConfigError
from diffubias.io import atomic_path
from diffubias.methods import Batch, Method, MethodContext, get_method
from diffubias.metrics import classification_metrics
from diffubias.models import Classifier, build_model

AUGMENTATIONS = ("crop", "flip")


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[B,3,H,W]`` -> float in roughly [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def augment(x: torch.Tensor, kinds: tuple[str, ...], generator: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random crop (reflect-padded by ``pad``) and/or horizontal flip, vectorised over the batch."""
    unknown = set(kinds) - set(AUGMENTATIONS)
    if unknown:
        raise ConfigError(f"train.augment: unknown augmentation(s) {sorted(unknown)}; valid: {list(AUGMENTATIONS)}")
    b, _, h, w = x.shape
    if "crop" in kinds:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
        oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
        ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
        rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        bidx = torch.arange(b, device=x.device)[:, None, None, None]
        cidx = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        x = padded[bidx, cidx, rows, cols]
    if "flip" in kinds:
        flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x


def make_batch(data: ImageSet, idx: torch.Tensor, device: torch.device, tp: TrainParams,
               generator: torch.Generator | None) -> Batch:
    """Slice, normalise and (when ``generator`` is given) augment one batch."""
    x = normalize(data.images[idx].to(device, non_blocking=True))
    if generator is not None and tp.augment:
        x = augment(x, tp.augment, generator)
    y = data.labels[idx].to(device)
    bias = data.bias[idx].to(device)
    return Batch(x, y, bias, y * data.num_bias + bias, idx.to(device))


@torch.no_grad()
def predict(model_or_method: Any, data: ImageSet, device: torch.device, batch_size: int = 1024) -> torch.Tensor:
    """Predicted classes for every sample of ``data`` (no augmentation)."""
    preds = []
    fn = model_or_method.predict if isinstance(model_or_method, Method) else _eval_forward(model_or_method)
    for start in range(0, len(data), batch_size):
        x = normalize(data.images[start:start + batch_size].to(device))
        preds.append(fn(x).argmax(1).cpu())
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)


def _eval_forward(model: torch.nn.Module):
    model.eval()
    return model


def evaluate(model_or_method: Any, data: ImageSet, device: torch.device, batch_size: int = 1024,
             train_group_counts: torch.Tensor | None = None) -> dict:
    """The shared metrics of a model on ``data``."""
    pred = predict(model_or_method, data, device, batch_size)
    return classification_metrics(pred, data.labels, data.bias, data.num_classes, data.num_bias,
                                  data.aligned_bias, train_group_counts)


@dataclass
class FitResult:
    """What training produced: the selected weights, the per-epoch curve, summary numbers."""

    method: Method
    curve: list[dict[str, float]] = field(default_factory=list)
    selected_epoch: int = 0
    valid_metrics: dict = field(default_factory=dict)
    train_seconds: float = 0.0
    images_per_second: float = 0.0
    extra: dict = field(default_factory=dict)


def fit(method_name: str, train: ImageSet, valid: ImageSet, params: Params, seed: int,
        progress: bool = True, init: Callable[[Method], None] | None = None, image_size: int = 0) -> FitResult:
    """Train ``method_name`` on ``train``; select on ``valid`` (or take the last epoch).

    ``init`` is called once on the built method before the first epoch (e.g. to load pretrained
    weights into ``method.model`` or freeze layers: FFR's stage 2). ``image_size`` is the size the
    model is built for (0 = ``data.image_size``); inputs of another size are resized to it.
    """
    tp = params.train
    if tp.threads > 0:
        torch.set_num_threads(tp.threads)
    device = resolve_device(tp.device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    method = get_method(method_name)(MethodContext(train, params, image_size or params.data.image_size, device, seed, valid))
    if init is not None:
        init(method)
    curve: list[dict[str, float]] = []
    best_score, best_state, best_epoch, best_valid = -1.0, None, 0, {}
    seen, t0 = 0, time.perf_counter()
    bar = tqdm(range(1, tp.epochs + 1), desc=f"train {method_name}", unit="epoch", disable=not progress)
    for epoch in bar:
        order = method.epoch_indices(epoch, generator)
        sums: dict[str, float] = {}
        steps = 0
        lr = method.lr()
        for start in range(0, len(order), tp.batch_size):
            idx = order[start:start + tp.batch_size]
            if len(idx) < 2:  # BatchNorm cannot train on a single sample
                continue
            logs = method.update(make_batch(train, idx, device, tp, generator))
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            steps += 1
            seen += len(idx)
        method.end_epoch(epoch)
        vm = evaluate(method, valid, device, tp.eval_batch_size)
        row = {"epoch": epoch, "lr": lr, **{f"train_{k}": v / max(steps, 1) for k, v in sums.items()},
               **{f"valid_{k}": v for k, v in vm.items() if k in _CURVE_KEYS}}
        curve.append(row)
        score = vm[tp.select_metric]
        if tp.select == "last" or score > best_score:
            best_score, best_epoch, best_valid = score, epoch, vm
            best_state = copy.deepcopy(method.model.state_dict())
        bar.set_postfix(loss=f"{row.get('train_loss', 0):.3f}", valid=f"{vm['unbiased_acc']:.1f}")
    elapsed = time.perf_counter() - t0
    if best_state is not None:
        method.model.load_state_dict(best_state)
    extra = method.finalize()
    if extra:
        best_valid = evaluate(method, valid, device, tp.eval_batch_size)
    return FitResult(method, curve, best_epoch, best_valid, elapsed, seen / max(elapsed, 1e-9), extra)


_CURVE_KEYS = ("unbiased_acc", "aligned_acc", "conflicting_acc", "worst_group_acc", "balanced_acc")


def save_checkpoint(model: torch.nn.Module, path: Path, meta: dict[str, Any]) -> None:
    """Write weights as safetensors (atomically) with JSON-encoded metadata."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(Path(path)) as tmp:
        save_file(state, str(tmp), metadata={"diffubias": json.dumps(meta)})


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[Classifier, dict]:
    """Rebuild the classifier saved at ``path``; returns (model, metadata)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found; run the stage that trains it first")
    with safe_open(str(path), "pt") as fh:
        meta = json.loads(fh.metadata()["diffubias"])
    model = build_model(meta["arch"], meta["num_classes"], meta["image_size"])
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval(), meta
