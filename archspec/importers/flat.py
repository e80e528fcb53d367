"""The meeting point of the import front ends (PyTorch, ONNX) and the spec writer.

A front end reads its source into a :class:`FlatModel`: every layer it found as one archspec op, in
execution order, with the scope it came from.  Nothing here knows the source; the spec writer knows
nothing about the front ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NETWORK_INPUT = "input"
"""The id that stands for the network's input in :attr:`FlatLayer.inputs`."""


@dataclass(frozen=True)
class FlatLayer:
    """One layer of a source model, as one archspec op.

    ``scope`` is where it came from, outermost first: a PyTorch module path (``("layer1", "0",
    "conv1")`` for ``model.layer1[0].conv1``) or an ONNX node name split into its parts.  A layer
    made by a function call inside a module's ``forward`` (``torch.add``, ``x.flatten(1)``) has that
    module's path as its scope and ``name`` empty.  ``scope_types`` names the class at each level of
    ``scope`` where the source knows it (PyTorch), else it is empty (ONNX).

    ``params`` are the op's parameters exactly as a spec writes them (``{"channels": 64, "kernel":
    7, "stride": 2, "padding": 3, "bias": False}``).  ``state`` holds the layer's tensors under the
    local names archspec's built module gives them (``weight``, ``bias``, ``running_mean``, ...).
    """

    id: str
    op: str
    params: Mapping[str, Any]
    inputs: tuple[str, ...]
    scope: tuple[str, ...] = ()
    scope_types: tuple[str, ...] = ()
    name: str = ""
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlatModel:
    """A whole source model as flat layers, before any structure is recovered."""

    name: str
    input_shape: tuple[int, ...]
    layers: tuple[FlatLayer, ...]
    outputs: tuple[str, ...]
    output_names: tuple[str, ...] = ()
    """With several outputs, each one's name; all but the first are training-only (auxiliary heads)."""
    registration: Mapping[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    """Module path -> its submodules' names in the order the source registers them, where the source knows
    it (PyTorch): the spec writes ``register_first:`` where that differs from the order they run in."""
