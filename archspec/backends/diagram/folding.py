"""Which parts of a network a diagram folds: pure decisions over the IR, no drawing.

Two ways keep a deep network readable:

* **Folding** repeated blocks: consecutive iterations of a repeat that have the same structure
  (the same layers and wiring, differing at most in shapes, hyperparameter values and in how
  often a folded run inside them repeats) form a :class:`Run`; the diagram draws the run's first
  iteration once and labels it ``×N``, with the range of shapes it spans (``×6, 64→256
  channels``).  The first block of a ResNet stage has a projection shortcut, so it is a run of
  its own: ``layer3.0``, then ``layer3.1–35 ×35``; DenseNet's dense layers, which only grow,
  fold into one run per dense block, and EfficientNet's stages with them.
* **Collapsing** scopes deeper than a chosen depth into one box each.

Every diagram style (the Graphviz graph, the volume figures) starts from the :class:`Folding`
that :func:`fold` returns.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from functools import cached_property

from archspec.graph.ir import Graph, Node, Scope
from archspec.ops.base import Shape


@dataclass(frozen=True)
class Run:
    """Consecutive iterations of one repeat with the same structure; the first stands for all."""

    repeat: str
    """The repeat scope's path (``layer3``)."""
    members: tuple[str, ...]
    """The iteration scopes' paths, in order (``layer3.1`` ... ``layer3.35``)."""
    first_index: int
    last_index: int
    entry: Shape = ()
    """The shape flowing into the first iteration (its first layer's first input)."""
    exit: Shape = ()
    """The shape the last iteration puts out (its last layer's)."""
    parameters: tuple[int, ...] = ()
    """Each iteration's parameter count."""
    sequence: bool = False
    """Calls of one block in sequence (``dense_layer1`` ... ``dense_layer6``), not a named repeat's iterations."""

    @property
    def span(self) -> str:
        """The shapes the run goes through, when they change: ``64→256 channels``; "" when they do not."""
        return span_text(self.entry, self.exit) if self.folded else ""

    @property
    def uniform_parameters(self) -> bool:
        """Whether every iteration has as many parameters as the first (ResNet's blocks, not DenseNet's)."""
        return len(set(self.parameters)) <= 1

    @property
    def representative(self) -> str:
        return self.members[0]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def folded(self) -> bool:
        return len(self.members) > 1

    @property
    def title(self) -> str:
        """``layer3.1–35`` for a folded run, ``layer3.0`` for a single iteration; a run of calls
        ``dense_layer1–6``, ``Mixed_6b–6e``."""
        if not self.folded:
            return self.representative
        if self.sequence:
            first, last = self.representative.rsplit(".", 1)[-1], self.members[-1].rsplit(".", 1)[-1]
            shared = 0
            while shared < min(len(first), len(last)) and first[shared] == last[shared]:
                shared += 1
            shared = len(first[:shared].rstrip("0123456789"))  # dense_layer10–12, not dense_layer10–2
            return f"{self.representative}–{last[shared:]}"
        return f"{self.repeat}.{self.first_index}–{self.last_index}"


