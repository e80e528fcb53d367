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
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from archspec.errors import Diagnostic, SpecError
from archspec.importers.flat import NETWORK_INPUT, FlatLayer, FlatModel

PREVIOUS = "<previous>"
PRESENT = "<present>"
"""The parameter key of an optional entry that says whether an instance has it."""
MIXED = object()
"""A parameter whose values differ in type between instances (a kernel of 3 here, [1, 7] there): type ``any``."""
_ANY = object()
"""What an instance without an optional entry gives each of that entry's values: anything fits."""


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
    names: str | None = None
    """For a named repeat whose iterations are not ``0, 1, ...``: its ``names:`` text."""
    optional: bool = False
    """In a block body: a submodule that some instances lack (ResNet's ``downsample``); see :data:`PRESENT`."""
    absent: bool = False
    """In an instance: the stand-in for an optional submodule this instance lacks."""
    container: str = ""
    """For a child of a ``ModuleList`` or ``ModuleDict`` that its parent calls one at a time, with other layers
    between (a U-Net's decoder): the container's name, so that the entry is named ``up.0`` in the parent."""


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
    """Parameter name -> the value the first instance gives it (its type comes from that value), or :data:`MIXED`."""
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
    top = _calls(_growing_concats(model))
    for call in _walk(top):
        _open_containers(call)
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


# -- 0. concatenations that grow (DenseNet) ------------------------------------------------------------

def _growing_concats(model: FlatModel) -> FlatModel:
    """Concatenations of a growing list, rewritten so each module takes one tensor.

    DenseNet's layer k concatenates the block input and the k-1 outputs before it, inside its own
    forward.  Since ``cat(a, b, c) == cat(cat(a, b), c)``, each such concatenation becomes the one
    before it plus the newest tensor, and moves to the end of the module that made the newest
    tensor when that module read exactly the rest: layer k-1 then returns the concatenation, and
    layer k reads that one tensor.  A concatenation of one tensor is that tensor.
    """
    alias: dict[str, str] = {}
    known: dict[tuple[str, ...], str] = {}
    layers: list[FlatLayer] = []
    for layer in model.layers:
        inputs = tuple(alias.get(ref, ref) for ref in layer.inputs)
        if layer.op == "concat" and not layer.params and len(inputs) == 1:
            alias[layer.id] = inputs[0]
            continue
        if layer.op == "concat" and not layer.params and len(inputs) > 2 and inputs[:-1] in known:
            inputs = (known[inputs[:-1]], inputs[-1])
        layer = FlatLayer(layer.id, layer.op, layer.params, inputs, layer.scope, layer.scope_types, layer.name,
                          layer.state)
        if layer.op == "concat" and not layer.params and len(inputs) == 2:
            known[tuple(model_inputs for model_inputs in _concat_sources(layer, known))] = layer.id
            layer = _into_maker(layer, layers)
        layers.append(layer)
    outputs = tuple(alias.get(ref, ref) for ref in model.outputs)
    return FlatModel(model.name, model.input_shape, tuple(layers), outputs)


def _concat_sources(layer: FlatLayer, known: dict[tuple[str, ...], str]) -> tuple[str, ...]:
    """What a two-input concatenation holds, with a known concatenation spelled out."""
    head, newest = layer.inputs
    spelled = next((sources for sources, made in known.items() if made == head), (head,))
    return (*spelled, newest)


def _into_maker(layer: FlatLayer, before: list[FlatLayer]) -> FlatLayer:
    """``concat [K, s]`` placed at the end of the module that made ``s``, if that module read only ``K``."""
    if not before or before[-1].id != layer.inputs[1]:
        return layer
    maker = _container(before[-1])
    if not maker or _container(layer)[: len(maker) - 1] != maker[:-1] or _container(layer)[: len(maker)] == maker:
        return layer
    inside = [other for other in before if other.scope[: len(maker)] == maker]
    made = {other.id for other in inside}
    read = {ref for other in inside for ref in other.inputs if ref not in made}
    if read != {layer.inputs[0]}:
        return layer
    return FlatLayer(layer.id, layer.op, layer.params, layer.inputs, maker, before[-1].scope_types[: len(maker)], "",
                     layer.state)


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


_LISTS = ("ModuleList", "ModuleDict")


