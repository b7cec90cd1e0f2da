"""Diffusing DeBias: the class-conditional UNet, sampling, the Bias Amplifier and both recipes."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from diffubias.config import DDBDiffusionParams
from diffubias.data import load_benchmark_split
from diffubias.ddb.amplifier import cue_following, group_match, pseudo_conflicting, pseudo_groups
from diffubias.ddb.diffusion import load_model, train_diffusion
from diffubias.errors import DataError
from diffubias.methods.lff import SampleLossEMA, lff_weights

from conftest import replace

TINY_UNET = DDBDiffusionParams(resolution=8, channels=(8, 16), norm_groups=4, steps=4, batch_size=8,
                               warmup_steps=1, checkpoint_every=2, threads=1, device="cpu")


@pytest.fixture
def tiny_train(tiny_params):
    return load_benchmark_split(tiny_params.data, "colour", "train", "5")


@pytest.fixture
def tiny_model(tiny_train, tmp_path) -> Path:
    out = tmp_path / "diffusion"
    train_diffusion(tiny_train.images, tiny_train.labels, tiny_train.num_classes, TINY_UNET, 16, 0, out, progress=False)
    return out


def test_unet_trains_and_round_trips(tiny_train, tiny_model):
    unet, sched, meta = load_model(tiny_model)
    assert meta["null_class"] == tiny_train.num_classes and meta["resolution_px"] == 8
    assert unet.config.num_class_embeds == tiny_train.num_classes + 1
    assert sched.config.num_train_timesteps == TINY_UNET.train_timesteps
    with safe_open(str(tiny_model / "checkpoint" / "state.safetensors"), "pt") as fh:  # no pickle to load
        state = json.loads(fh.metadata()["diffubias"])
        assert {"model.conv_in.weight", "ema.0", "generator"} <= set(fh.keys())
    assert state["step"] == 4 and all(l == l for l in state["losses"])  # finite losses
    x, t, y = torch.randn(2, 3, 8, 8), torch.tensor([10, 500]), torch.tensor([0, 10])
    again, _, _ = load_model(tiny_model)
    with torch.no_grad():
        assert torch.equal(unet(x, t, class_labels=y).sample, again(x, t, class_labels=y).sample)


def test_resumed_training_equals_uninterrupted(tiny_train, tmp_path):
    args = (tiny_train.images, tiny_train.labels, tiny_train.num_classes)
    train_diffusion(*args, TINY_UNET, 16, 0, tmp_path / "straight", progress=False)
    half = dataclasses.replace(TINY_UNET, steps=2)
    train_diffusion(*args, half, 16, 0, tmp_path / "resumed", progress=False)
    result = train_diffusion(*args, TINY_UNET, 16, 0, tmp_path / "resumed", progress=False)
    assert result.resumed_from == 2 and result.steps_run == 2
    a = (tmp_path / "straight" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    b = (tmp_path / "resumed" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    assert a == b


def test_sampling_is_deterministic_and_resumable(tiny_params, tiny_model, tmp_path):
    from diffubias.data import benchmark_vocabulary
    from diffubias.ddb.sampling import load_synthetic, synthesize

    vocab = benchmark_vocabulary(tiny_params.data, "colour")
    kw = dict(images_per_class=2, guidance_scale=7.0, steps=3, scheduler="dpm", batch_size=6, image_size=16, seed=0,
              progress=False)
    first = synthesize(tiny_model, vocab, out_dir=tmp_path / "a", **kw)
    assert first.written == 20
    files = sorted((tmp_path / "a").glob("batch-*.npz"))
    before = {f.name: f.read_bytes() for f in files}
    assert len(files) == 4  # 20 images in batches of 6
    files[1].unlink()  # an interrupted run: a batch never written
    again = synthesize(tiny_model, vocab, out_dir=tmp_path / "a", **kw)
    assert again.already_present == 14 and again.written == 6
    assert {f.name: f.read_bytes() for f in sorted((tmp_path / "a").glob("batch-*.npz"))} == before
    synthesize(tiny_model, vocab, out_dir=tmp_path / "b", **kw)
    assert {f.name: f.read_bytes() for f in sorted((tmp_path / "b").glob("batch-*.npz"))} == before
    synth = load_synthetic(tmp_path / "a", load_benchmark_split(tiny_params.data, "colour", "train", "5"), 16)
    assert synth.images.shape == (20, 3, 16, 16) and bool((synth.bias == -1).all())
    assert torch.equal(torch.bincount(synth.labels), torch.full((10,), 2))


def test_guidance_one_skips_unconditional_pass(tiny_model):
    from diffubias.ddb.sampling import ClassConditionalPipeline

    unet, sched, meta = load_model(tiny_model)
    calls = []
    unet.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    pipe = ClassConditionalPipeline(unet, sched, tuple("abcdefghij"), meta["null_class"])
    out = pipe(["a", "b"], num_inference_steps=2, guidance_scale=1.0,
               generator=[torch.Generator().manual_seed(i) for i in range(2)])
    assert calls == [2, 2] and out.images.shape == (2, 8, 8, 3)
    assert 0.0 <= out.images.min() and out.images.max() <= 1.0
    calls.clear()
    pipe(["a", "b"], num_inference_steps=2, guidance_scale=7.0, generator=[torch.Generator() for _ in range(2)])
    assert calls == [4, 4]


def test_pseudo_groups_never_read_bias_labels(tiny_train):
    from diffubias.ddb.recipes import amplified_set
    from diffubias.models import build_model

    torch.manual_seed(0)
    ba = build_model("mlp", tiny_train.num_classes, 16)
    scrambled = dataclasses.replace(tiny_train, bias=tiny_train.bias[torch.randperm(len(tiny_train))])
    a, b = amplified_set(tiny_train, ba), amplified_set(scrambled, ba)
    assert torch.equal(a.conflicting, b.conflicting)
    assert bool((a.bias == -1).all())  # the recipes' training set carries no true bias label
    assert torch.equal(pseudo_groups(a.labels, a.conflicting), a.labels * 2 + a.conflicting.long())


def test_group_match_by_hand():
    pseudo = torch.tensor([1, 1, 0, 0, 1], dtype=torch.bool)
    truth = torch.tensor([1, 0, 1, 0, 0], dtype=torch.bool)
    m = group_match(pseudo, truth)
    assert (m["true_positives"], m["pseudo_conflicting"], m["true_conflicting"]) == (1, 3, 2)
    assert m["precision"] == pytest.approx(33.33) and m["recall"] == pytest.approx(50.0)


class _Scripted(torch.nn.Module):
    """Predicts the class written into pixel (0, 0, 0) of each image: a BA whose answers the test chooses."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wanted = ((x[:, 0, 0, 0] + 1.0) * 127.5).round().long()
        return torch.nn.functional.one_hot(wanted, 4).float()


