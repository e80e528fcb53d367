"""The seed networks reproduce their reference figures: parameters exactly, MACs within 1%.

References: torchvision's model tables (AlexNet, VGG, ResNet), the case-study notes (LeNet-5),
the AlexNet paper's layer table, and for NiN and plain34 the figures computed by hand in the
docstrings below.
"""

from __future__ import annotations

import json

import pytest

import archspec
from archspec.analysis.summary import summary_json
from archspec.spec.builtin import builtin_spec_names
from tests.zoo.reference import TORCHVISION

REFERENCE = {
    # name: (parameters, GMACs or None)
    "lenet5": (61_706, None),
    "alexnet": (61_100_840, 0.714),
    "alexnet_paper": (60_965_224, None),
    "vgg16": (138_357_544, 15.47),
    "vgg19": (143_667_240, 19.63),
    "resnet18": (11_689_512, 1.814),
    "resnet34": (21_797_672, 3.664),
    "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801),
    "resnet152": (60_192_808, 11.514),
    # resnet34 less its three projection shortcuts (1x1 conv + BN): 8,448 + 33,280 + 132,096.
    "plain34": (21_797_672 - 173_824, None),
    # conv 5x5 192, 1x1 160, 1x1 96 | conv 5x5 192, 1x1 192, 1x1 192 | conv 3x3 192, 1x1 192, 1x1 10 (with biases).
    "nin": (14_592 + 30_880 + 15_456 + 460_992 + 37_056 * 2 + 331_968 + 37_056 + 1_930, None),
}


def test_every_builtin_spec_has_a_reference():
    """Here, or in torchvision's table, against which tests/zoo checks the zoo's specs."""
    assert set(REFERENCE) <= set(builtin_spec_names()) <= set(REFERENCE) | set(TORCHVISION)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_parameters_exact_and_macs_within_one_percent(name):
    graph = archspec.analyse(name)
    params, gmacs = REFERENCE[name]
    assert graph.parameters == params
    if gmacs is not None:
        assert graph.macs / 1e9 == pytest.approx(gmacs, rel=0.01)


def one_layer_per_line(summary: dict) -> str:
    """Valid JSON with one line per layer, so golden diffs read layer by layer."""
    head = [f' "{key}": {json.dumps(value)}' for key, value in summary.items() if key != "layers"]
    layers = [f"  {json.dumps(layer)}" for layer in summary["layers"]]
    return "{\n" + ",\n".join(head) + ',\n "layers": [\n' + ",\n".join(layers) + "\n ]\n}\n"


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_summary_json_matches_golden(name, golden):
    text = one_layer_per_line(summary_json(archspec.analyse(name)))
    assert json.loads(text) == summary_json(archspec.analyse(name))
    golden(f"summary/{name}.json", text)


def test_lenet_shapes_follow_the_case_study_figure():
    graph = archspec.analyse("lenet5")
    volumes = [node.output_shape for node in graph.layers if node.op in ("conv2d", "avgpool2d", "linear")]
    assert volumes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120,), (84,), (10,)]


@pytest.mark.parametrize(("size", "pooled"), [(227, 6), (224, 5)])
def test_alexnet_paper_at_227_and_224(size, pooled):
    """227 is what the paper's arithmetic needs; at 224 the 11x11/4 convolution gives 54, and 5x5 at the end."""
    graph = archspec.analyse("alexnet_paper", input_shape=(3, size, size))
    assert graph.node("flatten1").output_shape == (256 * pooled * pooled,)


def test_alexnet_paper_uses_lrn_and_two_gpu_groups():
    graph = archspec.analyse("alexnet_paper")
    assert [n.name for n in graph.layers if n.op == "lrn"] == ["lrn1", "lrn2"]
    assert [n.params.groups for n in graph.layers if n.op == "conv2d"] == [1, 2, 1, 2, 2]
    assert graph.node("conv1").output_shape == (96, 55, 55)


def test_resnet_names_and_projection_shortcuts_only_where_the_shape_changes():
    graph = archspec.analyse("resnet50")
    shortcuts = sorted({n.scope for n in graph.layers if n.role == "shortcut"})
    assert shortcuts == ["layer1.0.shortcut", "layer2.0.shortcut", "layer3.0.shortcut", "layer4.0.shortcut"]
    assert graph.node("layer3.5.conv2").output_shape == (256, 14, 14)
    assert graph.node("layer2.0.conv2").params.stride == 2  # v1.5: the stride is on the 3x3
    assert archspec.analyse("resnet18").node("layer4.1.add1").output_shape == (512, 7, 7)


def test_plain34_is_resnet34_without_shortcuts():
    plain, residual = archspec.analyse("plain34"), archspec.analyse("resnet34")
    assert not [n for n in plain.layers if n.op == "add"]
    assert len([n for n in residual.layers if n.role == "residual"]) == 16
    assert plain.output_shape == residual.output_shape


def test_nin_replaces_fully_connected_layers_with_global_pooling():
    graph = archspec.analyse("nin")
    assert not [n for n in graph.layers if n.op == "linear"]
    assert graph.node("mlpconv1.conv2").params.kernel == 1
    assert graph.node("maxpool1").output_shape == (96, 16, 16)  # ceil_mode, as in the Caffe model
    assert graph.output_shape == (10,)
