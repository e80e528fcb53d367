"""How ops are written on the arrows: the case-study notation, from the IR's parameters and shapes."""

from __future__ import annotations

from archspec.backends.volumes.labels import op_text
from archspec.graph.lower import analyse

OPS = """
archspec: 1
name: ops
input: [3, 32, 32]
layers:
  - {conv2d: {channels: 8, kernel: 3, padding: 1}, name: same}
  - {conv2d: {channels: 8, kernel: 3, stride: 2, padding: 1}, name: strided}
  - {conv2d: {channels: 8, kernel: 5, padding: 1}, name: padded}
  - {conv2d: {channels: 8, kernel: [3, 1], stride: [2, 1], padding: same}, name: tall}
  - {conv2d: {channels: 8, kernel: 3, dilation: 2, padding: 2, groups: 2}, name: dilated}
  - {maxpool2d: {kernel: 3, stride: 2, padding: 1}, name: maxpool}
  - {avgpool2d: 2, name: avgpool}
  - {adaptive_avgpool2d: 1, name: adaptive}
  - {flatten, name: flat}
  - {linear: 10, name: fc}
  - {relu, name: act}
"""

EXPECTED = {
    "same": ("conv 3×3", "s=1, same"),
    "strided": ("conv 3×3", "s=2, same"),
    "padded": ("conv 5×5", "s=1, p=1"),
    "tall": ("conv 3×1", "s=2×1, same"),
    "dilated": ("conv 3×3", "s=1, same, d=2, 2 groups"),
    "maxpool": ("max pool", "f=3, s=2, p=1"),
    "avgpool": ("avg pool", "f=2, s=2"),
    "adaptive": ("adaptive avg pool", "to 1×1"),
    "flat": ("flatten",),
    "fc": ("FC",),
    "act": ("ReLU",),
}


def test_each_op_is_written_with_its_key_hyperparameters(write_spec):
    graph = analyse(write_spec(OPS))
    assert {node.name: op_text(graph, node) for node in graph.layers} == EXPECTED


def test_valid_convolutions_say_only_their_stride():
    graph = analyse("lenet5")
    assert op_text(graph, graph.node("conv1")) == ("conv 5×5", "s=1")
    assert op_text(graph, graph.node("avgpool1")) == ("avg pool", "f=2, s=2")


def test_ops_without_a_notation_use_the_ir_label():
    graph = analyse("resnet18")
    assert op_text(graph, graph.node("bn1")) == (graph.node("bn1").label,)
    assert op_text(graph, graph.node("layer1.0.add1")) == ("+",)
