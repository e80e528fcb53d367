"""Small networks written in plain PyTorch, the way people write them: the other side of the
weight-porting tests.  Their attribute names differ from archspec's on purpose (``features.0``,
``downsample.1``); their layers are declared in the same order as the specs below."""

from __future__ import annotations

import torch
from torch import nn

LENET5 = "lenet5"

VGG_STYLE = """
archspec: 1
name: small_vgg
input: [3, 32, 32]
defaults:
  conv2d: {kernel: 3, padding: same}
blocks:
  stage:
    params: {channels: int, convs: int}
    body:
      - repeat: $convs
        body: [{conv2d: $channels}, batchnorm2d, relu]
      - maxpool2d: 2
layers:
  - stage: {channels: 8, convs: 1}
  - stage: {channels: 16, convs: 2}
  - stage: {channels: 32, convs: 2}
  - flatten
  - linear: 64
  - relu
  - dropout
  - linear: 10
"""

RESNET_BLOCK = """
archspec: 1
name: {name}
input: [8, 16, 16]
defaults:
  conv2d: {{bias: false}}
blocks:
  basic:
    params: {{channels: int, stride: int}}
    body:
      - residual: auto
        body:
          - conv2d: {{channels: $channels, kernel: 3, stride: $stride, padding: 1}}
          - batchnorm2d
          - relu
          - conv2d: {{channels: $channels, kernel: 3, padding: 1}}
          - batchnorm2d
      - relu
  bottleneck:
    params: {{channels: int, stride: int}}
    body:
      - residual: auto
        body:
          - conv2d: {{channels: $channels, kernel: 1}}
          - batchnorm2d
          - relu
          - conv2d: {{channels: $channels, kernel: 3, stride: $stride, padding: 1}}
          - batchnorm2d
          - relu
          - conv2d: {{channels: $channels * 4, kernel: 1}}
          - batchnorm2d
      - relu
layers:
  - {{{block}: {{channels: 16, stride: 2}}}}
  - {{{block}: {{channels: 16, stride: 1}}}}
"""


class LeNet5(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                                        nn.Linear(84, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class SmallVGG(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for value in [8, "M", 16, 16, "M", 32, 32, "M"]:
            if value == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                assert isinstance(value, int)
                layers += [nn.Conv2d(channels, value, 3, padding=1), nn.BatchNorm2d(value), nn.ReLU(inplace=True)]
                channels = value
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(32 * 4 * 4, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def _projection(inplanes: int, planes: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _projection(inplanes, planes, stride) if stride != 1 or inplanes != planes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = (_projection(inplanes, planes * 4, stride)
                           if stride != 1 or inplanes != planes * 4 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + (self.downsample(x) if self.downsample is not None else x))


def two_blocks(block: type[BasicBlock | Bottleneck]) -> nn.Sequential:
    """The RESNET_BLOCK spec's network: a block with a projection shortcut, then one without."""
    widen = 4 if block is Bottleneck else 1
    return nn.Sequential(block(8, 16, 2), block(16 * widen, 16, 1))
