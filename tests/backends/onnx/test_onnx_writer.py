"""The writer: weights inline below the protobuf limit, external data above it, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from google.protobuf.internal.encoder import _VarintBytes

from archspec.backends.onnx import describe_onnx, module_weights, write_onnx
from archspec.backends.onnx import writer as writer_module
from archspec.backends.onnx.lowering import lower_graph
from archspec.backends.onnx.writer import EXTERNAL_ALIGNMENT, PROTOBUF_LIMIT, save_model
from archspec.graph.ir import Graph
from tests.backends.onnx.onnx_roundtrip import assert_runtime_matches, build, export_and_compare
from tests.backends.onnx.spec_files import spec_graph

SMALL_NET = [{"conv2d": {"channels": 4, "kernel": 3}}, "batchnorm2d", "relu", "flatten", {"linear": 5}]


def small_graph(directory: Path) -> Graph:
    return spec_graph(directory, SMALL_NET, (3, 6, 6))


def test_inline_weights_read_back_exactly(tmp_path: Path) -> None:
    graph = small_graph(tmp_path)
    module = build(graph)
    (path,) = write_onnx(graph, module, tmp_path / "net.onnx")
    loaded = {tensor.name: onnx.numpy_helper.to_array(tensor) for tensor in onnx.load(str(path)).graph.initializer}
    expected = module_weights(module)
    assert loaded.keys() == {key for key in expected if not key.endswith("num_batches_tracked")}
    for name, array in loaded.items():
        np.testing.assert_array_equal(array, expected[name])


def test_external_data_above_the_limit(tmp_path: Path) -> None:
    graph = small_graph(tmp_path)
    module = build(graph)
    path = tmp_path / "net.onnx"
    paths = save_model(lower_graph(graph, module_weights(module)), path, inline_limit=1000)
    assert paths == [path, tmp_path / "net.onnx.data"]
    model = onnx.load(str(path), load_external_data=False)
    offsets = [int(entry.value) for tensor in model.graph.initializer for entry in tensor.external_data
               if entry.key == "offset"]
    assert len(offsets) == len(model.graph.initializer) and all(offset % EXTERNAL_ALIGNMENT == 0 for offset in offsets)
    onnx.checker.check_model(str(path), full_check=True)
    assert_runtime_matches(path, module, graph.input_shape, (1, 2))
    assert "external data: net.onnx.data (" in describe_onnx(path)

    assert write_onnx(graph, module, path) == [path]  # small again: one file, and the stale data file goes
    assert not (tmp_path / "net.onnx.data").exists()
    assert_runtime_matches(path, module, graph.input_shape, (1,))


def test_a_model_without_weights(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"maxpool2d": 2}, "relu", "global_avgpool"], (3, 6, 6))
    model = export_and_compare(graph, tmp_path)
    assert not model.graph.initializer


@pytest.mark.parametrize("inline_limit", [PROTOBUF_LIMIT, 1000])
def test_a_failed_write_leaves_nothing_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inline_limit: int) -> None:
    graph = small_graph(tmp_path)
    lowered = lower_graph(graph, module_weights(build(graph)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "net.onnx").write_bytes(b"an earlier export")
    calls = 0

    def failing_write(stream: object, array: np.ndarray) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer_module, "_write_array", failing_write)
    with pytest.raises(OSError, match="No space left"):
        save_model(lowered, out / "net.onnx", inline_limit=inline_limit)
    assert [path.name for path in out.iterdir()] == ["net.onnx"]
    assert (out / "net.onnx").read_bytes() == b"an earlier export"


def test_files_get_the_usual_mode(tmp_path: Path) -> None:
    graph = small_graph(tmp_path)
    (path,) = write_onnx(graph, build(graph), tmp_path / "net.onnx")
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31 - 1, 2**40 + 5])
def test_varint_matches_protobuf(value: int) -> None:
    assert writer_module._varint(value) == _VarintBytes(value)


@pytest.mark.slow
def test_a_model_over_2_gib_is_written_with_external_data(tmp_path: Path) -> None:
    """A spec made large on purpose: one 8192 x 66000 linear layer holds 2.16 GB of weights."""
    graph = spec_graph(tmp_path, [
        {"conv2d": {"channels": 8, "kernel": 3, "padding": "same"}}, "flatten", {"linear": 66000}, "relu",
        {"linear": 10},
    ], (3, 32, 32), name="wide")
    assert graph.parameters * 4 > 2**31
    module = build(graph)
    paths = write_onnx(graph, module, tmp_path / "wide.onnx")
    assert paths == [tmp_path / "wide.onnx", tmp_path / "wide.onnx.data"]
    assert paths[0].stat().st_size < 2**20 and paths[1].stat().st_size > 2**31
    onnx.checker.check_model(str(paths[0]), full_check=True)
    assert_runtime_matches(paths[0], module, graph.input_shape, (1, 2))
    assert f"parameters: {graph.parameters:,}" in describe_onnx(paths[0])


def test_the_file_has_one_graph_field(tmp_path: Path) -> None:
    """Readers that replace rather than merge a repeated message field (some JS decoders) see the whole graph."""
    graph = small_graph(tmp_path)
    (path,) = write_onnx(graph, build(graph), tmp_path / "net.onnx")
    model = onnx.load(str(path))
    graph_fields = [field for field, _ in _top_level_fields(path.read_bytes()) if field == 7]
    assert len(graph_fields) == 1
    assert len(model.graph.node) == len(graph.layers) and len(model.graph.initializer) == 8


def _top_level_fields(data: bytes) -> list[tuple[int, int]]:
    """(field number, wire type) of each top-level field of a protobuf message."""
    from google.protobuf.internal.decoder import _DecodeVarint

    fields, position = [], 0
    while position < len(data):
        key, position = _DecodeVarint(data, position)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, position = _DecodeVarint(data, position)
        elif wire_type == 2:
            length, position = _DecodeVarint(data, position)
            position += length
        else:
            raise AssertionError(f"unexpected wire type {wire_type}")
        fields.append((field, wire_type))
    return fields
