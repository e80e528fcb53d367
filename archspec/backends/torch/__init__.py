"""The PyTorch backend: specs become generated, readable ``nn.Module`` source.

    >>> model = build("resnet18", seed=0)            # an nn.Module, initialized as the spec says
    >>> print(python_source(analyse("lenet5")))      # the same code, as a standalone file

Pipeline: :mod:`.layout` (the module tree of a graph), :mod:`.classes` (which modules share a
class, their constructor parameters), :mod:`.source` (the Python text), :mod:`.build`
(executing it), :mod:`.weights` (porting and saving weights).  torch is imported only inside
the functions that need it.
"""

from __future__ import annotations

from pathlib import Path

from archspec.backends.torch.builder import build_module, network_class
from archspec.backends.torch.weights import PortedTensor, PortReport, WeightPortError, port_weights, write_state_dict
from archspec.graph.ir import Graph
from archspec.io import atomic_output


def python_source(graph: Graph) -> str:
    """The standalone source of the graph's network: a class per block, importing only torch."""
    from archspec.backends.torch.source import generate

    return generate(graph).text


def write_python_source(graph: Graph, path: Path | str) -> Path:
    """Write :func:`python_source` to ``path`` atomically."""
    text = python_source(graph)
    with atomic_output(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


__all__ = [
    "PortReport", "PortedTensor", "WeightPortError", "build_module", "network_class", "port_weights",
    "python_source", "write_python_source", "write_state_dict",
]