def _open_containers(call: Call) -> None:
    """A ``ModuleList`` (or ``ModuleDict``) entered more than once, other layers of ``call`` running between
    its children: each child becomes an entry of ``call`` itself, named ``list.child`` (``up.0``), which the
    spec registers in a container while running it where it ran."""
    seen: dict[str, list[Call]] = {}
    for entry in call.entries:
        if entry.child is not None and entry.child.type in (*_LISTS, "") and entry.name:
            seen.setdefault(entry.name, []).append(entry.child)
    reopened = {name for name, calls in seen.items() if len(calls) > 1 and _a_list(calls)}
    if not reopened:
        return
    entries: list[Entry] = []
    for entry in call.entries:
        if entry.child is None or entry.name not in reopened:
            entries.append(entry)
            continue
        for inner in entry.child.entries:
            inner.container = _layer_name(entry.name or "")
            entries.append(inner)
    spliced = [(entry.container, entry.name) for entry in entries
               if entry.container and entry.child is not None and entry.child.type in _LISTS]
    if len(spliced) != len(set(spliced)):
        container, name = next(key for key in spliced if spliced.count(key) > 1)
        raise RecoveryFailure(f"the lists inside '{'.'.join((*call.path, container))}' are called one item at a "
                              f"time between other layers, two levels deep ('{container}.{name}' is entered again); "
                              "a spec's containers are one level deep",
                              hint="hold the inner lists as separate attributes, or call each inner list in one run")
    call.entries = entries


def _a_list(calls: list[Call]) -> bool:
    """The calls are entries of one list: a ``ModuleList`` or ``ModuleDict``, or (from a source without
    classes: an ONNX file) a scope entered again for other children each time (``up.0``, then ``up.1``)."""
    if calls[0].type:
        return True
    names = [entry.name for call in calls for entry in call.entries]
    return all(names) and len(names) == len(set(names))


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
        wanted = _layer_name(entry.name) if entry.name else ""
        if wanted and entry.container:
            wanted = f"{entry.container}.{wanted}"
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
        base = _layer_name(entry.name) if entry.name else entry.kind
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


