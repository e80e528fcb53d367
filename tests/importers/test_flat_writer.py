"""``write_flat_spec``: one named layer per flat layer, ``inputs:`` only where the flow is not sequential."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import archspec
from archspec.importers.flat import NETWORK_INPUT, FlatLayer, FlatModel
from archspec.importers.flat_writer import flat_state_dict, layer_names, write_flat_spec

MODEL = FlatModel("my net", (3, 8, 8), (
    FlatLayer("a", "conv2d", {"channels": 3, "kernel": 3, "padding": 1, "bias": False}, (NETWORK_INPUT,),
              scope=("layer1", "0", "conv1"), name="conv1", state={"weight": np.zeros((3, 3, 3, 3), np.float32)}),
    FlatLayer("b", "relu", {}, ("a",), scope=("layer1", "0")),
    FlatLayer("c", "add", {}, ("b", NETWORK_INPUT), scope=("layer1", "0")),
    FlatLayer("d", "batchnorm2d", {"eps": 1e-05}, ("c",), scope=("input",), name="input"),
    FlatLayer("e", "relu", {}, ("a",), scope=("layer1", "0")),
    FlatLayer("f", "concat", {}, ("d", "e")),
), ("f",))


def test_the_spec_reads_back(tmp_path: Path) -> None:
    text = write_flat_spec(MODEL)
    assert text.splitlines()[:4] == ["archspec: 1", "name: my_net", "input: [3, 8, 8]", "layers:"]
    assert "  - {name: layer1_0_relu, relu: {}}" in text  # sequential: no inputs
    assert "  - {name: layer1_0_add, add: [layer1_0_relu, input]}" in text
    assert "  - {name: layer1_0_relu_2, relu: {}, inputs: [layer1_0_conv1]}" in text
    assert "  - {name: input_2, batchnorm2d: {eps: 1.0e-05}}" in text  # 'input' is reserved
    path = tmp_path / "net.yaml"
    path.write_text(text)
    graph = archspec.analyse(str(path))
    assert graph.output_shape == (6, 8, 8) and [node.name for node in graph.layers][-1] == "concat"


def test_weights_use_the_spec_names() -> None:
    assert layer_names(MODEL)["a"] == "layer1_0_conv1"
    assert list(flat_state_dict(MODEL)) == ["layer1_0_conv1.weight"]