def test_cue_following_by_hand():
    from diffubias.data import ImageSet

    # 4 classes, aligned bias of class c is (c + 1) % 4; samples 0-1 aligned, 2-5 conflicting
    labels = torch.tensor([0, 1, 0, 1, 2, 3])
    bias = torch.tensor([1, 2, 3, 0, 0, 2])  # bias 3 belongs to class 2, 0 to class 3, 2 to class 1
    answers = torch.tensor([0, 1, 0, 3, 1, 1])  # on the conflicting: class, bias's class, neither, bias's class
    images = torch.zeros(6, 3, 2, 2, dtype=torch.uint8)
    images[:, 0, 0, 0] = answers.to(torch.uint8)
    data = ImageSet(images, labels, bias, [str(i) for i in range(6)], 4, 4, [1, 2, 3, 0])
    got = cue_following(_Scripted(), data)
    assert got == {"conflicting_samples": 4, "follows_class": 25.0, "follows_bias": 50.0}
    everything_aligned = data.subset([0, 1])
    assert cue_following(_Scripted(), everything_aligned)["conflicting_samples"] == 0


def test_recipe2_weights_on_hand_made_numbers():
    labels = torch.tensor([0, 0, 1])
    ema_ba, ema_d = SampleLossEMA(labels, 2, 0.5), SampleLossEMA(labels, 2, 0.5)
    idx = torch.arange(3)
    ema_ba.update(idx, torch.tensor([2.0, 0.1, 1.0]))  # first update stores the raw loss
    ema_d.update(idx, torch.tensor([0.5, 0.5, 4.0]))
    ema_ba.update(idx, torch.tensor([4.0, 0.1, 1.0]))  # 0.5 * 2 + 0.5 * 4 = 3
    assert torch.allclose(ema_ba.values, torch.tensor([3.0, 0.1, 1.0]))
    w = lff_weights(ema_ba.normalized(idx), ema_d.normalized(idx))
    # class 0: BA [3, .1] / 3 = [1, 1/30]; D [.5, .5] / .5 = [1, 1]. Class 1: BA 1/1, D 4/4.
    assert torch.allclose(w, torch.tensor([0.5, (1 / 30) / (1 / 30 + 1), 0.5]), atol=1e-6)


