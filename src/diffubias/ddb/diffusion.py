"""The class-conditional diffusion model of DDB: a diffusers ``UNet2DModel`` in pixel space.

**Pixel space, not the embedded autoencoder's latents.** DDB's generator only has to reproduce
(and, under guidance, exaggerate) the *dominant* correlation of the biased set; in the embedded
world that correlation is a low-frequency attribute (a colour, a background texture's palette)
that survives downsampling. Training at ``ddb_diffusion.resolution`` = 16 px costs about a
quarter of 32 px per step (measured by ``bench/ddb_speed.py``), needs no foundation stage (the
text-to-image pipeline's VAE is trained on another, unbiased corpus and takes ~15 min to build),
and keeps DDB "from scratch on the biased set" as in the paper. Set ``resolution: 0`` to train
at the data size; at 224 px (BFFHQ/BAR) a latent model would be the better choice.

Classes are embedded with ``num_class_embeds = num_classes + 1``: id ``num_classes`` is the
null class that label dropout substitutes, so classifier-free guidance needs no second model.
The learning rate follows diffusers' ``get_cosine_schedule_with_warmup`` (linear from 0 over
``warmup_steps``, then a half cosine down to 0) and the weights are averaged by diffusers'
``EMAModel``. Training is resumable: ``checkpoint/state.safetensors`` (weights, EMA, optimiser
moments and the sampling generator as tensors; step, losses, settings and the scalar optimiser /
EMA state as JSON metadata, no pickle) is written every ``checkpoint_every`` steps; a rerun with
the same settings continues from it, and a resumed run ends with exactly the weights of an
uninterrupted one.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from diffubias.config import DDBDiffusionParams
from diffubias.devices import resolve_device
from diffubias.errors import DataError
from diffubias.io import atomic_path, write_text_atomic

CONFIG_FILE = "ddb_diffusion.json"
STATE_FILE = "checkpoint/state.safetensors"
# Settings that a checkpoint must share with the current params to be resumed (not steps / checkpoint_every).
_RESUME_KEYS = ("resolution", "channels", "layers_per_block", "norm_groups", "prediction_type", "train_timesteps",
                "batch_size", "lr", "warmup_steps", "ema_decay", "label_dropout")


def build_unet(p: DDBDiffusionParams, num_classes: int, size: int):
    """A ``UNet2DModel`` with a class embedding of ``num_classes + 1`` ids (the last one is 'no class')."""
    from diffusers import UNet2DModel

    n = len(p.channels)
    return UNet2DModel(sample_size=size, in_channels=3, out_channels=3, block_out_channels=tuple(p.channels),
                       layers_per_block=p.layers_per_block, down_block_types=("DownBlock2D",) * n,
                       up_block_types=("UpBlock2D",) * n, norm_num_groups=p.norm_groups,
                       num_class_embeds=num_classes + 1)


def build_scheduler(p: DDBDiffusionParams):
    """The DDPM noise schedule used in training (samplers are built from its config)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=p.train_timesteps, beta_schedule="squaredcos_cap_v2",
                         prediction_type=p.prediction_type)


def train_resolution(p: DDBDiffusionParams, image_size: int) -> int:
    """``ddb_diffusion.resolution``, or the data size when it is 0."""
    size = p.resolution or image_size
    if size % (2 ** (len(p.channels) - 1)):
        raise DataError(f"ddb_diffusion.resolution {size} must be divisible by 2^(len(channels)-1) = "
                        f"{2 ** (len(p.channels) - 1)}")
    return size


