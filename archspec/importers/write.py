"""The spec writer: recovered structure as YAML text, formatted as a person writes a spec.

One entry per line in flow style (``- {conv2d: {channels: 64, kernel: 3}, name: conv1}``), a bare
name for a layer with nothing to say (``- relu``), blocks before layers, and a comment above each
block saying which source modules it came from.
"""

from __future__ import annotations

from typing import Any

import yaml

from archspec.importers.flat import FlatModel
from archspec.importers.recover import PRESENT, PREVIOUS, Block, Entry, RecoveryFailure, recover
from archspec.ops.registry import get_op

_WIDTH = 10**9


def write_spec(model: FlatModel, source: str = "") -> str:
    """The spec of ``model`` as YAML text: its blocks, repeats and layers, with the source's names."""
    recovered = recover(model)
    lines = [f"# Imported by archspec from {source or model.name}.", "archspec: 1",
             f"name: {_flow(model.name)}", f"input: {_flow(list(model.input_shape))}"]
    if recovered.blocks:
        lines.append("blocks:")
        for block in recovered.blocks.values():
            lines += _block(block, model.registration.get(block.instances[0].path, ()))
    lines.append("layers:")
    lines += [f"  - {_entry(entry, {}, position)}" for position, entry in enumerate(recovered.top.entries)]
    if len(model.output_names) > 1:
        lines.append("outputs:")
        for position, (name, layer) in enumerate(zip(model.output_names, model.outputs, strict=True)):
            reference = _output_reference(recovered.top.entries, layer)
            value = reference if position == 0 else {"layer": reference, "training_only": True}
            lines.append(f"  {name}: {_flow(value)}")
    return "\n".join(lines) + "\n"


def _output_reference(entries: list[Entry], layer: str) -> str:
    """How the top level names the layer that computes an output: a named layer, or a block call it ends."""
    for entry in entries:
        ends_call = entry.child is not None and entry.child.output == layer
        if entry.name and (entry.layer_id == layer or ends_call):
            return entry.name
    raise RecoveryFailure("an output of the model is made inside a submodule without ending it",
                          hint="return that output from its submodule")


def spec_state_dict(model: FlatModel) -> dict[str, Any]:
    """The layers' tensors under the ``state_dict`` keys of the module that :func:`write_spec`'s spec builds.

    The keys come from the same recovery as the spec's names, so the two cannot disagree.
    """
    paths = recover(model).paths
    return {f"{paths[layer.id]}.{key}": tensor for layer in model.layers for key, tensor in layer.state.items()}


def _register_first(body: list[Entry], registered: tuple[str, ...]) -> list[str]:
    """The fewest names to register first so that the built module registers its submodules in the source's
    order (none when the order they run in is that order)."""
    running = [entry.name for entry in body if entry.name in registered]
    wanted = [name for name in registered if name in running]
    for count in range(len(wanted)):
        if wanted[:count] + [name for name in running if name not in wanted[:count]] == wanted:
            return wanted[:count]
    return wanted


def _block(block: Block, registered: tuple[str, ...] = ()) -> list[str]:
    paths = [instance.where for instance in block.instances]
    shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    origin = f"{block.type}: " if block.type else ""
    lines = [f"  {block.name}:", f"    # from {origin}{shown}"]
    if block.params:
        lines.append(f"    params: {_flow({name: _type(value) for name, value in block.params.items()})}")
    first = _register_first(block.body, registered)
    if first:
        lines.append(f"    register_first: {_flow(first)}")
    lines.append("    body:")
    slots = {(position, key): f"${name}" for (position, key), name in block.slots.items()}
    read = {ref.split(".")[0] for entry in block.body for ref in entry.inputs}
    for position, entry in enumerate(block.body):
        if entry.optional:
            lines += [f"      - {line}" for line in _optional(entry, slots, position, entry.name in read)]
        else:
            lines.append(f"      - {_entry(entry, slots, position)}")
    return lines


def _optional(entry: Entry, slots: dict[tuple[int, str], str], position: int, named: bool) -> list[str]:
    """An entry some instances lack: a repeat run once or never, and, when a later entry reads it by
    name, an identity of the same name otherwise, so that entry reads its input where it is absent.
    """
    present = slots[(position, PRESENT)].removeprefix("$")
    lines = [_flow({"repeat": f"${{1 if {present} else 0}}", "body": _yaml(entry, slots, position)})]
    if named:
        standin = Entry("identity", {}, entry.name, entry.inputs)
        lines.append(_flow({"repeat": f"${{0 if {present} else 1}}", "body": _yaml(standin, {}, 0)}))
    return lines


def _type(value: Any) -> str:
    for python, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list")):
        if isinstance(value, python):
            return name
    return "any"


def _entry(entry: Entry, slots: dict[tuple[int, str], str], position: int) -> str:
    value = _yaml(entry, slots, position)
    return value if isinstance(value, str) else _flow(value)


def _yaml(entry: Entry, slots: dict[tuple[int, str], str], position: int) -> Any:
    params = {key: slots.get((position, key), value) for key, value in entry.params.items() if key != PRESENT}
    if entry.repeat:
        names = {"names": entry.names} if entry.names else {}
        return {"repeat": entry.repeat, "name": entry.name, **names, "body": {entry.kind: params}}
    op = get_op(entry.kind)
    joins = op is not None and op.shorthand == "inputs"
    value: Any = params
    if joins:
        value = list(entry.inputs)
    elif op is not None and op.shorthand and list(params) == [op.shorthand]:
        value = params[op.shorthand]
    meta: dict[str, Any] = {}
    if entry.name is not None:
        meta["name"] = entry.name
    if not joins and entry.inputs != (PREVIOUS,):
        meta["inputs"] = entry.inputs[0] if len(entry.inputs) == 1 else list(entry.inputs)
    if not meta and value == {} and op is not None:
        return entry.kind
    return {entry.kind: value, **meta}


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=_WIDTH).strip().removesuffix(
        "\n...").strip()
