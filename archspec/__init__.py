"""archspec: a declarative YAML architecture compiler for neural networks.

    >>> import archspec
    >>> graph = archspec.analyse("vgg16")          # static: shapes, params, MACs; no torch
    >>> graph.parameters
    138357544
    >>> model = archspec.build("resnet50", seed=0)  # a torch.nn.Module

Names are imported when first used, so ``import archspec`` is instant and the command line can
answer Ctrl-C cleanly from its first moment; the torch-dependent functions (build, port_weights)
import torch only when called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "Summary": "archspec.analysis.summary", "summarize": "archspec.analysis.summary",
    "summary_json": "archspec.analysis.summary",
    "ArchspecError": "archspec.errors", "Diagnostic": "archspec.errors", "SourceLocation": "archspec.errors",
    "SpecError": "archspec.errors", "UsageError": "archspec.errors",
    "Graph": "archspec.graph.ir", "Node": "archspec.graph.ir", "Scope": "archspec.graph.ir",
    "analyse": "archspec.graph.lower",
    "Op": "archspec.ops", "OpParams": "archspec.ops", "ShapeError": "archspec.ops", "TorchLayer": "archspec.ops",
    "get_op": "archspec.ops", "register_op": "archspec.ops", "registered_ops": "archspec.ops",
    "unregister_op": "archspec.ops",
    "Spec": "archspec.spec.loader", "load": "archspec.spec.loader",
    "build": "archspec.backends.torch", "port_weights": "archspec.backends.torch",
    "Figure": "archspec.integrations.figure", "render": "archspec.integrations.figure",
}

if TYPE_CHECKING:
    from archspec.analysis.summary import Summary, summarize, summary_json
    from archspec.backends.torch import build, port_weights
    from archspec.errors import ArchspecError, Diagnostic, SourceLocation, SpecError, UsageError
    from archspec.graph.ir import Graph, Node, Scope
    from archspec.graph.lower import analyse
    from archspec.integrations.figure import Figure, render
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

__all__ = [
    "ArchspecError", "Diagnostic", "Figure", "Graph", "Node", "Op", "OpParams", "Scope", "ShapeError", "SourceLocation",
    "Spec", "SpecError", "Summary", "TorchLayer", "UsageError", "__version__", "analyse", "build", "get_op",
    "load", "port_weights", "register_op", "registered_ops", "render", "summarize", "summary_json", "unregister_op",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'archspec' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
