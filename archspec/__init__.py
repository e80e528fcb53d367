"""archspec: a declarative YAML architecture compiler for neural networks.

    >>> import archspec
    >>> graph = archspec.analyse("vgg16")          # static: shapes, params, MACs; no torch
    >>> graph.parameters
    138357544
    >>> model = archspec.build("resnet50", seed=0)  # a torch.nn.Module

The torch-dependent functions (build, port_weights) import torch only when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archspec.analysis.summary import Summary, summarize, summary_json
from archspec.errors import ArchspecError, Diagnostic, SourceLocation, SpecError, UsageError
from archspec.graph.ir import Graph, Node, Scope
from archspec.graph.lower import analyse
from archspec.ops import (
    Op,
    OpParams,
    ShapeError,
    TorchLayer,
    get_op,
    register_op,
    registered_ops,
    unregister_op,
)
from archspec.spec.loader import Spec, load

__version__ = "0.1.0"

if TYPE_CHECKING:
    from archspec.backends.torch import build, port_weights

__all__ = [
    "ArchspecError", "Diagnostic", "Graph", "Node", "Op", "OpParams", "Scope", "ShapeError", "SourceLocation",
    "Spec", "SpecError", "Summary", "TorchLayer", "UsageError", "__version__", "analyse", "build", "get_op",
    "load", "port_weights", "register_op", "registered_ops", "summarize", "summary_json", "unregister_op",
]


def __getattr__(name: str) -> Any:
    if name in ("build", "port_weights"):
        from archspec.backends import torch as torch_backend

        return getattr(torch_backend, name)
    raise AttributeError(f"module 'archspec' has no attribute '{name}'")
