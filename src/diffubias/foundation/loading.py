"""The one loader for text-to-image pipelines and image captioners: a local folder or a hub id.

``load_generator`` returns a diffusers pipeline (the embedded model, Stable Diffusion 1.x/2.x, XL,
3.x, ...); ``load_captioner`` returns a :class:`Captioner` wrapping a vision-encoder-decoder model
(the embedded one), BLIP, or a LLaVA-style image-text-to-text model. Nothing here is specific to
the embedded models. Weights load from safetensors only and ``trust_remote_code`` is never set.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from PIL import Image

from diffubias.devices import resolve_device
from diffubias.errors import ConfigError, DiffubiasError

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
LLAVA_PROMPT = "Describe this image in one short sentence."


class ModelNotAvailableError(DiffubiasError):
    """A model id is neither a local folder nor available offline."""


class UnsafeWeightsError(DiffubiasError):
    """A model folder holds only pickle weights (they can execute code when loaded)."""


def _scheduler_classes() -> dict[str, Callable[..., Any]]:
    import diffusers

    return {
        "dpm": diffusers.DPMSolverMultistepScheduler, "unipc": diffusers.UniPCMultistepScheduler,
        "ddim": diffusers.DDIMScheduler, "euler": diffusers.EulerDiscreteScheduler,
        "euler_a": diffusers.EulerAncestralDiscreteScheduler, "pndm": diffusers.PNDMScheduler,
        "ddpm": diffusers.DDPMScheduler,
    }


def _dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r} is not one of {sorted(DTYPES)}")
    return DTYPES[dtype]


def check_local_weights(folder: Path) -> None:
    """Refuse a model folder in which some component has pickle weights but no safetensors."""
    dirs: dict[Path, set[str]] = {}
    for path in folder.rglob("*"):
        if path.is_file() and (path.suffix in PICKLE_SUFFIXES or path.suffix == ".safetensors"):
            dirs.setdefault(path.parent, set()).add(path.suffix)
    unsafe = sorted(str(d.relative_to(folder) or ".") for d, s in dirs.items() if ".safetensors" not in s)
    if unsafe:
        raise UnsafeWeightsError(
            f"{folder}: weights in {unsafe} are only in pickle format ({', '.join(PICKLE_SUFFIXES)}), which can run "
            "arbitrary code when loaded; this project loads safetensors only. Convert them (load once in a trusted "
            "environment, then save_pretrained(..., safe_serialization=True)) or use a safetensors release."
        )
    if not dirs:
        raise ModelNotAvailableError(f"{folder}: no model weights (*.safetensors) found in this folder")


def _source(model: str, kind: str) -> tuple[str, bool]:
    """``(path or id, is_local)``; a local folder's weights are checked first."""
    path = Path(model).expanduser()
    if path.is_dir():
        check_local_weights(path)
        return str(path), True
    if path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise ModelNotAvailableError(f"{kind} {model!r}: no such folder; pass the path of a saved model folder")
    return model, False


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _not_available(kind: str, model: str, exc: BaseException, example: str) -> ModelNotAvailableError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    mode = "HF_HUB_OFFLINE=1 is set" if _offline() else "the hub could not be reached"
    return ModelNotAvailableError(
        f"{kind} {model!r} is not a local folder and could not be loaded from the Hugging Face cache "
        f"({mode}; this machine is offline). Pass the path of a local model folder instead (e.g. {example}), "
        f"or download it on a connected machine (`huggingface-cli download {model}`) into the cache. "
        f"[{type(exc).__name__}: {first}]"
    )


_LOAD_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, KeyError)


def _hub_errors() -> tuple[type[BaseException], ...]:
    try:
        from huggingface_hub.errors import HfHubHTTPError

        return (*_LOAD_ERRORS, HfHubHTTPError)
    except ImportError:  # pragma: no cover
        return _LOAD_ERRORS


def load_generator(model: str, *, dtype: str = "float32", device: str = "auto", scheduler: str | None = "dpm",
                   attention_slicing: bool = False, cpu_offload: bool = False):
    """A diffusers text-to-image pipeline from a local folder or a hub id, on ``device``."""
    import diffusers

    diffusers.utils.logging.disable_progress_bar()
    torch_dtype = _dtype(dtype)
    source, local = _source(model, "generator")
    kwargs = dict(dtype=torch_dtype, use_safetensors=True, local_files_only=local or _offline())
    try:
        try:
            pipe = diffusers.AutoPipelineForText2Image.from_pretrained(source, **kwargs)
        except ValueError as exc:  # a pipeline class AutoPipeline does not map: load it as saved
            if "AutoPipeline" not in str(exc) and "not supported" not in str(exc):
                raise
            pipe = diffusers.DiffusionPipeline.from_pretrained(source, **kwargs)
    except _hub_errors() as exc:
        if local:
            raise ModelNotAvailableError(f"generator {model!r}: the folder could not be loaded as a diffusers "
                                         f"pipeline ({type(exc).__name__}: {str(exc).splitlines()[0][:300]})") from None
        raise _not_available("generator", model, exc, "models/foundation/t2i") from None
    if scheduler is not None:
        pipe.scheduler = _swap_scheduler(pipe.scheduler, scheduler)
    if attention_slicing:
        pipe.enable_attention_slicing()
    target = resolve_device(device)
    if cpu_offload and target.type == "cuda":
        pipe.enable_model_cpu_offload(device=target)
    else:
        pipe.to(target)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _swap_scheduler(current: Any, name: str) -> Any:
    classes = _scheduler_classes()
    if name not in classes:
        raise ConfigError(f"scheduler {name!r} is not one of {sorted(classes)} (or null to keep the model's own)")
    if type(current).__name__.startswith("FlowMatch"):
        raise ConfigError(f"this pipeline is a flow-matching model ({type(current).__name__}); set scheduler: null "
                          "to keep its own scheduler")
    return classes[name].from_config(current.config)