def _layer_name(name: str) -> str:
    """A source name as a layer name (RegNet's ``block1-0`` keeps its hyphen)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _identifier(name: str) -> str:
    """A source name as a block or parameter name, which expressions read (no hyphen)."""
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
        if block is not None:
            layout = _alignment(block.body, call.entries) if len(call.entries) < len(block.body) else None
            if layout is not None:
                call.entries[:] = _padded(block.body, call.entries, layout)
            block.instances.append(call)
        else:
            block = _with_options(call, blocks)
        if block is None:
            block = Block(_block_name(call, blocks), call.type, call.entries, {}, [], {})
            blocks[block.name] = block
            block.instances.append(call)
        by_signature[signature] = block
        call.block = block.name
    for block in _innermost_first(blocks):
        block.instances.sort(key=lambda instance: any(entry.absent for entry in instance.entries))
        optional = [position for position, entry in enumerate(block.body) if entry.optional]
        for instance in block.instances:
            _child_arguments(instance, blocks)
            for position in optional:
                entry = instance.entries[position]
                entry.params = {PRESENT: False} if entry.absent else {**entry.params, PRESENT: True}
        _parameters(block)
    _child_arguments(top, blocks)
    singles = {id(block.instances[0]) for block in blocks.values() if len(block.instances) == 1}
    for call in [top, *(block.instances[0] for block in blocks.values())]:
        for entry in call.entries:
            _as_repeat(entry, blocks, call is top or id(call) in singles)
    used = _used(top, blocks)
    return {name: block for name, block in blocks.items() if name in used}


def _innermost_first(blocks: dict[str, Block]) -> list[Block]:
    """Blocks after the blocks they call (a merged block may have been made before its children)."""
    order: list[Block] = []
    seen: set[str] = set()

    def visit(block: Block) -> None:
        if block.name in seen:
            return
        seen.add(block.name)
        for instance in block.instances:
            for entry in instance.entries:
                if entry.child is not None:
                    visit(blocks[entry.child.block])
        order.append(block)

    for block in blocks.values():
        visit(block)
    return order


def _with_options(call: Call, blocks: dict[str, Block]) -> Block | None:
    """A block of the call's class whose body is the call's with optional submodules added, or the reverse.

    The call (or every instance so far) is padded with stand-ins for the submodules it lacks, so
    all instances line up position by position; each optional submodule gets a bool parameter.
    """
    if call.type in _CONTAINERS:
        return None
    for block in blocks.values():
        if block.type != call.type or any(entry.absent for entry in call.entries):
            continue
        if not any(entry.optional for entry in block.body):
            layout = _alignment(call.entries, block.body)
            if layout is not None:
                for instance in block.instances:
                    instance.entries[:] = _padded(call.entries, instance.entries, layout)
                for position in set(range(len(call.entries))) - set(layout):
                    call.entries[position].optional = True
                block.body = call.entries
                block.instances.insert(0, call)
                return block
        layout = _alignment(block.body, call.entries)
        missing = set(range(len(block.body))) - set(layout or ())
        fixed = any(entry.optional for entry in block.body)
        if layout is not None and (not fixed or all(block.body[p].optional for p in missing)):
            for position in missing:
                block.body[position].optional = True
            call.entries[:] = _padded(block.body, call.entries, layout)
            block.instances.append(call)
            return block
    return None


def _alignment(full: list[Entry], small: list[Entry]) -> list[int] | None:
    """Positions in ``full`` of ``small``'s entries, if ``full`` is ``small`` plus named entries and unnamed ops.

    References are compared by what they reach, so a reference to a left-out entry stands for
    what that entry reads (``add: [conv, downsample]`` matches ``add: [conv, input]``).
    """
    small_names = {entry.name: position for position, entry in enumerate(small) if entry.name}
    full_names = {entry.name: index for index, entry in enumerate(full) if entry.name}
    matched: dict[int, str] = {}
    skipped: set[int] = set()

    def small_ref(ref: str, position: int) -> str:
        if ref == PREVIOUS:
            return "input" if position == 0 else f"#{position - 1}"
        return f"#{small_names[ref]}" if ref in small_names else ref

    def full_ref(ref: str, index: int) -> str:
        target = index - 1 if ref == PREVIOUS else full_names.get(ref)
        if target is None:
            return ref
        if target < 0:
            return "input"
        if target in skipped:
            reads = full[target].inputs
            return full_ref(reads[0], target) if len(reads) == 1 else "?"
        return matched.get(target, "?")

    layout: list[int] = []
    for index, entry in enumerate(full):
        position = len(layout)
        expected = small[position] if position < len(small) else None
        if expected is not None and _signature(entry)[:3] == _signature(expected)[:3] \
                and entry.repeat == expected.repeat \
                and [full_ref(ref, index) for ref in entry.inputs] == [small_ref(ref, position)
                                                                       for ref in expected.inputs]:
            matched[index] = f"#{position}"
            layout.append(index)
            continue
        if entry.name is None and (entry.child is not None or entry.stateful):
            return None
        if entry.name is not None and len(entry.inputs) != 1:
            return None
        skipped.add(index)
    return layout if len(layout) == len(small) and len(layout) < len(full) else None


def _padded(full: list[Entry], small: list[Entry], layout: list[int]) -> list[Entry]:
    found: list[Entry] = []
    for position, entry in enumerate(full):
        if position in layout:
            found.append(small[layout.index(position)])
        else:
            found.append(Entry(entry.kind, {}, entry.name, entry.inputs, absent=True))
    return found


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
    base = (_snake(call.type) if call.type not in _CONTAINERS else _identifier(call.path[-1])).lstrip("_") or "block"
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
    """Values that differ between the instances become parameters; equal vectors share one.

    An instance that lacks an optional entry fits any value of it (:data:`_ANY`).
    """
    vectors: dict[tuple[int, str], list[Any]] = {}
    for position, entry in enumerate(block.body):
        if entry.repeat:
            continue
        rows = [instance.entries[position].params for instance in block.instances]
        keys = list(dict.fromkeys(key for row in rows for key in row))
        defaults = _defaults(entry.kind)
        for key in keys:
            for row in rows:
                if key not in row:
                    row[key] = _ANY if PRESENT in row and not row[PRESENT] else defaults.get(key)
            values = [row[key] for row in rows]
            known = [value for value in values if value is not _ANY]
            if any(value != known[0] for value in known) or key == PRESENT:
                vectors[(position, key)] = values
            elif key in defaults and known[0] == defaults[key]:
                for row in rows:
                    del row[key]
            else:
                for row in rows:
                    row[key] = known[0]
    names: dict[str, list[Any]] = {}
    by_key: dict[str, int] = {}
    for _, key in vectors:
        by_key[key] = by_key.get(key, 0) + 1
    for (position, key), values in vectors.items():
        same = next((name for name, known in names.items() if _fits(values, known)), None)
        if same is None:
            entry = block.body[position]
            if key == PRESENT:
                base = _identifier(entry.name) if entry.name else f"with_{entry.kind}"
            else:
                base = key if by_key[key] == 1 or not entry.name else f"{_identifier(entry.name)}_{key}"
            if base[:1].isdigit():
                base = f"{entry.kind}_{base}"
            same, number = base, 1
            while same in names:
                number += 1
                same = f"{base}_{number}"
            first = next(value for value in values if value is not _ANY)
            names[same] = [first if value is _ANY else value for value in values]
        for instance, value in zip(block.instances, names[same], strict=True):
            instance.entries[position].params[key] = value
        block.slots[(position, key)] = same
    block.params = {name: values[0] if len({type(value) for value in values}) == 1 else MIXED
                    for name, values in names.items()}


def _fits(values: list[Any], known: list[Any]) -> bool:
    return all(value is _ANY or value == other for value, other in zip(values, known, strict=True))


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

def _as_repeat(entry: Entry, blocks: dict[str, Block], concrete: bool) -> None:
    """A call of a container whose children are calls of one block, named 0..N-1, chained: a named repeat.

    ``concrete``: the entry is in a body written once with its own values (the top level, or a block
    with one instance), so a container shared with other places can still be written as a repeat.
    """
    call = entry.child
    if call is None or (len(blocks[call.block].instances) > 1 and not concrete):
        return
    children = [c for c in call.entries if not c.absent]
    if len(children) < 2 or any(c.child is None or c.inputs != (PREVIOUS,) for c in children):
        return
    names = iteration_names([c.name or "" for c in children])
    if names is None or (call.type not in _CONTAINERS and names == ""):
        return
    kinds = {c.child.block for c in children if c.child is not None}
    if len(kinds) != 1:
        return
    block = blocks[kinds.pop()]
    rows = [arguments(block, c.child) for c in children if c.child is not None]
    entry.kind = block.name
    entry.repeat = len(children)
    entry.names = names or None
    entry.params = {key: index_expression([row[key] for row in rows]) for key in block.params}
    entry.child = None


def iteration_names(names: list[str]) -> str | None:
    """How a repeat names iterations called ``names``: ``""`` for ``0, 1, ...``, a ``names:`` text over
    ``index`` (``denselayer${index + 1}``: a common prefix and suffix around numbers rising by equal
    steps), or None when no such text gives them.

    A class that only chains numbered children of one block (DenseNet's ``_DenseBlock``) reads as a
    repeat only with a ``names:`` text, so a plain class with children ``0, 1`` keeps its block.
    """
    if names == [str(i) for i in range(len(names))]:
        return ""
    parts = [re.fullmatch(r"(.*?)(\d+)(\D*)", name) for name in names]
    if any(part is None for part in parts):
        return None
    found = [(part.group(1), int(part.group(2)), part.group(3)) for part in parts if part is not None]
    if len({(prefix, suffix) for prefix, _, suffix in found}) != 1 or any(
            str(number) != part.group(2) for (_, number, _), part in zip(found, parts, strict=True) if part):
        return None
    numbers = [number for _, number, _ in found]
    step = numbers[1] - numbers[0]
    if step <= 0 or any(b - a != step for a, b in itertools.pairwise(numbers)):
        return None
    start = numbers[0]
    rule = "index" if step == 1 else f"{step} * index"
    rule = rule if start == 0 else f"{rule} + {start}"
    prefix, _, suffix = found[0]
    return f"{prefix}${{{rule}}}{suffix}"


def index_expression(values: list[Any]) -> Any:
    """One value per iteration as the shortest thing a repeat can write: a constant or an ``index`` expression.

    The first iteration may differ from a rule the others follow (a stage's first block).
    """
    first = values[0]
    if all(value == first for value in values):
        return first
    rest = values[1:]
    if all(value == rest[0] for value in rest):
        if isinstance(first, bool) and isinstance(rest[0], bool):
            return "${index == 0}" if first else "${index > 0}"
        return f"${{{_literal(first)} if index == 0 else {_literal(rest[0])}}}"
    rule = _progression(values)
    if rule is not None:
        return f"${{{rule}}}"
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rest)
    rule = _progression([2 * rest[0] - rest[1], *rest]) if numbers and len(rest) > 2 else None
    if rule is not None:
        return f"${{{_literal(first)} if index == 0 else {rule}}}"
    return f"${{[{', '.join(_literal(v) for v in values)}][index]}}"


def _progression(values: list[Any]) -> str | None:
    """``a + b * index`` if the values rise by equal steps (floats within rounding: stochastic depth)."""
    if len(values) < 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    step = values[1] - values[0]
    exact = all(isinstance(v, int) for v in values)
    if exact and all(b - a == step for a, b in itertools.pairwise(values)):
        return f"{values[0]} + {step} * index"
    if not exact and len(values) > 2 and all(math.isclose(b - a, step, rel_tol=1e-9, abs_tol=1e-12)
                                             for a, b in itertools.pairwise(values)):
        return f"{_literal(values[0])} + {_literal(step)} * index"
    return None


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)
