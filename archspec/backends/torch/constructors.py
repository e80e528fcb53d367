"""The layer classes a graph needs: each op's TorchLayer, its class imported, its constructor's
parameters and defaults (so the source can leave defaults out).
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

from archspec.errors import SpecError, UsageError
from archspec.graph.ir import Graph
from archspec.ops.base import TorchLayer


def torch_layers(graph: Graph) -> dict[str, TorchLayer]:
    """Each layer node's TorchLayer, from its op; joins have none."""
    layers: dict[str, TorchLayer] = {}
    for node in graph.layers:
        shapes = [graph.node(source).output_shape for source in node.inputs]
        try:
            layer = node.definition.torch_layer(node.params, shapes, node.output_shape)
        except NotImplementedError as exc:
            raise SpecError.at(f"layer '{node.name}': {exc}", node.location) from None
        if layer is not None:
            factory_class(layer.factory)
            layers[node.name] = layer
    return layers


@cache
def factory_class(factory: str) -> Any:
    """Import a layer factory by its dotted path; a clear error if it cannot be imported."""
    import importlib

    module_name, _, name = factory.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name) if module_name else None
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot import the layer class '{factory}': {exc}") from None
    if found is None:
        raise UsageError(f"'{factory}' does not name a layer class (expected a dotted path such as torch.nn.Conv2d)")
    return found


@cache
def _signature(factory: str) -> inspect.Signature | None:
    try:
        return inspect.signature(factory_class(factory))
    except (TypeError, ValueError):
        return None


def parameter_names(factory: str) -> tuple[str, ...]:
    signature = _signature(factory)
    if signature is None:
        return ()
    return tuple(name for name, p in signature.parameters.items()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def parameter_default(factory: str, name: str) -> Any:
    signature = _signature(factory)
    if signature is None or name not in signature.parameters:
        return inspect.Parameter.empty
    return signature.parameters[name].default
