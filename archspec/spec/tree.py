"""A spec's layers as a typed, located tree: what the lowering walks instead of the YAML.

Every layer entry becomes one node, once, with the location of everything a later error may
point at: an :class:`OpEntry`, a :class:`CallEntry` (a block, or ``$name`` naming a block or an
op), a :class:`RepeatEntry` or a :class:`ResidualEntry`.  The shapes of these nodes are what the
pydantic models of :mod:`archspec.spec.model` checked; values that may be expressions stay as
written (with their locations) until the lowering evaluates them.

A spec with schema errors still becomes a tree, so the lowering can report the problems the
schema cannot see.  An entry the schema complained about is marked ``faulty`` (the schema's
error is the report), and the lowering names it but lowers nothing from it: every error is
reported once, by construction.  To add a construct: a node class here, a case in
``_Builder.entry``, and a module in :mod:`archspec.graph.lower`.  (About 400 lines: each node
class sits beside the builder that makes it, so that what a node promises is read in one place.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archspec.errors import SourceLocation, did_you_mean
from archspec.ops.base import Op
from archspec.spec.located_yaml import LocatedMapping, LocatedSequence, describe
from archspec.spec.model import ENTRY_META_KEYS, STRUCTURE_KEYS


class Faults:
    """Where the schema found problems: every (container, key) step on the way to one, by identity."""

    def __init__(self) -> None:
        self._through: set[tuple[int, Any]] = set()
        self._at: set[tuple[int, Any]] = set()
        self._deeper: set[tuple[int, Any]] = set()
        self._keep: list[Any] = []  # the containers, so that their ids stay theirs
        self._reported: set[SourceLocation] = set()

    def add_reported(self, location: SourceLocation | None) -> None:
        """A layer kind reported unknown at ``location`` while the file was validated."""
        if location is not None:
            self._reported.add(location)

    def reported(self, location: SourceLocation | None) -> bool:
        return location in self._reported

    def add(self, root: Any, path: Iterable[Any]) -> None:
        """A problem at ``path`` (keys and indexes from ``root``)."""
        node, last = root, None
        for step in path:
            self._keep.append(node)
            if last is not None:
                self._deeper.add(last)
            last = (id(node), step)
            self._through.add(last)
            node = node[step]
        if last is not None:
            self._at.add(last)

    def at(self, container: Any, key: Any) -> bool:
        """A problem with the value ``container[key]`` as a whole, and none inside it.

        A value that may take several forms fails once per form; when one form got further into
        the value, the person meant that form, and the problem is inside (as in the diagnostics).
        """
        step = (id(container), key)
        return step in self._at and step not in self._deeper

    def under(self, container: Any, key: Any) -> bool:
        """A problem with ``container[key]`` or anything inside it."""
        return (id(container), key) in self._through

    def __bool__(self) -> bool:
        return bool(self._through or self._reported)


NO_FAULTS = Faults()


@dataclass(frozen=True)
class Reference:
    """A layer name in ``inputs:`` (or ``output:``), where it is written."""

    name: str
    location: SourceLocation | None


@dataclass(frozen=True)
class OutputReference:
    """One of the outputs named under ``outputs:``: its name (where written), its layer, whether training-only."""

    name: str
    name_location: SourceLocation | None
    layer: Reference
    training_only: bool = False


@dataclass(frozen=True, kw_only=True)
class Entry:
    """What every layer entry has: where it is, its name, its explicit inputs."""

    location: SourceLocation | None
    """Where the entry's kind is written (the key of a mapping, or the bare kind)."""
    name: str | None = None
    name_location: SourceLocation | None = None
    inputs: tuple[Reference, ...] | None = None
    """``inputs:`` (or an op's inputs written as its value, ``add: [a, b]``); None: the previous layer."""
    faulty: bool = False
    """The schema found a problem in the entry itself, and reported it: the entry is named, not lowered."""


@dataclass(frozen=True, kw_only=True)
class OpEntry(Entry):
    """A layer of a registered op: ``relu``, ``{conv2d: 64}``, ``{conv2d: {channels: 64}, name: c1}``."""

    kind: str
    value: Any = None
    """What is written under the kind: None, the op's shorthand value, or its parameters (located)."""
    value_location: SourceLocation | None = None


@dataclass(frozen=True, kw_only=True)
class CallEntry(Entry):
    """A block call, ``{stage: {channels: 64}}``, or ``{$pool: {...}}``: a variable naming a block or an op."""

    target: str
    arguments: Any = None
    """What is written under the target: the block's arguments (or the op's value), located."""
    arguments_location: SourceLocation | None = None


def references_in(value: Any) -> tuple[Reference, ...]:
    """The names in a located list (an op's inputs written as its value, ``add: [a, b]``)."""
    if not isinstance(value, LocatedSequence):
        return ()
    return tuple(Reference(ref, where) for ref, where in zip(value, value.item_locations, strict=True)
                 if isinstance(ref, str))