@dataclass(frozen=True)
class Folding:
    """What a diagram of ``graph`` shows: folded runs, collapsed scopes, and who stands for whom."""

    graph: Graph
    runs: dict[str, tuple[Run, ...]]
    """For each repeat scope, its iterations grouped into runs (all runs, folded or not)."""
    collapsed: frozenset[str]
    """Scopes drawn as a single box (one level below the chosen depth).  A shortcut is never a box of its
    own: its layers stay beside the main path, or inside the box of the block around it."""
    sequences: tuple[Run, ...] = ()
    """Runs of consecutive calls of one block (what an unnamed repeat leaves), folded or not."""

    @cached_property
    def run_of_member(self) -> dict[str, tuple[Run, int]]:
        """For each iteration scope in a folded run: the run and the iteration's place in it."""
        return {member: (run, position) for run in self.all_runs if run.folded
                for position, member in enumerate(run.members)}

    @property
    def all_runs(self) -> Iterable[Run]:
        for runs in self.runs.values():
            yield from runs
        yield from self.sequences

    def representative(self, name: str) -> str:
        """The node or scope drawn for ``name``: itself, or its twin in the first iteration of its run.

        ``layer3.17.conv2`` becomes ``layer3.1.conv2``; nested runs are followed from the outside in.
        Where the first iteration repeats an inner run fewer times (EfficientNet's first folded stage
        has two blocks, a later one four), a name past its end becomes its twin in the last iteration.
        """
        parts = name.split(".")
        prefix = ""
        for position, part in enumerate(parts):
            parent, prefix = prefix, f"{prefix}.{part}" if prefix else part
            rest = parts[position + 1:]
            found = self.run_of_member.get(prefix)
            if found is not None and found[1] > 0:
                return self.representative(".".join([found[0].representative, *rest]))
            twin = self.last_of_kind.get((parent, part.rstrip("0123456789")))
            if prefix not in self.known_names and twin is not None:
                return self.representative(".".join([twin, *rest]))
        return name

    @cached_property
    def known_names(self) -> frozenset[str]:
        return frozenset(node.name for node in self.graph.nodes) | frozenset(self.graph.scopes_by_path)

    @cached_property
    def last_of_kind(self) -> dict[tuple[str, str], str]:
        """The last scope in each scope whose name is the same but for its number: a repeat's last
        iteration (``stage2.blocks.3``), the last call of a block (``stage2.mbconv4``)."""
        return {(scope.parent, scope.local_name.rstrip("0123456789")): scope.path for scope in self.graph.scopes}

    def run_positions(self, name: str) -> dict[str, int]:
        """Every folded run that ``name`` (a node name) lies in, with its iteration's position there."""
        positions: dict[str, int] = {}
        prefix = ""
        for part in name.split(".")[:-1]:
            prefix = f"{prefix}.{part}" if prefix else part
            found = self.run_of_member.get(prefix)
            if found is not None:
                positions[found[0].representative] = found[1]
        return positions

    def crosses_iterations(self, source: str, target: str) -> bool:
        """Whether an edge joins two different iterations of one folded run (implied by ``×N``)."""
        source_positions = self.run_positions(source)
        return any(source_positions.get(run, position) != position
                   for run, position in self.run_positions(target).items())

    def collapsed_scope(self, scope: str) -> str | None:
        """The outermost collapsed scope containing ``scope`` (a scope path), if any."""
        prefix = ""
        for part in scope.split(".") if scope else ():
            prefix = f"{prefix}.{part}" if prefix else part
            if prefix in self.collapsed:
                return prefix
        return None

    def display_name(self, name: str) -> str:
        """A drawn name with each folded run's first iteration written as the run: ``layer3.1–35.conv1``."""
        parts = name.split(".")
        shown: list[str] = []
        prefix = ""
        for part in parts:
            prefix = f"{prefix}.{part}" if prefix else part
            run = self.run_headed_by.get(prefix)
            shown.append(run.title.rsplit(".", 1)[-1] if run is not None and run.folded else part)
        return ".".join(shown)

    @cached_property
    def run_headed_by(self) -> dict[str, Run]:
        """Each run (folded or not) by the path of its first iteration."""
        return {run.representative: run for run in self.all_runs}


