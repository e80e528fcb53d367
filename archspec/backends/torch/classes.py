"""Which modules share a class, and what each class takes as constructor arguments.

Every instance of a block with the same structure shares one class, as a person would write it:
the ResNet ``basic`` block is one class whether or not an instance has a projection shortcut
(the shortcut becomes optional), and the values that differ between instances become
constructor parameters.  A parameter is named after what it equals in every instance: a block
argument (``channels``, ``channels[1]``, ``channels * 4``, ``kernel // 2``), the module's input
channels (``in_channels``), or, failing those, the layer and argument it sets
(``conv1_out_channels``).  Values the same in every instance are written as literals.

Scopes that are not blocks and are plain chains of layers (a projection shortcut, the iteration
of an inline repeat) get no class: they are written as an ``nn.Sequential`` in their parent.
Pure: no torch import (the names of a layer's constructor arguments are asked for).

Over 400 lines on purpose: grouping instances into classes and naming their parameters is one
algorithm (signatures, then slots, then matching values to block arguments), read top to bottom.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from archspec.backends.torch.module_plan import (
    LayerMember,
    Member,
    ModulePlan,
    RepeatMember,
    ScopeMember,
    ShortcutMember,
)
from archspec.graph.ir import Graph

SlotKey = tuple[Any, ...]
ParameterNames = Callable[[str], tuple[str, ...]]
"""The names of a layer factory's constructor parameters, in order (positional ones first)."""

DERIVED_FACTORS = range(2, 9)


@dataclass(frozen=True)
class Slot:
    """A literal in a class body: a layer argument, or an argument of a submodule's constructor."""

    key: SlotKey
    value: Any
    hint: str
    """What a parameter holding it would be called if nothing better is found."""
    parameter: str = ""
    """The name of the constructor parameter it sets, where known (``stride``, ``out_channels``)."""


@dataclass(frozen=True)
class Parameter:
    name: str
    annotation: str
    default: str | None = None


@dataclass
class ModuleClass:
    """One class of the generated source, and every module that is an instance of it."""

    hint: str
    order: int
    block: str | None
    instances: list[ModulePlan]
    profile: dict[int, Any]
    """For each shortcut member: the structure of its module where some instance has one."""
    shortcut_modules: dict[int, ModulePlan] = field(default_factory=dict)
    """For each shortcut member, a module to write it from (from any instance that has one)."""
    name: str = ""
    parameters: list[Parameter] = field(default_factory=list)
    texts: dict[SlotKey, str] = field(default_factory=dict)
    """Source text of every slot: a literal, a parameter, or an expression of parameters."""
    flags: dict[int, str | bool] = field(default_factory=dict)
    """For each shortcut member: present in every instance (True), in none (False), or a parameter."""
    arguments: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    """For each instance (by path): its constructor arguments, in parameter order."""

    @property
    def representative(self) -> ModulePlan:
        return self.instances[0]


@dataclass
class Classes:
    root: ModuleClass
    by_path: dict[str, ModuleClass]
    ordered: list[ModuleClass]
    """In definition order: every class after the classes it uses."""

    def of(self, plan: ModulePlan) -> ModuleClass:
        return self.by_path[plan.path]


def is_inline(plan: ModulePlan) -> bool:
    """Written as an ``nn.Sequential`` in its parent rather than as a class."""
    return plan.scope is not None and plan.scope.block is None and plan.chain_of_layers


def child_modules(plan: ModulePlan) -> Iterator[ModulePlan]:
    for member in plan.members:
        if isinstance(member, ScopeMember):
            yield member.module
        elif isinstance(member, RepeatMember):
            yield from (item for item in member.items if isinstance(item, ModulePlan))
        elif isinstance(member, ShortcutMember) and member.module is not None:
            yield member.module


def assign_classes(root: ModulePlan, graph: Graph, parameter_names: ParameterNames) -> Classes:
    """Group the modules of a tree into classes and work out each class's parameters."""
    by_path: dict[str, ModuleClass] = {}
    ordered: list[ModuleClass] = []
    groups: dict[tuple[Any, ...], list[ModuleClass]] = {}

    def visit(plan: ModulePlan) -> None:
        for child in child_modules(plan):
            visit(child)
        if plan is not root and is_inline(plan):
            return
        key = (_hint(plan, graph), _signature(plan, by_path))
        profile = _shortcut_profile(plan, by_path)
        for candidate in groups.get(key, []):
            if all(candidate.profile.get(m) in (None, shape) for m, shape in profile.items() if shape is not None):
                chosen = candidate
                break
        else:
            chosen = ModuleClass(key[0], len(ordered), plan.scope.block if plan.scope else None, [], {})
            groups.setdefault(key, []).append(chosen)
            ordered.append(chosen)
        chosen.instances.append(plan)
        for index, shape in profile.items():
            if shape is not None and chosen.profile.get(index) is None:
                chosen.profile[index] = shape
                member = plan.members[index]
                assert isinstance(member, ShortcutMember) and member.module is not None
                chosen.shortcut_modules[index] = member.module
        by_path[plan.path] = chosen

    visit(root)
    classes = Classes(by_path[root.path], by_path, ordered)
    for module_class in ordered:
        _parameterize(module_class, classes, graph, parameter_names)
    return classes


