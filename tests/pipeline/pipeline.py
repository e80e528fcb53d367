"""One spec file through every stage of archspec, each stage checked against the others.

    report = run_pipeline(document, directory)

The stages, in the order data flows: ``validate`` and ``summary --format json`` (the console
commands, in process), analysis, ``build_module`` and a forward pass with hooks on every layer,
``write_onnx`` and ``archspec inspect`` of the file, onnxruntime (every layer's value made an
output), the Graphviz diagram (DOT always, SVG through ``dot`` when asked) and the volume
figure.  The judges:

* shapes: the summary's = the graph's = torch's (hooks, at two batch sizes) = onnxruntime's
  (every layer's value, at two batch sizes);
* parameters: the summary's (total and per layer) = the module's ``nn.Parameter``s = the ONNX
  initializers that are parameters; the other initializers are exactly the batch-norm running
  statistics (module buffers, not parameters: 2 x channels per batch norm), and ``inspect``
  reports the same split;
* values: onnxruntime's output = torch's within 1e-4 of the output's scale,
  ``max|a-b| <= 1e-4 * max(1, max|b|)``, with non-trivial batch-norm statistics; and so is every
  layer's value that a torch hook sees (a random head shrinks the output to ~0.05, where the
  absolute 1e-4 would hide a 0.2% error in a middle layer);
* render: the DOT names every drawn layer (every layer when nothing is folded), ``dot`` accepts
  it, and the volume figure is well-formed SVG with every drawn box.
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from typer.testing import CliRunner

from archspec.backends.diagram.folding import fold
from archspec.backends.diagram.view import diagram_view
from archspec.backends.graphviz import diagram_dot
from archspec.backends.onnx import write_onnx
from archspec.backends.onnx.describe import describe
from archspec.backends.torch import build_module
from archspec.backends.torch.source import torch_layers
from archspec.backends.volumes import volume_svg
from archspec.cli import app
from archspec.graph.ir import INPUT, Graph
from archspec.graph.lower import analyse
from tests.backends.onnx.onnx_roundtrip import randomize_statistics
from tests.backends.torch.shapes import scope_inputs
from tests.strategies import Document, write_document

SVG = "{http://www.w3.org/2000/svg}"
RELATIVE_TOLERANCE = 1e-4
BATCHES = (1, 3)
"""Batch sizes every runtime is run at: the shapes must not depend on it."""
STATISTICS = ("running_mean", "running_var")


@dataclass
class PipelineReport:
    """What one spec exercised, and where the time went."""

    graph: Graph
    ops: set[str] = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class _Clock:
    def __init__(self, report: PipelineReport):
        self.report, self.stage, self.start = report, "", 0.0

    def __call__(self, stage: str) -> _Clock:
        self.stage = stage
        return self

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.report.seconds[self.stage] += time.perf_counter() - self.start


def run_pipeline(document: Document, directory: Path, *, svg: bool = False) -> PipelineReport:
    """Write ``document`` as a spec file and take it through every stage; assert they all agree."""
    path = write_document(document, directory)
    started = time.perf_counter()
    graph = analyse(str(path))
    report = PipelineReport(graph, ops={node.op for node in graph.layers})
    report.seconds["analyse"] = time.perf_counter() - started
    clock = _Clock(report)
    with clock("summary"):
        summary = cli_json(["summary", str(path), "--format", "json"])
    with clock("validate"):
        validated = cli(["validate", str(path)])
        assert f"{graph.parameters:,} parameters, output {list(graph.output_shape)}" in validated, validated
    check_summary(summary, graph)
    with clock("build"):
        module = randomize_statistics(build_module(graph, seed=0).eval())
    check_parameters(module, graph, summary)
    with clock("forward"):
        runs = check_torch_shapes(module, graph)
    with clock("onnx"):
        onnx_path = write_onnx(graph, module, directory / f"{graph.name}.onnx")[0]
        onnx.checker.check_model(str(onnx_path), full_check=True)
        model = onnx.load(str(onnx_path))
        check_initializers(model, module, graph)
        check_inspect(onnx_path, graph)
    with clock("onnxruntime"):
        check_onnxruntime(onnx_path, model, graph, runs)
    with clock("render"):
        check_render(graph, path, svg=svg)
    return report


# -- the console commands ----------------------------------------------------------------------

def cli(arguments: Sequence[str]) -> str:
    result = CliRunner().invoke(app, list(arguments))
    assert result.exit_code == 0, (arguments, result.output, result.exception)
    return result.stdout


def cli_json(arguments: Sequence[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(cli(arguments))
    return parsed


def check_summary(summary: dict[str, Any], graph: Graph) -> None:
    """The JSON summary says what the graph says: every layer's shape and parameters, and the totals."""
    assert summary["input_shape"] == list(graph.input_shape)
    assert summary["output_shape"] == list(graph.output_shape)
    assert [row["name"] for row in summary["layers"]] == [node.name for node in graph.layers]
    for row in summary["layers"]:
        node = graph.node(row["name"])
        assert (row["op"], row["output_shape"], row["params"]) == (node.op, list(node.output_shape),
                                                                  node.parameters), row
    assert summary["params"] == sum(row["params"] for row in summary["layers"]) == graph.parameters


