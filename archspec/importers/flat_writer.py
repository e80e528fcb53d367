"""The simplest faithful spec of a :class:`~archspec.importers.flat.FlatModel`: one named layer per flat layer.

The structured writer (blocks, repeats, scopes) falls back to this form where it finds no structure.
Each layer gets a unique name from its scope (:func:`layer_names`), the one naming that both the spec
and its weights (:func:`flat_state_dict`) use, so ``{layer}.{tensor}`` keys match the built module.
An entry lists ``inputs:`` only where its input is not the layer just above it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from archspec.importers.flat import NETWORK_INPUT, FlatLayer, FlatModel
from archspec.ops.registry import get_op

MAX_NAME = 100
"""The longest layer name the spec language accepts."""
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")


def identifier(text: str, fallback: str = "net") -> str:
    """``text`` made a spec identifier: other characters become ``_``, never a leading digit, at most 100 long."""
    name = _NOT_NAME.sub("_", text).strip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    return name[:MAX_NAME]


def _stem(layer: FlatLayer) -> str:
    """A module's layer is named by its path; a function call inside a module by that path and the op."""
    parts = list(layer.scope)
    if not layer.name:
        op = get_op(layer.op)
        parts.append(op.prefix if op is not None else layer.op)
    return identifier("_".join(parts), fallback="layer")


def layer_names(model: FlatModel) -> dict[str, str]:
    """Each layer's name in the written spec, by layer id: its stem, then ``_2``, ``_3`` for later repeats."""
    taken = {NETWORK_INPUT}
    names = {}
    for layer in model.layers:
        stem = _stem(layer)
        name, count = stem, 1
        while name in taken:
            count += 1
            suffix = f"_{count}"
            name = stem[:MAX_NAME - len(suffix)] + suffix
        taken.add(name)
        names[layer.id] = name
    return names


def flat_state_dict(model: FlatModel) -> dict[str, Any]:
    """The tensors of every layer under the keys of the module built from the written spec."""
    names = layer_names(model)
    return {f"{names[layer.id]}.{key}": tensor for layer in model.layers for key, tensor in layer.state.items()}


def write_weights(model: FlatModel, path: str | Path) -> Path:
    """Save :func:`flat_state_dict` with ``torch.save`` at ``path``, atomically; what ``--weights`` writes."""
    import torch

    from archspec.io import atomic_output

    state = {key: torch.from_numpy(np.array(tensor, dtype=np.float32))
             for key, tensor in flat_state_dict(model).items()}
    with atomic_output(path) as temporary:
        torch.save(state, temporary)
    return Path(path)


def write_flat_spec(model: FlatModel) -> str:
    """The spec's YAML text: the model's layers in order, each one line in flow style."""
    names = layer_names(model) | {NETWORK_INPUT: NETWORK_INPUT}
    lines = ["archspec: 1", f"name: {identifier(model.name)}", f"input: {_flow(list(model.input_shape))}",
             "layers:"]
    previous = NETWORK_INPUT
    for layer in model.layers:
        inputs = [names[source] for source in layer.inputs]
        op = get_op(layer.op)
        entry = f"name: {names[layer.id]}, "
        if op is not None and op.shorthand == "inputs":
            entry += f"{layer.op}: {_flow(inputs)}"
        else:
            entry += f"{layer.op}: {_flow(dict(layer.params))}"
            if layer.inputs != (previous,):
                entry += f", inputs: {_flow(inputs)}"
        lines.append(f"  - {{{entry}}}")
        previous = layer.id
    return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
    """A parameter value in YAML flow style, read back by archspec as the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text.replace("e", ".0e") if "e" in text and "." not in text else text
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    return "[" + ", ".join(_flow(item) for item in value) + "]"