def fold(graph: Graph, *, expand: bool = False, depth: int | None = None, resized: bool = False) -> Folding:
    """Decide what a diagram shows.

    ``expand`` keeps every iteration (no run is folded); ``depth`` collapses every block, repeat
    and iteration deeper than it (top-level scopes have depth 1, so ``depth=0`` draws each of them
    as one box); ``resized`` also folds calls written one after the other that differ only in sizes
    (see :func:`call_sequences`).
    """
    repeats = [scope for scope in graph.scopes if scope.kind == "repeat"]
    iterations: dict[str, list[Scope]] = {scope.path: [] for scope in repeats}
    for scope in graph.scopes:
        if scope.index is not None and scope.parent in iterations:
            iterations[scope.parent].append(scope)
    collapsed = frozenset() if depth is None else frozenset(
        scope.path for scope in graph.scopes
        if _drawn_depth(graph, scope) == depth + 1 and scope.kind not in ("shortcut", "container"))
    if expand:
        runs = {repeat: tuple(_run(graph, repeat, [iteration], {}) for iteration in members)
                for repeat, members in iterations.items()}
        return Folding(graph, runs, collapsed)
    groups = {**{(path, 0): members for path, members in iterations.items()}, **call_sequences(graph, resized)}
    found = structural_runs(graph, groups)
    runs = {scope.path: found[scope.path, 0] for scope in repeats}
    sequences = tuple(run for key, group_runs in found.items() if key[1] > 0 for run in group_runs)
    return Folding(graph, runs, collapsed, sequences)


def _drawn_depth(graph: Graph, scope: Scope) -> int:
    """A scope's depth as drawn: containers (``up`` of ``up.0``) are no level of their own."""
    scopes = graph.scopes_by_path
    parts = scope.path.split(".")
    return sum(1 for i in range(1, len(parts) + 1) if scopes[".".join(parts[:i])].kind != "container")


GroupKey = tuple[str, int]
"""A repeat's iterations: (its path, 0); a sequence of block calls: (the scope around it, 1, 2, ...)."""


def call_sequences(graph: Graph, resized: bool = False) -> dict[GroupKey, list[Scope]]:
    """Consecutive calls of one block, each taking the previous one's output, that a repeat made: what an
    unnamed repeat leaves (``dense_layer1`` ... ``dense_layer6``), grouped like a repeat's iterations.

    A repeat shows in the calls' source locations: one entry called again and again, or a body of
    several entries again and again (Swin's plain and shifted blocks).  With ``resized``, calls written
    one after the other join too when their layers differ only in their output sizes (Inception's
    ``Mixed_5b``, ``Mixed_5c``, ``Mixed_5d``: the same module at other widths); calls that differ in
    anything else (EfficientNet's expansion and depthwise convolutions: other kernels and groups)
    always stay apart.
    """
    members = scope_members(graph)
    chains: dict[str, list[list[Scope]]] = {}
    for scope in graph.scopes:
        if scope.kind != "block" or scope.index is not None or not members.get(scope.path):
            continue
        found = chains.setdefault(scope.parent, [])
        if found and _continues(found[-1][-1], scope, members):
            found[-1].append(scope)
        else:
            found.append([scope])
    sequences: dict[GroupKey, list[Scope]] = {}
    for parent, parent_chains in chains.items():
        for chain in parent_chains:
            for segment in _repeated_segments(chain, members if resized else None):
                sequences[parent, len([key for key in sequences if key[0] == parent]) + 1] = segment
    return sequences


def _continues(previous: Scope, scope: Scope, members: dict[str, list[Node]]) -> bool:
    """Whether ``scope`` calls the same block as ``previous`` and starts from its output."""
    return scope.block == previous.block and members[previous.path][-1].name in members[scope.path][0].inputs


