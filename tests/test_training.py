"""Classifier training: every architecture × loss (ERM: CE, GCE) trains; selection; checkpoints; augmentation."""
import pytest
import torch

from diffubias.data import load_benchmark_split
from diffubias.models import ARCHITECTURES, build_model
from diffubias.training import augment, evaluate, fit, load_checkpoint, save_checkpoint

from conftest import replace


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_architectures_shapes(arch):
    model = build_model(arch, 10, 16)
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 10)
    assert model.features(torch.zeros(2, 3, 16, 16)).shape == (2, model.feature_dim)


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
@pytest.mark.parametrize("method", ["erm", "gce"])  # cross entropy, generalized cross entropy
def test_every_architecture_and_loss_trains(arch, method, tiny_params):
    params = replace(tiny_params, "train", arch=arch, epochs=3, lr=3e-3 if arch != "resnet18" else 1e-3)
    train = load_benchmark_split(params.data, "colour", "train", "5")
    valid = load_benchmark_split(params.data, "colour", "valid")
    result = fit(method, train, valid, params, seed=0, progress=False)
    first = result.curve[0]["train_loss"]
    last = result.curve[-1]["train_loss"]
    assert last < first  # it learns
    fit_train = evaluate(result.method, train, torch.device("cpu"))
    assert fit_train["unbiased_acc"] > 30.0  # the (biased) training distribution, 10 classes: chance is 10 %
    assert len(result.curve) == 3 and 1 <= result.selected_epoch <= 3


def test_same_seed_same_weights(tiny_params):
    train = load_benchmark_split(tiny_params.data, "colour", "train", "5")
    valid = load_benchmark_split(tiny_params.data, "colour", "valid")
    a = fit("erm", train, valid, tiny_params, seed=1, progress=False).method.model.state_dict()
    b = fit("erm", train, valid, tiny_params, seed=1, progress=False).method.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_selection_last_vs_valid(tiny_params):
    train = load_benchmark_split(tiny_params.data, "colour", "train", "5")
    valid = load_benchmark_split(tiny_params.data, "colour", "valid")
    last = fit("erm", train, valid, replace(tiny_params, "train", select="last", epochs=3), 0, progress=False)
    assert last.selected_epoch == 3
    best = fit("erm", train, valid, replace(tiny_params, "train", epochs=3), 0, progress=False)
    scores = [row["valid_unbiased_acc"] for row in best.curve]
    assert scores[best.selected_epoch - 1] == max(scores)


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_a_classifier_resizes_other_inputs_to_its_size(arch):
    torch.manual_seed(0)
    model = build_model(arch, 10, 8).eval()
    x = torch.randn(2, 3, 16, 16)
    same = model.fit_input(torch.randn(2, 3, 8, 8))
    assert model.fit_input(x).shape == (2, 3, 8, 8) and same.shape == (2, 3, 8, 8)
    expected = model(torch.nn.functional.avg_pool2d(x, 2))  # area resize by 2 is a 2x2 mean
    assert torch.allclose(model(x), expected, atol=1e-5)
    assert model.features(x).shape == (2, model.feature_dim)


def test_conv_weights_are_channels_last_and_survive_a_checkpoint(tmp_path):
    model = build_model("cnn", 10, 8)
    conv = model.body[0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    save_checkpoint(model, tmp_path / "m.safetensors", {"arch": "cnn", "num_classes": 10, "image_size": 8})
    loaded, _ = load_checkpoint(tmp_path / "m.safetensors")
    assert loaded.body[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(3, 3, 32, 32)
    model.eval()
    assert torch.allclose(model(x), loaded(x)) and loaded.image_size == 8


def test_checkpoint_roundtrip(tmp_path):
    model = build_model("cnn", 10, 16)
    meta = {"arch": "cnn", "num_classes": 10, "image_size": 16, "selected_epoch": 4}
    save_checkpoint(model, tmp_path / "m.safetensors", meta)
    loaded, got = load_checkpoint(tmp_path / "m.safetensors")
    assert got == meta
    x = torch.randn(3, 3, 16, 16)
    model.eval()
    assert torch.allclose(model(x), loaded(x))
    assert not list(tmp_path.glob("*.tmp"))


def test_augment_keeps_shape_and_content():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    y = augment(x, ("crop", "flip"), g)
    assert y.shape == x.shape
    assert not torch.equal(y, x)
    assert torch.equal(augment(x, (), g), x)
