"""The differential property over the plugin's ops: on random specs that use them, the shapes archspec
infers are the shapes torch produces and the shapes onnxruntime produces, and the outputs agree."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec.backends.onnx import write_onnx
from archspec.errors import SpecError
from archspec.graph.ir import Graph
from archspec.ops.base import Shape
from tests.backends.onnx.onnx_roundtrip import build, export_and_compare
from tests.backends.torch.shapes import check_shapes
from tests.strategies import analyse_document, specs

pytestmark = pytest.mark.usefixtures("extra_ops")
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def squeeze_excite(draw: st.DrawFn, shape: Shape) -> tuple[str, dict[str, Any]]:
    return "squeeze_excite", {"reduction": draw(st.integers(1, shape[0])),
                              "gate": draw(st.sampled_from(["sigmoid", "hard_sigmoid"]))}


def h_swish(draw: st.DrawFn, shape: Shape) -> tuple[str, None]:
    return "h_swish", None


def shuffle_channels(draw: st.DrawFn, shape: Shape) -> tuple[str, dict[str, Any]]:
    return "shuffle_channels", {"groups": draw(st.sampled_from([g for g in range(1, 7) if shape[0] % g == 0]))}


def onnxruntime_shapes(path: Path, input_shape: Shape) -> dict[str, Shape]:
    """Every value the model declares, as onnxruntime computes it (made an output to be seen)."""
    import onnxruntime

    model = onnx.load(str(path))
    declared = [info.name for info in model.graph.value_info]
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in declared)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, {"input": np.zeros((2, *input_shape), dtype=np.float32)})
    return {name: tuple(value.shape[1:]) for name, value in zip(names, values, strict=True)}


def check_everywhere(graph: Graph) -> None:
    model = build(graph)
    with torch.no_grad():
        check_shapes(model, graph)  # every layer seen, each at its static shape
    with tempfile.TemporaryDirectory() as folder:
        export_and_compare(graph, Path(folder))
        at_runtime = onnxruntime_shapes(Path(folder) / f"{graph.name}.onnx", graph.input_shape)
    static = {node.name: node.output_shape for node in graph.layers}
    compared = {name: shape for name, shape in at_runtime.items() if name in static}
    assert compared == {name: static[name] for name in compared}
    assert at_runtime["output"] == graph.output_shape
    plugin_layers = {node.name for node in graph.layers if node.op in ("squeeze_excite", "h_swish")}
    assert plugin_layers - {graph.output} <= set(compared), "every plugin layer's value was compared"


@PROPERTY
@given(document=specs(extra=[squeeze_excite, h_swish], exportable=True))
def test_static_torch_and_onnxruntime_agree_on_random_specs_with_plugin_ops(document: dict[str, Any]) -> None:
    check_everywhere(analyse_document(document))


@PROPERTY
@given(document=specs(max_units=4, extra=[shuffle_channels, squeeze_excite], exportable=True))
def test_an_op_without_onnx_lowering_is_static_equal_torch_and_fails_export_cleanly(document: dict[str, Any]) -> None:
    graph = analyse_document(document)
    model = build(graph)
    with torch.no_grad():
        check_shapes(model, graph)
    shuffles = [node.name for node in graph.layers if node.op == "shuffle_channels"]
    if not shuffles:
        return
    with tempfile.TemporaryDirectory() as folder:
        with pytest.raises(SpecError) as raised:
            write_onnx(graph, model, Path(folder) / "out" / "net.onnx")
        assert not (Path(folder) / "out").exists()
    assert [d.message.split("'")[1] for d in raised.value.diagnostics] == shuffles
