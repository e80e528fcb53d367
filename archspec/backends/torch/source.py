"""Writing the module tree as Python source: a class per block, straight-line ``forward`` methods.

The source is what ``archspec compile --py`` writes and what ``build`` executes, so the module a
person trains is exactly the code they can read.  It needs only PyTorch (and the modules of any
plugin ops), and is formatted as ruff/black would format it.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from archspec.backends.torch.classes import (
    Classes,
    ModuleClass,
    Parameter,
    SlotKey,
    assign_classes,
    is_inline,
    literal,
)
from archspec.backends.torch.layout import (
    LayerMember,
    Member,
    ModulePlan,
    RepeatMember,
    ScopeMember,
    ShortcutMember,
    Step,
    plan_modules,
)
from archspec.errors import Diagnostic, SpecError, UsageError
from archspec.graph.ir import Graph, Node, Scope
from archspec.ops.base import TorchLayer
from archspec.spec.model import InitScheme

WIDTH = 100
INIT_METHOD = "init_weights"
"""The network class's method applying the spec's ``init:`` schemes (called by its constructor)."""
INIT_DOCSTRING = "Initialize as the spec says; other layers keep PyTorch's default initialization."
INDENT = "    "
GENERIC_VARIABLES = ("x", "out")
"""The variables of the main line of a forward."""
REPEAT_RUN = 3
"""Identical consecutive items of a repeat written as one comprehension from this many on."""


@dataclass(frozen=True)
class GeneratedSource:
    text: str
    class_name: str
    """The network's class: ``Resnet50()`` builds it."""


def generate(graph: Graph) -> GeneratedSource:
    """The standalone Python source of a graph's network."""
    check_names(graph)
    layers = torch_layers(graph)
    plan = plan_modules(graph, layers)
    classes = assign_classes(plan, graph, parameter_names)
    writer = _Writer(graph, classes, layers)
    return GeneratedSource(writer.write(), classes.root.name)


def torch_layers(graph: Graph) -> dict[str, TorchLayer]:
    """Each layer node's TorchLayer, from its op; joins have none."""
    layers: dict[str, TorchLayer] = {}
    for node in graph.layers:
        shapes = [graph.node(source).output_shape for source in node.inputs]
        try:
            layer = node.definition.torch_layer(node.params, shapes, node.output_shape)
        except NotImplementedError as exc:
            raise SpecError.at(f"layer '{node.name}': {exc}", node.location) from None
        if layer is not None:
            factory_class(layer.factory)
            layers[node.name] = layer
    return layers


@cache
def factory_class(factory: str) -> Any:
    """Import a layer factory by its dotted path; a clear error if it cannot be imported."""
    import importlib

    module_name, _, name = factory.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name) if module_name else None
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot import the layer class '{factory}': {exc}") from None
    if found is None:
        raise UsageError(f"'{factory}' does not name a layer class (expected a dotted path such as torch.nn.Conv2d)")
    return found


@cache
def _signature(factory: str) -> inspect.Signature | None:
    try:
        return inspect.signature(factory_class(factory))
    except (TypeError, ValueError):
        return None