def _repeated_segments(chain: list[Scope], members: dict[str, list[Node]] | None) -> list[list[Scope]]:
    """The parts of a chain of calls that fold: the whole chain when its source locations repeat with
    a period (at least twice over), else its runs of calls from one location or, given the calls'
    ``members``, differing only in sizes."""
    locations = [scope.location for scope in chain]
    if None in locations:
        return []
    for period in range(2, len(chain) // 2 + 1):
        if all(locations[index] == locations[index - period] for index in range(period, len(chain))):
            return [chain]
    segments: list[list[Scope]] = []
    for scope in chain:
        previous = segments[-1][-1] if segments else None
        if previous is not None and (previous.location == scope.location or (
                members is not None and _differ_only_in_sizes(members[previous.path], members[scope.path]))):
            segments[-1].append(scope)
        else:
            segments.append([scope])
    return [segment for segment in segments if len(segment) > 1]


def _differ_only_in_sizes(first: list[Node], second: list[Node]) -> bool:
    """Whether two calls' layers are the same ops with the same parameters, but for parameters whose
    values are the layer's output size (a convolution's ``channels``, a linear layer's ``features``)."""
    if len(first) != len(second):
        return False
    for one, other in zip(first, second, strict=True):
        if one.op != other.op:
            return False
        ours = one.params.model_dump() if one.params is not None else {}
        theirs = other.params.model_dump() if other.params is not None else {}
        if ours.keys() != theirs.keys():
            return False
        for key, value in ours.items():
            if value != theirs[key] and not (_is_size(value, one) and _is_size(theirs[key], other)):
                return False
    return True


def _is_size(value: object, node: Node) -> bool:
    shape = node.output_shape
    return isinstance(value, int) and not isinstance(value, bool) and bool(shape) and value in (shape[0], shape[-1])


def structural_runs(graph: Graph, groups: dict[GroupKey, list[Scope]]) -> dict[GroupKey, tuple[Run, ...]]:
    """Every group's members (a repeat's iterations, a sequence's calls) in maximal runs of consecutive
    members with the same structure.

    Inner groups are grouped first (deepest first), so that an outer member's structure can name
    each inner member by the run it lies in: two stages whose blocks fold into ``first, then ×1``
    and ``first, then ×3`` have the same structure.
    """
    signatures = _Signatures(graph, groups)
    found_runs: dict[GroupKey, tuple[Run, ...]] = {}
    for key in sorted(groups, key=lambda key: -groups[key][0].path.count(".") if groups[key] else 0):
        repeat, sequence = key[0], key[1] > 0
        found: list[Run] = []
        group: list[Scope] = []
        signature: Hashable = None
        for member in groups[key]:
            current = signatures.of(member.path)
            if not (group and current == signature):
                if group:
                    found.append(_run(graph, repeat, group, signatures.members, sequence))
                group, signature = [], current
            group.append(member)
        if group:
            found.append(_run(graph, repeat, group, signatures.members, sequence))
        for position, run in enumerate(found):
            for path in run.members:
                signatures.token[path] = ("#", key[1], position)
        found_runs[key] = tuple(found)
    return found_runs


class _Signatures:
    """What must be equal for two members to be drawn as one: their layers' ops, roles and wiring.

    Names are taken relative to the member, with every inner member (an iteration, a call in a
    sequence) replaced by the position of its run (``blocks.3`` in a run ``blocks.1–3`` is
    ``blocks.#1``); an input from an earlier inner member is named by how many members back it lies
    (and, when it is that member's output, by nothing else: with or without a residual sum),
    and inputs from outside are numbered in order of first use, so iteration 5 reading iteration 4's
    output matches iteration 6 reading iteration 5's.  Shapes, hyperparameter values and parameter
    counts are left out: they are what the run's range shows.
    """

    def __init__(self, graph: Graph, groups: dict[GroupKey, list[Scope]]) -> None:
        self.members = scope_members(graph)
        self.nested = nested_scopes(graph)
        self.place = {member.path: (key, position) for key, group in groups.items()
                      for position, member in enumerate(group)}
        """For each member: its group and its position there."""
        self.token: dict[str, Hashable] = {}
        """For each member already grouped: its group's kind and its run's position."""

    def of(self, scope: str) -> Hashable:
        prefix = scope + "."
        outside: dict[str, int] = {}
        entries: dict[Hashable, None] = {}
        for node in self.members.get(scope, ()):
            target = node.name[len(prefix):].split(".")
            inputs = tuple(("outside", outside.setdefault(source, len(outside))) if not source.startswith(prefix)
                           else self._canonical(scope, source[len(prefix):].split("."), target)
                           for source in node.inputs)
            entries[(self._canonical(scope, target), node.op, node.role, inputs)] = None
        for inner in self.nested.get(scope, ()):
            entries[(self._canonical(scope, inner.path[len(prefix):].split(".")), inner.kind, inner.block)] = None
        return tuple(entries)

    def _canonical(self, scope: str, parts: list[str], target: list[str] | None = None) -> tuple[Hashable, ...]:
        """``parts`` (a name relative to ``scope``) with inner members replaced by their runs' positions;
        where it first parts from ``target`` at two members of one group, by the distance between them."""
        shown: list[Hashable] = []
        path = scope
        diverged = target is None
        for position, part in enumerate(parts):
            parent, path = path, f"{path}.{part}"
            place = self.place.get(path)
            splits = target is not None and not diverged and (position >= len(target) or target[position] != part)
            if place is None:
                shown.append(part)
            elif splits and target is not None and position < len(target) \
                    and (other := self.place.get(f"{parent}.{target[position]}")) is not None and other[0] == place[0]:
                shown.append(("back", other[1] - place[1]))
                if self.members[path][-1].name == f"{scope}.{'.'.join(parts)}":
                    return (*shown, "output")  # an earlier member's output, whichever layer makes it
            else:
                shown.append(self.token.get(path, part))
            diverged = diverged or splits
        return tuple(shown)


def scope_members(graph: Graph) -> dict[str, list[Node]]:
    """The nodes inside each scope (at any depth), in graph order, found in one pass."""
    members: dict[str, list[Node]] = {scope.path: [] for scope in graph.scopes}
    for node in graph.nodes:
        path = node.scope
        while path:
            members.setdefault(path, []).append(node)
            path = path.rpartition(".")[0]
    return members


def nested_scopes(graph: Graph) -> dict[str, list[Scope]]:
    """The scopes inside each scope (at any depth), in graph order, found in one pass."""
    nested: dict[str, list[Scope]] = {scope.path: [] for scope in graph.scopes}
    for scope in graph.scopes:
        path = scope.path.rpartition(".")[0]
        while path:
            nested.setdefault(path, []).append(scope)
            path = path.rpartition(".")[0]
    return nested


def span_text(entry: Shape, exit: Shape) -> str:
    """How a run changes the tensor: ``64→256 channels``, ``56×56→7×7``, ``24→192 channels, 56×56→7×7``."""
    if not entry or not exit or entry == exit:
        return ""
    if len(entry) == len(exit) == 3:
        changes = []
        if entry[0] != exit[0]:
            changes.append(f"{entry[0]}→{exit[0]} channels")
        if entry[1:] != exit[1:]:
            changes.append(f"{entry[1]}×{entry[2]}→{exit[1]}×{exit[2]}")
        return ", ".join(changes)
    if len(entry) == len(exit) == 1:
        return f"{entry[0]}→{exit[0]} features"
    return f"{'×'.join(map(str, entry))}→{'×'.join(map(str, exit))}"


def _run(graph: Graph, repeat: str, group: list[Scope], scope_nodes: dict[str, list[Node]],
         sequence: bool = False) -> Run:
    members = tuple(scope.path for scope in group)
    first: int | None = _number(group[0].local_name) if sequence else group[0].index
    last: int | None = _number(group[-1].local_name) if sequence else group[-1].index
    assert first is not None and last is not None
    if len(group) == 1:
        return Run(repeat, members, first, last, sequence=sequence)
    nodes = [scope_nodes.get(member, []) for member in members]
    head = nodes[0][0] if nodes[0] else None
    entry = graph.node(head.inputs[0]).image_shape if head is not None and head.inputs else ()
    exit = nodes[-1][-1].image_shape if nodes[-1] else ()
    parameters = tuple(sum(node.parameters for node in inside) for inside in nodes)
    return Run(repeat, members, first, last, entry, exit, parameters, sequence)


def _number(name: str) -> int:
    """The number a block call's name ends in (``dense_layer12``: 12), or 0."""
    digits = name[len(name.rstrip("0123456789")):]
    return int(digits) if digits else 0