# -- structure ------------------------------------------------------------------------------------

def _hint(plan: ModulePlan, graph: Graph) -> str:
    scope = plan.scope
    if scope is None:
        return camel_case(graph.name) or "Network"
    if scope.block:
        return camel_case(scope.block) or "Block"
    if scope.kind == "iteration":
        return camel_case(scope.parent.rsplit(".", 1)[-1]) + "Block"
    return camel_case(scope.local_name) or "Module"


def camel_case(name: str) -> str:
    """``bottleneck`` -> ``Bottleneck``, ``alexnet_paper`` -> ``AlexnetPaper``, ``resNet`` -> ``ResNet``."""
    parts = [part for part in re.split(r"[^A-Za-z0-9]+", name) if part]
    text = "".join(part[0].upper() + part[1:] for part in parts)
    return f"Net{text}" if text[:1].isdigit() else text


def _signature(plan: ModulePlan, by_path: dict[str, ModuleClass]) -> tuple[Any, ...]:
    """Everything about a module except its literal values (and which shortcuts it has)."""
    references = _value_references(plan)
    members = tuple(_member_signature(member, by_path) for member in plan.members)
    steps = tuple(
        (step.member, step.item, _expression_signature(step), tuple(references[v] for v in step.inputs),
         len(step.outputs), step.inplace)
        for step in plan.steps)
    return members, steps, len(plan.imports), tuple(references[v] for v in plan.exports)


def _value_references(plan: ModulePlan) -> dict[str, tuple[Any, ...]]:
    references: dict[str, tuple[Any, ...]] = {value: ("argument", i) for i, value in enumerate(plan.imports)}
    for position, step in enumerate(plan.steps):
        for output, value in enumerate(step.outputs):
            references[value] = ("step", position, output)
    return references


def _expression_signature(step: Any) -> str | None:
    if step.member is not None or step.node is None:
        return None
    node = step.node
    return str(node.definition.torch_expression(node.params, [f"_{i}" for i in range(len(step.inputs))]))


def _member_signature(member: Member, by_path: dict[str, ModuleClass]) -> tuple[Any, ...]:
    if isinstance(member, LayerMember):
        layer = member.layer
        return ("layer", member.attribute, layer.factory, len(layer.args), tuple(layer.kwargs), layer.forward)
    if isinstance(member, ScopeMember):
        return ("module", member.attribute, _child_signature(member.module, by_path))
    if isinstance(member, RepeatMember):
        return ("repeat", member.attribute, member.sequential, member.item_names,
                tuple(_member_signature(item, by_path) if isinstance(item, LayerMember)
                      else _child_signature(item, by_path) for item in member.items))
    return ("shortcut",)


def _child_signature(plan: ModulePlan, by_path: dict[str, ModuleClass]) -> tuple[Any, ...]:
    if is_inline(plan):
        return ("sequential", _signature(plan, by_path))
    return ("class", by_path[plan.path].order)


def _shortcut_profile(plan: ModulePlan, by_path: dict[str, ModuleClass]) -> dict[int, Any]:
    return {index: (member.attribute, _child_signature(member.module, by_path)) if member.module else None
            for index, member in enumerate(plan.members) if isinstance(member, ShortcutMember)}


# -- slots and parameters -------------------------------------------------------------------------

def module_slots(plan: ModulePlan, classes: Classes, parameter_names: ParameterNames,
                 shortcut_modules: dict[int, ModulePlan] | None = None) -> Iterator[Slot]:
    """The literals of a module's constructor body, keyed by where they are written.

    With ``shortcut_modules`` (for writing a class), absent shortcuts are walked through a module
    of another instance, so that every key the class body needs is produced.
    """
    for index, member in enumerate(plan.members):
        yield from _member_slots((index,), member, classes, parameter_names, shortcut_modules)


