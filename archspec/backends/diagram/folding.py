"""Which parts of a network a diagram folds: pure decisions over the IR, no drawing.

Two ways keep a deep network readable:

* **Folding** repeated blocks: consecutive iterations of a repeat that are structurally identical
  (same layers, hyperparameters, shapes and wiring) form a :class:`Run`; the diagram draws the
  run's first iteration once and labels it ``×N``.  The first block of a ResNet stage changes the
  shape and has a projection shortcut, so it is a run of its own: ``layer3.0``, then
  ``layer3.1–35 ×35``.
* **Collapsing** scopes deeper than a chosen depth into one box each.

Every diagram style (the Graphviz graph, the volume figures) starts from the :class:`Folding`
that :func:`fold` returns.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from functools import cached_property

from archspec.graph.ir import Graph, Node, Scope


@dataclass(frozen=True)
class Run:
    """Consecutive, structurally identical iterations of one repeat; the first stands for all."""

    repeat: str
    """The repeat scope's path (``layer3``)."""
    members: tuple[str, ...]
    """The iteration scopes' paths, in order (``layer3.1`` ... ``layer3.35``)."""
    first_index: int
    last_index: int

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
        """``layer3.1–35`` for a folded run, ``layer3.0`` for a single iteration."""
        if not self.folded:
            return self.representative
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

    @cached_property
    def run_of_member(self) -> dict[str, tuple[Run, int]]:
        """For each iteration scope in a folded run: the run and the iteration's place in it."""
        return {member: (run, position)
                for runs in self.runs.values() for run in runs if run.folded
                for position, member in enumerate(run.members)}

    def representative(self, name: str) -> str:
        """The node or scope drawn for ``name``: itself, or its twin in the first iteration of its run.

        ``layer3.17.conv2`` becomes ``layer3.1.conv2``; nested runs are followed from the outside in.
        """
        parts = name.split(".")
        prefix = ""
        for position, part in enumerate(parts):
            prefix = f"{prefix}.{part}" if prefix else part
            found = self.run_of_member.get(prefix)
            if found is not None and found[1] > 0:
                rest = parts[position + 1:]
                return self.representative(".".join([found[0].representative, *rest]))
        return name

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
        return {run.representative: run for runs in self.runs.values() for run in runs}


def fold(graph: Graph, *, expand: bool = False, depth: int | None = None) -> Folding:
    """Decide what a diagram shows.

    ``expand`` keeps every iteration (no run is folded); ``depth`` collapses every block, repeat
    and iteration deeper than it (top-level scopes have depth 1, so ``depth=0`` draws each of them
    as one box).
    """
    members = scope_members(graph)
    runs: dict[str, tuple[Run, ...]] = {}
    for scope in graph.scopes:
        if scope.kind == "repeat":
            iterations = [child for child in graph.child_scopes(scope.path) if child.index is not None]
            runs[scope.path] = (tuple(_single_runs(scope.path, iterations)) if expand
                                else identical_runs(graph, scope.path, iterations, members))
    collapsed = frozenset() if depth is None else frozenset(
        scope.path for scope in graph.scopes if scope.depth == depth + 1 and scope.kind != "shortcut")
    return Folding(graph, runs, collapsed)


def scope_members(graph: Graph) -> dict[str, list[Node]]:
    """The nodes inside each scope (at any depth), in graph order, found in one pass."""
    members: dict[str, list[Node]] = {scope.path: [] for scope in graph.scopes}
    for node in graph.nodes:
        path = node.scope
        while path:
            members.setdefault(path, []).append(node)
            path = path.rpartition(".")[0]
    return members


def identical_runs(graph: Graph, repeat: str, iterations: list[Scope],
                   members: dict[str, list[Node]] | None = None) -> tuple[Run, ...]:
    """Group a repeat's iterations into maximal runs of consecutive, structurally identical ones."""
    members = members if members is not None else scope_members(graph)
    runs: list[Run] = []
    group: list[Scope] = []
    signature: Hashable = None
    for iteration in iterations:
        current = structural_signature(graph, iteration.path, members.get(iteration.path, []))
        if group and current == signature:
            group.append(iteration)
            continue
        if group:
            runs.append(_run(repeat, group))
        group, signature = [iteration], current
    if group:
        runs.append(_run(repeat, group))
    return tuple(runs)


def structural_signature(graph: Graph, scope: str, nodes: Iterable[Node]) -> Hashable:
    """What must be equal for two scopes to be drawn as one: layers, parameters, shapes, wiring, sub-scopes.

    Names are taken relative to the scope; inputs from outside it are numbered in order of first
    use, so iteration 5 reading iteration 4's output matches iteration 6 reading iteration 5's.
    """
    prefix = scope + "."
    outside: dict[str, int] = {}

    def reference(name: str) -> Hashable:
        if name.startswith(prefix):
            return name[len(prefix):]
        return ("outside", outside.setdefault(name, len(outside)))

    layers = tuple(
        (node.name[len(prefix):], node.op, node.params, node.output_shape, node.parameters, node.role,
         tuple(reference(source) for source in node.inputs))
        for node in nodes
    )
    inner = tuple((s.path[len(prefix):], s.kind, s.block, s.count, s.index, s.arguments)
                  for s in graph.scopes if s.path.startswith(prefix))
    return layers, inner


def _run(repeat: str, group: list[Scope]) -> Run:
    first, last = group[0].index, group[-1].index
    assert first is not None and last is not None
    return Run(repeat, tuple(scope.path for scope in group), first, last)


def _single_runs(repeat: str, iterations: list[Scope]) -> Iterable[Run]:
    for iteration in iterations:
        yield _run(repeat, [iteration])