def prepare_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``[N,3,H,W]`` -> float in [-1, 1] at ``size`` px (antialiased downsampling)."""
    x = images.float().div(127.5).sub(1.0)
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x


@dataclass
class DiffusionResult:
    """What training did: steps run now and in total, final loss, throughput."""

    steps_total: int
    steps_run: int
    resumed_from: int
    final_loss: float
    seconds: float
    losses: list[float] = field(default_factory=list)

    @property
    def steps_per_s(self) -> float:
        return self.steps_run / self.seconds if self.seconds > 0 else 0.0


def _save_state(path: Path, unet: Any, ema: Any, opt: torch.optim.Optimizer, gen: torch.Generator,
                meta: dict[str, Any]) -> None:
    """Tensors into safetensors, everything else as JSON in its metadata: one file, replaced atomically."""
    tensors = {f"model.{k}": v for k, v in unet.state_dict().items()}
    tensors["generator"] = gen.get_state()
    opt_state = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in opt_state["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    ema_meta = None
    if ema is not None:
        tensors.update({f"ema.{i}": t for i, t in enumerate(ema.shadow_params)})
        ema_meta = {k: v for k, v in ema.state_dict().items() if k != "shadow_params"}
    meta = {**meta, "optimizer": {"param_groups": opt_state["param_groups"], "scalars": scalars}, "ema": ema_meta}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"diffubias": json.dumps(meta)})


def _load_state(out_dir: Path, settings: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """(tensors, metadata) of the checkpoint in ``out_dir`` when it was made with ``settings``, else None."""
    path = out_dir / STATE_FILE
    if not path.is_file():
        return None
    with safe_open(str(path), "pt") as fh:
        meta = json.loads(fh.metadata()["diffubias"])
    if meta.get("settings") != settings:
        tqdm.write(f"{path}: settings changed since this checkpoint; training from scratch")
        return None
    return load_file(str(path)), meta


def _restore(tensors: dict[str, torch.Tensor], meta: dict[str, Any], unet: Any, ema: Any,
             opt: torch.optim.Optimizer, gen: torch.Generator, device: torch.device) -> None:
    """Load a checkpoint's weights, EMA, optimiser and generator state in place."""
    unet.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, values in meta["optimizer"]["scalars"].items():
        state.setdefault(int(pid), {}).update(values)
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["optimizer"]["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})
    if ema is not None:
        shadow = [tensors[f"ema.{i}"] for i in range(len(ema.shadow_params))]
        ema.load_state_dict({**meta["ema"], "shadow_params": shadow})
        ema.to(device)
    gen.set_state(tensors["generator"])


def train_diffusion(images: torch.Tensor, labels: torch.Tensor, num_classes: int, p: DDBDiffusionParams,
                    image_size: int, seed: int, out_dir: Path, progress: bool = True) -> DiffusionResult:
    """Train (or resume) the class-conditional UNet on uint8 ``images`` and save it in diffusers format."""
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from diffusers.training_utils import EMAModel

    if p.threads > 0:
        torch.set_num_threads(p.threads)
    out_dir = Path(out_dir)
    size = train_resolution(p, image_size)
    device = resolve_device(p.device)
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(p).items() if k in _RESUME_KEYS}
    settings.update(num_classes=num_classes, image_size=image_size, seed=seed, train_images=int(len(labels)))
    torch.manual_seed(seed)
    unet = build_unet(p, num_classes, size).to(device)
    ema = EMAModel(unet.parameters(), decay=p.ema_decay, foreach=True) if p.ema_decay > 0 else None
    noise_sched = build_scheduler(p)
    opt = torch.optim.AdamW(unet.parameters(), lr=p.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    step, losses = 0, []
    state = _load_state(out_dir, settings)
    if state is not None and int(state[1]["step"]) > p.steps:
        tqdm.write(f"{out_dir / STATE_FILE}: has {state[1]['step']} steps, more than ddb_diffusion.steps={p.steps}; "
                   "training from scratch")
        state = None
    if state is not None:
        _restore(*state, unet, ema, opt, gen, device)
        step, losses = int(state[1]["step"]), list(state[1]["losses"])
    # built after the optimiser state is restored: last_epoch = step - 1 resumes the schedule of the current
    # ddb_diffusion.steps at this step (the restored groups carry the "initial_lr" it starts from)
    lr_sched = get_cosine_schedule_with_warmup(opt, p.warmup_steps, p.steps, last_epoch=step - 1)
    resumed_from = step
    x_all = prepare_images(images, size)
    y_all = labels.long()
    alphas = noise_sched.alphas_cumprod.to(device)
    t0 = time.perf_counter()
    bar = tqdm(range(step, p.steps), desc="ddb diffusion", unit="step", disable=not progress, mininterval=5)
    unet.train()
    for step in bar:
        idx = torch.randint(0, len(y_all), (p.batch_size,), generator=gen)
        x0, y = x_all[idx].to(device), y_all[idx].clone()
        y[torch.rand(p.batch_size, generator=gen) < p.label_dropout] = num_classes  # the null class
        noise = torch.randn(x0.shape, generator=gen).to(device)
        t = torch.randint(0, p.train_timesteps, (p.batch_size,), generator=gen).to(device)
        a = alphas[t].sqrt()[:, None, None, None]
        s = (1 - alphas[t]).sqrt()[:, None, None, None]
        target = noise if p.prediction_type == "epsilon" else a * noise - s * x0
        pred = unet(a * x0 + s * noise, t, class_labels=y.to(device)).sample
        loss = F.mse_loss(pred, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        lr_sched.step()
        if ema is not None:
            ema.step(unet.parameters())
        losses.append(round(loss.item(), 5))
        bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.4f}", refresh=False)
        done = step + 1
        if done % p.checkpoint_every == 0 or done == p.steps:
            _save_state(out_dir / STATE_FILE, unet, ema, opt, gen,
                        {"step": done, "losses": losses, "settings": settings})
    seconds = time.perf_counter() - t0
    if ema is not None:
        ema.copy_to(unet.parameters())
    save_model(unet, noise_sched, out_dir, {**settings, "null_class": num_classes, "resolution_px": size,
                                            "steps": p.steps})
    tail = losses[-50:] or [float("nan")]
    return DiffusionResult(p.steps, p.steps - resumed_from, resumed_from, sum(tail) / len(tail), seconds, losses)


def save_model(unet: Any, scheduler: Any, out_dir: Path, meta: dict[str, Any]) -> None:
    """``unet/`` and ``scheduler/`` (diffusers format) plus ``ddb_diffusion.json``, each replaced atomically."""
    out_dir = Path(out_dir)
    for name, obj in (("unet", unet), ("scheduler", scheduler)):
        with atomic_path(out_dir / name) as tmp:
            obj.save_pretrained(tmp)
    write_text_atomic(out_dir / CONFIG_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_model(model_dir: Path, device: str | torch.device = "cpu") -> tuple[Any, Any, dict[str, Any]]:
    """(unet in eval mode, training scheduler, metadata) of a saved DDB diffusion model."""
    from diffusers import DDPMScheduler, UNet2DModel

    model_dir = Path(model_dir)
    if not (model_dir / CONFIG_FILE).is_file():
        raise DataError(f"{model_dir}: no trained DDB diffusion model ({CONFIG_FILE} missing); run "
                        "`diffubias ddb-train-diffusion` for this cell")
    meta = json.loads((model_dir / CONFIG_FILE).read_text())
    unet = UNet2DModel.from_pretrained(model_dir / "unet", local_files_only=True).to(device).eval()
    scheduler = DDPMScheduler.from_pretrained(model_dir / "scheduler", local_files_only=True)
    return unet, scheduler, meta
