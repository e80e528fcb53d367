"""The zoo's test harness: one family table, and the three checks every zoo model goes through.

A family adds its models to :data:`FAMILIES` (its first model is the one ported in the default run)
and, where torchvision's published weights are configured unlike its default constructor, to
:data:`TORCHVISION_KWARGS`.  tests/zoo/test_zoo.py parametrizes over both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.zoo.reference import TORCHVISION, Published, torchvision_models

FAMILIES: dict[str, tuple[str, ...]] = {
    "alexnet": ("alexnet",),
    "vgg": ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"),
    "resnet": ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"),
    "resnext": ("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d"),
    "wide_resnet": ("wide_resnet50_2", "wide_resnet101_2"),
    "mobilenet_v2": ("mobilenet_v2",),
    "mobilenet_v3": ("mobilenet_v3_small", "mobilenet_v3_large"),
    "efficientnet": tuple(f"efficientnet_b{n}" for n in range(8)),
    "efficientnet_v2": ("efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"),
    "regnet_x": tuple(f"regnet_x_{size}" for size in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
    "regnet_y": tuple(f"regnet_y_{size}" for size in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf",
                                                      "128gf")),
    "squeezenet": ("squeezenet1_0", "squeezenet1_1"),
    "mnasnet": ("mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"),
    "shufflenet_v2": tuple(f"shufflenet_v2_{size}" for size in ("x0_5", "x1_0", "x1_5", "x2_0")),
    "densenet": ("densenet121", "densenet161", "densenet169", "densenet201"),
    "googlenet": ("googlenet",),
    "inception": ("inception_v3",),
    "convnext": ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large"),
    "vit": ("vit_b_32", "vit_b_16", "vit_l_16", "vit_l_32", "vit_h_14"),
    "swin": ("swin_t", "swin_s", "swin_b"),
    "maxvit": ("maxvit_t",),
    "swin_v2": ("swin_v2_t", "swin_v2_s", "swin_v2_b"),
}
"""Family -> the models written in the language so far; the first is ported in the default run."""

TORCHVISION_KWARGS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": True, "init_weights": True},
}
"""Constructor arguments that give torchvision's published configuration where the default differs."""

RELATIVE_TOLERANCE = 1e-4
"""Outputs agree when max |a - b| <= this times max(1, max |reference|) (random-init logits grow large)."""


def zoo_models() -> list[str]:
    return [name for models in FAMILIES.values() for name in models]


def family_heads() -> list[str]:
    """One model per family: the cheapest check that a family's library lines up with torchvision."""
    return [models[0] for models in FAMILIES.values()]


def published(name: str) -> Published:
    return TORCHVISION[name]


def torchvision_model(name: str, resolution: int | None = None) -> Any:
    """torchvision's model in its published configuration, randomly initialised, in eval mode; a ViT built
    for ``resolution`` (its position embedding follows the input size it is constructed for)."""
    import torch

    kwargs = dict(TORCHVISION_KWARGS.get(name, {}))
    if resolution is not None and name.startswith("vit_"):
        kwargs["image_size"] = resolution
    torch.manual_seed(0)
    return torchvision_models().get_model(name, weights=None, **kwargs).eval()


def randomize_batch_norms(module: Any, seed: int = 0) -> None:
    """Non-trivial batch-norm statistics, so a misplaced norm cannot hide behind mean 0, variance 1."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, torch.nn.BatchNorm2d):
                layer.running_mean.copy_(torch.randn(layer.num_features, generator=generator) * 0.1)
                layer.running_var.copy_(torch.rand(layer.num_features, generator=generator) + 0.5)


def max_relative_difference(actual: Any, expected: Any) -> float:
    scale = max(1.0, float(expected.abs().max()))
    return float((actual - expected).abs().max()) / scale


def ported_difference(name: str, resolution: int | None = None) -> float:
    """Port torchvision's weights into archspec's module by order and compare outputs on one random batch."""
    import torch

    import archspec

    size = resolution or published(name).resolution
    reference = torchvision_model(name, size)
    randomize_batch_norms(reference)
    model = archspec.build(name, seed=0, input_shape=(3, size, size)).eval()
    archspec.port_weights(model, reference.state_dict())
    sample = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = reference(sample), model(sample)
    if isinstance(expected, tuple):  # inception_v3 with its aux head in eval mode returns the logits alone
        expected = expected[0]
    return max_relative_difference(actual, expected)


def onnx_difference(name: str, directory: Path) -> float:
    """Export archspec's module to ONNX, run the full checker and compare onnxruntime with torch."""
    import numpy as np
    import onnx
    import onnxruntime
    import torch

    import archspec
    from archspec.backends.onnx import write_onnx

    graph = archspec.analyse(name)
    model = archspec.build(name, seed=0).eval()
    randomize_batch_norms(model)
    (path, *_) = write_onnx(graph, model, directory / f"{name}.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    sample = torch.randn(1, *graph.input_shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model(sample)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {session.get_inputs()[0].name: sample.numpy()})
    return max_relative_difference(torch.from_numpy(np.asarray(actual)), expected)
