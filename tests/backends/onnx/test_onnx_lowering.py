"""How each op lowers: names, the torch/ONNX differences decided from static shapes, located errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest

from archspec.backends.onnx import module_weights, write_onnx
from archspec.backends.onnx.lowering import DEFAULT_OPSET, MIN_OPSET, lower_graph, newest_opset
from archspec.errors import SpecError, UsageError
from tests.backends.onnx.onnx_roundtrip import build, export_and_compare
from tests.backends.onnx.spec_files import spec_graph


def attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {attribute.name: onnx.helper.get_attribute_value(attribute) for attribute in node.attribute}


def nodes_by_name(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {node.name: node for node in model.graph.node}


def test_names_follow_the_spec(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [
        {"conv2d": {"channels": 4, "kernel": 3, "padding": 1}}, "batchnorm2d", "relu",
        {"residual": "auto", "body": [{"conv2d": {"channels": 8, "kernel": 3, "stride": 2, "padding": 1}}]},
        "global_avgpool", "flatten", {"linear": 10, "name": "classifier"},
    ], (3, 8, 8))
    model = export_and_compare(graph, tmp_path)
    nodes = nodes_by_name(model)
    assert list(nodes) == [node.name for node in graph.layers]
    assert nodes["classifier"].output == ["output"]
    assert nodes["conv1"].output == ["conv1"] and nodes["bn1"].input[0] == "conv1"
    assert nodes["conv1"].doc_string.startswith("conv 3×3, 4 (")
    assert {tensor.name for tensor in model.graph.initializer} == set(module_weights(build(graph)))
    assert nodes["shortcut.bn"].input[1:] == ["shortcut.bn.weight", "shortcut.bn.bias", "shortcut.bn.running_mean",
                                               "shortcut.bn.running_var"]
    declared = {value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
                for value in model.graph.value_info}
    assert declared["conv2"] == ["batch", 8, 4, 4]
    assert model.producer_name == "archspec"
    assert model.opset_import[0].version == DEFAULT_OPSET
    assert {prop.key for prop in model.metadata_props} >= {"archspec.spec", "archspec.version"}


def test_asymmetric_same_padding_goes_into_the_conv(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [
        {"conv2d": {"channels": 3, "kernel": 3, "stride": 2, "padding": "same"}},
        {"conv2d": {"channels": 2, "kernel": 4, "padding": "same", "dilation": [1, 2]}},
    ], (2, 8, 7))
    nodes = nodes_by_name(export_and_compare(graph, tmp_path))
    assert attributes(nodes["conv1"])["pads"] == [0, 1, 1, 1]  # top, left, bottom, right
    assert attributes(nodes["conv2"])["pads"] == [1, 3, 2, 3]
    assert [node.op_type for node in nodes.values()] == ["Conv", "Conv"]


@pytest.mark.parametrize(("size", "kernel", "stride", "padding", "expected_pads"), [
    (5, 2, 2, 1, [1, 1, 1, 1]),  # torch drops the window starting in the padding; ONNX's ceil would not
    (55, 3, 2, 0, [0, 0, 0, 0]),  # AlexNet: ceil and floor agree
    (32, 3, 2, 0, [0, 0, 1, 1]),  # NIN: a last window reaching past the input
    (8, 3, 2, 1, [1, 1, 2, 2]),
])
def test_ceil_mode_max_pool_keeps_torch_windows(tmp_path: Path, size: int, kernel: int, stride: int, padding: int,
                                                 expected_pads: list[int]) -> None:
    pool = {"kernel": kernel, "stride": stride, "padding": padding, "ceil_mode": True}
    graph = spec_graph(tmp_path, [{"maxpool2d": pool}], (2, size, size))
    node = nodes_by_name(export_and_compare(graph, tmp_path))["maxpool1"]
    assert attributes(node) == {"kernel_shape": [kernel] * 2, "strides": [stride] * 2, "pads": expected_pads}


@pytest.mark.parametrize(("count_include_pad", "padding", "ops"), [
    (True, 1, ["AveragePool", "Constant", "Mul"]),  # torch counts the padding, not the overhang: rescaled
    (False, 1, ["AveragePool"]),
    (True, 0, ["AveragePool"]),  # no padding: torch divides by the real elements, as ONNX does
])
def test_ceil_mode_average_pool_divides_as_torch_does(tmp_path: Path, count_include_pad: bool, padding: int,
                                                      ops: list[str]) -> None:
    pool = {"kernel": 3, "stride": 2, "padding": padding, "ceil_mode": True, "count_include_pad": count_include_pad}
    graph = spec_graph(tmp_path, [{"avgpool2d": pool}], (3, 8, 10))
    model = export_and_compare(graph, tmp_path)
    assert [node.op_type for node in model.graph.node] == ops
    assert model.graph.node[-1].name == "avgpool1"


@pytest.mark.parametrize(("size", "output", "ops"), [
    ((7, 7), 7, ["Identity"]),
    ((7, 5), 1, ["GlobalAveragePool"]),
    ((8, 6), [4, 2], ["AveragePool"]),
    ((7, 5), 3, ["Constant", "Constant", "MatMul", "MatMul"]),  # uneven windows: exact averaging matrices
    ((2, 3), [5, 4], ["Constant", "Constant", "MatMul", "MatMul"]),  # more outputs than inputs
])
def test_adaptive_average_pool_is_decided_from_static_shapes(tmp_path: Path, size: tuple[int, int], output: Any,
                                                             ops: list[str]) -> None:
    graph = spec_graph(tmp_path, [{"adaptive_avgpool2d": output}], (3, *size))
    model = export_and_compare(graph, tmp_path)
    assert [node.op_type for node in model.graph.node] == ops
    if ops == ["AveragePool"]:
        assert attributes(model.graph.node[0]) == {"kernel_shape": [2, 3], "strides": [2, 3]}


@pytest.mark.parametrize(("opset", "ops"), [(18, ["Constant", "Mul", "Erf", "Constant", "Add", "Constant", "Mul",
                                                  "Mul"]), (20, ["Gelu"])])
def test_gelu_is_one_node_from_opset_20_and_exact_before(tmp_path: Path, opset: int, ops: list[str]) -> None:
    graph = spec_graph(tmp_path, ["gelu"], (2, 3, 3))
    model = export_and_compare(graph, tmp_path, opset=opset)
    assert [node.op_type for node in model.graph.node] == ops
    assert model.graph.node[-1].name == "gelu1"
    assert all(node.name.startswith("gelu1/") for node in model.graph.node[:-1])


def test_batch_norm_without_affine_uses_constants(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"batchnorm2d": {"affine": False, "eps": 0.001}}], (3, 4, 4))
    model = export_and_compare(graph, tmp_path)
    assert [node.op_type for node in model.graph.node] == ["Constant", "Constant", "BatchNormalization"]
    assert attributes(model.graph.node[-1])["epsilon"] == pytest.approx(0.001)


def test_joins_of_several_inputs(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [
        {"conv2d": {"channels": 2, "kernel": 1}, "name": "a"},
        {"conv2d": {"channels": 2, "kernel": 1}, "name": "b", "inputs": ["input"]},
        {"add": ["a", "b", "a"]},
        {"concat": ["add1", "a", "input"]},
    ], (3, 4, 4))
    model = export_and_compare(graph, tmp_path)
    assert [node.op_type for node in model.graph.node] == ["Conv", "Conv", "Sum", "Concat"]


def test_even_lrn_is_a_located_error_and_writes_nothing(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"lrn": 4}, "relu", {"lrn": 2, "name": "norm"}, {"lrn": 3}], (6, 4, 4))
    target = tmp_path / "out" / "net.onnx"
    target.parent.mkdir()
    target.write_bytes(b"an earlier export")
    with pytest.raises(SpecError) as raised:
        write_onnx(graph, build(graph), target)
    first, second = raised.value.diagnostics
    assert "cannot export layer 'lrn1' (lrn) to ONNX: LRN of even size 4" in first.message
    assert first.location is not None and first.location.path == str(tmp_path / "net.yaml")
    assert first.location.line_text.strip() == "- lrn: 4"
    assert "layer 'norm'" in second.message and second.hint == "use an odd size (AlexNet uses 5)"
    assert sorted(path.name for path in target.parent.iterdir()) == ["net.onnx"]
    assert target.read_bytes() == b"an earlier export"


def test_softmax_over_an_image_needs_opset_13(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, ["softmax"], (3, 2, 2))
    with pytest.raises(SpecError) as raised:
        write_onnx(graph, build(graph), tmp_path / "net.onnx", opset=12)
    (diagnostic,) = raised.value.diagnostics
    assert "layer 'softmax1'" in diagnostic.message and "needs ONNX opset 13" in diagnostic.message
    assert diagnostic.hint == f"export with --opset {DEFAULT_OPSET}"
    assert not (tmp_path / "net.onnx").exists()
    export_and_compare(graph, tmp_path, opset=13)
    flat = spec_graph(tmp_path, [{"linear": 4}, "softmax"], (5,), name="flat")
    export_and_compare(flat, tmp_path, opset=MIN_OPSET)


@pytest.mark.parametrize("opset", [MIN_OPSET - 1, newest_opset() + 1])
def test_opset_out_of_range_is_a_usage_error(tmp_path: Path, opset: int) -> None:
    graph = spec_graph(tmp_path, ["relu"], (3, 2, 2))
    with pytest.raises(UsageError, match=f"--opset {opset}: archspec writes ONNX opsets {MIN_OPSET} to"):
        write_onnx(graph, build(graph), tmp_path / "net.onnx", opset=opset)


def test_a_module_missing_a_weight_is_a_usage_error(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"linear": 3}], (4,))
    weights = module_weights(build(graph))
    del weights["fc1.bias"]
    with pytest.raises(UsageError, match=r"the module has no tensor 'fc1\.bias'"):
        lower_graph(graph, weights)


def test_a_containers_layers_run_where_they_are_written(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [
        {"conv2d": {"channels": 4, "kernel": 3, "padding": 1}, "name": "down.0"},
        {"conv2d": {"channels": 4, "kernel": 3, "padding": 1}, "name": "down.1"},
        {"concat": ["down.1", "down.0"]},
        {"conv2d": {"channels": 4, "kernel": 1}, "name": "up.0"},
    ], (3, 8, 8))
    model = export_and_compare(graph, tmp_path)
    assert list(nodes_by_name(model)) == ["down.0", "down.1", "concat1", "up.0"]
    assert {tensor.name for tensor in model.graph.initializer} == set(module_weights(build(graph)))
