"""A small stand-in for ``archspec.backends.torch.build_module``, for the ONNX tests only.

It builds a torch module from a Graph the way the torch backend does: nested modules named after
the IR's scopes, each layer from ``op.torch_layer`` (joins from ``op.torch_expression``), so the
``state_dict`` keys are exactly ``{node.name}.{parameter}``.  The lead engineer swaps it for the
real builder on merging.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from archspec.graph.ir import INPUT, Graph

_NAMESPACE = {"torch": torch, "F": F}


def build_module(graph: Graph, seed: int | None = 0) -> nn.Module:
    """The graph as an ``nn.Module`` in eval mode, weights from torch's default initialization."""
    if seed is not None:
        torch.manual_seed(seed)
    return ReferenceModule(graph).eval()


class ReferenceModule(nn.Module):
    def __init__(self, graph: Graph):
        super().__init__()
        self.output_name = graph.output
        self.steps: list[tuple[str, tuple[str, ...], Callable[..., torch.Tensor]]] = []
        for node in graph.layers:
            op = node.definition
            arguments = [f"x{i}" for i in range(len(node.inputs))]
            shapes = [graph.node(name).output_shape for name in node.inputs]
            layer = op.torch_layer(node.params, shapes, node.output_shape)
            if layer is None:
                source = op.torch_expression(node.params, arguments)
                step = eval(f"lambda {', '.join(arguments)}: {source}", _NAMESPACE)
            else:
                module_path, _, class_name = layer.factory.rpartition(".")
                module = getattr(importlib.import_module(module_path), class_name)(*layer.args, **layer.kwargs)
                _attach(self, node.name.split("."), module)
                source = layer.forward.format(*arguments, module="module")
                step = _bind(eval(f"lambda module, {', '.join(arguments)}: {source}", _NAMESPACE), module)
            self.steps.append((node.name, node.inputs, step))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {INPUT: x}
        for name, inputs, step in self.steps:
            values[name] = step(*(values[source] for source in inputs))
        return values[self.output_name]


def _attach(root: nn.Module, path: Sequence[str], module: nn.Module) -> None:
    parent = root
    for part in path[:-1]:
        child = parent._modules.get(part)
        if child is None:
            child = nn.Module()
            parent.add_module(part, child)
        parent = child
    parent.add_module(path[-1], module)


def _bind(function: Callable[..., torch.Tensor], module: nn.Module) -> Callable[..., torch.Tensor]:
    return lambda *tensors: function(module, *tensors)


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