class Captioner(Protocol):
    """Writes k sampled captions per image."""

    def caption(self, images: list[Image.Image], k: int, seed: int, batch_size: int = 32) -> list[list[str]]:
        """``k`` different sampled captions per image, deterministic for ``seed``."""
        ...


class GenerativeCaptioner:
    """A transformers generative image-to-text model behind the :class:`Captioner` interface."""

    def __init__(self, model: Any, encode: Callable[[list[Image.Image]], dict], decode: Callable[[torch.Tensor, int], list[str]],
                 device: torch.device, oversample: int = 2, max_new_tokens: int | None = None) -> None:
        self.model = model.eval()
        self.encode = encode
        self.decode = decode
        self.device = device
        self.oversample = oversample
        # The model's own generation config wins (its position table may be short); else 30 tokens.
        self.max_new_tokens = max_new_tokens or getattr(model.generation_config, "max_new_tokens", None) or 30

    @torch.no_grad()
    def caption(self, images: list[Image.Image], k: int, seed: int, batch_size: int = 32) -> list[list[str]]:
        """``k`` different sampled captions per image (duplicates only when sampling found fewer)."""
        out: list[list[str]] = []
        n_samples = max(k * self.oversample, k)
        for b, start in enumerate(range(0, len(images), batch_size)):
            batch = [im.convert("RGB") for im in images[start:start + batch_size]]
            inputs = {key: v.to(self.device) for key, v in self.encode(batch).items()}
            if "pixel_values" in inputs:
                inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed * 1_000_003 + b)
                ids = self.model.generate(**inputs, do_sample=True, num_return_sequences=n_samples,
                                          max_new_tokens=self.max_new_tokens)
            prompt_len = inputs["input_ids"].shape[1] if "input_ids" in inputs else 0
            texts = self.decode(ids, prompt_len)
            for i in range(len(batch)):
                out.append(_distinct(texts[i * n_samples:(i + 1) * n_samples], k))
        return out


def _distinct(texts: list[str], k: int) -> list[str]:
    """The first ``k`` distinct captions, padded with repeats when sampling found fewer."""
    seen: list[str] = []
    for t in (" ".join(t.split()) for t in texts):
        if t not in seen:
            seen.append(t)
    while len(seen) < k:
        seen.append(seen[len(seen) % max(len(seen), 1)] if seen else "")
    return seen[:k]


def load_captioner(model: str, *, dtype: str = "float32", device: str = "auto") -> Captioner:
    """A captioner from a local folder or a hub id: vision-encoder-decoder, BLIP or LLaVA-style."""
    import transformers as tf

    tf.utils.logging.disable_progress_bar()
    torch_dtype = _dtype(dtype)
    source, local = _source(model, "captioner")
    kw = dict(local_files_only=local or _offline())
    target = resolve_device(device)
    try:
        model_type = tf.AutoConfig.from_pretrained(source, **kw).model_type
        load = dict(kw, dtype=torch_dtype, use_safetensors=True)
        if model_type == "vision-encoder-decoder":
            net = tf.VisionEncoderDecoderModel.from_pretrained(source, **load)
            images, tokenizer = tf.AutoImageProcessor.from_pretrained(source, **kw), tf.AutoTokenizer.from_pretrained(source, **kw)
            encode = lambda ims: {"pixel_values": images(ims, return_tensors="pt").pixel_values}  # noqa: E731
            decode = lambda ids, n: tokenizer.batch_decode(ids, skip_special_tokens=True)  # noqa: E731
        elif model_type == "blip":
            net = tf.BlipForConditionalGeneration.from_pretrained(source, **load)
            processor = tf.AutoProcessor.from_pretrained(source, **kw)
            encode = lambda ims: {"pixel_values": processor(images=ims, return_tensors="pt").pixel_values}  # noqa: E731
            decode = lambda ids, n: processor.batch_decode(ids, skip_special_tokens=True)  # noqa: E731
        else:
            net = tf.AutoModelForImageTextToText.from_pretrained(source, **load)
            processor = tf.AutoProcessor.from_pretrained(source, **kw)
            encode, decode = _chat_codec(processor)
    except _hub_errors() as exc:
        if local:
            raise ModelNotAvailableError(f"captioner {model!r}: the folder could not be loaded as a transformers "
                                         f"model ({type(exc).__name__}: {str(exc).splitlines()[0][:300]})") from None
        raise _not_available("captioner", model, exc, "models/foundation/captioner") from None
    return GenerativeCaptioner(net.to(target), encode, decode, target)


def _chat_codec(processor: Any) -> tuple[Callable, Callable]:
    """Prompting and decoding for image-text-to-text (LLaVA-style) chat models."""
    if getattr(processor, "tokenizer", None) is not None:
        processor.tokenizer.padding_side = "left"
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": LLAVA_PROMPT}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)

    def encode(ims: list[Image.Image]) -> dict:
        return dict(processor(images=ims, text=[prompt] * len(ims), return_tensors="pt", padding=True))

    def decode(ids: torch.Tensor, prompt_len: int) -> list[str]:
        return processor.batch_decode(ids[:, prompt_len:], skip_special_tokens=True)

    return encode, decode
