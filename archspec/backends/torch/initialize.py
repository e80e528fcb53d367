"""Drawing a built network's initial weights as the spec's ``init:`` says, on every core.

The generated source's ``init_weights()`` (what ``archspec compile --py`` writes, and what runs
when a network is constructed normally) calls ``torch.nn.init``, which draws each tensor's numbers
on one core; for a large model that is most of the build (VGG-16: 0.8 s of about 1 s).  ``build``
draws the same distributions here instead: each tensor is split into fixed-size chunks, each chunk
drawn from its own generator seeded from torch's global one, the chunks shared among threads.
The weights depend on the seed, not on the number of threads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archspec.graph.ir import Graph
from archspec.spec.model import InitScheme

if TYPE_CHECKING:
    import torch

CHUNK = 1 << 21
"""Numbers per draw: large enough to amortize a generator, small enough to spread a tensor over cores."""


@dataclass(frozen=True)
class Distribution:
    kind: str
    """``normal`` (a = mean, b = standard deviation), ``uniform`` (a, b = bounds) or ``constant`` (a)."""
    a: float
    b: float = 0.0


def initialize(graph: Graph, model: torch.nn.Module) -> None:
    """Set the tensors of every layer the spec's ``init:`` names, as ``init_weights()`` would."""
    import torch

    draws = [(chunk, distribution, int(torch.randint(0, 2**62, ()).item()))
             for tensor, distribution in _targets(graph, model)
             for chunk in tensor.detach().view(-1).split(CHUNK)]
    if not draws:
        return
    on_cpu = all(chunk.device.type == "cpu" for chunk, _, _ in draws)
    threads = max(1, min(torch.get_num_threads(), os.cpu_count() or 1, len(draws))) if on_cpu else 1
    with torch.no_grad():
        if threads == 1:
            for draw in draws:
                _draw(draw)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(_draw, draws))


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


def _draw(draw: tuple[torch.Tensor, Distribution, int]) -> None:
    import torch

    chunk, drawn, seed = draw
    if drawn.kind == "constant":
        chunk.fill_(drawn.a)
        return
    generator = torch.Generator(device=chunk.device).manual_seed(seed)
    if drawn.kind == "normal":
        chunk.normal_(drawn.a, drawn.b, generator=generator)
    else:
        chunk.uniform_(drawn.a, drawn.b, generator=generator)
