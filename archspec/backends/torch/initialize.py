"""Initializing a built network in place, as the spec's ``init:`` says: the one initialization path.

:func:`reset_parameters` is what ``build`` runs after allocating memory, and what a user runs after
``to_empty`` on a model built on the meta device (sharded by FSDP2 or not).  Layers the spec names
a scheme for are drawn here from :func:`distribution`, the one place the schemes' distributions are
derived (the generated source's ``init_weights()`` calls the ``torch.nn.init`` function of the same
name, :data:`TORCH_INIT`); every other layer keeps PyTorch's default, its own ``reset_parameters``.

``torch.nn.init`` draws each tensor's numbers on one core; for a large model that is most of the build
(VGG-16: 0.8 s of about 1 s).  Here each tensor is split into fixed-size chunks, each chunk drawn from
its own generator seeded from torch's global one, the chunks shared among threads: the weights depend
on the seed, not on the number of threads.

A sharded parameter (a DTensor, as FSDP2 makes) is drawn whole, one tensor at a time, and each rank
keeps its own shard: the random stream is the same on every rank and in a single process, so with the
same seed the gathered tensor equals the one ``build(spec, seed=...)`` gives.  The extra memory is
one layer's tensors, never the model.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archspec.errors import ArchspecError
from archspec.graph.ir import Graph
from archspec.spec.model import InitScheme

if TYPE_CHECKING:
    import torch

CHUNK = 1 << 21
"""Numbers per draw: large enough to amortize a generator, small enough to spread a tensor over cores."""

TORCH_INIT = {
    "kaiming_normal": "kaiming_normal_", "kaiming_uniform": "kaiming_uniform_",
    "xavier_normal": "xavier_normal_", "xavier_uniform": "xavier_uniform_",
    "normal": "normal_", "zeros": "zeros_", "ones": "ones_",
}
"""The ``torch.nn.init`` function the generated ``init_weights()`` calls for each weight scheme."""


@dataclass(frozen=True)
class Distribution:
    kind: str
    """``normal`` (a = mean, b = standard deviation), ``uniform`` (a, b = bounds) or ``constant`` (a)."""
    a: float
    b: float = 0.0


def reset_parameters(graph: Graph, model: torch.nn.Module, seed: int | None = None) -> None:
    """Initialize every parameter and buffer of ``model`` (built from ``graph``) in place.

    Layers the spec's ``init:`` fully covers are drawn from their scheme, every other layer with
    tensors by its own ``reset_parameters`` (PyTorch's default), in the module order, from torch's
    global generator (seeded with ``seed`` for the call, the caller's random state left as it was).
    """
    import torch

    covered = set(_set_by_schemes(graph, model))
    with seeded(seed), torch.no_grad():
        for name, module in _children_first(model):
            if name in covered or not own_tensors(module):
                continue
            # nn.MultiheadAttention names its own _reset_parameters (its out_proj resets itself first)
            reset = getattr(module, "reset_parameters", None) or getattr(module, "_reset_parameters", None)
            if not callable(reset):
                raise ArchspecError(f"layer '{name}' ({type(module).__name__}) has tensors but no "
                                    "reset_parameters(): archspec cannot initialize it in place")
            with _whole(module):
                reset()
        initialize(graph, model)


def _children_first(module: torch.nn.Module, prefix: str = "") -> Iterator[tuple[str, torch.nn.Module]]:
    """Modules in the order their constructors draw: a module's children (in order), then the module itself."""
    for name, child in module.named_children():
        yield from _children_first(child, f"{prefix}{name}.")
    yield prefix.rstrip("."), module


def initialize(graph: Graph, model: torch.nn.Module) -> None:
    """Set the tensors of every layer the spec's ``init:`` names, as ``init_weights()`` would."""
    import torch

    wholes: list[tuple[torch.Tensor, torch.Tensor]] = []  # (sharded tensor, full-size stand-in)
    draws: list[_Draw] = []
    for tensor, drawn in _targets(graph, model):
        for into, length, skip in _pieces(tensor, wholes):
            draws.append(_Draw(into, drawn, int(torch.randint(0, 2**62, ()).item()), length, skip))
    if not draws:
        return
    on_cpu = all(draw.into is None or draw.into.device.type == "cpu" for draw in draws)
    threads = max(1, min(torch.get_num_threads(), os.cpu_count() or 1, len(draws))) if on_cpu else 1
    with torch.no_grad():
        if threads == 1:
            for draw in draws:
                _draw(draw)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(_draw, draws))
        for tensor, whole in wholes:
            _keep_shard(tensor, whole)


@dataclass(frozen=True)
class _Draw:
    """One chunk of a tensor: ``length`` numbers from the chunk's own generator, of which this rank
    keeps ``into`` (None: none of them), starting ``skip`` numbers into the chunk."""

    into: torch.Tensor | None
    distribution: Distribution
    seed: int
    length: int
    skip: int = 0


def _pieces(tensor: torch.Tensor, wholes: list[tuple[torch.Tensor, torch.Tensor]]
            ) -> Iterator[tuple[torch.Tensor | None, int, int]]:
    """The chunks of a tensor as (the part this rank holds, chunk length, offset of that part).

    A plain tensor is all here.  A tensor sharded by rows on a 1-D mesh (FSDP2) holds one contiguous
    range of the full tensor's numbers: only the chunks that overlap it are drawn.  Any other sharding
    is drawn into a full-size stand-in (added to ``wholes``) of which each rank keeps its part.
    """
    total = math.prod(tensor.shape)
    if not _is_sharded(tensor):
        flat = tensor.detach().view(-1)
        for start in range(0, total, CHUNK):
            piece = flat[start:start + CHUNK]
            yield piece, piece.numel(), 0
        return
    held = _row_range(tensor)
    if held is None:
        whole = _whole_tensor(tensor)
        wholes.append((tensor, whole))
        yield from _pieces(whole, [])
        return
    local, low = held
    high = low + local.numel()
    for start in range(0, total, CHUNK):
        end = min(start + CHUNK, total)
        first, last = max(low, start), min(high, end)
        yield (local[first - low:last - low] if first < last else None), end - start, max(first - start, 0)


def _row_range(tensor: torch.Tensor) -> tuple[torch.Tensor, int] | None:
    """For a tensor sharded by rows on a 1-D mesh, as FSDP2 shards: this rank's numbers (flat) and
    the index in the full flattened tensor of the first of them; None for any other sharding."""
    from torch.distributed.tensor import Shard

    mesh, placements = tensor.device_mesh, tensor.placements  # type: ignore[attr-defined]
    local = tensor.to_local().detach()  # type: ignore[attr-defined]
    if mesh.ndim != 1 or len(placements) != 1 or placements[0] != Shard(0) or not local.is_contiguous():
        return None
    rows = tensor.shape[0]
    per_rank = -(-rows // mesh.size())  # torch.chunk's split, which Shard(0) uses
    first_row = min(mesh.get_local_rank() * per_rank, rows)
    if local.shape[0] != min(per_rank, rows - first_row):
        return None
    return local.view(-1), first_row * math.prod(tensor.shape[1:])


def distribution(weight_shape: tuple[int, ...], scheme: InitScheme) -> Distribution | None:
    """What ``torch.nn.init`` draws a weight of this shape from for the scheme (None: the layer's default)."""
    import torch

    kind = scheme.weight
    if kind == "default":
        return None
    if kind in ("zeros", "ones"):
        return Distribution("constant", 0.0 if kind == "zeros" else 1.0)
    if kind == "normal":
        return Distribution("normal", 0.0, scheme.std)
    receptive_field = math.prod(weight_shape[2:])
    fan_in, fan_out = weight_shape[1] * receptive_field, weight_shape[0] * receptive_field
    if kind.startswith("kaiming"):
        gain = torch.nn.init.calculate_gain(scheme.nonlinearity, 0)  # nn.init.kaiming_*_ use a = 0
        std = gain / math.sqrt(fan_in if scheme.mode == "fan_in" else fan_out)
    else:
        std = math.sqrt(2.0 / (fan_in + fan_out))
    if kind.endswith("uniform"):
        return Distribution("uniform", -math.sqrt(3.0) * std, math.sqrt(3.0) * std)
    return Distribution("normal", 0.0, std)


def own_tensors(module: torch.nn.Module) -> list[torch.Tensor]:
    """The module's own parameters and buffers (not its children's)."""
    return [*module.parameters(recurse=False), *module.buffers(recurse=False)]


def _set_by_schemes(graph: Graph, model: torch.nn.Module) -> Iterator[str]:
    """Layers whose every tensor ``init_weights`` sets: a weight scheme, and a bias scheme or no bias."""
    for node in graph.layers:
        scheme = graph.init.get(node.op)
        if scheme is None or scheme.weight == "default" or node.parameters == 0:
            continue
        module = model.get_submodule(node.name)
        own = {name for name, _ in module.named_parameters(recurse=False)}
        if next(module.buffers(recurse=False), None) is None and own <= (
                {"weight", "bias"} if scheme.bias != "default" else {"weight"}) and "weight" in own:
            yield node.name


def _targets(graph: Graph, model: torch.nn.Module) -> Iterator[tuple[torch.Tensor, Distribution]]:
    import torch

    for node in graph.layers:
        scheme = graph.init.get(node.op)
        if scheme is None or node.parameters == 0:
            continue
        module = model.get_submodule(node.name)
        weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
        if isinstance(weight, torch.Tensor):
            drawn = distribution(tuple(weight.shape), scheme)
            if drawn is not None:
                yield weight, drawn
        if isinstance(bias, torch.Tensor) and scheme.bias != "default":
            yield bias, Distribution("constant", 0.0 if scheme.bias == "zeros" else 1.0)


def _draw(draw: _Draw) -> None:
    import torch

    into, drawn = draw.into, draw.distribution
    if into is None:
        return
    if drawn.kind == "constant":
        into.fill_(drawn.a)
        return
    whole = into.numel() == draw.length
    target = into if whole else torch.empty(draw.length, dtype=into.dtype, device=into.device)
    generator = torch.Generator(device=into.device).manual_seed(draw.seed)
    if drawn.kind == "normal":
        target.normal_(drawn.a, drawn.b, generator=generator)
    else:
        target.uniform_(drawn.a, drawn.b, generator=generator)
    if not whole:
        into.copy_(target[draw.skip:draw.skip + into.numel()])


def _is_sharded(tensor: torch.Tensor) -> bool:
    """A DTensor (what FSDP2 and tensor parallelism make): this rank holds a part of it."""
    module = sys.modules.get("torch.distributed.tensor")  # none can exist before it is imported
    return module is not None and isinstance(tensor, module.DTensor)


def _whole_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor to draw into: itself, or for a sharded one, a full-size local tensor."""
    import torch

    if not _is_sharded(tensor):
        return tensor.detach()
    local = tensor.to_local()  # type: ignore[attr-defined]
    return torch.empty(tuple(tensor.shape), dtype=tensor.dtype, device=local.device)


def _keep_shard(tensor: torch.Tensor, whole: torch.Tensor) -> None:
    """Copy this rank's part of ``whole`` into the sharded ``tensor``, without communication."""
    from torch.distributed.tensor import distribute_tensor

    mine = distribute_tensor(whole, tensor.device_mesh, tensor.placements,  # type: ignore[attr-defined]
                             src_data_rank=None)
    tensor.to_local().copy_(mine.to_local())  # type: ignore[attr-defined]


@contextlib.contextmanager
def _whole(module: torch.nn.Module) -> Iterator[None]:
    """Give a module full-size local tensors for its sharded parameters while it initializes itself.

    A layer's ``reset_parameters`` then draws exactly what it draws in a single process (the same
    numbers from the same generator state on every rank); afterwards each rank keeps its shard.
    """
    import torch

    sharded = {name: parameter for name, parameter in module.named_parameters(recurse=False)
               if _is_sharded(parameter)}
    if not sharded:
        yield
        return
    wholes = {name: torch.nn.Parameter(_whole_tensor(parameter), requires_grad=parameter.requires_grad)
              for name, parameter in sharded.items()}
    module._parameters.update(wholes)
    try:
        yield
    finally:
        module._parameters.update(sharded)
    for name, parameter in sharded.items():
        _keep_shard(parameter, wholes[name].detach())


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Seed torch's generator for the block, leaving the caller's random state as it was."""
    if seed is None:
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
