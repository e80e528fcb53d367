"""How an analysed graph becomes a tree of modules, before any code is written.

One module per scope (the root for the whole network), one layer per node, a container per
named repeat, and for each module the steps of its ``forward`` in declaration order.  Modules
are registered in the order their first layer is declared, so ``state_dict`` follows the spec,
except that a block's ``register_first`` layers come first.

Everything here reads the IR and nothing else: shapes, names and edges come from the graph,
each layer from its op's ``torch_layer``.  No torch import.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from archspec.graph.ir import INPUT, Graph, Node, Scope
from archspec.ops.base import TorchLayer


@dataclass(frozen=True)
class LayerMember:
    """A node with a torch layer: ``self.conv1 = nn.Conv2d(...)``."""

    attribute: str
    node: Node
    layer: TorchLayer


@dataclass(frozen=True)
class ScopeMember:
    """A block call or another scope: a submodule."""

    attribute: str
    module: ModulePlan


@dataclass(frozen=True)
class RepeatMember:
    """A named repeat: a container of its iterations, ``nn.Sequential`` when they chain.  Also a container
    scope (layers named ``up.0``, ``up.1``): its items, block calls or layers, each called where it is
    written."""

    attribute: str
    scope: Scope
    items: tuple[ModulePlan | LayerMember, ...]
    sequential: bool

    @property
    def item_names(self) -> tuple[str, ...]:
        """Each iteration's attribute in the container: ``0, 1, ...``, or the repeat's ``names:``."""
        return tuple(item.attribute if isinstance(item, LayerMember) else item.path.rsplit(".", 1)[-1]
                     for item in self.items)

    @property
    def numbered(self) -> bool:
        return self.item_names == tuple(str(i) for i in range(len(self.items)))


@dataclass(frozen=True)
class ShortcutMember:
    """The shortcut of a residual: a projection (or the spec's own layers), or None for identity.

    Identity shortcuts are members too (with no module) so that the blocks of a ResNet stage,
    the first with a projection and the others without, can share one class.
    """

    attribute: str
    module: ModulePlan | None


Member = LayerMember | ScopeMember | RepeatMember | ShortcutMember


@dataclass(frozen=True)
class Step:
    """One statement of ``forward``: values (node names) in, values out."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    member: int | None = None
    """The member called, or None for an expression (a join such as ``add``)."""
    item: int | None = None
    """For a repeat whose items do not chain: which item is called."""
    node: Node | None = None
    """The node computed (layers and joins)."""
    inplace: bool = False
    """For joins: accumulate into the first input (``out += shortcut``)."""


@dataclass(frozen=True)
class ModulePlan:
    """A module: what it holds, in registration order, and what its forward does."""

    path: str
    scope: Scope | None
    members: tuple[Member, ...]
    steps: tuple[Step, ...]
    imports: tuple[str, ...]
    """Values read from outside: the forward's arguments."""
    exports: tuple[str, ...]
    """Values used outside (or the network's output): what forward returns."""

    @property
    def chain_of_layers(self) -> bool:
        """Only layers, each feeding the next: expressible as ``nn.Sequential``."""
        if len(self.imports) != 1 or len(self.exports) != 1 or len(self.steps) != len(self.members):
            return False
        previous = self.imports[0]
        for index, (member, step) in enumerate(zip(self.members, self.steps, strict=True)):
            if not isinstance(member, LayerMember) or step.member != index or member.layer.forward != "{module}({0})":
                return False
            if step.inputs != (previous,):
                return False
            previous = step.outputs[0]
        return self.exports == (previous,)


@dataclass
class _Context:
    graph: Graph
    layers: dict[str, TorchLayer]
    live: set[str]
    readers: dict[str, tuple[str, ...]]
    """Live consumers of each node."""
    index: dict[str, int]
    children: dict[str, list[Scope]]
    direct: dict[str, list[Node]]
    """Nodes directly in each scope (not in a child scope)."""
    spans: dict[str, tuple[int, int]]
    """First and last node index in each scope's subtree."""
    inplace: set[str] = field(default_factory=set)


def plan_modules(graph: Graph, layers: dict[str, TorchLayer]) -> ModulePlan:
    """The module tree of a graph; ``layers`` holds each layer node's TorchLayer (joins have none)."""
    index = {node.name: position for position, node in enumerate(graph.nodes)}
    live = graph.feeding(graph.outputs)
    readers: dict[str, list[str]] = {name: [] for name in index}
    for node in graph.nodes:
        if node.name in live:
            for source in node.inputs:
                readers[source].append(node.name)
    children: dict[str, list[Scope]] = {}
    for scope in graph.scopes:
        children.setdefault(scope.parent, []).append(scope)
    direct: dict[str, list[Node]] = {}
    for node in graph.layers:
        direct.setdefault(node.scope, []).append(node)
    context = _Context(graph, dict(layers), live, {name: tuple(r) for name, r in readers.items()}, index, children,
                       direct, _scope_spans(graph, index))
    context.inplace = _inplace_nodes(context)
    context.layers = {name: _with_inplace(layer) if name in context.inplace else layer
                      for name, layer in context.layers.items()}
    return _plan(context, "", None, (INPUT,), tuple(output.node for output in graph.outputs))



def _scope_spans(graph: Graph, index: dict[str, int]) -> dict[str, tuple[int, int]]:
    spans: dict[str, tuple[int, int]] = {}
    for node in graph.layers:
        path = node.scope
        while path:
            first, last = spans.get(path, (index[node.name], index[node.name]))
            spans[path] = (min(first, index[node.name]), max(last, index[node.name]))
            path = path.rsplit(".", 1)[0] if "." in path else ""
    return spans


def _inplace_nodes(context: _Context) -> set[str]:
    """Nodes that may overwrite their first input: it is a fresh tensor of their own module that
    nothing else reads and whose producer does not keep it for the backward pass (each op says
    which it is: ``owns_output``, ``torch_inplace_layer``, ``torch_inplace_operator``)."""
    chosen: set[str] = set()
    graph = context.graph
    for node in graph.layers:
        if node.name not in context.live or not node.inputs:
            continue
        op = node.definition
        if op.torch_inplace_layer:
            if node.name not in context.layers:
                continue
        elif op.torch_inplace_operator is None or node.name in context.layers or len(node.inputs) != 2:
            continue
        target = graph.node(node.inputs[0])
        owned = target.op != INPUT and target.definition.owns_output
        if (owned and target.scope == node.scope and target.name not in graph.output_nodes
                and context.readers[target.name] == (node.name,) and node.inputs.count(target.name) == 1):
            chosen.add(node.name)
    return chosen


def _with_inplace(layer: TorchLayer) -> TorchLayer:
    return replace(layer, kwargs={**layer.kwargs, "inplace": True})


def _plan(context: _Context, path: str, scope: Scope | None, imports: tuple[str, ...],
          exports: tuple[str, ...]) -> ModulePlan:
    entries: list[tuple[int, Node | Scope]] = [(context.index[node.name], node)
                                               for node in context.direct.get(path, [])]
    containers: dict[str, list[Node | Scope]] = {}
    for child in context.children.get(path, []):
        if child.path not in context.spans:
            continue
        if child.kind == "container":
            nodes = context.direct.get(child.path, [])
            inside: list[Node | Scope] = [node for node in nodes if node.name in context.layers]
            inside += [item for item in context.children.get(child.path, []) if item.path in context.spans]
            containers[child.path] = sorted(inside, key=lambda item: _item_order(context, item))
            modeless: list[Node | Scope] = [node for node in nodes if node.name not in context.layers]  # a join
            entries += [(_first_index(context, item), item) for item in [*inside, *modeless]]
        else:
            entries.append((context.spans[child.path][0], child))
    entries.sort(key=lambda entry: entry[0])
    _check_contiguous(context, entries, path)
    members: list[Member] = []
    steps: list[Step] = []
    held: dict[str, tuple[int, list[ModulePlan | LayerMember | None]]] = {}
    """Each container's member position and its items, filled as they come (sorted by name)."""
    for _, entry in entries:
        container = _container_of(context, entry)
        if container is not None and entry in containers[container.path]:
            _plan_container_item(context, container, containers[container.path], entry, held, members, steps)
        elif isinstance(entry, Node):
            _plan_node(context, entry, members, steps)
        elif entry.kind == "repeat":
            _plan_repeat(context, entry, members, steps)
        else:
            _plan_scope(context, entry, members, steps)
    for container_path, (position, items) in held.items():
        members[position] = RepeatMember(container_path.rsplit(".", 1)[-1], context.graph.scope(container_path),
                                         tuple(item for item in items if item is not None), False)
    members, steps = _register_first(scope, members, steps)
    return ModulePlan(path, scope, tuple(members), tuple(steps), imports, exports)


def _first_index(context: _Context, item: Node | Scope) -> int:
    return context.index[item.name] if isinstance(item, Node) else context.spans[item.path][0]


def _item_order(context: _Context, item: Node | Scope) -> tuple[int, int]:
    """A container's items by number when named by numbers (an ``nn.ModuleList``), else as declared."""
    name = item.local_name
    return (int(name), 0) if name.isdigit() else (1 << 30, _first_index(context, item))


def _container_of(context: _Context, entry: Node | Scope) -> Scope | None:
    parent = entry.scope if isinstance(entry, Node) else entry.parent
    found = context.graph.scopes_by_path.get(parent) if parent else None
    return found if found is not None and found.kind == "container" else None


def _plan_container_item(context: _Context, container: Scope, items: list[Node | Scope], entry: Node | Scope,
                         held: dict[str, tuple[int, list[ModulePlan | LayerMember | None]]], members: list[Member],
                         steps: list[Step]) -> None:
    """One layer or block call of a container: registered in the container (made where its first item is
    declared), called where it is written."""
    if container.path not in held:
        members.append(ShortcutMember(container.local_name, None))  # a placeholder, replaced by the container
        held[container.path] = (len(members) - 1, [None] * len(items))
    position, planned = held[container.path]
    item = items.index(entry)
    if isinstance(entry, Node):
        planned[item] = LayerMember(entry.local_name, entry, context.layers[entry.name])
        if entry.name in context.live:
            steps.append(Step(entry.inputs, (entry.name,), position, item=item, node=entry))
        return
    item_imports, item_exports = _boundary(context, entry.path)
    planned[item] = _plan(context, entry.path, entry, item_imports, item_exports)
    if item_exports:
        steps.append(Step(item_imports, item_exports, position, item=item))


def _register_first(scope: Scope | None, members: list[Member], steps: list[Step]) -> tuple[list[Member], list[Step]]:
    """The members a block's ``register_first`` names, in its order, then the others as declared; steps keep
    the order they run in, each calling its member at the new position."""
    first = scope.register_first if scope is not None else ()
    if not first:
        return members, steps
    rank = {name: position for position, name in enumerate(first)}
    order = sorted(range(len(members)), key=lambda i: (0, rank[members[i].attribute], i)
                   if members[i].attribute in rank else (1, 0, i))
    moved = {old: new for new, old in enumerate(order)}
    steps = [replace(step, member=moved[step.member]) if step.member is not None else step for step in steps]
    return [members[i] for i in order], steps


def _plan_node(context: _Context, node: Node, members: list[Member], steps: list[Step]) -> None:
    live = node.name in context.live
    layer = context.layers.get(node.name)
    if layer is not None:
        members.append(LayerMember(node.local_name, node, layer))
        if live:
            steps.append(Step(node.inputs, (node.name,), len(members) - 1, node=node))
        return
    if not live:
        return
    inputs = node.inputs
    if node.role == "residual" and len(inputs) == 2 and not _from_shortcut(context, node):
        identity = f"{node.name}#shortcut"
        members.append(ShortcutMember("shortcut", None))
        steps.append(Step((inputs[1],), (identity,), len(members) - 1))
        inputs = (inputs[0], identity)
    steps.append(Step(inputs, (node.name,), node=node, inplace=node.name in context.inplace))


def _from_shortcut(context: _Context, add: Node) -> bool:
    source = context.graph.node(add.inputs[1])
    return source.role == "shortcut" and source.scope.startswith(f"{add.scope}." if add.scope else "")


def _plan_scope(context: _Context, scope: Scope, members: list[Member], steps: list[Step]) -> None:
    imports, exports = _boundary(context, scope.path)
    module = _plan(context, scope.path, scope, imports, exports)
    is_shortcut = scope.kind == "shortcut" and len(imports) == 1 and len(exports) == 1 and all(
        context.graph.node(reader).role == "residual" for reader in context.readers[exports[0]])
    members.append(ShortcutMember(scope.local_name, module) if is_shortcut else ScopeMember(scope.local_name, module))
    if exports:
        steps.append(Step(imports, exports, len(members) - 1))


def _plan_repeat(context: _Context, scope: Scope, members: list[Member], steps: list[Step]) -> None:
    imports, exports = _boundary(context, scope.path)
    items = []
    for child in context.children.get(scope.path, []):
        if child.path in context.spans:
            item_imports, item_exports = _boundary(context, child.path)
            items.append(_plan(context, child.path, child, item_imports, item_exports))
    chained = bool(items) and len(imports) == 1 and len(exports) == 1
    previous = imports
    for item in items:
        chained = chained and len(item.imports) == 1 and item.imports == previous and len(item.exports) == 1
        previous = item.exports
    chained = chained and previous == exports
    members.append(RepeatMember(scope.local_name, scope, tuple(items), chained))
    if chained:
        steps.append(Step(imports, exports, len(members) - 1))
        return
    for position, item in enumerate(items):
        if item.exports:
            steps.append(Step(item.imports, item.exports, len(members) - 1, item=position))


def _boundary(context: _Context, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What a scope reads from outside and what is read of it from outside (live values only)."""
    first, last = context.spans[path]
    inside = {node.name for node in context.graph.nodes[first:last + 1]}
    imports: list[str] = []
    exports: list[str] = []
    for node in context.graph.nodes[first:last + 1]:
        if node.name not in context.live:
            continue
        imports.extend(source for source in node.inputs if source not in inside and source not in imports)
        if node.name in context.graph.output_nodes or any(r not in inside for r in context.readers[node.name]):
            exports.append(node.name)
    return tuple(imports), tuple(exports)


def _check_contiguous(context: _Context, entries: list[tuple[int, Node | Scope]], path: str) -> None:
    end = -1
    for start, entry in entries:
        if start <= end:
            raise AssertionError(f"scope '{path}': its layers are not contiguous in declaration order")
        end = context.spans[entry.path][1] if isinstance(entry, Scope) else start