@dataclass(frozen=True)
class Body:
    """The entries of a body (or of ``layers:``), in order."""

    entries: tuple[Entry, ...]
    location: SourceLocation | None = None

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True, kw_only=True)
class RepeatEntry(Entry):
    """``{repeat: N, body: [...]}``: the body N times; ``index`` holds the iteration number."""

    count: Any
    """An integer or an expression."""
    count_location: SourceLocation | None
    index: str = "index"
    names: Any = None
    """For a named repeat: each iteration's name as an expression of ``index``, or None for ``0, 1, ...``."""
    names_location: SourceLocation | None = None
    body: Body


@dataclass(frozen=True, kw_only=True)
class ResidualEntry(Entry):
    """``{residual: auto, body: [...]}``: the body plus a shortcut from its input, summed."""

    setting: Any = "auto"
    """``residual:`` written as a scalar (a mode or an expression), or None when it is a mapping of options."""
    setting_location: SourceLocation | None = None
    enabled: Any = True
    enabled_location: SourceLocation | None = None
    shortcut: Any = "auto"
    """A mode, an expression, or the shortcut's own layers (a :class:`Body`)."""
    shortcut_location: SourceLocation | None = None
    shortcut_name: str = "shortcut"
    body: Body


@dataclass(frozen=True, kw_only=True)
class InvalidEntry(Entry):
    """An entry that is no layer at all: reported when the spec was validated (``faulty``), or by ``problem``."""

    problem: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class OpDefaults:
    """``defaults:`` of the spec or of a block: parameters by op kind."""

    by_kind: Mapping[str, LocatedMapping] = field(default_factory=dict)
    broken: frozenset[str] | None = frozenset()
    """Kinds whose defaults the schema rejected (None: all of them); their layers are not checked again."""

    def is_broken(self, kind: str) -> bool:
        return self.broken is None or kind in self.broken

    def __bool__(self) -> bool:
        return bool(self.by_kind) or self.broken != frozenset()


@dataclass(frozen=True)
class BlockParameter:
    """A block parameter as declared: its type, and its default if it has one."""

    type: str
    has_default: bool = False
    default: Any = None
    default_location: SourceLocation | None = None


@dataclass(frozen=True)
class BlockDefinition:
    """A block declared under ``blocks:``."""

    name: str
    params: dict[str, BlockParameter]
    defaults: OpDefaults
    body: Body
    faulty: bool = False
    """The declaration itself is broken (reported): calls of it lower nothing."""
    register_first: tuple[tuple[str, SourceLocation | None], ...] = ()
    """``register_first:``: names of the body's layers registered first, each with where it is written."""


@dataclass(frozen=True)
class SpecTree:
    """Everything of a spec the lowering reads, typed and located."""

    layers: Body
    blocks: dict[str, BlockDefinition] = field(default_factory=dict)
    defaults: OpDefaults = field(default_factory=OpDefaults)
    output: Reference | None = None
    outputs: tuple[OutputReference, ...] = ()
    """The ``outputs:`` the schema accepted, in order (the main output first)."""
    outputs_location: SourceLocation | None = None
    init: Mapping[str, Any] = field(default_factory=dict)
    """The spec's initialization schemes, by kind (located mappings)."""
    input_location: SourceLocation | None = None
    faulty: bool = False
    """The schema found problems (and reported them): some entries are marked, and lowering them is partial."""


def build_tree(data: LocatedMapping, ops: Mapping[str, Op], faults: Faults = NO_FAULTS) -> SpecTree:
    """The tree of a merged, located spec document (``ops``: by kind; ``faults``: where its schema errors are)."""
    raw_blocks = data.get("blocks")
    raw_blocks = raw_blocks if isinstance(raw_blocks, LocatedMapping) else LocatedMapping()
    builder = _Builder(ops, [str(name) for name in raw_blocks], faults)
    blocks = {str(name): builder.block(str(name), raw_blocks, name) for name in raw_blocks}
    layers = data.get("layers")
    output = data.get("output")
    return SpecTree(
        layers=builder.body(data, "layers") if isinstance(layers, LocatedSequence) else Body(()),
        blocks=blocks,
        defaults=builder.defaults(data),
        output=Reference(output, data.value_locations["output"])
        if isinstance(output, str) and isinstance(layers, LocatedSequence) and not faults.under(data, "output")
        else None,
        outputs=_outputs(data, faults) if isinstance(layers, LocatedSequence) else (),
        outputs_location=data.key_locations.get("outputs"),
        init=builder.valid_items(data, "init"),
        input_location=data.value_locations.get("input"),
        faulty=bool(faults),
    )


