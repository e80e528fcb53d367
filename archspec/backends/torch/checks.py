"""Holding a user's op to its word: its PyTorch module must match what its definition promised.

archspec trusts a built-in op's shape rule and parameter count (the tests check them against
torch).  A plugin's op says the same things in its ``output_shape`` and ``parameter_count``, and
separately builds a module in ``torch_layer``; if the two disagree, the summary is wrong and the
forward pass fails later, inside some other layer, with a message about channels that names
neither the op nor its author.  So after building a network with plugin layers, archspec counts
each one's parameters and runs one forward pass of two zero samples (in eval mode, without
gradients, the module's modes restored after) with a hook on each plugin layer, and reports a
disagreement as the op's fault, on the layer's line in the spec.  The pass runs where the model
is; a model built on the meta device is checked there (shapes only).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from archspec.errors import Diagnostic, SpecError
from archspec.graph.ir import Graph, Node
from archspec.ops.base import format_shape
from archspec.ops.registry import registered_ops

if TYPE_CHECKING:
    import torch


def plugin_layers(graph: Graph) -> list[Node]:
    """The layers built from ops that are not archspec's own and have a module of their own."""
    ops = registered_ops()
    nodes = [node for node in graph.layers if node.op not in ops or ops[node.op].source != "built-in"]
    if not nodes:
        return []
    from archspec.backends.torch.source import torch_layers

    layers = torch_layers(graph)
    return [node for node in nodes if node.name in layers]


def check_plugin_layers(graph: Graph, model: torch.nn.Module) -> None:
    """Raise SpecError, located on the layer, where a plugin layer's module disagrees with its op:
    a different number of parameters than ``parameter_count``, or an output shape other than
    ``output_shape`` in a forward pass.  Does nothing for networks of built-in ops only."""
    nodes = plugin_layers(graph)
    if not nodes:
        return
    problems = _first_per_op([(node, problem) for node in nodes
                              if (problem := _parameter_problem(node, model)) is not None])
    if not problems:
        problem = _forward_problem(graph, nodes, model)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise SpecError(problems)


def _first_per_op(found: list[tuple[Node, Diagnostic]]) -> list[Diagnostic]:
    """One diagnostic per faulty op (its first layer), noting how many more layers share the fault."""
    first: dict[str, Diagnostic] = {}
    more: dict[str, int] = {}
    for node, diagnostic in found:
        if node.op in first:
            more[node.op] += 1
        else:
            first[node.op], more[node.op] = diagnostic, 0
    return [replace(diagnostic, notes=(*diagnostic.notes, f"{more[op]} more layer{'s' if more[op] > 1 else ''} "
                                                          f"of op '{op}' disagree the same way"))
            if more[op] else diagnostic for op, diagnostic in first.items()]


def _origin(node: Node) -> str:
    op = node.definition
    return f"{type(op).__module__}.{type(op).__qualname__}"


def _fault(node: Node, message: str, disagreeing: str, input_shapes: list[str]) -> Diagnostic:
    fault = f"this is a fault in the definition of op '{node.op}' ({_origin(node)}), not in the spec: {disagreeing}"
    notes: tuple[str, ...] = (fault,)
    if input_shapes:
        notes += ("input shape" + ("s: " if len(input_shapes) > 1 else ": ") + ", ".join(input_shapes),)
    return Diagnostic(f"layer '{node.name}' ({node.op}): {message}", node.location, notes=notes)


def _parameter_problem(node: Node, model: torch.nn.Module) -> Diagnostic | None:
    module = model.get_submodule(node.name)
    actual = sum(parameter.numel() for parameter in module.parameters())
    if actual == node.parameters:
        return None
    return _fault(node, f"its PyTorch module ({type(module).__qualname__}) has {actual:,} parameters, but the "
                        f"op's parameter_count says {node.parameters:,}",
                  "its parameter_count and the module its torch_layer builds disagree", [])


class _Stop(Exception):
    """Ends the probe at the first disagreement."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _forward_problem(graph: Graph, nodes: list[Node], model: torch.nn.Module) -> Diagnostic | None:
    """One forward pass of two zero samples, each plugin layer's output compared with its static shape."""
    import torch

    shapes = {node.name: format_shape(graph.node(node.name).output_shape) for node in graph.nodes}
    running: list[Node] = []
    tensor = next(iter(model.parameters()), None)
    device = tensor.device if tensor is not None else torch.device("cpu")
    try:
        with _hooks(model, nodes, running, shapes), _evaluating(model), torch.no_grad():
            model(torch.zeros(2, *graph.input_shape, device=device))
    except _Stop as stop:
        return stop.diagnostic
    except Exception as exc:
        if not running:
            return None  # not in a plugin layer: nothing this check can blame on a plugin
        node = running[-1]
        if device.type == "meta" and _unsupported_on_meta(exc):
            return None
        return _fault(node, f"its PyTorch module's forward raised {type(exc).__name__}: {exc}",
                      "its torch_layer builds a module that fails on inputs of the shapes its output_shape "
                      "accepts", [shapes[name] for name in node.inputs])
    return None


def _unsupported_on_meta(exc: Exception) -> bool:
    """Operations that need real data (``.item()``, data-dependent shapes) cannot run on meta tensors:
    a model built on the meta device is then not checked rather than its layers blamed."""
    text = str(exc).lower()
    return isinstance(exc, NotImplementedError) or "meta" in text or "data-dependent" in text


@contextmanager
def _evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode for the block (batch norm uses its statistics, which stay as they are), then each
    module's own mode again."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


@contextmanager
def _hooks(model: torch.nn.Module, nodes: list[Node], running: list[Node],
           shapes: dict[str, str]) -> Iterator[None]:
    import torch

    handles = []

    def before(node: Node) -> Any:
        return lambda module, args: running.append(node)

    def after(node: Node) -> Any:
        def check(module: torch.nn.Module, args: Any, output: Any) -> None:
            inputs = [shapes[name] for name in node.inputs]
            if not isinstance(output, torch.Tensor):
                raise _Stop(_fault(node, f"its PyTorch module returned {type(output).__name__}, not a tensor",
                                   "the module its torch_layer builds must return one tensor", inputs))
            actual = tuple(output.shape[1:])
            if actual != node.output_shape:
                raise _Stop(_fault(
                    node, f"its PyTorch module ({type(module).__qualname__}) produced {format_shape(actual)}, "
                          f"but the op's shape rule says {format_shape(node.output_shape)}",
                    "its output_shape and the module its torch_layer builds disagree", inputs))
            running.pop()
        return check

    try:
        for node in nodes:
            module = model.get_submodule(node.name)
            handles.append(module.register_forward_pre_hook(before(node)))
            handles.append(module.register_forward_hook(after(node)))
        yield
    finally:
        for handle in handles:
            handle.remove()
