"""Structure recovery: flat layers back into the scopes (module calls) they ran in, blocks and repeats.

1. Scopes: consecutive layers under one scope prefix are one call of that scope (a module called
   twice is two calls).  Each call becomes a body of entries: its own layers, and its child calls.
2. Blocks: calls of one class (or, without classes, of one scope shape) whose bodies have the same
   structure are one block; the values that differ between them (channels, stride) become its
   parameters, the values they share stay written in the block.
3. Repeats: a call whose children are named ``0, 1, ...``, chain one into the next and are calls of
   one block becomes a named repeat, each value that changes with the iteration an expression of
   ``index``.

Only what a spec can say is produced; a reference the language cannot write (a block with two
inputs, a value used from inside another call) is an :class:`ImportFailure` naming the scope.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from archspec.errors import Diagnostic, SpecError
from archspec.importers.flat import NETWORK_INPUT, FlatLayer, FlatModel

PREVIOUS = "<previous>"


class RecoveryFailure(SpecError):
    """A source whose structure the spec language cannot write, naming the scope and what to do."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(Diagnostic(message, None, hint=hint))


@dataclass
class Entry:
    """One line of a body: an op layer, a block call or a repeat of block calls."""

    kind: str
    params: dict[str, Any]
    name: str | None = None
    inputs: tuple[str, ...] = ()
    child: Call | None = None
    stateful: bool = False
    layer_id: str = ""
    repeat: int = 0
    """For a named repeat: how many iterations; ``params`` then holds index expressions."""


@dataclass
class Call:
    """One call of a scope: its path, class, body, and what it reads and produces."""

    path: tuple[str, ...]
    type: str
    entries: list[Entry] = field(default_factory=list)
    input: str = ""
    output: str = ""
    produced: set[str] = field(default_factory=set)
    block: str = ""

    @property
    def where(self) -> str:
        return ".".join(self.path) or "the top level"


@dataclass
class Block:
    name: str
    type: str
    body: list[Entry]
    params: dict[str, Any]
    """Parameter name -> the value the first instance gives it (its type comes from that value)."""
    instances: list[Call]
    slots: dict[tuple[int, str], str]
    """(entry position, parameter key) -> block parameter name."""


@dataclass
class Recovered:
    top: Call
    blocks: dict[str, Block]
    paths: dict[str, str] = field(default_factory=dict)
    """Layer id -> its dotted path in the module built from the written spec (``layer1.0.conv1``):
    the prefix of its tensors' ``state_dict`` keys."""


def recover(model: FlatModel) -> Recovered:
    """The model's calls, grouped into blocks and repeats."""
    top = _calls(model)
    for call in _walk(top):
        _local_references(call)
    paths = dict(_paths(top, ()))
    blocks = _group(top)
    return Recovered(top, blocks, paths)