# -- torch ---------------------------------------------------------------------------------------

def owner(key: str, layers: frozenset[str] = frozenset()) -> str:
    """The layer a ``state_dict`` key belongs to: ``layer1.0.conv1.weight`` -> ``layer1.0.conv1``; with the
    graph's layer names, the longest that prefixes the key (``attn.qkv.weight`` -> ``attn``)."""
    parts = key.split(".")
    for end in range(len(parts) - 1, 0, -1):
        if ".".join(parts[:end]) in layers:
            return ".".join(parts[:end])
    return key.rsplit(".", 1)[0]


def check_parameters(module: torch.nn.Module, graph: Graph, summary: dict[str, Any]) -> None:
    """Per layer, the module's parameters are the summary's; its float buffers are batch-norm statistics (and
    constant tables a reference implementation keeps in its state_dict: :data:`CONSTANT_BUFFERS`)."""
    per_layer: dict[str, int] = defaultdict(int)
    layers = frozenset(node.name for node in graph.layers)
    for key, parameter in module.named_parameters():
        per_layer[owner(key, layers)] += parameter.numel()
    expected = {row["name"]: row["params"] for row in summary["layers"] if row["params"]}
    assert dict(per_layer) == expected
    assert sum(p.numel() for p in module.parameters()) == summary["params"]
    buffers = {key: buffer.numel() for key, buffer in module.named_buffers()
               if buffer.is_floating_point() and key.rsplit(".", 1)[-1] not in CONSTANT_BUFFERS}
    assert buffers == batch_norm_statistics(graph)


CONSTANT_BUFFERS = frozenset({"relative_coords_table"})
"""Float buffers that are fixed tables, not state: window_attention_v2's offsets (torchvision's state_dict has it)."""


def batch_norm_statistics(graph: Graph) -> dict[str, int]:
    """``{layer}.running_mean`` and ``.running_var`` of every batch norm, with their sizes (its channels)."""
    return {f"{node.name}.{statistic}": node.output_shape[0]
            for node in graph.layers if node.op == "batchnorm2d" for statistic in STATISTICS}


Run = tuple[np.ndarray, dict[str, np.ndarray]]
"""One forward pass: the input, and the value of every node a hook saw (by node name)."""


