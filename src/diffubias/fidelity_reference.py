"""Run the foundation reference classifier on a generated folder and compute fidelity.

The reference predicts world attributes by name (``shape``, ``colour``, ``background``); a
benchmark's ``vocab.json`` says which attribute is its class (``class_kind``) and which its bias
(``bias_kind``). Where there is no reference (``generate.reference: ''``, a real dataset), the
metric is reported as skipped with the reason, never invented.
"""
from __future__ import annotations

import json
from pathlib import Path
import torch

from diffubias.data import ImageSet, Vocabulary
from diffubias.fidelity import generation_fidelity
from diffubias.generation import load_generated_set


def _kinds(data_root: Path, vocab: Vocabulary) -> tuple[str, str]:
    path = Path(data_root) / "vocab.json"
    raw = json.loads(path.read_text()) if path.is_file() else {}
    return raw.get("class_kind", "class"), raw.get("bias_kind", vocab.bias_kind)


def predict_attributes(reference: str, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Attribute predictions of the reference classifier saved at ``reference`` (uint8 ``[N,3,H,W]``)."""
    from diffubias.foundation.reference import load_reference

    return dict(load_reference(reference).predict_attributes(images))


def fidelity_of_images(reference: str, images: torch.Tensor, labels: torch.Tensor, data_root: Path,
                       vocab: Vocabulary) -> dict:
    """Fidelity of uint8 ``images`` labelled ``labels`` (skipped, with the reason, without a reference)."""
    if not reference:
        return {"skipped": "generate.reference is empty"}
    if not Path(reference).exists():
        return {"skipped": f"{reference}: no reference classifier (build it with the foundation stage)"}
    class_kind, bias_kind = _kinds(data_root, vocab)
    preds = predict_attributes(reference, images)
    if class_kind not in preds or bias_kind not in preds:
        return {"skipped": f"the reference predicts {sorted(preds)}, not this benchmark's "
                           f"{class_kind!r} / {bias_kind!r}"}
    out = generation_fidelity(preds[class_kind], preds[bias_kind], labels, list(vocab.aligned_bias),
                              vocab.bias_values)
    return {"reference": reference, "class_attribute": class_kind, "bias_attribute": bias_kind, **out}


def reference_fidelity(reference: str, out_dir: Path, data_root: Path, vocab: Vocabulary, image_size: int) -> dict:
    """Fidelity of a generated folder (class as labelled; bias value ≠ the class's aligned value)."""
    if not reference or not Path(reference).exists():
        return fidelity_of_images(reference, torch.empty(0), torch.empty(0), data_root, vocab)
    rows, images = load_generated_set(out_dir, image_size)
    labels = torch.tensor([int(r["label"]) for r in rows])
    return fidelity_of_images(reference, images, labels, data_root, vocab)


def source_fidelity(reference: str, data_root: Path, mined: ImageSet, vocab: Vocabulary) -> dict:
    """The same metrics on the real mined images the captions came from: the reference's ceiling on real data."""
    if not reference or not Path(reference).exists():
        return fidelity_of_images(reference, torch.empty(0), torch.empty(0), data_root, vocab)
    return fidelity_of_images(reference, mined.images, mined.labels, data_root, vocab)
