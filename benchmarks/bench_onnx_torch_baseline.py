"""The baseline of bench_onnx: a hand-written VGG-16 (as torchvision writes it) exported by torch.onnx.export.

Run as a script in a fresh process: ``python benchmarks/bench_onnx_torch_baseline.py OUT.onnx``.
Nothing is imported at module level, so importing this file is free.
"""

from __future__ import annotations

import sys


def vgg16():  # type: ignore[no-untyped-def]
    from torch import nn

    layers: list[nn.Module] = []
    channels = 3
    for width in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if width == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(width), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(width)

    class VGG16(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, 1000),
            )

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.classifier(self.avgpool(self.features(x)).flatten(1))

    return VGG16().eval()


def export(path: str) -> None:
    import torch

    model = vgg16()
    torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), path, dynamo=True, input_names=["input"],
                      output_names=["output"], dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, verbose=False)


if __name__ == "__main__":
    export(sys.argv[1])