def _member_slots(prefix: SlotKey, member: Member, classes: Classes, parameter_names: ParameterNames,
                  shortcut_modules: dict[int, ModulePlan] | None = None, hint: str = "") -> Iterator[Slot]:
    hint = f"{hint}{member.attribute}_"
    if isinstance(member, LayerMember):
        names = parameter_names(member.layer.factory)
        for position, value in enumerate(member.layer.args):
            parameter = names[position] if position < len(names) else f"arg{position}"
            yield Slot((*prefix, "arg", position), value, hint + parameter, parameter)
        for keyword, value in member.layer.kwargs.items():
            yield Slot((*prefix, "keyword", keyword), value, hint + keyword, keyword)
    elif isinstance(member, ScopeMember):
        yield from _child_slots(prefix, member.module, classes, parameter_names, hint)
    elif isinstance(member, RepeatMember):
        for position, item in enumerate(member.items):
            if isinstance(item, LayerMember):
                yield from _member_slots((*prefix, "item", position), item, classes, parameter_names,
                                         shortcut_modules, f"{hint}")
            else:
                yield from _child_slots((*prefix, "item", position), item, classes, parameter_names,
                                        f"{hint}{position}_")
    else:
        yield Slot((*prefix, "present"), member.module is not None, member.attribute)
        module = member.module
        if module is None and shortcut_modules is not None:
            module = shortcut_modules.get(prefix[0])
        if module is not None:
            yield from _child_slots(prefix, module, classes, parameter_names, hint)


def _child_slots(prefix: SlotKey, plan: ModulePlan, classes: Classes, parameter_names: ParameterNames,
                 hint: str) -> Iterator[Slot]:
    if is_inline(plan):
        for index, member in enumerate(plan.members):
            yield from _member_slots((*prefix, "sequential", index), member, classes, parameter_names, hint=hint)
        return
    for name, value in classes.of(plan).arguments[plan.path]:
        yield Slot((*prefix, "call", name), value, hint + name, name)


@dataclass(frozen=True)
class _Candidate:
    expression: str
    base: str
    value: Any