def test_recipe2_upweights_what_the_amplifier_gets_wrong(tiny_params, tiny_train):
    from diffubias.ddb.recipes import AmplifierLfF, amplified_set
    from diffubias.methods import MethodContext
    from diffubias.training import make_batch, normalize

    class LookupBA(torch.nn.Module):  # a stand-in BA: right on aligned images, wrong on conflicting ones
        def __init__(self, data):
            super().__init__()
            self.keys = normalize(data.images).flatten(1)
            self.pred = torch.where(data.aligned, data.labels, (data.labels + 1) % data.num_classes)

        def forward(self, x):
            row = torch.cdist(x.flatten(1), self.keys).argmin(1)
            return torch.nn.functional.one_hot(self.pred[row], 10).float() * 10.0

    data = amplified_set(tiny_train, LookupBA(tiny_train))
    truly_conflicting = ~tiny_train.aligned
    assert torch.equal(data.conflicting, truly_conflicting) and truly_conflicting.any()
    frozen = dataclasses.replace(tiny_params, ddb_recipe2=dataclasses.replace(tiny_params.ddb_recipe2, train_ba=False))
    method = AmplifierLfF(MethodContext(data, frozen, 16, torch.device("cpu"), 0))
    idx = torch.arange(len(data))
    method.update(make_batch(data, idx, torch.device("cpu"), tiny_params.train, None))
    w = lff_weights(method.ema_ba.normalized(idx), method.ema_d.normalized(idx))
    # Class-max normalisation compares samples within a class: where a class has conflicting samples,
    # they carry the weight and its aligned samples almost none.
    has_conflict = torch.isin(data.labels, data.labels[truly_conflicting])
    assert w[truly_conflicting].min() > 0.3 > 0.01 > w[~truly_conflicting & has_conflict].max()
    with pytest.raises(DataError, match="train_ba"):  # a BA without weights cannot be trained jointly
        AmplifierLfF(MethodContext(data, tiny_params, 16, torch.device("cpu"), 0))


@pytest.mark.parametrize("train_ba", [True, False])
def test_recipe2_trains_the_amplifier_only_when_asked(tiny_params, tiny_train, train_ba):
    from diffubias.ddb.recipes import AmplifierLfF, amplified_set
    from diffubias.methods import MethodContext
    from diffubias.models import build_model
    from diffubias.training import make_batch

    torch.manual_seed(0)
    ba = build_model("mlp", tiny_train.num_classes, 16)
    before = {k: v.clone() for k, v in ba.state_dict().items()}
    params = dataclasses.replace(tiny_params, ddb_recipe2=dataclasses.replace(tiny_params.ddb_recipe2, train_ba=train_ba))
    data = amplified_set(tiny_train, ba)
    method = AmplifierLfF(MethodContext(data, params, 16, torch.device("cpu"), 0))
    logs = method.update(make_batch(data, torch.arange(len(data)), torch.device("cpu"), params.train, None))
    changed = any(not torch.equal(before[k], v) for k, v in method.amplifier.state_dict().items())
    assert changed is train_ba and ("loss_ba" in logs) is train_ba


@pytest.mark.slow
@pytest.mark.parametrize("method", [
    "ddb_groupdro",
    # Recipe II is fragile here: on 400 images with 20 conflicting, a BA that is already sharp gives
    # aligned samples ~0 weight from the first step, so D fits the 20 conflicting images only, and whether
    # it clears 20 % depends on float summation order (thread count, memory layout). Not a pass/fail
    # signal until this check compares against vanilla over seeds.
    pytest.param("ddb_lff", marks=pytest.mark.xfail(reason="Recipe II near chance on the 400-image world; "
                                                    "depends on float summation order", strict=False)),
])
def test_recipes_beat_chance_on_the_tiny_world(method, tiny_params, tiny_train):
    from diffubias.ddb.amplifier import train_amplifier
    from diffubias.ddb.recipes import amplified_set
    from diffubias.training import evaluate, fit

    params = replace(tiny_params, "train", epochs=8, lr=3e-3, lr_decay_step=100)
    params = replace(params, "ddb_ba", epochs=4)
    valid = load_benchmark_split(params.data, "colour", "valid")
    test = load_benchmark_split(params.data, "colour", "test")
    ba = train_amplifier(tiny_train, valid, params, 0, progress=False).method.model  # the 'real BA' ablation
    mask = pseudo_conflicting(ba, tiny_train.images, tiny_train.labels)
    assert mask.float().mean() < 0.5  # the BA is right on most (aligned) training samples
    result = fit(method, amplified_set(tiny_train, ba), valid, params, seed=0, progress=False)
    on_test = evaluate(result.method, test, torch.device("cpu"))["unbiased_acc"]  # group-uniform
    on_train = evaluate(result.method, tiny_train, torch.device("cpu"))["unbiased_acc"]  # the biased distribution
    # 10 classes: chance is 10 %; as in test_methods_smoke, either distribution must clear 20 %.
    assert max(on_test, on_train) > 20.0, (on_test, on_train)


def test_recipe_methods_refuse_plain_sets(tiny_params, tiny_train):
    from diffubias.ddb.recipes import PseudoGroupDRO
    from diffubias.errors import DataError
    from diffubias.methods import MethodContext

    with pytest.raises(DataError, match="Bias Amplifier"):
        PseudoGroupDRO(MethodContext(tiny_train, tiny_params, 16, torch.device("cpu"), 0))