def _paths(call: Call, prefix: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """Each named layer's path through the named calls around it (names are final once referenced)."""
    for entry in call.entries:
        if entry.child is not None:
            yield from _paths(entry.child, (*prefix, entry.name or ""))
        elif entry.name:
            yield entry.layer_id, ".".join((*prefix, entry.name))


# -- 1. scopes -------------------------------------------------------------------------------------

def _container(layer: FlatLayer) -> tuple[str, ...]:
    if layer.name and layer.scope and layer.scope[-1] == layer.name:
        return layer.scope[:-1]
    return layer.scope


def _calls(model: FlatModel) -> Call:
    top = Call((), model.name, input=NETWORK_INPUT)
    open_calls = [top]
    for layer in model.layers:
        container = _container(layer)
        while len(open_calls) > 1 and open_calls[-1].path != container[: len(open_calls[-1].path)]:
            open_calls.pop()
        while len(open_calls[-1].path) < len(container):
            depth = len(open_calls[-1].path) + 1
            path = container[:depth]
            kind = layer.scope_types[depth - 1] if len(layer.scope_types) >= depth else ""
            child = Call(path, kind)
            open_calls[-1].entries.append(Entry("", {}, path[-1], child=child))
            open_calls.append(child)
        stateful = bool(layer.state)
        open_calls[-1].entries.append(Entry(layer.op, dict(layer.params), layer.name or None,
                                            tuple(layer.inputs), stateful=stateful, layer_id=layer.id))
    if model.outputs and top.entries and _output_of(top) != model.outputs[0]:
        raise RecoveryFailure("the model's output is not the last layer it computes",
                              hint="return the last computed tensor from forward")
    return top


def _output_of(call: Call) -> str:
    last = call.entries[-1]
    return _output_of(last.child) if last.child is not None else last.layer_id


def _walk(call: Call) -> list[Call]:
    """Calls innermost first."""
    found: list[Call] = []
    for entry in call.entries:
        if entry.child is not None:
            found.extend(_walk(entry.child))
    found.append(call)
    return found


def _local_references(call: Call) -> None:
    """Turn layer ids into names in the call's own scope: ``input``, a sibling, or the previous entry."""
    owner: dict[str, int] = {}
    for position, entry in enumerate(call.entries):
        if entry.child is not None:
            call.produced |= entry.child.produced
            for produced in entry.child.produced:
                owner[produced] = position
        else:
            call.produced.add(entry.layer_id)
            owner[entry.layer_id] = position
    call.output = _output_of(call)
    external: set[str] = set()
    for entry in call.entries:
        reads = (entry.child.input,) if entry.child is not None else entry.inputs
        external |= {ref for ref in reads if ref not in call.produced}
    if call.path:
        if len(external) != 1:
            raise RecoveryFailure(f"'{call.where}' ({call.type}) reads {len(external)} tensors from outside it; "
                                  "an archspec block has one input",
                                  hint="import a module whose submodules each take one tensor")
        call.input = external.pop()
    names = _names(call)
    for position, entry in enumerate(call.entries):
        reads = (entry.child.input,) if entry.child is not None else entry.inputs
        refs = []
        for ref in reads:
            if ref == call.input:
                refs.append("input")
                continue
            source = call.entries[owner[ref]]
            if source.child is not None and source.child.output != ref:
                refs.append(f"{names[owner[ref]]}.{_inner(source.child, ref)}")
                continue
            refs.append(PREVIOUS if owner[ref] == position - 1 and len(reads) == 1 else names[owner[ref]])
        if position == 0 and refs == ["input"]:
            refs = [PREVIOUS]
        entry.inputs = tuple(refs)
    _needed_names(call, names)


def _inner(call: Call, ref: str) -> str:
    """``0.conv`` for a tensor made inside a call: a dotted path to a named entry that outputs it."""
    for entry in call.entries:
        if entry.child is not None and ref in entry.child.produced and entry.name:
            return entry.name if entry.child.output == ref else f"{entry.name}.{_inner(entry.child, ref)}"
        if entry.child is None and entry.layer_id == ref and entry.name:
            return entry.name
    raise RecoveryFailure(f"a tensor made inside '{call.where}' is used outside it, and has no name to reach it by",
                          hint="return that tensor from the submodule")


def _names(call: Call) -> dict[int, str]:
    """A unique local name for each entry (only those that need one are written)."""
    taken: set[str] = set()
    names: dict[int, str] = {}
    for position, entry in enumerate(call.entries):
        wanted = _identifier(entry.name) if entry.name else ""
        if wanted and (entry.stateful or entry.child is not None):
            if wanted in taken:
                what = "module" if entry.child is None else "submodule"
                raise RecoveryFailure(f"{what} '{'.'.join((*call.path, wanted))}' is called more than once and "
                                      "has weights; archspec layers do not share weights",
                                      hint="give each use its own module")
            names[position] = wanted
            taken.add(wanted)
    for position, entry in enumerate(call.entries):
        if position in names:
            continue
        base = _identifier(entry.name) if entry.name else entry.kind
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}_{number}"
        names[position] = candidate
        taken.add(candidate)
    return names


def _needed_names(call: Call, names: dict[int, str]) -> None:
    referenced = {ref for entry in call.entries for ref in entry.inputs}
    for position, entry in enumerate(call.entries):
        keep = entry.stateful or entry.child is not None or names[position] in referenced
        entry.name = names[position] if keep else None


