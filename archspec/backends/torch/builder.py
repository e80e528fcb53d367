"""Building a module: generate the network's source, execute it, construct the class.

There is no interpreter between the graph and the module: the module is the generated code,
so its forward is as fast as hand-written code, ``torch.compile`` traces it without breaks and
``torch.jit.script`` can read its source (kept in ``linecache``).
"""

from __future__ import annotations

import hashlib
import linecache
import re
import sys
import types
from typing import TYPE_CHECKING, Any

from archspec.backends.torch.initialize import own_tensors, reset_parameters, seeded
from archspec.backends.torch.source import GeneratedSource, generate
from archspec.errors import ArchspecError, UsageError
from archspec.graph.ir import Graph

if TYPE_CHECKING:
    import torch


def build_module(graph: Graph, *, seed: int | None = None, device: str | torch.device | None = None,
                 memory_limit: str | int | None = None) -> torch.nn.Module:
    """The module of an analysed graph, initialized as its spec says.

    ``seed`` makes the initialization reproducible; ``device="meta"`` builds the structure only
    (no memory, no initialization).  Raises SpecError for a graph whose parameters need more than
    ``memory_limit`` (bytes or e.g. ``"8GB"``; default $ARCHSPEC_MEMORY_LIMIT, else half the
    machine's memory) before anything is allocated.
    """
    import torch

    try:
        target = torch.device(device) if device is not None else None
    except (RuntimeError, TypeError):
        raise UsageError(f"unknown torch device '{device}'") from None
    if target is None or target.type != "meta":
        from archspec.resources import check_parameter_memory

        check_parameter_memory(graph, memory_limit)
    network = network_class(graph)
    try:
        with seeded(seed):
            model = construct(network, graph, target or torch.device("cpu"))
    except ArchspecError:
        raise
    except Exception as exc:
        raise ArchspecError(f"constructing {graph.name} failed: {type(exc).__name__}: {exc}") from exc
    from archspec.backends.torch.checks import check_plugin_layers

    check_plugin_layers(graph, model)
    return model


def construct(network: type[torch.nn.Module], graph: Graph, device: torch.device) -> torch.nn.Module:
    """An instance of the network class on ``device``, initialized as the spec says.

    Calling the class initializes every layer twice where the spec names a scheme: the layer's
    constructor draws PyTorch's default, then ``init_weights`` draws the spec's (torchvision's
    models do the same).  Here the structure is built on the meta device, memory allocated
    once, and each layer initialized once: by the spec's scheme where it sets all of the
    layer's tensors (drawn on every core, see :mod:`.initialize`), else by the layer's own
    ``reset_parameters`` (PyTorch's default): :func:`.initialize.reset_parameters`, what a user runs
    after ``to_empty``.  A network with layers not from ``torch.nn`` is constructed normally.
    """

    model = structure(network)
    if device.type == "meta":
        return model
    if all(_resettable(module, network) for module in model.modules()):
        allocate(model, device)
        reset_parameters(graph, model)  # the caller seeded torch's generator
        return model
    with device:
        return network()


def allocate(model: torch.nn.Module, device: torch.device) -> None:
    """Give every parameter and buffer uninitialized memory on ``device``.

    What ``Module.to_empty`` does, without its detour through torch's reference implementation of
    ``empty_like`` (which imports sympy: a second on a cold start).
    """
    import torch

    for module in model.modules():
        for name, parameter in list(module.named_parameters(recurse=False)):
            fresh = torch.empty(parameter.shape, dtype=parameter.dtype, device=device)
            setattr(module, name, torch.nn.Parameter(fresh, requires_grad=parameter.requires_grad))
        for name, buffer in list(module.named_buffers(recurse=False)):
            setattr(module, name, torch.empty(buffer.shape, dtype=buffer.dtype, device=device))


def structure(network: type[torch.nn.Module]) -> torch.nn.Module:
    """An instance on the meta device: every layer and shape, no memory, no initialization."""
    import torch

    class Uninitialized(network):  # type: ignore[valid-type, misc]
        def init_weights(self) -> None:
            """Nothing to initialize on the meta device."""

    with torch.device("meta"):
        model: torch.nn.Module = Uninitialized()
    model.__class__ = network
    return model


def _resettable(module: torch.nn.Module, network: type[torch.nn.Module]) -> bool:
    """A generated module, or a torch.nn layer whose reset_parameters redoes its initialization."""
    origin = type(module).__module__
    if origin == network.__module__:
        return not own_tensors(module)
    return origin.startswith("torch.nn.") and (not own_tensors(module) or hasattr(module, "reset_parameters"))


def network_class(graph: Graph) -> type[torch.nn.Module]:
    """The generated class of a graph's network (generated sources are executed once per process)."""
    generated = generate(graph)
    network: type[torch.nn.Module] = load_generated(generated, graph.name)[generated.class_name]
    network.__archspec_graph__ = graph  # type: ignore[attr-defined]  # what reset_parameters reads
    return network


def graph_of(model: torch.nn.Module) -> Graph | None:
    """The graph a module archspec built was generated from (None for any other module)."""
    graph = getattr(type(model), "__archspec_graph__", None)
    return graph if isinstance(graph, Graph) else None


def load_generated(generated: GeneratedSource, name: str) -> dict[str, Any]:
    """Execute generated source as a module of its own, its text registered for ``inspect``."""
    digest = hashlib.sha256(generated.text.encode()).hexdigest()[:16]
    module_name = "_archspec_" + re.sub(r"\W", "_", name) + "_" + digest
    existing = sys.modules.get(module_name)
    if existing is not None:
        return vars(existing)
    filename = f"<archspec {name} {digest}>"
    linecache.cache[filename] = (len(generated.text), None, generated.text.splitlines(keepends=True), filename)
    module = types.ModuleType(module_name, f"Generated by archspec from the spec '{name}'.")
    module.__file__ = filename
    exec(compile(generated.text, filename, "exec"), module.__dict__)
    sys.modules[module_name] = module
    return vars(module)