def parameter_names(factory: str) -> tuple[str, ...]:
    signature = _signature(factory)
    if signature is None:
        return ()
    return tuple(name for name, p in signature.parameters.items()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def parameter_default(factory: str, name: str) -> Any:
    signature = _signature(factory)
    if signature is None or name not in signature.parameters:
        return inspect.Parameter.empty
    return signature.parameters[name].default


def check_names(graph: Graph) -> None:
    """Names that become attributes must be usable: not Python keywords, not nn.Module's own."""
    import torch

    taken = set(dir(torch.nn.Module())) | set(dir(torch.nn.Sequential()))
    problems: list[Diagnostic] = []
    things: list[Node | Scope] = [*graph.layers, *(s for s in graph.scopes if s.kind != "iteration")]
    for thing in things:
        name = thing.local_name
        if keyword.iskeyword(name):
            reason = "it is a Python keyword"
        elif name in taken:
            reason = "torch.nn.Module has an attribute of that name"
        else:
            continue
        problems.append(Diagnostic(f"'{name}' cannot name a PyTorch submodule: {reason}", thing.location,
                                   hint="rename the layer or block"))
    if problems:
        raise SpecError(problems)


# -- expressions and their layout -----------------------------------------------------------------

@dataclass
class Call:
    """A call (or a list, with ``brackets="[]"``) that knows how to break over lines."""

    function: str
    arguments: list[Any] = field(default_factory=list)
    explode: bool = False
    """One argument per line whatever the width (a 'magic trailing comma')."""
    brackets: str = "()"


@dataclass
class Keyword:
    name: str
    value: Any


def flat(expression: Any) -> str:
    if isinstance(expression, Keyword):
        return f"{expression.name}={flat(expression.value)}"
    if isinstance(expression, Call):
        inner = ", ".join(flat(argument) for argument in expression.arguments)
        return f"{expression.function}{expression.brackets[0]}{inner}{expression.brackets[1]}"
    return str(expression)


def _exploded(expression: Any) -> bool:
    if isinstance(expression, Keyword):
        return _exploded(expression.value)
    return isinstance(expression, Call) and (expression.explode or any(_exploded(a) for a in expression.arguments))


def layout(head: str, expression: Any, depth: int, tail: str = "") -> list[str]:
    """Lines for ``head + expression + tail`` at an indentation depth, broken as black breaks them."""
    pad = INDENT * depth
    text = flat(expression)
    if not _exploded(expression) and (len(pad + head + text + tail) <= WIDTH or not isinstance(expression, Call)):
        return [pad + head + text + tail]
    assert isinstance(expression, Call)
    opening, closing = expression.brackets[0], expression.brackets[1]
    first = f"{pad}{head}{expression.function}{opening}"
    last = f"{pad}{closing}{tail}"
    arguments = expression.arguments
    if not expression.explode and not any(_exploded(a) for a in arguments):
        inner = ", ".join(flat(a) for a in arguments)
        if len(INDENT * (depth + 1) + inner) <= WIDTH:
            return [first, INDENT * (depth + 1) + inner, last]
    if len(arguments) == 1 and not expression.explode and not isinstance(arguments[0], Keyword):
        return [first, *layout("", arguments[0], depth + 1), last]
    lines = [first]
    for argument in arguments:
        if isinstance(argument, Keyword):
            lines += layout(f"{argument.name}=", argument.value, depth + 1, ",")
        else:
            lines += layout("", argument, depth + 1, ",")
    return [*lines, last]


def is_atom(text: str) -> bool:
    """A name, attribute, call or subscript: safe inside any larger expression."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return isinstance(tree.body, (ast.Call, ast.Name, ast.Attribute, ast.Subscript))


# -- the writer -----------------------------------------------------------------------------------

class _Writer:
    def __init__(self, graph: Graph, classes: Classes, layers: dict[str, TorchLayer]):
        self.graph = graph
        self.classes = classes
        self.layers = layers
        self.imports: dict[str, tuple[str, str]] = {}
        """Names imported from plugin modules: local name -> (module, name)."""
        self.reserved = {"torch", "nn", "F", "Tensor", "OrderedDict", "self", "super"}

    # -- top level ---------------------------------------------------------------------------
    def write(self) -> str:
        for layer in self.layers.values():
            self.factory(layer.factory)
        self._name_classes()
        blocks = [self._class(module_class) for module_class in self.classes.ordered if module_class is not
                  self.classes.root]
        blocks.append(self._class(self.classes.root))
        body = "\n\n\n".join("\n".join(lines) for lines in blocks)
        return self._header() + self._import_lines(body) + "\n\n\n" + body + "\n"

    def _header(self) -> str:
        graph = self.graph
        description = (graph.description or graph.name).strip()
        # wrapped, then escaped: wrapping after escaping could split an escape such as \x1f in two
        paragraphs = [_docstring_text(textwrap.fill(part, WIDTH - 4)) for part in description.split("\n\n")]
        origin = graph.source.replace("\\", "/").rsplit("/", 1)[-1] or graph.name
        packages = sorted({module.split(".")[0] for module, _ in self.imports.values()})
        needs = "only PyTorch" if not packages else "PyTorch and " + ", ".join(packages)
        usage = (f"Generated by archspec from {origin}. It needs {needs}: ``{self.classes.root.name}()`` "
                 "builds the network, initialized as the spec says, with archspec's layer names in its "
                 "state_dict.")
        return '"""' + "\n\n".join([*paragraphs, textwrap.fill(usage, WIDTH - 4)]) + '\n"""\n\n'

    def _import_lines(self, body: str) -> str:
        standard = ["from collections import OrderedDict"] if re.search(r"\bOrderedDict\(", body) else []
        third_party = []
        if re.search(r"(?<![\w.])torch\.", body):
            third_party.append("import torch")
        if re.search(r"(?<![\w.])F\.", body):
            third_party.append("import torch.nn.functional as F")
        from_torch = [name for name, pattern in (("Tensor", r"\bTensor\b"), ("nn", r"(?<![\w.])nn\."))
                      if re.search(pattern, body)]
        plugin = self._plugin_import_lines()
        third_party += [line for line in plugin if line < "from torch"]
        if from_torch:
            third_party.append(f"from torch import {', '.join(from_torch)}")
        third_party += [line for line in plugin if line >= "from torch"]
        sections = [section for section in (standard, third_party) if section]
        return "\n\n".join("\n".join(section) for section in sections)

    def factory(self, factory: str) -> str:
        """How a layer class is written: ``nn.Conv2d``, or a name imported from a plugin's module."""
        module_name, _, name = factory.rpartition(".")
        if module_name == "torch.nn":
            return f"nn.{name}"
        if module_name == "torch" or module_name.startswith("torch."):
            return factory
        for local, imported in self.imports.items():
            if imported == (module_name, name):
                return local
        local = name
        while local in self.reserved or local in self.imports:
            local = f"{local}_"
        self.imports[local] = (module_name, name)
        return local

    def _plugin_import_lines(self) -> list[str]:
        """``from module import A, B as B_`` per plugin module, names ordered as isort orders them."""
        by_module: dict[str, list[str]] = defaultdict(list)
        for local, (module_name, name) in self.imports.items():
            by_module[module_name].append(name if local == name else f"{name} as {local}")
        lines = []
        for module_name in sorted(by_module):
            names = sorted(by_module[module_name], key=_import_order)
            line = f"from {module_name} import {', '.join(names)}"
            if len(line) > WIDTH:
                line = "\n".join([f"from {module_name} import (", *(f"{INDENT}{n}," for n in names), ")"])
            lines.append(line)
        return lines

    def _name_classes(self) -> None:
        taken = set(self.reserved) | set(self.imports)
        for module_class in [self.classes.root, *self.classes.ordered]:
            if module_class.name:
                continue
            name, variant = module_class.hint, 1
            while name in taken:
                variant += 1
                name = f"{module_class.hint}V{variant}"
            module_class.name = name
            taken.add(name)
        self.reserved |= taken

    # -- classes -----------------------------------------------------------------------------
    def _class(self, module_class: ModuleClass) -> list[str]:
        plan = module_class.representative
        lines = [f"class {module_class.name}(nn.Module):", *self._docstring(module_class)]
        lines += self._init_signature(module_class)
        lines.append(f"{INDENT * 2}super().__init__()")
        for index, member in enumerate(plan.members):
            lines += self._member(module_class, (index,), member, index)
        initialization = self._initialization() if module_class is self.classes.root else []
        if initialization:
            lines += [f"{INDENT * 2}self.{INIT_METHOD}()", "", f"{INDENT}def {INIT_METHOD}(self) -> None:",
                      f'{INDENT * 2}"""{INIT_DOCSTRING}"""', *initialization]
        lines.append("")
        lines += _Forward(self, module_class).lines()
        return lines

    def _docstring(self, module_class: ModuleClass) -> list[str]:
        if module_class is self.classes.root:
            return []
        paths = [plan.path for plan in module_class.instances]
        shown = ", ".join(paths) if len(paths) <= 3 else f"{paths[0]}, {paths[1]}, ..., {paths[-1]} ({len(paths)})"
        what = f"Block '{module_class.block}'" if module_class.block else "Module"
        text = f"{what}: {shown}."
        if len(INDENT + text) + 6 > WIDTH:
            text = f"{what}: {len(paths)} instances."
        return [f'{INDENT}"""{text}"""', ""]

    def _init_signature(self, module_class: ModuleClass) -> list[str]:
        parameters = [_parameter_text(p) for p in module_class.parameters]
        line = f"{INDENT}def __init__({', '.join(['self', *parameters])}) -> None:"
        if len(line) <= WIDTH:
            return [line]
        inner = ", ".join(["self", *parameters])
        if len(INDENT * 2 + inner) <= WIDTH:
            return [f"{INDENT}def __init__(", INDENT * 2 + inner, f"{INDENT}) -> None:"]
        return [f"{INDENT}def __init__(", *(f"{INDENT * 2}{p}," for p in ["self", *parameters]), f"{INDENT}) -> None:"]

    def _member(self, module_class: ModuleClass, key: SlotKey, member: Member, index: int) -> list[str]:
        depth = 2
        if isinstance(member, ShortcutMember):
            flag = module_class.flags.get(index, member.module is not None)
            module = member.module or module_class.shortcut_modules.get(index)
            if flag is False or module is None:
                return []
            attribute = _shortcut_attribute(module_class, index, member)
            built = self._child(module_class, key, module)
            if flag is True:
                return layout(f"self.{attribute} = ", built, depth)
            return [f"{INDENT * depth}self.{attribute} = None", f"{INDENT * depth}if {flag}:",
                    *layout(f"self.{attribute} = ", built, depth + 1)]
        return layout(f"self.{member.attribute} = ", self._construction(module_class, key, member), depth)

    def _construction(self, module_class: ModuleClass, key: SlotKey, member: Member) -> Any:
        if isinstance(member, LayerMember):
            return self._layer(module_class, key, member.layer)
        if isinstance(member, ScopeMember):
            return self._child(module_class, key, member.module)
        assert isinstance(member, RepeatMember)
        items = [self._child(module_class, (*key, "item", i), item) for i, item in enumerate(member.items)]
        grouped: list[Any] = []
        position = 0
        while position < len(items):
            end = position
            while end < len(items) and flat(items[end]) == flat(items[position]):
                end += 1
            if end - position >= REPEAT_RUN:
                grouped.append(f"*[{flat(items[position])} for _ in range({end - position})]")
            else:
                grouped += items[position:end]
            position = end
        if member.sequential:
            return Call("nn.Sequential", grouped)
        return Call("nn.ModuleList", [Call("", grouped, brackets="[]")])

    def _layer(self, module_class: ModuleClass, key: SlotKey, layer: TorchLayer) -> Call:
        arguments: list[Any] = [module_class.texts[(*key, "arg", i)] for i in range(len(layer.args))]
        for name in layer.kwargs:
            text = module_class.texts[(*key, "keyword", name)]
            default = parameter_default(layer.factory, name)
            if default is not inspect.Parameter.empty and _literal_or_none(default) == text:
                continue
            arguments.append(Keyword(name, text))
        return Call(self.factory(layer.factory), arguments)

    def _child(self, module_class: ModuleClass, key: SlotKey, plan: ModulePlan) -> Any:
        if is_inline(plan):
            entries = [Keyword(member.attribute, self._construction(module_class, (*key, "sequential", i), member))
                       for i, member in enumerate(plan.members)]
            return Call("nn.Sequential", [Call("OrderedDict", entries, explode=True)])
        child = self.classes.of(plan)
        arguments: list[Any] = []
        for position, parameter in enumerate(child.parameters):
            text = module_class.texts[(*key, "call", parameter.name)]
            if parameter.default is not None:
                if text != parameter.default:
                    arguments.append(Keyword(parameter.name, text))
            elif position < 2:
                arguments.append(text)
            else:
                arguments.append(Keyword(parameter.name, text))
        return Call(child.name, arguments)

    # -- initialization ----------------------------------------------------------------------
    def _initialization(self) -> list[str]:
        """Weight initialization as the spec's ``init:`` says: by layer class where that selects exactly
        the layers of the op kinds the scheme is for, else by name.  A plugin's layer may hold torch.nn
        modules of its own (a squeeze-and-excitation's convolutions), which a loop over ``self.modules()``
        would reach: with plugin layers present, layers are selected by name."""
        init = self.graph.init
        opaque = any(not layer.factory.startswith("torch.") for layer in self.layers.values())
        by_class: list[tuple[list[str], InitScheme, list[Node]]] = []
        by_name: list[tuple[InitScheme, list[Node]]] = []
        for kind, scheme in init.items():
            if scheme.weight == "default" and scheme.bias == "default":
                continue
            nodes = [n for n in self.graph.layers if n.op == kind and n.name in self.layers]
            if not any(n.parameters > 0 for n in nodes):
                continue
            factories = sorted({self.layers[n.name].factory for n in nodes})
            selected = [n for n in self.graph.layers
                        if n.name in self.layers and self.layers[n.name].factory in factories]
            if opaque or not all(n.op == kind or init.get(n.op) == scheme for n in selected):
                by_name.append((scheme, [n for n in nodes if n.parameters > 0]))
                continue
            for entry in by_class:
                if entry[1] == scheme:
                    entry[0].extend(f for f in factories if f not in entry[0])
                    entry[2].extend(n for n in selected if n not in entry[2])
                    break
            else:
                by_class.append((factories, scheme, selected))
        lines: list[str] = []
        pad = INDENT * 2
        if by_class:
            lines.append(f"{pad}for module in self.modules():")
            for position, (factories, scheme, nodes) in enumerate(by_class):
                names = [self.factory(f) for f in factories]
                test = names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
                lines.append(f"{pad}{INDENT}{'if' if position == 0 else 'elif'} isinstance(module, {test}):")
                lines += [f"{pad}{INDENT * 2}{line}" for line in _init_statements(scheme, nodes)]
        for scheme, nodes in by_name:
            names = [literal(n.name) for n in nodes]
            lines += layout("for name in ", Call("", names if len(names) > 1 else [names[0] + ","]), 2, ":")
            lines.append(f"{pad}{INDENT}module = self.get_submodule(name)")
            lines += [f"{pad}{INDENT}{line}" for line in _init_statements(scheme, nodes)]
        return lines


def _import_order(name: str) -> tuple[int, str]:
    """isort's order of imported names: CONSTANTS, then Classes, then the rest."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def _shortcut_attribute(module_class: ModuleClass, index: int, member: ShortcutMember) -> str:
    profile = module_class.profile.get(index)
    return str(profile[0]) if profile else member.attribute


def _literal_or_none(value: Any) -> str | None:
    try:
        return literal(value)
    except Exception:
        return None


def _parameter_text(parameter: Parameter) -> str:
    text = f"{parameter.name}: {parameter.annotation}"
    return f"{text} = {parameter.default}" if parameter.default is not None else text


def _init_statements(scheme: InitScheme, nodes: list[Node]) -> list[str]:
    """``nn.init`` calls for a module called ``module``; guarded where some layer lacks the tensor."""
    statements: list[str] = []
    weight = scheme.weight
    if weight in ("kaiming_normal", "kaiming_uniform"):
        call = f'nn.init.{weight}_(module.weight, mode="{scheme.mode}", nonlinearity="{scheme.nonlinearity}")'
    elif weight in ("xavier_normal", "xavier_uniform"):
        call = f"nn.init.{weight}_(module.weight)"
    elif weight == "normal":
        call = f"nn.init.normal_(module.weight, std={scheme.std!r})"
    elif weight in ("zeros", "ones"):
        call = f"nn.init.{weight}_(module.weight)"
    else:
        call = ""
    if call:
        if any(n.parameters == 0 for n in nodes):
            statements += ["if module.weight is not None:", INDENT + call]
        else:
            statements.append(call)
    if scheme.bias != "default":
        statements += ["if module.bias is not None:", f"{INDENT}nn.init.{scheme.bias}_(module.bias)"]
    return statements


# -- forward --------------------------------------------------------------------------------------

class _Forward:
    """A straight-line ``forward``: one statement per step, variables reused as values die.

    The main line of computation runs through ``x`` and ``out``, as people write it; a value held
    for a join (a branch of a concatenation) is named after its layer.  A call whose result is
    used once, by the join right after it, is written inside the join: ``out += self.shortcut(x)``.
    """

    def __init__(self, writer: _Writer, module_class: ModuleClass):
        self.writer = writer
        self.module_class = module_class
        self.plan = module_class.representative
        self.steps, self.aliases = self._steps()
        self.uses: dict[str, list[int]] = defaultdict(list)
        """Value -> the steps reading it (``len(steps)`` for the return)."""
        for position, step in enumerate(self.steps):
            for value in step.inputs:
                self.uses[value].append(position)
        for value in self.plan.exports:
            self.uses[self.aliases.get(value, value)].append(len(self.steps))
        self.text: dict[str, str] = {}
        """Value -> how it is written: a variable, or an inlined call."""
        self.variable: dict[str, str] = {}
        """Value -> the variable holding it."""
        self.holding: dict[str, str] = {}
        """Variable -> the value it holds now."""
        self.deferred: list[str] = []
        """Values whose last use was inlined into the next statement: released after it."""

    def lines(self) -> list[str]:
        plan = self.plan
        arguments = []
        for position, value in enumerate(plan.imports):
            name = "x" if position == 0 else self._fresh(self.writer.graph.node(value).local_name)
            self._hold(name, value)
            arguments.append(f"{name}: Tensor")
        returns = "Tensor" if len(plan.exports) == 1 else f"tuple[{', '.join(['Tensor'] * len(plan.exports))}]"
        if not plan.exports:
            returns = "None"
        body: list[str] = []
        for position, step in enumerate(self.steps):
            body += self._statement(position, step)
        results = [self.text[self.aliases.get(value, value)] for value in plan.exports]
        body.append(f"return {', '.join(results)}" if results else "return None")
        head = f"{INDENT}def forward({', '.join(['self', *arguments])}) -> {returns}:"
        return [head, *(INDENT * 2 + line for line in body)]

    def _steps(self) -> tuple[list[Step], dict[str, str]]:
        """Steps with always-identity shortcuts dropped (their value is their input's)."""
        aliases: dict[str, str] = {}
        steps: list[Step] = []
        for step in self.plan.steps:
            inputs = tuple(aliases.get(value, value) for value in step.inputs)
            if step.member is not None and self._flag(step) is False:
                aliases[step.outputs[0]] = inputs[0]
                continue
            steps.append(Step(inputs, step.outputs, step.member, step.item, step.node, step.inplace))
        return steps, aliases

    def _flag(self, step: Step) -> str | bool | None:
        assert step.member is not None
        member = self.plan.members[step.member]
        if not isinstance(member, ShortcutMember):
            return None
        return self.module_class.flags.get(step.member, member.module is not None)

    def _statement(self, position: int, step: Step) -> list[str]:
        arguments = [self.text[value] for value in step.inputs]
        dying = [v for v in dict.fromkeys(step.inputs) if max(self.uses[v]) == position and v in self.variable]
        dying += [v for v in self.deferred if v not in dying]
        self.deferred = []
        if step.member is None:
            assert step.node is not None
            if step.inplace:
                target = self.variable[step.inputs[0]]
                self._release(dying)
                self._hold(target, step.outputs[0])
                return [f"{target} {step.node.definition.torch_inplace_operator} {arguments[1]}"]
            node = step.node
            expression = str(node.definition.torch_expression(node.params, arguments))
        else:
            expression = self._call(step, arguments)
            flag = self._flag(step)
            if isinstance(flag, str):
                return self._optional(step, expression, dying, arguments[0])
            if self._inlined(position, step):
                self.text[step.outputs[0]] = expression if is_atom(expression) else f"({expression})"
                self.deferred = dying
                return []
        return [f"{', '.join(self._targets(step, dying))} = {expression}"]

    def _inlined(self, position: int, step: Step) -> bool:
        """Used once, by the join that comes next (and not as the variable it accumulates into)."""
        if len(step.outputs) != 1 or self.uses.get(step.outputs[0]) != [position + 1] or (
                position + 1 == len(self.steps)):
            return False
        following = self.steps[position + 1]
        return following.member is None and not (following.inplace and following.inputs[0] == step.outputs[0])

    def _call(self, step: Step, arguments: list[str]) -> str:
        assert step.member is not None
        member = self.plan.members[step.member]
        if isinstance(member, ShortcutMember):
            callee = f"self.{_shortcut_attribute(self.module_class, step.member, member)}"
        else:
            callee = f"self.{member.attribute}" + (f"[{step.item}]" if step.item is not None else "")
        if isinstance(member, LayerMember):
            return member.layer.forward.format(*arguments, module=callee)
        return f"{callee}({', '.join(arguments)})"

    def _optional(self, step: Step, expression: str, dying: list[str], argument: str) -> list[str]:
        """A shortcut only some instances have: ``if self.shortcut is not None: x = self.shortcut(x)``."""
        assert step.member is not None
        member = self.plan.members[step.member]
        assert isinstance(member, ShortcutMember)
        attribute = _shortcut_attribute(self.module_class, step.member, member)
        (target,) = self._targets(step, dying)
        first = [] if target == argument else [f"{target} = {argument}"]
        return [*first, f"if self.{attribute} is not None:", f"{INDENT}{target} = {expression}"]

    def _targets(self, step: Step, dying: list[str]) -> list[str]:
        reusable = [self.variable[v] for v in dying]
        self._release(dying)
        targets = []
        for value in step.outputs:
            name = self._target(step, value, reusable)
            self._hold(name, value)
            targets.append(name)
        return targets

    def _target(self, step: Step, value: str, reusable: list[str]) -> str:
        for name in reusable:
            if name in GENERIC_VARIABLES:
                reusable.remove(name)
                return name
        if not self._held_for_join(value):
            for name in GENERIC_VARIABLES[::-1]:
                if name not in self.holding:
                    return name
        if reusable:
            return reusable.pop(0)
        return self._fresh(self._value_name(step, value))

    def _held_for_join(self, value: str) -> bool:
        """Read only by joins (a branch waiting for its concatenation), not the main line."""
        readers = self.uses.get(value, [])
        return bool(readers) and all(
            position < len(self.steps) and self.steps[position].member is None
            and not (self.steps[position].inplace and self.steps[position].inputs[0] == value)
            for position in readers)

    def _value_name(self, step: Step, value: str) -> str:
        member = self.plan.members[step.member] if step.member is not None else None
        if member is not None and not isinstance(member, LayerMember) and len(step.outputs) == 1:
            return member.attribute
        return value.rsplit(".", 1)[-1].split("#")[0]

    def _fresh(self, name: str) -> str:
        name = re.sub(r"\W", "_", name)
        if name[:1].isdigit():
            name = f"x{name}"
        while keyword.iskeyword(name) or name in self.holding or name in self.writer.reserved:
            name = f"{name}_"
        return name

    def _hold(self, name: str, value: str) -> None:
        self.holding[name] = value
        self.variable[value] = name
        self.text[value] = name

    def _release(self, values: list[str]) -> None:
        for value in values:
            name = self.variable.pop(value, None)
            if name is not None and self.holding.get(name) == value:
                del self.holding[name]


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _docstring_text(text: str) -> str:
    """Free text (a spec's description) made safe in a triple-quoted docstring: backslashes doubled, no
    closing quotes, control characters written as escapes (a NUL byte cannot even be in Python source)."""
    text = text.replace("\\", "\\\\").replace('"""', "'''")
    return _UNPRINTABLE.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
