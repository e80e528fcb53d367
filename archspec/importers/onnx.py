"""The ONNX front end of ``archspec import``: an ``.onnx`` file read into a :class:`FlatModel`, running nothing.

Loading a protobuf cannot run code; external weight data is read only from inside the model's folder.
The nodes become archspec layers in the ops that claim their ONNX op types (``Op.from_onnx``, offered
by :mod:`.onnx_match`), shape computations are folded (:mod:`.onnx_graph`), weights come from the
initializers under the local names archspec's modules give them (``weight``, ``bias``,
``running_mean``...), and each layer's scope from where its exporter recorded it:

* archspec names a layer's last node after the layer (``layer1.0.conv1``, helpers ``layer1.0.conv1/Mul``);
* torch's TorchScript exporter names nodes by module path (``/layer1/layer1.0/conv1/Conv``);
* torch's dynamo exporter names nodes ``node_Conv_17`` and keeps the module path, with each
  module's class, in the node's ``namespace`` metadata
  (``: torchvision.models.resnet.ResNet/layer1: torch.nn...Sequential/layer1.0: ...BasicBlock/...``).

What archspec cannot express is reported node by node (name, op type, why, what to do), and then
nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from archspec.backends.onnx.describe import external_data_file, load_model_proto, printable
from archspec.errors import Diagnostic, SpecError
from archspec.importers.flat import NETWORK_INPUT, FlatLayer, FlatModel
from archspec.importers.flat_writer import identifier
from archspec.importers.onnx_graph import GraphReader, NodeError, place_by_consumers
from archspec.importers.onnx_match import read_node

__all__ = ["import_onnx", "import_onnx_file", "read_onnx"]

_TORCH_GRAPH_NAMES = {"main_graph", "torch_jit", "torch-jit-export", ""}


def import_onnx(path: str | Path) -> str:
    """The YAML text of a spec for the ONNX model at ``path`` (its weights: :func:`import_onnx_file`).

    Nothing in the file runs.  Blocks and repeats are recovered from the nodes' scopes.  Raises
    SpecError naming every node archspec cannot express.
    """
    from archspec.importers.write import write_spec

    return write_spec(read_onnx(path), Path(path).name)


def import_onnx_file(path: str | Path, name: str | None = None, weights: str | Path | None = None) -> str:
    """What ``archspec import MODEL.onnx`` does: the spec's text, and with ``weights`` its state_dict written there.

    The weights file (a ``torch.save`` state_dict for the built spec, under the names the spec
    writer gives its layers) is written atomically, and only once the whole model has been read.
    """
    from archspec.importers.write import spec_state_dict, write_spec

    model = read_onnx(path, name=name)
    text = write_spec(model, Path(path).name)
    if weights is not None:
        _save_weights(spec_state_dict(model), weights)
    return text


def read_onnx(path: str | Path, name: str | None = None) -> FlatModel:
    """The ONNX model at ``path`` as flat archspec layers, with their weights and scopes."""
    path = Path(path)
    model = _load(path)
    graph = model.graph
    input_name, input_shape = _the_input(path, graph)
    if len(graph.output) != 1:
        raise SpecError.at(f"{path}: the model has {len(graph.output)} outputs; an archspec spec has one",
                           hint="export a model that returns one tensor")
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 1)
    from_archspec = model.producer_name == "archspec"
    reader = GraphReader(graph, input_name, input_shape, constants, _archspec_scope if from_archspec else _torch_scope,
                         int(opset))
    reader.read(read_node)
    output = graph.output[0].name
    if not reader.errors and (output not in reader.values or reader.values[output].layer == NETWORK_INPUT):
        raise SpecError.at(f"{path}: the model's output '{printable(output)}' is not computed from its input "
                           "by any layer archspec reads")
    if reader.errors:
        raise SpecError([_diagnostic(path, error) for error in reader.errors])
    layers = _used(place_by_consumers(reader.layers, reader.unplaced), reader.values[output].layer)
    if not from_archspec:
        layers = _leaf_names(layers)
    model_name = name or (graph.name if graph.name not in _TORCH_GRAPH_NAMES else path.stem)
    return FlatModel(name=identifier(model_name), input_shape=input_shape, layers=tuple(layers),
                     outputs=(layers[-1].id,))


def _save_weights(state: dict[str, np.ndarray], path: str | Path) -> None:
    import torch

    from archspec.io import atomic_output

    tensors = {key: torch.from_numpy(np.array(value, dtype=np.float32)) for key, value in state.items()}
    with atomic_output(Path(path)) as temporary:
        torch.save(tensors, temporary)


def _load(path: Path) -> onnx.ModelProto:
    if not path.exists():
        raise SpecError.at(f"no such file: {path}")
    if path.is_dir():
        raise SpecError.at(f"{path} is a directory, not an ONNX model")
    model = load_model_proto(path)
    locations = {entry.value for tensor in model.graph.initializer if tensor.data_location == TensorProto.EXTERNAL
                 for entry in tensor.external_data if entry.key == "location"}
    for location in locations:
        if not external_data_file(path, location).is_file():
            raise SpecError.at(f"{path}: its external data file '{printable(location)}' is missing",
                               hint="keep the weights file beside the model, under the name it was saved with")
    if locations:
        from onnx.external_data_helper import load_external_data_for_model

        load_external_data_for_model(model, str(path.resolve().parent))
    return model


def _the_input(path: Path, graph: onnx.GraphProto) -> tuple[str, tuple[int, ...]]:
    """The one data input and its shape without the batch, which must be fixed."""
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(f"'{printable(value.name)}'" for value in inputs)
        raise SpecError.at(f"{path}: the model has {len(inputs)} inputs ({names}); an archspec spec has one",
                           hint="export a model that takes one tensor")
    value = inputs[0]
    tensor_type = value.type.tensor_type
    if tensor_type.elem_type != TensorProto.FLOAT:
        kind = TensorProto.DataType.Name(tensor_type.elem_type).lower() if tensor_type.elem_type else "no tensor type"
        raise SpecError.at(f"{path}: the input '{printable(value.name)}' is {kind}; archspec reads float models")
    dims = list(tensor_type.shape.dim)
    if not tensor_type.HasField("shape") or len(dims) < 2 or not all(
            dim.HasField("dim_value") and dim.dim_value > 0 for dim in dims[1:]):
        shown = [dim.dim_param or (str(dim.dim_value) if dim.HasField("dim_value") else "?") for dim in dims]
        raise SpecError.at(f"{path}: the input '{printable(value.name)}' has no fixed shape except the batch "
                           f"([{', '.join(printable(text) for text in shown)}])",
                           hint="export the model with a fixed input size (only the batch dimension dynamic), "
                                "or fix it with onnx.tools.update_model_dims")
    return value.name, tuple(int(dim.dim_value) for dim in dims[1:])


def _diagnostic(path: Path, error: NodeError) -> Diagnostic:
    node = error.node
    label = node.name or (node.output[0] if node.output else "?")
    return Diagnostic(f"{path}: ONNX node '{printable(label)}' ({printable(node.op_type)}): {error.message}",
                      hint=error.hint)


def _used(layers: list[FlatLayer], output: str) -> list[FlatLayer]:
    """The layers the output depends on, in order (so the output's layer is the last)."""
    by_id = {layer.id: layer for layer in layers}
    needed, pending = set(), [output]
    while pending:
        layer_id = pending.pop()
        if layer_id in needed or layer_id not in by_id:
            continue
        needed.add(layer_id)
        pending.extend(by_id[layer_id].inputs)
    return [layer for layer in layers if layer.id in needed]


# -- scopes ----------------------------------------------------------------------------------------

def _archspec_scope(node: onnx.NodeProto) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    parts = tuple(node.name.split("/")[0].split("."))
    return parts, (), parts[-1]


def _torch_scope(node: onnx.NodeProto) -> tuple[tuple[str, ...], tuple[str, ...], str] | None:
    """The module path of a node from either of torch's exporters (name empty: a function call);
    None where the node records none."""
    namespace = next((prop.value for prop in node.metadata_props if prop.key == "namespace"), None)
    if namespace is not None:
        segments = namespace.split("/")[1:-1]
        path: list[str] = []
        types: list[str] = []
        for segment in segments:
            module, _, kind = segment.partition(": ")
            path = _extend(path, module)
            types.extend([kind] * (len(path) - len(types)))
        leaf = bool(types) and types[-1].startswith("torch.nn.modules.")
        return tuple(path), tuple(kind.rpartition(".")[2] for kind in types), path[-1] if leaf else ""
    if node.name.startswith("/"):
        path = []
        for segment in node.name.strip("/").split("/")[:-1]:
            path = _extend(path, segment)
        return tuple(path), (), ""
    return None


def _extend(path: list[str], module: str) -> list[str]:
    """A module's path from its parent's and its name, which may be the full dotted path or a local name."""
    prefix = ".".join(path) + "."
    if path and module.startswith(prefix):
        return module.split(".")
    return [*path, *module.split(".")] if module else path


def _leaf_names(layers: list[FlatLayer]) -> list[FlatLayer]:
    """TorchScript names say where a node is, not whether it is a module: a scope holding exactly one
    layer and nothing deeper is taken as that layer's module (``/conv1/Conv``), anything else as a
    function call inside the module (``/layer1/layer1.0/Add``)."""
    from dataclasses import replace

    counts: dict[tuple[str, ...], int] = {}
    for layer in layers:
        for depth in range(1, len(layer.scope) + 1):
            counts[layer.scope[:depth]] = counts.get(layer.scope[:depth], 0) + 1
    return [replace(layer, name=layer.scope[-1]) if layer.scope and not layer.name and counts[layer.scope] == 1
            else layer for layer in layers]