def _outputs(data: LocatedMapping, faults: Faults) -> tuple[OutputReference, ...]:
    """The entries of ``outputs:`` the schema found nothing wrong with."""
    mapping = data.get("outputs")
    if not isinstance(mapping, LocatedMapping) or faults.at(data, "outputs"):
        return ()
    found = []
    for name, value in mapping.items():
        if faults.under(mapping, name):
            continue
        if isinstance(value, LocatedMapping):
            layer = Reference(str(value["layer"]), value.value_locations.get("layer"))
            found.append(OutputReference(str(name), mapping.key_locations.get(name), layer,
                                         bool(value.get("training_only", False))))
        else:
            found.append(OutputReference(str(name), mapping.key_locations.get(name),
                                         Reference(str(value), mapping.value_locations.get(name))))
    return tuple(found)


class _Builder:
    def __init__(self, ops: Mapping[str, Op], blocks: list[str], faults: Faults):
        self.ops, self.blocks, self.faults = ops, blocks, faults

    def valid_items(self, container: LocatedMapping, key: str) -> dict[str, Any]:
        """The entries of a mapping of op kinds (``defaults``, ``init``) the schema found nothing wrong with."""
        mapping = container.get(key)
        if not isinstance(mapping, LocatedMapping) or self.faults.at(container, key):
            return {}
        return {kind: value for kind, value in mapping.items()
                if value is not None and not self.faults.under(mapping, kind)}

    def defaults(self, container: LocatedMapping) -> OpDefaults:
        mapping = container.get("defaults")
        if mapping is not None and (self.faults.at(container, "defaults") or not isinstance(mapping, LocatedMapping)):
            return OpDefaults(broken=None)
        valid = {kind: value for kind, value in self.valid_items(container, "defaults").items()
                 if isinstance(value, LocatedMapping)}
        written = mapping.items() if isinstance(mapping, LocatedMapping) else ()
        broken = frozenset(str(kind) for kind, value in written if kind not in valid and value is not None)
        return OpDefaults(valid, broken)

    def block(self, name: str, blocks: LocatedMapping, key: Any) -> BlockDefinition:
        raw = blocks[key]
        if not isinstance(raw, LocatedMapping) or "body" not in raw:
            return BlockDefinition(name, {}, OpDefaults(), Body(()), faulty=True)
        params: dict[str, BlockParameter] = {}
        declared = raw.get("params")
        faulty = self.faults.under(raw, "params") or self.faults.at(blocks, key)
        for param, declaration in (declared.items() if isinstance(declared, LocatedMapping) else ()):
            if isinstance(declaration, LocatedMapping):
                params[str(param)] = BlockParameter(
                    str(declaration.get("type", "any")), "default" in declaration, declaration.get("default"),
                    declaration.value_locations.get("default"))
            else:
                params[str(param)] = BlockParameter(str(declaration))
        return BlockDefinition(name, params, self.defaults(raw), self.body(raw, "body"), faulty,
                               self._register_first(raw))

    def _register_first(self, raw: LocatedMapping) -> tuple[tuple[str, SourceLocation | None], ...]:
        names = raw.get("register_first")
        if not isinstance(names, LocatedSequence) or self.faults.under(raw, "register_first"):
            return ()
        return tuple((str(name), location) for name, location in zip(names, names.item_locations, strict=True))

    def body(self, container: Any, key: Any) -> Body:
        """The body at ``container[key]``: a list of entries, or one entry (``body: relu``)."""
        value = container[key]
        location = container.value_locations.get(key) if isinstance(container, LocatedMapping) else None
        if isinstance(value, LocatedSequence):
            return Body(tuple(self.entry(value, index, item_location)
                              for index, item_location in enumerate(value.item_locations)), location)
        return Body((self.entry(container, key, getattr(value, "location", location)),), location)

    def entry(self, container: Any, key: Any, location: SourceLocation | None) -> Entry:
        value = container[key]
        if isinstance(value, str):
            return self._named_kind(value, None, location, location, self.faults.under(container, key))
        reported = self.faults.under(container, key)
        if not isinstance(value, LocatedMapping):
            return InvalidEntry(location=location, faulty=reported,
                                problem=f"a layer entry must be a layer kind or a mapping, got {describe(value)}")
        common: dict[str, Any] = {"location": location, "faulty": reported}
        name = value.get("name")
        if isinstance(name, str):
            common.update(name=name, name_location=value.value_locations.get("name"))
        if value.get("inputs") is not None:
            common["inputs"] = self._references(value, "inputs")
        kinds = [k for k in value if k not in ENTRY_META_KEYS and k not in ("body", "index")]
        if len(kinds) != 1:
            kinds = [k for k in STRUCTURE_KEYS if k in value]
        if len(kinds) != 1 or not isinstance(kinds[0], str):
            return InvalidEntry(**common, problem="layer entry has no layer kind",
                                hint="write the kind as the key, e.g. {conv2d: 64, name: conv1}")
        (kind,) = kinds
        location = value.key_locations.get(kind, location)
        nested = ("body", "residual") if kind in STRUCTURE_KEYS else ("residual",)  # judged on their own
        own_fault = self.faults.at(container, key) or any(self.faults.under(value, k) for k in value if k not in nested)
        if kind == "residual":
            own_fault = own_fault or self._options_fault(value)
        elif "residual" in value:
            own_fault = own_fault or self.faults.under(value, "residual")
        common.update(location=location, faulty=own_fault)
        if kind == "repeat":
            return RepeatEntry(count=value["repeat"], count_location=value.value_locations.get("repeat"),
                               index=str(value.get("index", "index")), names=value.get("names"),
                               names_location=value.value_locations.get("names"), body=self._construct_body(value),
                               **common)
        if kind == "residual":
            return self._residual(value, common)
        return self._named_kind(kind, value, location, None, own_fault, common)

    def _named_kind(self, kind: str, entry: LocatedMapping | None, location: SourceLocation | None,
                    value_location: SourceLocation | None, faulty: bool,
                    common: dict[str, Any] | None = None) -> Entry:
        """An op entry, or a call of a block (or of a ``$name``)."""
        common = common if common is not None else {"location": location, "faulty": faulty}
        value = entry.get(kind) if entry is not None else None
        if entry is not None:
            value_location = entry.value_locations.get(kind)
        if kind in self.ops:
            takes_inputs = self.ops[kind].shorthand == "inputs"
            if takes_inputs and common.get("inputs") is None and isinstance(value, LocatedSequence) and entry:
                common = {**common, "inputs": self._references(entry, kind)}
            return OpEntry(kind=kind, value=value, value_location=value_location, **common)
        if kind in self.blocks or kind.startswith("$"):
            return CallEntry(target=kind, arguments=value, arguments_location=value_location, **common)
        if kind in STRUCTURE_KEYS:  # a bare ``- repeat``
            example = "{repeat: 2, body: [...]}" if kind == "repeat" else "{residual: auto, body: [...]}"
            return InvalidEntry(**common, problem=f"'{kind}' is not a layer on its own", hint=f"write {example}")
        reported = faulty or self.faults.reported(common["location"])
        return InvalidEntry(**common, problem=None if reported else f"unknown layer kind '{kind}'",
                            hint=did_you_mean(kind, [*self.ops, *self.blocks]))

    def _options_fault(self, entry: LocatedMapping) -> bool:
        """A problem in a residual's options, not counting the layers of its shortcut."""
        options = entry["residual"]
        if self.faults.at(entry, "residual") or not isinstance(options, LocatedMapping):
            return self.faults.under(entry, "residual")
        return any(self.faults.under(options, k) for k in options if k != "shortcut") or (
            self.faults.at(options, "shortcut")
            or (not isinstance(options.get("shortcut"), LocatedSequence) and self.faults.under(options, "shortcut")))

    def _references(self, entry: LocatedMapping, key: str) -> tuple[Reference, ...]:
        """The names at ``entry[key]``, leaving out those the schema found wrong (it said so)."""
        refs = entry[key]
        if isinstance(refs, LocatedSequence):
            return tuple(Reference(ref, where) for index, (ref, where) in enumerate(
                zip(refs, refs.item_locations, strict=True))
                if isinstance(ref, str) and not self.faults.under(refs, index))
        if isinstance(refs, str) and not self.faults.under(entry, key):
            return (Reference(refs, entry.value_locations[key]),)
        return ()

    def _construct_body(self, entry: LocatedMapping) -> Body:
        return self.body(entry, "body") if "body" in entry else Body(())

    def _residual(self, entry: LocatedMapping, common: dict[str, Any]) -> ResidualEntry:
        options = entry.get("residual")
        where = entry.value_locations.get("residual")
        body = self._construct_body(entry)
        if not isinstance(options, LocatedMapping):
            return ResidualEntry(setting=options, setting_location=where, body=body, **common)
        shortcut: Any = options.get("shortcut", "auto")
        if isinstance(shortcut, LocatedSequence):
            shortcut = self.body(options, "shortcut")
        return ResidualEntry(
            setting=None, setting_location=where,
            enabled=options.get("enabled", True), enabled_location=options.value_locations.get("enabled", where),
            shortcut=shortcut, shortcut_location=options.value_locations.get("shortcut", where),
            shortcut_name=str(options.get("name", "shortcut")), body=body, **common)


__all__ = [
    "BlockDefinition",
    "BlockParameter",
    "Body",
    "CallEntry",
    "Entry",
    "Faults",
    "InvalidEntry",
    "OpDefaults",
    "OpEntry",
    "Reference",
    "RepeatEntry",
    "ResidualEntry",
    "SpecTree",
    "build_tree",
    "references_in",
]
