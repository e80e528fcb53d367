"""archspec: a declarative YAML architecture compiler for neural networks.

    >>> import archspec
    >>> graph = archspec.analyse("vgg16")          # static: shapes, params, MACs; no torch
    >>> graph.parameters
    138357544
    >>> model = archspec.build("resnet50", seed=0)  # a torch.nn.Module

Names are imported when first used, so ``import archspec`` is instant and the command line can
answer Ctrl-C cleanly from its first moment; the torch-dependent functions (build, compile,
reset_parameters, port_weights) import torch only when called.

The public API is declared once, in ``_PUBLIC`` (each name and the module it lives in);
``__all__`` follows from it, and the ``TYPE_CHECKING`` imports below repeat it only for type
checkers and editors (``tests/test_public_api.py`` keeps the two equal).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from archspec.version import __version__

_PUBLIC = {
    # the pipeline: load a spec, analyse it, summarize it, build it
    "load": "archspec.spec.loader", "Spec": "archspec.spec.loader",
    "analyse": "archspec.graph.lower", "Graph": "archspec.graph.ir", "Node": "archspec.graph.ir",
    "Scope": "archspec.graph.ir",
    "summarize": "archspec.analysis.summary", "summary_json": "archspec.analysis.summary",
    "Summary": "archspec.analysis.summary",
    "build": "archspec.api", "compile": "archspec.api", "reset_parameters": "archspec.api",
    "port_weights": "archspec.backends.torch",
    # existing models as specs
    "import_torch": "archspec.importers.torch", "import_onnx": "archspec.importers.onnx",
    # diagrams in notebooks and scripts
    "render": "archspec.integrations.figure", "Figure": "archspec.integrations.figure",
    # errors
    "ArchspecError": "archspec.errors", "Diagnostic": "archspec.errors", "SourceLocation": "archspec.errors",
    "SpecError": "archspec.errors", "UsageError": "archspec.errors",
    # writing an op
    "Op": "archspec.ops.base", "OpParams": "archspec.ops.base", "Shape": "archspec.ops.base",
    "ShapeError": "archspec.ops.base", "TorchLayer": "archspec.ops.base", "require_rank": "archspec.ops.base",
    "OnnxContext": "archspec.ops.context",
    "get_op": "archspec.ops.registry", "register_op": "archspec.ops.registry",
    "registered_ops": "archspec.ops.registry", "unregister_op": "archspec.ops.registry",
}

__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:
    from archspec.analysis.summary import Summary, summarize, summary_json
    from archspec.api import build, compile, reset_parameters
    from archspec.backends.torch import port_weights
    from archspec.errors import ArchspecError, Diagnostic, SourceLocation, SpecError, UsageError
    from archspec.graph.ir import Graph, Node, Scope
    from archspec.graph.lower import analyse
    from archspec.importers.onnx import import_onnx
    from archspec.importers.torch import import_torch
    from archspec.integrations.figure import Figure, render
    from archspec.ops.base import Op, OpParams, Shape, ShapeError, TorchLayer, require_rank
    from archspec.ops.context import OnnxContext
    from archspec.ops.registry import get_op, register_op, registered_ops, unregister_op
    from archspec.spec.loader import Spec, load


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'archspec' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
