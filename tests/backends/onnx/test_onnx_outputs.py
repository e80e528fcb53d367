"""Several outputs in ONNX: one graph output per inference output; training-only heads left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch

import archspec
from archspec.backends.onnx import write_onnx

DATA = Path(__file__).parents[2] / "data" / "outputs"


def _exported(name: str, directory: Path) -> tuple[list[str], list[np.ndarray], list[torch.Tensor]]:
    graph = archspec.analyse(str(DATA / f"{name}.yaml"))
    model = archspec.build(str(DATA / f"{name}.yaml"), seed=0).eval()
    (path, *_) = write_onnx(graph, model, directory / f"{name}.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    sample = torch.randn(2, *graph.input_shape)
    with torch.no_grad():
        expected = model(sample)
    expected = [value for value in expected if value is not None] if isinstance(expected, tuple) else [expected]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {session.get_inputs()[0].name: sample.numpy()})
    assert len(actual) == len(expected)
    for value, reference in zip(actual, expected, strict=True):
        assert np.abs(value - reference.numpy()).max() <= 1e-4 * max(1.0, float(reference.abs().max()))
    return [output.name for output in session.get_outputs()], actual, expected


def test_inference_outputs_are_graph_outputs_named_as_in_the_spec(tmp_path: Path) -> None:
    names, _, _ = _exported("three_heads", tmp_path)
    assert names == ["logits", "features"]


def test_a_lone_inference_output_is_output_and_the_aux_head_is_not_exported(tmp_path: Path) -> None:
    names, _, _ = _exported("two_heads", tmp_path)
    assert names == ["output"]
    model = onnx.load(str(tmp_path / "two_heads.onnx"))
    assert not any("aux" in node.name for node in model.graph.node)
    assert not any("aux" in tensor.name for tensor in model.graph.initializer)