def _identifier(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


# -- 2. blocks --------------------------------------------------------------------------------------

_CONTAINERS = {"Sequential", "ModuleList", "ModuleDict", ""}


def _signature(entry: Entry) -> tuple[Any, ...]:
    child = entry.child.block if entry.child is not None else ""
    values = tuple(sorted(entry.params.items())) if entry.repeat else ()
    return (entry.kind, child, entry.name, entry.inputs, values, entry.repeat)


def _group(top: Call) -> dict[str, Block]:
    blocks: dict[str, Block] = {}
    by_signature: dict[tuple[Any, ...], Block] = {}
    for call in _walk(top)[:-1]:
        signature = (call.type, tuple(_signature(entry) for entry in call.entries))
        block = by_signature.get(signature)
        if block is None:
            block = Block(_block_name(call, blocks), call.type, call.entries, {}, [], {})
            blocks[block.name] = block
            by_signature[signature] = block
        block.instances.append(call)
        call.block = block.name
    for block in blocks.values():
        for instance in block.instances:
            _child_arguments(instance, blocks)
        _parameters(block)
    _child_arguments(top, blocks)
    for call in [top, *(block.instances[0] for block in blocks.values())]:
        for entry in call.entries:
            _as_repeat(entry, blocks)
    used = _used(top, blocks)
    return {name: block for name, block in blocks.items() if name in used}


def _child_arguments(call: Call, blocks: dict[str, Block]) -> None:
    for entry in call.entries:
        if entry.child is not None:
            entry.kind = entry.child.block
            entry.params = arguments(blocks[entry.child.block], entry.child)


def _used(top: Call, blocks: dict[str, Block]) -> set[str]:
    used: set[str] = set()
    pending = [top.entries]
    while pending:
        for entry in pending.pop():
            name = entry.kind if entry.repeat else entry.child.block if entry.child is not None else ""
            if name and name not in used:
                used.add(name)
                pending.append(blocks[name].body)
    return used


def _block_name(call: Call, blocks: dict[str, Block]) -> str:
    base = _snake(call.type) if call.type not in _CONTAINERS else _identifier(call.path[-1])
    if base[:1].isdigit():
        base = f"block_{base}"
    from archspec.ops.registry import get_op

    if get_op(base) is not None or base in ("repeat", "residual", "input"):
        base = f"{base}_block"
    candidate, number = base, 1
    while candidate in blocks:
        number += 1
        candidate = f"{base}_{number}"
    return candidate


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _parameters(block: Block) -> None:
    """Values that differ between the instances become parameters; equal vectors share one."""
    vectors: dict[tuple[int, str], list[Any]] = {}
    for position, entry in enumerate(block.body):
        if entry.repeat:
            continue
        rows = [instance.entries[position].params for instance in block.instances]
        keys = list(dict.fromkeys(key for row in rows for key in row))
        defaults = _defaults(entry.kind)
        for key in keys:
            values = [row.get(key, defaults.get(key)) for row in rows]
            for row in rows:
                row[key] = row.get(key, defaults.get(key))
            if any(value != values[0] for value in values):
                vectors[(position, key)] = values
            elif key in defaults and values[0] == defaults[key]:
                for row in rows:
                    del row[key]
    names: dict[str, list[Any]] = {}
    by_key: dict[str, int] = {}
    for _, key in vectors:
        by_key[key] = by_key.get(key, 0) + 1
    for (position, key), values in vectors.items():
        same = next((name for name, known in names.items() if known == values), None)
        if same is None:
            entry = block.body[position]
            base = key if by_key[key] == 1 or not entry.name else f"{_identifier(entry.name)}_{key}"
            if base[:1].isdigit():
                base = f"{entry.kind}_{base}"
            same, number = base, 1
            while same in names:
                number += 1
                same = f"{base}_{number}"
            names[same] = values
        block.slots[(position, key)] = same
    block.params = {name: values[0] for name, values in names.items()}


def _defaults(kind: str) -> dict[str, Any]:
    from archspec.ops.registry import get_op

    op = get_op(kind)
    if op is None:
        return {}
    return {key: field.default for key, field in op.Params.model_fields.items() if not field.is_required()}


def arguments(block: Block, instance: Call) -> dict[str, Any]:
    """What a call of ``block`` passes for ``instance``."""
    found: dict[str, Any] = {}
    for (position, key), name in block.slots.items():
        found[name] = instance.entries[position].params[key]
    return found


# -- 3. repeats -------------------------------------------------------------------------------------

def _as_repeat(entry: Entry, blocks: dict[str, Block]) -> None:
    """A call of a container whose children are calls of one block, named 0..N-1, chained: a named repeat."""
    call = entry.child
    if call is None or (call.type and call.type not in _CONTAINERS) or len(blocks[call.block].instances) > 1:
        return
    children = call.entries
    if len(children) < 2 or any(c.child is None or c.name != str(i) for i, c in enumerate(children)):
        return
    if any(c.inputs != (PREVIOUS,) for c in children):
        return
    kinds = {c.child.block for c in children if c.child is not None}
    if len(kinds) != 1:
        return
    block = blocks[kinds.pop()]
    rows = [arguments(block, c.child) for c in children if c.child is not None]
    entry.kind = block.name
    entry.repeat = len(children)
    entry.params = {key: index_expression([row[key] for row in rows]) for key in block.params}
    entry.child = None


def index_expression(values: list[Any]) -> Any:
    """One value per iteration as the shortest thing a repeat can write: a constant or an ``index`` expression."""
    first = values[0]
    if all(value == first for value in values):
        return first
    rest = values[1:]
    if all(value == rest[0] for value in rest):
        if isinstance(first, bool) and isinstance(rest[0], bool):
            return "${index == 0}" if first else "${index > 0}"
        return f"${{{_literal(first)} if index == 0 else {_literal(rest[0])}}}"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        step = values[1] - values[0]
        if all(b - a == step for a, b in itertools.pairwise(values)):
            return f"${{{first} + {step} * index}}"
    return f"${{[{', '.join(_literal(v) for v in values)}][index]}}"


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)
