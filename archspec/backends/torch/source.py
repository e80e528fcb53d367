"""Writing the module tree as Python source: a class per block, straight-line ``forward`` methods.

The jobs are split: :mod:`.constructors` (each layer's class and constructor), :mod:`.module_plan`
(which module holds what), :mod:`.classes` (which modules share a class), :mod:`.class_writer` and
:mod:`.forward_writer` (the text), :mod:`.pyformat` (breaking lines as black does).

The source is what ``archspec compile --py`` writes and what ``build`` executes, so the module a
person trains is exactly the code they can read.  It needs only PyTorch (and the modules of any
plugin ops), and is formatted as ruff/black would format it.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass

from archspec.backends.torch.class_writer import ClassWriter
from archspec.backends.torch.classes import assign_classes
from archspec.backends.torch.constructors import parameter_names, torch_layers
from archspec.backends.torch.module_plan import plan_modules
from archspec.errors import Diagnostic, SpecError
from archspec.graph.ir import Graph, Node, Scope


@dataclass(frozen=True)
class GeneratedSource:
    text: str
    class_name: str
    """The network's class: ``Resnet50()`` builds it."""


def generate(graph: Graph) -> GeneratedSource:
    """The standalone Python source of a graph's network."""
    check_names(graph)
    layers = torch_layers(graph)
    plan = plan_modules(graph, layers)
    classes = assign_classes(plan, graph, parameter_names)
    writer = ClassWriter(graph, classes, layers)
    return GeneratedSource(writer.write(), classes.root.name)


def check_names(graph: Graph) -> None:
    """Names that become attributes must be usable: not Python keywords, not nn.Module's own."""
    import torch

    taken = set(dir(torch.nn.Module())) | set(dir(torch.nn.Sequential()))
    problems: list[Diagnostic] = []
    things: list[Node | Scope] = [*graph.layers, *(s for s in graph.scopes if s.kind != "iteration")]
    for thing in things:
        name = thing.local_name
        if keyword.iskeyword(name):
            reason = "it is a Python keyword"
        elif name in taken:
            reason = "torch.nn.Module has an attribute of that name"
        else:
            continue
        problems.append(Diagnostic(f"'{name}' cannot name a PyTorch submodule: {reason}", thing.location,
                                   hint="rename the layer or block"))
    if problems:
        raise SpecError(problems)
