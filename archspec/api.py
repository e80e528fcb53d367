"""The top-level API: from a spec's name or path to modules and files.

The backends take an analysed :class:`~archspec.graph.ir.Graph`; this module is where names and
paths are resolved (through :func:`archspec.analyse`) and the stages are put together, so that a
Python user gets exactly what the command line does: ``archspec compile`` is :func:`compile` plus
printing.  torch, onnx and graphviz are imported only by the functions that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.errors import UsageError
from archspec.graph.ir import Graph
from archspec.progress import SILENT, Progress
from archspec.spec.loader import Spec

if TYPE_CHECKING:
    import torch

    from archspec.backends.torch.checkpoint import WeightsMap
    from archspec.backends.torch.weights import PortReport

OUTPUTS = ("onnx", "pt", "py", "svg", "png", "pdf", "dot")
"""What :func:`compile` can write, each as ``NAME.<output>``: ONNX, weights, source, diagrams."""

DIAGRAM_OUTPUTS = ("svg", "png", "pdf", "dot")


def _graph(spec: Spec | Graph | str, input_shape: Sequence[int] | None,
           variables: Mapping[str, Any] | None) -> Graph:
    if isinstance(spec, Graph):
        if input_shape is not None or variables:
            raise UsageError("input_shape and variables apply to a spec, not to an analysed Graph")
        return spec
    from archspec.graph.lower import analyse

    return analyse(spec, input_shape=input_shape, variables=variables)


def build(
    spec: Spec | Graph | str,
    *,
    input_shape: Sequence[int] | None = None,
    seed: int | None = None,
    variables: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
    memory_limit: str | int | None = None,
    weights: str | Path | Mapping[str, torch.Tensor] | None = None,
    weights_map: WeightsMap = "auto",
) -> torch.nn.Module:
    """Compile a spec (a path, a built-in name, a loaded Spec or an analysed Graph) into a ``torch.nn.Module``.

    ``seed`` makes the initialization reproducible; ``device="meta"`` builds the structure only
    (no memory, no initialization: see :func:`reset_parameters`).  ``weights`` (a state_dict, or a
    ``.pt``/``.pth``/``.safetensors`` file read without running its code) gives the module those
    tensors instead of an initialization: by name when its keys are the module's, else by order,
    every shape checked (``weights_map`` forces ``"name"`` or ``"order"``).  Raises SpecError for a
    bad spec, and for one whose parameters need more than ``memory_limit`` (bytes or e.g. ``"8GB"``;
    default $ARCHSPEC_MEMORY_LIMIT, else half the machine's memory) before anything is allocated.
    """
    graph = _graph(spec, input_shape, variables)
    if weights is not None:
        if device is not None:
            raise UsageError("build: weights are loaded on the CPU; move the module afterwards (model.to(device))")
        return _with_weights(graph, weights, weights_map, memory_limit, SILENT)[0]
    from archspec.backends.torch import build_module

    return build_module(graph, seed=seed, device=device, memory_limit=memory_limit)


def _with_weights(graph: Graph, weights: str | Path | Mapping[str, torch.Tensor], weights_map: WeightsMap,
                  memory_limit: str | int | None, progress: Progress) -> tuple[torch.nn.Module, PortReport]:
    """The module holding a checkpoint's tensors, never initialized: built on meta, the tensors then assigned.

    A layer with a tensor the checkpoint cannot hold (a buffer kept out of the state_dict) makes it
    fall back to an initialized module that the tensors are copied into.
    """
    from archspec.backends.torch import build_module
    from archspec.backends.torch.checkpoint import load_state_dict, load_weights
    from archspec.resources import check_parameter_memory

    check_parameter_memory(graph, memory_limit)
    if isinstance(weights, (str, Path)):
        with progress.step(f"loading {weights}"):
            weights = load_state_dict(weights, memory_limit)
    with progress.step(f"mapping {len(weights)} tensors onto {graph.name}"):
        module = build_module(graph, device="meta")
        report = load_weights(module, weights, weights_map)
        if any(tensor.is_meta for tensor in [*module.parameters(), *module.buffers()]):
            module = build_module(graph, memory_limit=memory_limit)
            report = load_weights(module, weights, weights_map)
    return module, report


def reset_parameters(model: torch.nn.Module, seed: int | None = None) -> None:
    """Initialize every parameter and buffer of a module archspec built, in place, as its spec says.

    Layers the spec's ``init:`` names get its scheme, the others PyTorch's default.  It works on
    whatever storage the parameters have now: plain tensors, or the sharded DTensors FSDP2 leaves
    after ``to_empty``, each rank filling only its own shard.  With the same ``seed`` the result is
    what ``build(spec, seed=seed)`` gives in one process (for a sharded parameter: once gathered).
    Accepts the model wrapped in DistributedDataParallel or ``torch.compile``.
    """
    from archspec.backends.torch.builder import graph_of
    from archspec.backends.torch.initialize import reset_parameters as reset

    inner = _unwrapped(model)
    graph = graph_of(inner)
    if graph is None:
        raise UsageError(f"reset_parameters: {type(inner).__name__} was not built by archspec "
                         "(use archspec.build, or the module's own initialization)")
    on_meta = [name for name, tensor in [*inner.named_parameters(), *inner.named_buffers()] if _on_meta(tensor)]
    if on_meta:
        raise UsageError(f"reset_parameters: {len(on_meta)} tensors of {graph.name} (first: {on_meta[0]}) are "
                         "still on the meta device, without storage; give them memory first, e.g. "
                         "model.to_empty(device='cpu')")
    reset(graph, inner, seed)


def _unwrapped(model: Any) -> Any:
    """The module inside DistributedDataParallel / DataParallel / torch.compile wrappers."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"reset_parameters expects a torch.nn.Module, got {type(model).__name__}")
    while True:
        if isinstance(model, torch.nn.parallel.DistributedDataParallel | torch.nn.DataParallel):
            model = model.module
        elif type(model).__name__ == "OptimizedModule" and isinstance(getattr(model, "_orig_mod", None),
                                                                       torch.nn.Module):
            model = model._orig_mod
        else:
            return model


def _on_meta(tensor: torch.Tensor) -> bool:
    local = tensor.to_local() if hasattr(tensor, "to_local") else tensor
    return bool(local.is_meta)


def compile(
    spec: Spec | Graph | str,
    *,
    outputs: Collection[str] = ("onnx",),
    out_dir: Path | str = "out",
    opset: int | None = None,
    seed: int | None = None,
    memory_limit: str | int | None = None,
    input_shape: Sequence[int] | None = None,
    variables: Mapping[str, Any] | None = None,
    weights: str | Path | Mapping[str, torch.Tensor] | None = None,
    weights_map: WeightsMap = "auto",
    progress: Progress = SILENT,
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write a spec's outputs into ``out_dir`` as ``NAME.onnx``, ``.pt``, ``.py``, ``.svg``... and list them.

    ``outputs`` are among :data:`OUTPUTS`.  Each file is written to a hidden temporary file beside it
    and renamed into place, so a compile that fails or is interrupted leaves the previous file, or
    none, never a partial one.  ONNX and weights are refused, before anything is allocated, for a
    spec whose parameters need more than ``memory_limit``; an ONNX model is written first, so that a
    spec ONNX cannot express leaves no file at all.  ``weights`` (see :func:`build`) replaces the
    initialization; a checkpoint that does not fit stops the compile before any file is written, and
    ``log`` receives the one-line report of how it was mapped.  ``progress`` shows long steps (see
    :mod:`archspec.progress`).  This is ``archspec compile`` without the printing.
    """
    chosen = set(outputs)
    unknown = sorted(chosen - set(OUTPUTS))
    if unknown:
        raise UsageError(f"unknown output '{unknown[0]}': choose from {', '.join(OUTPUTS)}")
    graph = _graph(spec, input_shape, variables)
    stem = Path(out_dir) / graph.name
    written: list[Path] = []
    if chosen & {"onnx", "pt"} or weights is not None:
        from archspec.resources import check_parameter_memory
        from archspec.resources import memory_limit as limit_of

        limit = limit_of(memory_limit)
        check_parameter_memory(graph, limit)
        if "onnx" in chosen:
            from archspec.backends.onnx.lowering import resolve_opset

            resolve_opset(opset)  # a bad opset fails before the module is built
        if weights is not None:
            module, report = _with_weights(graph, weights, weights_map, limit, progress)
            if log is not None:
                log(f"{report} from {weights if isinstance(weights, (str, Path)) else 'the state_dict given'}")
        else:
            from archspec.backends.torch import build_module

            with progress.step(f"building {graph.name} ({graph.parameters:,} parameters)"):
                module = build_module(graph, seed=seed, memory_limit=limit)
        if "onnx" in chosen:
            from archspec.backends.onnx import write_onnx

            with progress.step(f"writing {stem.with_suffix('.onnx')}"):
                written.extend(write_onnx(graph, module, stem.with_suffix(".onnx"), opset=opset))
        if "pt" in chosen:
            from archspec.backends.torch import write_state_dict

            with progress.step(f"writing {stem.with_suffix('.pt')}"):
                written.append(write_state_dict(module, stem.with_suffix(".pt")))
    if "py" in chosen:
        from archspec.backends.torch import write_python_source

        written.append(write_python_source(graph, stem.with_suffix(".py")))
    for suffix in DIAGRAM_OUTPUTS:
        if suffix in chosen:
            from archspec.backends.graphviz import write_diagram

            with progress.step(f"drawing {stem.with_suffix('.' + suffix)}"):
                written.append(write_diagram(graph, stem.with_suffix("." + suffix)))
    return written


__all__ = ["OUTPUTS", "build", "compile", "reset_parameters"]
