"""Export a graph, check the file, and compare onnxruntime with the torch module: the tests' one judge."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from archspec.backends.onnx import write_onnx
from archspec.backends.torch import build_module
from archspec.graph.ir import Graph

RELATIVE_TOLERANCE = 1e-4


def build(graph: Graph, seed: int = 0) -> torch.nn.Module:
    """The real torch backend's module, in eval mode, with non-trivial batch-norm statistics."""
    return randomize_statistics(build_module(graph, seed=seed).eval(), seed=seed)


def randomize_statistics(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every batch norm non-trivial statistics and affine parameters, so the export is tested on them."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.BatchNorm2d):
                channels = layer.num_features
                layer.running_mean.copy_(torch.randn(channels, generator=generator) * 0.1)
                layer.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
                if layer.affine:
                    layer.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
                    layer.bias.copy_(torch.randn(channels, generator=generator) * 0.1)
    return module



def export_and_compare(graph: Graph, directory: Path, *, batches: Sequence[int] = (1, 3), opset: int | None = None,
                       seed: int = 0) -> onnx.ModelProto:
    """Export ``graph``, run ONNX's full check on the file, and compare runtimes at each batch size.

    Returns the written model (without external weights) for further assertions.
    """
    module = build(graph, seed)
    paths = write_onnx(graph, module, directory / f"{graph.name}.onnx", opset=opset)
    path = paths[0]
    onnx.checker.check_model(str(path), full_check=True)
    assert_runtime_matches(path, module, graph.input_shape, batches, seed)
    model = onnx.load(str(path), load_external_data=False)
    names = [node.name for node in model.graph.node]
    assert len(names) == len(set(names)), "node names must be unique"
    return model


def assert_runtime_matches(path: Path, module: torch.nn.Module, input_shape: Sequence[int], batches: Sequence[int],
                           seed: int = 0) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    for batch in batches:
        x = torch.randn(batch, *input_shape, generator=generator)
        with torch.no_grad():
            expected = module(x).numpy()
        (actual,) = session.run(["output"], {"input": x.numpy()})
        assert_close(actual, expected, f"batch {batch}")


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """max|a-b| <= 1e-4 * scale, where scale is max|b| (floored at 1e-3 so all-zero outputs compare).

    This is stricter than the requirement's ``max(1, max|b|)``: randomly initialized networks give
    outputs around 0.05, where ``max(1, .)`` would let a 0.2% error pass unnoticed.
    """
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-3)
    error = float(np.abs(actual - expected).max(initial=0.0))
    assert error <= RELATIVE_TOLERANCE * scale, f"{what}: max |onnx - torch| = {error:.3g} at output scale {scale:.3g}"