def runtime_values(module: torch.nn.Module, graph: Graph, inputs: torch.Tensor) -> dict[str, np.ndarray]:
    """The value of every node that a forward hook can see: each layer module's output, and the
    inputs of layers and of block modules (which include the results of joins)."""
    seen: dict[str, np.ndarray] = {}
    layers = torch_layers(graph)
    imports = scope_inputs(graph)

    def record(names: Sequence[str], tensors: Sequence[Any]) -> None:
        for name, tensor in zip(names, tensors, strict=False):
            seen.setdefault(name, tensor.detach().numpy().copy())

    handles = []
    for path, layer in module.named_modules():
        if path in layers:
            handles.append(layer.register_forward_hook(  # nn.MultiheadAttention returns (output, weights)
                lambda _m, _args, out, name=path: record((name,), (out[0] if isinstance(out, tuple) else out,))))
            if layers[path].forward == "{module}({0})":
                sources = graph.node(path).inputs
                handles.append(layer.register_forward_pre_hook(lambda _m, args, names=sources: record(names, args)))
        elif path in imports:
            handles.append(layer.register_forward_pre_hook(lambda _m, args, names=imports[path]: record(names, args)))
    try:
        with torch.no_grad():
            output = module(inputs)
    finally:
        for handle in handles:
            handle.remove()
    record((graph.output,), (output,))
    return seen


def check_torch_shapes(module: torch.nn.Module, graph: Graph) -> list[Run]:
    """Every value a hook sees has the inferred shape, at each batch size, and every layer ran."""
    generator = torch.Generator().manual_seed(1)
    runs = []
    for batch in BATCHES:
        x = torch.randn(batch, *graph.input_shape, generator=generator)
        seen = runtime_values(module, graph, x)
        wrong = {name: (value.shape[1:], graph.node(name).output_shape) for name, value in seen.items()
                 if value.shape != (batch, *graph.node(name).output_shape)}
        assert not wrong, f"batch {batch}: torch shape != inferred shape: {wrong}"
        unseen = [name for name in torch_layers(graph) if name not in seen]
        assert not unseen, f"layers that never ran: {unseen}"
        runs.append((x.numpy(), seen))
    return runs


# -- ONNX and onnxruntime ------------------------------------------------------------------------

def check_initializers(model: onnx.ModelProto, module: torch.nn.Module, graph: Graph) -> None:
    """The initializers are the module's parameters and batch-norm statistics, nothing else, same sizes."""
    sizes = {tensor.name: int(np.prod(tensor.dims)) for tensor in model.graph.initializer}
    parameters = {key: p.numel() for key, p in module.named_parameters()}
    statistics = batch_norm_statistics(graph)
    assert sizes == parameters | statistics
    assert sum(sizes[key] for key in parameters) == graph.parameters


def check_inspect(path: Path, graph: Graph) -> None:
    """``archspec inspect`` counts the parameters the summary counts, statistics apart."""
    text = describe(path)
    statistics = sum(batch_norm_statistics(graph).values())
    extra = f" (+{statistics:,} batch-norm statistics)" if statistics else ""
    assert re.search(rf"^parameters: {graph.parameters:,}{re.escape(extra)} in \d+ initializers$", text,
                     re.MULTILINE), text


