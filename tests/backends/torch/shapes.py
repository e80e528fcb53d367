"""Static and dynamic shapes side by side: every node's shape in a real forward pass."""

from __future__ import annotations

from typing import Any

import torch

from archspec.backends.torch.module_plan import ModulePlan, RepeatMember, ScopeMember, ShortcutMember, plan_modules
from archspec.backends.torch.source import torch_layers
from archspec.graph.ir import Graph


def scope_inputs(graph: Graph) -> dict[str, tuple[str, ...]]:
    """For each scope module (by path), the nodes its forward receives, in order."""
    found: dict[str, tuple[str, ...]] = {}

    def visit(plan: ModulePlan) -> None:
        found[plan.path] = plan.imports
        for member in plan.members:
            if isinstance(member, RepeatMember):
                if member.sequential and member.items:
                    found[f"{plan.path}.{member.attribute}".lstrip(".")] = member.items[0].imports
                for item in member.items:
                    if isinstance(item, ModulePlan):  # a container's layers are hooked as layers
                        visit(item)
            elif isinstance(member, (ScopeMember, ShortcutMember)) and member.module is not None:
                visit(member.module)

    visit(plan_modules(graph, torch_layers(graph)))
    return found


def runtime_shapes(model: torch.nn.Module, graph: Graph, inputs: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """The shape (without the batch) of every node's value that a hook can see in one forward pass."""
    seen: dict[str, tuple[int, ...]] = {}
    layers = torch_layers(graph)
    imports = scope_inputs(graph)
    handles = []

    def record(names: tuple[str, ...], tensors: tuple[Any, ...]) -> None:
        for name, tensor in zip(names, tensors, strict=False):
            shape = tuple(tensor.shape[1:])
            assert seen.setdefault(name, shape) == shape, f"{name} seen with two shapes"

    for path, module in model.named_modules():
        if path in layers:
            node = graph.node(path)
            handles.append(module.register_forward_hook(
                lambda _m, _args, out, name=path: record((name,), (out[0] if isinstance(out, tuple) else out,))))
            if layers[path].forward == "{module}({0})":
                handles.append(module.register_forward_pre_hook(
                    lambda _m, args, names=node.inputs: record(names, args)))
        elif path in imports:
            handles.append(module.register_forward_pre_hook(
                lambda _m, args, names=imports[path]: record(names, args)))
    try:
        output = model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    record((graph.output,), (output,))
    return seen


def check_shapes(model: torch.nn.Module, graph: Graph, batch: int = 2) -> dict[str, tuple[int, ...]]:
    """Run a forward pass; assert every observed shape is the inferred one and every layer was seen."""
    inputs = torch.randn(batch, *graph.input_shape)
    seen = runtime_shapes(model, graph, inputs)
    wrong = {name: (shape, graph.node(name).output_shape) for name, shape in seen.items()
             if shape != graph.node(name).output_shape}
    assert not wrong, f"runtime shape != inferred shape: {wrong}"
    unseen = [name for name in torch_layers(graph) if name not in seen]
    assert not unseen, f"layers that never ran: {unseen}"
    return seen