def _candidates(plan: ModulePlan, graph: Graph) -> list[_Candidate]:
    """What a varying value may be expressed with: the block's arguments, then the input size."""
    found: list[_Candidate] = []
    if plan.scope is not None and plan.scope.block:
        for name, value in plan.scope.arguments:
            found.append(_Candidate(name, name, value))
            if isinstance(value, (list, tuple)):
                found += [_Candidate(f"{name}[{i}]", name, item) for i, item in enumerate(value)]
    if plan.imports:
        shape = graph.node(plan.imports[0]).output_shape
        name = "in_channels" if len(shape) == 3 else "in_features"
        found.append(_Candidate(name, name, shape[0]))
    return found


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``True`` is not ``1``; ``(3, 3)`` is not ``[3, 3]``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _match(values: list[tuple[int, Any]], candidates: list[dict[str, _Candidate]],
           parameter: str) -> _Candidate | None:
    """A candidate equal to the slot in every instance (or a small multiple or fraction of one)."""
    names = [name for name in candidates[values[0][0]] if all(name in candidates[i] for i, _ in values)]
    names.sort(key=lambda name: name != parameter)
    for name in names:
        if all(same(candidates[instance][name].value, value) for instance, value in values):
            return candidates[values[0][0]][name]
    if not all(_is_int(value) for _, value in values):
        return None
    for name in names:
        if not all(_is_int(candidates[instance][name].value) for instance, _ in values):
            continue
        base = candidates[values[0][0]][name].base
        for factor in DERIVED_FACTORS:
            if all(candidates[instance][name].value * factor == value for instance, value in values):
                return _Candidate(f"{name} * {factor}", base, None)
            if all(candidates[instance][name].value // factor == value for instance, value in values):
                return _Candidate(f"{name} // {factor}", base, None)
    return None


def _constant_match(values: list[tuple[int, Any]], candidates: list[dict[str, _Candidate]], parameter: str,
                    parameters: list[str]) -> _Candidate | None:
    """A value the same in every instance, written as an existing parameter where it evidently is one.

    ``Conv2d(channels[0], ...)`` reads better than ``Conv2d(192, ...)`` when every instance's first
    width is 192; values such as 0 and 1 are left alone, they equal too many things by chance.
    """
    value = values[0][1]
    if value in (0, 1, None) or isinstance(value, bool):
        return None
    for name, candidate in candidates[values[0][0]].items():
        inferred = candidate.base in ("in_channels", "in_features")
        if candidate.base not in parameters or (inferred and name != parameter):
            continue
        if all(name in candidates[i] and same(candidates[i][name].value, v) for i, v in values):
            return candidate
    return None


RESERVED_NAMES = frozenset({"self", "super", "nn", "torch", "F", "Tensor", "OrderedDict", "_"})
"""Names a constructor parameter must not take: they would hide what the class body uses."""


def _parameterize(module_class: ModuleClass, classes: Classes, graph: Graph, parameter_names: ParameterNames) -> None:
    """Write every slot of a class's body as a literal, a parameter or an expression of parameters."""
    import keyword

    instances = module_class.instances
    per_instance = [{slot.key: slot for slot in module_slots(plan, classes, parameter_names)} for plan in instances]
    keys: dict[SlotKey, Slot] = {}
    for slots in per_instance:
        for key, slot in slots.items():
            keys.setdefault(key, slot)
    candidates = [{c.expression: c for c in _candidates(plan, graph)} for plan in instances]

    def safe(name: str) -> str:
        name = re.sub(r"\W", "_", name)
        if name[:1].isdigit():  # a child named by its position: layers.1's heads is layer_1_heads
            name = f"layer_{name}"
        while keyword.iskeyword(name) or name in RESERVED_NAMES:
            name = f"{name}_"
        return name

    used_bases: list[str] = []
    extra: dict[tuple[Any, ...], str] = {}
    extra_values: dict[str, list[Any]] = {}
    taken = {safe(c.base) for found in candidates for c in found.values()}

    def new_parameter(hint: str) -> str:
        name = safe(hint)
        while name in extra_values or name in taken:
            name = f"{name}_"
        return name

    constants: list[tuple[SlotKey, Slot, list[tuple[int, Any]]]] = []
    for key, slot in keys.items():
        values = [(i, slots[key].value) for i, slots in enumerate(per_instance) if key in slots]
        if all(same(value, values[0][1]) for _, value in values):
            module_class.texts[key] = literal(values[0][1])
            if key[-1] == "present":
                module_class.flags[key[0]] = bool(values[0][1])
            else:
                constants.append((key, slot, values))
            continue
        if key[-1] == "present":
            name = new_parameter(slot.hint)
            module_class.flags[key[0]] = name
            extra_values[name] = [slots[key].value for slots in per_instance]
            continue
        match = _match(values, candidates, slot.parameter)
        if match is not None:
            module_class.texts[key] = match.expression.replace(match.base, safe(match.base), 1)
            if match.base not in used_bases:
                used_bases.append(match.base)
            continue
        signature = tuple((i, repr(v)) for i, v in values)
        if signature not in extra:
            name = new_parameter(slot.hint)
            extra[signature] = name
            by_instance = dict(values)
            extra_values[name] = [by_instance.get(i) for i in range(len(instances))]
        module_class.texts[key] = extra[signature]
    for key, slot, values in constants:
        match = _constant_match(values, candidates, slot.parameter, used_bases)
        if match is not None:
            module_class.texts[key] = match.expression.replace(match.base, safe(match.base), 1)

    parameters = _ordered_parameters(used_bases, extra_values, set(module_class.flags.values()), candidates, safe)
    module_class.parameters = [parameter for parameter, _ in parameters]
    for position, plan in enumerate(instances):
        module_class.arguments[plan.path] = [(parameter.name, values[position]) for parameter, values in parameters]


def _ordered_parameters(bases: list[str], extra: dict[str, list[Any]], flags: set[Any],
                        candidates: list[dict[str, _Candidate]],
                        safe: Callable[[str], str]) -> list[tuple[Parameter, list[Any]]]:
    """Constructor parameters with each instance's value: the input size, the block's arguments in
    their declared order, other values, then the optional shortcuts (``shortcut: bool = False``)."""
    parameters: list[tuple[Parameter, list[Any]]] = []
    for base in sorted(bases, key=lambda name: (name not in ("in_channels", "in_features"),
                                                list(candidates[0]).index(name))):
        values = [found[base].value for found in candidates]
        parameters.append((Parameter(safe(base), annotation(values)), values))
    for name, values in extra.items():
        if name in flags:
            parameters.append((Parameter(name, "bool", "False"), values))
        elif any(value is None for value in values):
            present = annotation([value for value in values if value is not None])
            parameters.append((Parameter(name, f"{present} | None", "None"), values))
        else:
            parameters.append((Parameter(name, annotation(values)), values))
    parameters.sort(key=lambda entry: entry[0].default is not None)
    return parameters


def annotation(values: list[Any]) -> str:
    """The type of a parameter from the values it takes: ``int``, ``tuple[int, int]``, ``int | tuple[int, int]``."""
    names: list[str] = []
    for value in values:
        name = _type_name(value)
        if name not in names:
            names.append(name)
    return " | ".join(names) if names else "object"


def _type_name(value: Any) -> str:
    if isinstance(value, tuple):
        return "tuple[" + ", ".join(_type_name(item) for item in value) + "]" if value else "tuple"
    if isinstance(value, list):
        items = {_type_name(item) for item in value}
        return f"list[{items.pop()}]" if len(items) == 1 else "list"
    if value is None:
        return "None"
    return type(value).__name__


def literal(value: Any) -> str:
    """Python source for a plain value, with double-quoted strings (as formatters write them)."""
    if isinstance(value, str):
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            text = '"' + text[1:-1].replace("\\'", "'") + '"'
        return text
    if isinstance(value, tuple):
        items = [literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    return repr(value)


def shortcut_attribute(module_class: ModuleClass, index: int, member: ShortcutMember) -> str:
    profile = module_class.profile.get(index)
    return str(profile[0]) if profile else member.attribute