def with_every_layer_as_output(model: onnx.ModelProto, graph: Graph) -> tuple[onnx.ModelProto, dict[str, str]]:
    """A copy of the model whose outputs include every layer's value; value name -> layer name."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    declared = {value.name: value for value in probe.graph.value_info}
    layers = {}
    for node in graph.layers:
        if node.name == graph.output:
            layers["output"] = node.name
        elif node.name in declared:
            probe.graph.output.append(declared[node.name])
            layers[node.name] = node.name
    assert len(layers) == len(graph.layers), "a layer's value is not named after it"
    return probe, layers


def check_onnxruntime(path: Path, model: onnx.ModelProto, graph: Graph, runs: Sequence[Run]) -> None:
    """The written file's output equals torch's; every layer's value has its inferred shape and equals
    torch's value of the layer (where a hook saw it), each to the tolerance at its own scale."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    probe, layers = with_every_layer_as_output(model, graph)
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL  # layer by layer
    probe_session = onnxruntime.InferenceSession(probe.SerializeToString(), options,
                                                 providers=["CPUExecutionProvider"])
    names = [output.name for output in probe.graph.output]
    for x, torch_values in runs:
        batch = len(x)
        (actual,) = session.run(["output"], {INPUT: x})
        assert_close(actual, torch_values[graph.output], f"batch {batch}: the output")
        values = dict(zip(names, probe_session.run(names, {INPUT: x}), strict=True))
        wrong = {layer: (values[value].shape[1:], graph.node(layer).output_shape) for value, layer in layers.items()
                 if values[value].shape != (batch, *graph.node(layer).output_shape)}
        assert not wrong, f"batch {batch}: onnxruntime shape != inferred shape: {wrong}"
        for value, layer in layers.items():
            if layer in torch_values:
                assert_close(values[value], torch_values[layer], f"batch {batch}: layer '{layer}'")


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """``max|a - b| <= 1e-4 * max(1, max|b|)``: relative to the output's scale, absolute below 1."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.isfinite(expected).all(), f"{what}: torch's output is not finite"
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    error = float(np.abs(actual - expected).max(initial=0.0))
    assert error <= RELATIVE_TOLERANCE * scale, f"{what}: max |onnx - torch| = {error:.3g} at scale {scale:.3g}"


# -- diagrams ------------------------------------------------------------------------------------

def check_render(graph: Graph, path: Path, *, svg: bool) -> None:
    """The DOT names every drawn layer, folded or not; ``dot`` draws it (through ``archspec render``);
    the volume figure is well-formed SVG."""
    expanded = diagram_dot(graph, expand=True)
    missing = [node.name for node in graph.nodes if _quoted(node.name) not in expanded]
    assert not missing, f"the expanded diagram lacks {missing}"
    folded = diagram_dot(graph)
    folding = fold(graph)
    shown = [folding.display_name(node.name) for node in graph.nodes
             if folding.representative(node.name) == node.name]
    missing = [name for name in shown if _quoted(name) not in folded]
    assert not missing, f"the diagram lacks {missing}"
    hidden = [node.name for node in graph.nodes if folding.representative(node.name) != node.name]
    assert all(any(position > 0 for position in folding.run_positions(name).values()) for name in hidden), \
        "a layer is hidden that is not a later iteration of a folded run"
    if svg:
        drawn = path.with_suffix(".svg")
        cli(["render", str(path), "-o", str(drawn)])
        root = ET.parse(drawn).getroot()
        titles = {element.text for element in root.iter(f"{SVG}title")}
        assert {box.id for box in diagram_view(graph).boxes} <= titles
        text = drawn.read_text(encoding="utf-8")
        assert not [name for name in shown if _quoted(name) not in text]
        volumes = path.with_name(f"{graph.name}_volumes.svg")
        cli(["render", str(path), "--style", "volumes", "-o", str(volumes)])
        figure = ET.parse(volumes).getroot()
    else:
        figure = ET.fromstring(volume_svg(graph).encode("utf-8"))
    assert figure.findtext(f"{SVG}title") == graph.name
    assert f"{graph.parameters:,} parameters" in ET.tostring(figure, encoding="unicode")
    assert any(element.get("class") in ("volume", "bar") for element in figure.iter())
    for depth, rankdir in ((0, "LR"), (1, "TB")):  # scopes collapsed into boxes, parameter counts shown
        collapsed = diagram_dot(graph, depth=depth, rankdir=rankdir, show_params=True)
        assert all(f'"{box.id}"' in collapsed or f"\t{box.id} " in collapsed
                   for box in diagram_view(graph, depth=depth).boxes), collapsed
        ET.fromstring(volume_svg(graph, depth=depth, rankdir=rankdir, show_params=True).encode("utf-8"))
    ET.fromstring(volume_svg(graph, expand=True).encode("utf-8"))


def _quoted(name: str) -> str:
    """How a name appears in DOT text: HTML-escaped in labels, quoted in tooltips and ids."""
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
