"""``archspec inspect MODEL.onnx``: what an ONNX file holds, without another tool.

Reads the model proto only (never external weight data), so it is quick on any size of model.
Loading a protobuf cannot run code; an external-data location outside the model's folder (an
absolute path, ``..``, a symbolic link leading out) is refused rather than looked at.
The parameter total counts initializers except batch-norm running statistics, matching the
``params`` of ``archspec summary`` for a model archspec wrote.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto

from archspec.errors import SpecError, UsageError


def load_model_proto(path: Path) -> onnx.ModelProto:
    """The model proto of ``path``, without external data; clear errors for a missing or non-ONNX file."""
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a directory, not an ONNX model")
    hint = "to summarize a spec, run 'archspec summary SPEC'" if path.suffix in (".yaml", ".yml") else None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError, OSError) as exc:
        raise SpecError.at(f"{path} is not an ONNX model ({type(exc).__name__}: {exc})", hint=hint) from None
    if model.ir_version <= 0 or not model.HasField("graph") or not model.opset_import:
        raise SpecError.at(f"{path} is not an ONNX model (no graph or opset in it)", hint=hint)
    return model


def describe(path: Path) -> str:
    model = load_model_proto(path)
    graph = model.graph
    initializer_names = {tensor.name for tensor in graph.initializer}
    lines = [f"{path}: ONNX model '{graph.name}'"]
    producer = " ".join(part for part in (model.producer_name, model.producer_version) if part)
    opsets = ", ".join(f"{entry.domain or 'ai.onnx'} {entry.version}" for entry in model.opset_import)
    lines.append(f"  produced by {producer or 'an unknown producer'}; opset {opsets}; IR version {model.ir_version}")

    lines.append("inputs:")
    lines.extend(_value_line(value) for value in graph.input if value.name not in initializer_names)
    lines.append("outputs:")
    lines.extend(_value_line(value) for value in graph.output)

    counts = Counter(node.op_type if not node.domain else f"{node.domain}.{node.op_type}" for node in graph.node)
    lines.append(f"ops ({len(graph.node)} nodes):")
    width = max((len(op) for op in counts), default=0)
    by_count = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    lines.extend(f"  {op:<{width}}  {count}" for op, count in by_count)

    statistics = {name for node in graph.node if node.op_type == "BatchNormalization" and not node.domain
                  for name in node.input[3:5]}
    sizes = {tensor.name: math.prod(tensor.dims) for tensor in graph.initializer}
    parameters = sum(size for name, size in sizes.items() if name not in statistics)
    buffered = sum(size for name, size in sizes.items() if name in statistics)
    extra = f" (+{buffered:,} batch-norm statistics)" if buffered else ""
    lines.append(f"parameters: {parameters:,}{extra} in {len(sizes)} initializers")
    external = sorted({entry.value for tensor in graph.initializer if tensor.data_location == TensorProto.EXTERNAL
                       for entry in tensor.external_data if entry.key == "location"})
    for location in external:
        data = external_data_file(path, location)
        state = f"{data.stat().st_size / 1e6:,.1f} MB" if data.is_file() else "missing"
        lines.append(f"external data: {location} ({state})")

    if model.metadata_props:
        lines.append("metadata:")
        width = max(len(prop.key) for prop in model.metadata_props)
        lines.extend(f"  {prop.key:<{width}}  {prop.value}" for prop in model.metadata_props)
    return "\n".join(printable(line) for line in lines)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from the file with control characters (terminal escape sequences, newlines) shown as escapes."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def external_data_file(model: Path, location: str) -> Path:
    """The file an external-data ``location`` names, which must lie inside the model's folder."""
    folder = model.resolve().parent
    candidate = folder / location
    inside = "\0" not in location and not Path(location).is_absolute() and candidate.resolve().is_relative_to(folder)
    if not inside:
        raise SpecError.at(f"{model}: external data location '{printable(location)}' lies outside the model's folder; "
                           "refusing to follow it",
                           hint="an ONNX model's external data must be stored beside it (a relative path "
                                "inside its folder)")
    return candidate


def _value_line(value: onnx.ValueInfoProto) -> str:
    tensor_type = value.type.tensor_type
    dtype = TensorProto.DataType.Name(tensor_type.elem_type).lower() if tensor_type.elem_type else "?"
    dims = [dim.dim_param or (str(dim.dim_value) if dim.HasField("dim_value") else "?")
            for dim in tensor_type.shape.dim]
    shape = "[" + ", ".join(dims) + "]" if tensor_type.HasField("shape") else "(unknown shape)"
    return f"  {value.name}  {dtype}  {shape}"
