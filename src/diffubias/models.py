"""Classifier architectures, chosen by name from ``ARCHITECTURES``.

Every architecture is a :class:`Classifier`: a feature ``body`` and a linear ``head``, so
last-layer methods (DFR) and embeddings (t-SNE) work the same way on all of them. A classifier
built for ``image_size`` resizes other inputs to it (area interpolation), so a model can work at a
lower resolution than the data (DDB's Bias Amplifier sees images at the diffusion resolution).
Convolutional architectures keep their weights in channels-last layout: on a CPU their training
steps are ~1.5x faster (measured in ``bench/ddb_speed.py``), and on GPUs it is the layout that
mixed precision prefers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from diffubias.registry import Registry

ARCHITECTURES: Registry = Registry("architecture", "train.arch")


class Classifier(nn.Module):
    """``head(body(x))`` with the penultimate features available as ``features(x)``."""

    def __init__(self, body: nn.Module, feature_dim: int, num_classes: int, image_size: int = 0,
                 channels_last: bool = False) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(feature_dim, num_classes)
        self.feature_dim = feature_dim
        self.image_size = image_size  # inputs of another size are resized to it; 0 = take any size
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def fit_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` resized (area interpolation) to the size the classifier was built for."""
        size = self.image_size
        if size and tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="area")
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.fit_input(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@ARCHITECTURES.register("resnet18")
def resnet18(num_classes: int, image_size: int = 32) -> Classifier:
    """torchvision ResNet-18; below 64 px the stem is 3×3 stride 1 without max-pool (CIFAR style)."""
    import torchvision  # imported here: torchvision pulls in torch._dynamo, seconds of CLI start-up

    net = torchvision.models.resnet18(weights=None)
    if image_size < 64:
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    dim = net.fc.in_features
    net.fc = nn.Identity()
    return Classifier(net, dim, num_classes, image_size, channels_last=True)


@ARCHITECTURES.register("mlp")
def mlp(num_classes: int, image_size: int = 32) -> Classifier:
    """LfF's Colored-MNIST MLP: three hidden layers of 100 units."""
    body = nn.Sequential(
        nn.Flatten(),
        nn.Linear(3 * image_size * image_size, 100), nn.ReLU(),
        nn.Linear(100, 100), nn.ReLU(),
        nn.Linear(100, 100), nn.ReLU(),
    )
    return Classifier(body, 100, num_classes, image_size)


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


@ARCHITECTURES.register("cnn")
def cnn(num_classes: int, image_size: int = 32) -> Classifier:
    """A small 4-block CNN (≈0.3 M parameters): fast on a CPU, strong enough for 32 px shapes."""
    body = nn.Sequential(
        _conv_block(3, 32), nn.MaxPool2d(2),
        _conv_block(32, 64), nn.MaxPool2d(2),
        _conv_block(64, 128), nn.MaxPool2d(2),
        _conv_block(128, 128),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )
    return Classifier(body, 128, num_classes, image_size, channels_last=True)


def build_model(arch: str, num_classes: int, image_size: int = 32) -> Classifier:
    """Instantiate the architecture called ``arch``."""
    return ARCHITECTURES.get(arch)(num_classes, image_size)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
