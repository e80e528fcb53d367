"""Where everything goes: segments along the main path, rows, skip arcs, branches and frames.

The main path is cut at *articulation* elements, the tensors every path from the input to the
output passes through.  Between two of them lies a :class:`Segment`:

* a **chain**: each element feeds the next; any other arrow joins two of its elements and is
  drawn as an arc above them (a residual shortcut, with its ops written on the arc).  Chains are
  placed here, left to right on one line;
* a **branch**: parallel paths holding tensors of their own (an Inception module).  Graphviz's
  ``dot`` places its elements (one ``dot`` run for all branches of the figure); the arrows are
  drawn here, through the places ``dot`` left for their labels.

Segments are packed into rows (balanced, and cut preferably where no frame is open), each row
on its own main line; an arrow or arc whose source ended the row before starts at the margin.
Frames (blocks, repeats, folded runs) are drawn around their elements and the arrows into them.

A network with several outputs has *side paths*: the elements that lead to another output and
not to the main one (an auxiliary head).  Each is laid out like the main path, on a row of its
own under the row it leaves from, and a connector (the route's ``lead``) runs from its source down
to it, so a side path never shares a row, or a ``dot`` run's segment, with the main path.

Over 400 lines: placing segments, packing rows, routing arrows and nesting frames depend on one another's
intermediate geometry at every step; they stay together until the zoo's structural folding settles what
a row holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Literal

from archspec.backends.diagram.view import Cluster
from archspec.backends.volumes.geometry import LABEL_GAP, LABEL_SIZE, Geometry, element_geometry
from archspec.backends.volumes.metrics import text_width
from archspec.backends.volumes.plan import Arrow, Element, VolumePlan

TITLE_SIZE = 12.0
"""The op's name, above its arrow."""
DETAIL_SIZE = 11.0
"""Its hyperparameters, below the arrow."""
LINE_HEIGHT = 1.25
ARROW_MARGIN = 8.0
"""Free space between an arrow's label and the shapes at either end."""
MIN_ARROW = 30.0
FRAME_PAD = 10.0
"""Between a frame's border and what it holds, across the flow."""
FRAME_PAD_Y = 8.0
FRAME_TITLE_SIZE = 12.0
FRAME_COUNT_SIZE = 15.0
FRAME_TITLE_BAND = 22.0
ARC_CLEARANCE = 14.0
"""Between a skip arc and the tallest thing under it."""
ARC_RADIUS = 10.0
ROW_GAP = 34.0
ROW_WIDTH = 1600.0
"""Rows are balanced around this width, and exceed it only when one segment is wider."""
MARGIN = 24.0
BREAK_PENALTY = (0.4 * ROW_WIDTH) ** 2
"""Cost of cutting a row inside a frame, per frame cut, against squared distances from the row width."""


@dataclass(frozen=True)
class Placed:
    """An element at its place: its footprint's left edge and its main line, absolute."""

    element: Element
    geometry: Geometry
    x: float
    y: float
    label_y: float
    """Baseline of its H×W×C label."""

    def point(self, local_x: float, local_y: float = 0.0) -> tuple[float, float]:
        return (self.x + local_x, self.y + local_y)

    @property
    def entry(self) -> tuple[float, float]:
        return self.point(self.geometry.entry_x)

    @property
    def exit(self) -> tuple[float, float]:
        return self.point(self.geometry.exit_x)

    @property
    def top(self) -> float:
        return self.y + self.geometry.top

    @property
    def right(self) -> float:
        return self.x + self.geometry.footprint

    @property
    def shape_bounds(self) -> Bounds:
        geometry = self.geometry
        left = self.x + geometry.shape_x
        return (left, self.y + geometry.top, left + geometry.width + geometry.depth_x, self.y + geometry.bottom)

    @property
    def label_bounds(self) -> Bounds | None:
        if not self.geometry.label:
            return None
        centre, half = self.x + self.geometry.footprint / 2, self.geometry.label_width / 2
        return (centre - half, self.label_y - LABEL_SIZE * 0.8, centre + half, self.label_y + LABEL_SIZE * 0.25)


Point = tuple[float, float]
Bounds = tuple[float, float, float, float]
"""Left, top, right, bottom."""


@dataclass(frozen=True)
class Route:
    """How an arrow is drawn: a line, a skip arc over the main path, or a curve through a branch."""

    arrow: Arrow
    kind: Literal["line", "arc", "curve"]
    points: tuple[Point, ...]
    """line: start, end; arc: start, the corner over the start, the corner over the end, end;
    curve: start, where it has bent to the label's height, where it bends away, end (cubic curves at
    either end, straight in between: the bends happen in the gaps ``dot`` leaves between ranks)."""
    label: Point
    """Centre of the label: the title is set above this point, details below (over an arc: all on one line)."""
    lead: tuple[Point, ...] = ()
    """Into a side path from a tensor on an earlier row: the connector from that tensor to ``points[0]``."""

    @property
    def label_bounds(self) -> Bounds | None:
        """Where the arrow's text is drawn."""
        arrow = self.arrow
        if not arrow.text:
            return None
        x, y = self.label
        if self.kind == "arc":
            half = text_width(arc_text(arrow), TITLE_SIZE) / 2
            return (x - half, y - TITLE_SIZE * LINE_HEIGHT - 3, x + half, y)
        above, below = label_extent(arrow)
        half = label_width(arrow) / 2
        return (x - half, y - above, x + half, y + below)


@dataclass(frozen=True)
class FramePiece:
    """A frame (a cluster of the view) on one row."""

    cluster: Cluster
    x0: float
    y0: float
    x1: float
    y1: float
    depth: int
    """How many frames enclose it (0: a top-level one)."""


@dataclass(frozen=True)
class Layout:
    placed: dict[str, Placed]
    routes: tuple[Route, ...]
    frames: tuple[FramePiece, ...]
    width: float
    height: float
    rows: int


@dataclass
class Segment:
    """The elements after one articulation element up to the next, and the arrows into them."""

    start: str
    elements: list[str]
    arrows: list[Arrow]
    chain: bool = True
    width: float = 0.0
    """From the start element's right edge to the last element's right edge."""
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Footprint left and main-line offset of each element, from the start's right edge."""
    labels: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    """For a branch: each arrow's label place (left, right, main-line offset), by the arrow's index."""

    @property
    def end(self) -> str:
        return self.elements[-1]


def layout(plan: VolumePlan, *, wrap: bool = True) -> Layout:
    """Place every element, route every arrow and frame the clusters of ``plan``."""
    geometries = {element.id: element_geometry(element) for element in plan.elements}
    frames = _frames_of(plan)
    paths = [_segments(plan, path) for path in _paths(plan)]
    segments = [segment for path in paths for segment in path]
    chains = [segment for segment in segments if segment.chain]
    branches = [segment for segment in segments if not segment.chain]
    for segment in chains:
        _place_chain(segment, plan, geometries, frames)
    if branches:
        _place_branches(branches, plan, geometries, frames)
    first = plan.elements[0].id
    rows = _rows(paths[0], geometries[first].footprint, frames, wrap)
    return _assemble(plan, geometries, frames, rows, [path for path in paths[1:] if path])


# -- structure ------------------------------------------------------------------------------------

def _frames_of(plan: VolumePlan) -> dict[str, tuple[str, ...]]:
    """For each element, the clusters it is drawn in, outermost first."""
    parents = {cluster.id: cluster.parent for cluster in plan.view.clusters}
    chains: dict[str, tuple[str, ...]] = {"": ()}

    def chain(cluster: str) -> tuple[str, ...]:
        if cluster not in chains:
            chains[cluster] = (*chain(parents[cluster]), cluster)
        return chains[cluster]

    return {element.id: chain(element.frame) for element in plan.elements}


def _paths(plan: VolumePlan) -> list[list[str]]:
    """The main path's elements, then each side path's after the element it leaves from.

    A side path holds the elements that lead to its output and to no output before it; an element
    that leads to no output at all stays on the main path.
    """
    ids = [element.id for element in plan.elements]
    if len(plan.ends) < 2:
        return [ids]
    sources: dict[str, list[str]] = {}
    for arrow in plan.arrows:
        sources.setdefault(arrow.target, []).append(arrow.source)
    path_of: dict[str, int] = {}
    for index, end in enumerate(plan.ends):
        pending = [end]
        while pending:
            element = pending.pop()
            if element not in path_of:
                path_of[element] = index
                pending.extend(sources.get(element, ()))
    paths: list[list[str]] = [[] for _ in plan.ends]
    for element in ids:
        paths[path_of.get(element, 0)].append(element)
    result = [paths[0]]
    order = plan.order
    for path in paths[1:]:
        members = set(path)
        entries = [source for element in path for source in sources.get(element, ()) if source not in members]
        if entries:  # an output drawn twice (one layer named twice) has nothing left of its own
            result.append([max(entries, key=order.__getitem__), *path])
    return result


def _segments(plan: VolumePlan, path: list[str]) -> list[Segment]:
    """A path cut at its articulation elements (no arrow passes over them); ``path[0]`` is where it starts.

    An arrow into a side path from another earlier element is treated as one from its start.
    """
    position = {element: index for index, element in enumerate(path)}
    reach = [0] * len(path)
    """For each position: the furthest position an arrow starting at or before it reaches."""
    by_target: dict[int, list[Arrow]] = {}
    for arrow in plan.arrows:
        target = position.get(arrow.target, 0)
        if target == 0:
            continue
        source = position.get(arrow.source, 0)
        reach[source] = max(reach[source], target)
        by_target.setdefault(target, []).append(arrow)
    furthest = 0
    cuts = [0]
    for index in range(len(path)):
        if index > 0 and furthest <= index:
            cuts.append(index)
        furthest = max(furthest, reach[index])
    segments = []
    for start, end in pairwise(cuts):
        ids = path[start + 1:end + 1]
        arrows = [arrow for index in range(start + 1, end + 1) for arrow in by_target.get(index, [])]
        segment = Segment(path[start], ids, arrows)
        segment.chain = _is_chain(segment)
        segments.append(segment)
    return segments


def _is_chain(segment: Segment) -> bool:
    """Whether each element is fed by the one before it, every other arrow being a shortcut between two of them.

    Parallel paths that are not shortcuts (the branches of a concat) are drawn side by side instead.
    """
    previous = segment.start
    members = {segment.start, *segment.elements}
    if any(arrow.source not in members for arrow in segment.arrows):
        return False  # into a side path from two earlier tensors
    main = set()
    for element in segment.elements:
        candidates = [arrow for arrow in segment.arrows if arrow.source == previous and arrow.target == element]
        if not candidates:
            return False
        main.add(id(_main_arrow(segment, previous, element)))
        previous = element
    return all(arrow.skip for arrow in segment.arrows if id(arrow) not in main)


def _main_arrow(segment: Segment, source: str, target: str) -> Arrow:
    """The arrow drawn along the main line between two consecutive elements (an op before a bare skip)."""
    candidates = [arrow for arrow in segment.arrows if arrow.source == source and arrow.target == target]
    return min(candidates, key=lambda arrow: (arrow.skip, not arrow.text))


# -- spans and labels -----------------------------------------------------------------------------

def label_width(arrow: Arrow) -> float:
    if not arrow.text:
        return 0.0
    widths = [text_width(arrow.text[0], TITLE_SIZE, bold=True)]
    widths += [text_width(line, DETAIL_SIZE) for line in arrow.text[1:]]
    return max(widths)


def arc_text(arrow: Arrow) -> str:
    """Over an arc, the op is written on one line: ``conv 1×1, s=2``."""
    return ", ".join(arrow.text)


def label_extent(arrow: Arrow) -> tuple[float, float]:
    """How far an arrow's text reaches above and below its line."""
    above = TITLE_SIZE * LINE_HEIGHT + 3 if arrow.text else 0.0
    below = DETAIL_SIZE * LINE_HEIGHT * (len(arrow.text) - 1) + 5 if len(arrow.text) > 1 else 0.0
    return above, below


def _crossings(frames: dict[str, tuple[str, ...]], source: str, target: str) -> tuple[int, int]:
    """How many frames an arrow leaves and enters."""
    shared = 0
    for outer, inner in zip(frames[source], frames[target], strict=False):
        if outer != inner:
            break
        shared += 1
    return len(frames[source]) - shared, len(frames[target]) - shared


def _span(arrow: Arrow, frames: dict[str, tuple[str, ...]]) -> tuple[float, float]:
    """The room an arrow takes along the flow, and where its label starts in it."""
    leaves, enters = _crossings(frames, arrow.source, arrow.target)
    before = (leaves + enters) * FRAME_PAD + ARROW_MARGIN
    return before + max(label_width(arrow), MIN_ARROW) + ARROW_MARGIN, before


# -- chains ---------------------------------------------------------------------------------------

def _place_chain(segment: Segment, plan: VolumePlan, geometries: dict[str, Geometry],
                 frames: dict[str, tuple[str, ...]]) -> None:
    cursor = 0.0
    previous = segment.start
    for element in segment.elements:
        span, _ = _span(_main_arrow(segment, previous, element), frames)
        segment.positions[element] = (cursor + span, 0.0)
        cursor += span + geometries[element].footprint
        previous = element
    segment.width = cursor


# -- branches -------------------------------------------------------------------------------------

POINTS_PER_INCH = 72.0
BEND = 26.0
"""Room along the flow for an arrow to bend between a branch's tensors and its label."""


def _place_branches(branches: list[Segment], plan: VolumePlan, geometries: dict[str, Geometry],
                    frames: dict[str, tuple[str, ...]]) -> None:
    """Lay out every branch segment with one run of ``dot``."""
    from archspec.backends.diagram.program import render_dot

    titles = {cluster.id: plan.view.folding.display_name(cluster.id) for cluster in plan.view.clusters}
    source = "\n".join(_branch_dot(index, segment, geometries, frames, titles)
                       for index, segment in enumerate(branches))
    plain = render_dot(source, "plain").decode("utf-8")
    graphs = [block for block in plain.split("\nstop") if block.strip()]
    for segment, block in zip(branches, graphs, strict=True):
        _read_branch(segment, block, geometries)


def _half_height(geometry: Geometry) -> float:
    return max(-geometry.top, geometry.bottom + LABEL_GAP + LABEL_SIZE * LINE_HEIGHT)


def _branch_dot(index: int, segment: Segment, geometries: dict[str, Geometry],
                frames: dict[str, tuple[str, ...]], titles: dict[str, str]) -> str:
    """One segment as a DOT graph: elements and arrow labels as fixed-size boxes, in points.

    The frames drawn inside the segment are DOT clusters, with room for their borders and titles,
    so that ``dot`` keeps the frames of parallel branches apart.
    """
    ids = [segment.start, *segment.elements]
    number = {element: position for position, element in enumerate(ids)}
    lines = [f"digraph b{index} {{", f"rankdir=LR; nodesep=0.18; ranksep={_inches(BEND)}; splines=false;",
             'node [shape=box, fixedsize=true, label=""];']
    nodes: list[tuple[str, tuple[str, ...]]] = []
    """Each node's statement and the frames it is drawn in."""
    for element in ids:
        geometry = geometries[element]
        nodes.append((f"e{number[element]} [width={_inches(geometry.footprint)}, "
                      f"height={_inches(2 * _half_height(geometry))}];", frames[element]))
    edges = []
    for position, arrow in enumerate(segment.arrows):
        span, _ = _span(arrow, frames)
        above, below = label_extent(arrow)
        weight = 1 if arrow.skip else 4
        nodes.append((f"a{position} [width={_inches(span)}, height={_inches(2 * max(above, below, 4.0))}];",
                      frames[arrow.target]))
        source = number.get(arrow.source, 0)  # from outside a side path: from its start
        edges.append(f"e{source} -> a{position} -> e{number[arrow.target]} [weight={weight}];")
    inside = [set(frames[element]) for element in segment.elements]
    drawn = inside[0].union(*inside[1:]) - inside[0].intersection(*inside[1:]) - set(frames[segment.start])
    """Frames that hold some of the segment's elements, not all of them, nor its start."""
    lines.extend(_dot_clusters(nodes, drawn, titles))
    lines.extend(edges)
    lines.append("}")
    return "\n".join(lines)


def _dot_clusters(nodes: list[tuple[str, tuple[str, ...]]], drawn: set[str], titles: dict[str, str],
                  depth: int = 0) -> list[str]:
    """Node statements nested in ``subgraph cluster`` blocks for the frames in ``drawn``, in first-use order."""
    lines: list[str] = []
    groups: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for statement, chain in nodes:
        inner = [cluster for cluster in chain[depth:] if cluster in drawn]
        if not inner:
            lines.append(statement)
            continue
        groups.setdefault(inner[0], []).append((statement, chain[chain.index(inner[0]):]))
    for cluster, members in groups.items():
        title = text_width(titles.get(cluster, cluster), FRAME_TITLE_SIZE, bold=True) + 16
        band = FRAME_TITLE_BAND + FRAME_PAD_Y - FRAME_PAD
        lines.append(f'subgraph "cluster_{cluster}" {{ margin={FRAME_PAD:g}; labelloc=t; labeljust=l; '
                     f'label=<<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0"><TR><TD FIXEDSIZE="TRUE" '
                     f'WIDTH="{round(title)}" HEIGHT="{round(band)}"></TD></TR></TABLE>>;')
        lines.extend(_dot_clusters(members, drawn, titles, 1))
        lines.append("}")
    return lines


def _inches(points: float) -> str:
    return f"{points / POINTS_PER_INCH:.4f}"


_NODE = re.compile(r"^node ([ea])(\d+) (\S+) (\S+) (\S+) (\S+)")


def _read_branch(segment: Segment, plain: str, geometries: dict[str, Geometry]) -> None:
    """Positions relative to the start element's right edge and main line (``dot``'s y axis points up)."""
    ids = [segment.start, *segment.elements]
    centres: dict[str, tuple[float, float, float]] = {}
    for line in plain.splitlines():
        match = _NODE.match(line)
        if match:
            kind, number, x, y, width, _ = match.groups()
            centres[f"{kind}{number}"] = (float(x) * POINTS_PER_INCH, -float(y) * POINTS_PER_INCH,
                                          float(width) * POINTS_PER_INCH)
    start_x, start_y, start_width = centres["e0"]
    origin = start_x + start_width / 2
    for position, element in enumerate(ids[1:], start=1):
        x, y, width = centres[f"e{position}"]
        segment.positions[element] = (x - width / 2 - origin, y - start_y)
    for position in range(len(segment.arrows)):
        x, y, width = centres[f"a{position}"]
        segment.labels[position] = (x - width / 2 - origin, x + width / 2 - origin, y - start_y)
    segment.width = max(left + geometries[element].footprint for element, (left, _) in segment.positions.items())


# -- rows -----------------------------------------------------------------------------------------

def _open_frames(segment: Segment, following: Segment, frames: dict[str, tuple[str, ...]]) -> int:
    """How many frames stay open between two segments (a row cut there cuts them)."""
    first = following.elements[0]
    return sum(1 for outer, inner in zip(frames[segment.end], frames[first], strict=False) if outer == inner)


def _row_start_offset(segment: Segment, frames: dict[str, tuple[str, ...]]) -> float:
    """Where a segment starting a continued row (or a side path) begins, from the margin.

    Its first arrows came with room for the frames they leave (closed on the row above); they need
    room for the frames left open instead, which reopen at the margin.
    """
    leaves, _ = _crossings(frames, segment.start, segment.elements[0])
    open_frames = sum(1 for outer, inner in zip(frames[segment.start], frames[segment.elements[0]], strict=False)
                      if outer == inner)
    return (open_frames - leaves) * FRAME_PAD


def _rows(segments: list[Segment], first_width: float, frames: dict[str, tuple[str, ...]],
          wrap: bool) -> list[list[Segment]]:
    """Segments grouped into rows: balanced widths, few frames cut (dynamic programming over the cuts)."""
    count = len(segments)
    if not wrap or count == 0:
        return [segments]

    def start_extra(index: int) -> float:
        return first_width if index == 0 else _row_start_offset(segments[index], frames)

    def end_extra(index: int) -> float:
        return len(frames[segments[index].end]) * FRAME_PAD

    total = first_width + sum(segment.width for segment in segments)
    count_goal = max(1, -(-int(total) // int(ROW_WIDTH)))
    rows = _balanced_rows(segments, total / count_goal, start_extra, end_extra, frames)
    if len(rows) > count_goal:  # wide segments forced more rows: balance around their real number
        rows = _balanced_rows(segments, total / len(rows), start_extra, end_extra, frames)
    return rows


def _balanced_rows(segments: list[Segment], target: float, start_extra: Callable[[int], float],
                   end_extra: Callable[[int], float], frames: dict[str, tuple[str, ...]]) -> list[list[Segment]]:
    count = len(segments)
    best: list[tuple[float, int]] = [(0.0, 0)] + [(float("inf"), 0)] * count
    """For each prefix of segments: the least cost of its rows and where its last row starts."""
    for end in range(1, count + 1):
        width = end_extra(end - 1)
        for start in range(end - 1, -1, -1):
            width += segments[start].width
            row = width + start_extra(start)
            if row > ROW_WIDTH and start < end - 1:
                break
            cost = best[start][0] + (row - target) ** 2
            if start > 0:
                cost += BREAK_PENALTY * _open_frames(segments[start - 1], segments[start], frames)
            if cost < best[end][0]:
                best[end] = (cost, start)
    cuts = []
    end = count
    while end > 0:
        start = best[end][1]
        cuts.append((start, end))
        end = start
    return [segments[start:end] for start, end in reversed(cuts)]


# -- assembly -------------------------------------------------------------------------------------

def _assemble(plan: VolumePlan, geometries: dict[str, Geometry], frames: dict[str, tuple[str, ...]],
              rows: list[list[Segment]], side_paths: list[list[Segment]]) -> Layout:
    """The rows stacked top to bottom, each side path on its own row right under the row it leaves from."""
    placed: dict[str, Placed] = {}
    routes: list[Route] = []
    pieces: list[FramePiece] = []
    first = plan.elements[0]
    top = MARGIN
    width = 0.0

    def add(row: list[Segment], origin: float, entry: float, row_placed: dict[str, Placed],
            side_start: float | None = None) -> None:
        """Place one row at ``top``; ``side_start``: it is a side path's, its arrows from outside leading in there."""
        nonlocal top, width
        offsets = []
        for segment in row:
            offsets.append(origin)
            for element, (left, dy) in segment.positions.items():
                row_placed[element] = Placed(plan.by_id[element], geometries[element], origin + left, dy, 0.0)
            origin += segment.width
        row_right = origin + (len(frames[row[-1].end]) * FRAME_PAD if row else 0.0)
        row_placed = _with_labels(row_placed, row)
        row_routes = _row_routes(row, offsets, row_placed, frames, entry)
        row_pieces = _frame_pieces(plan, row_placed, row_routes, frames)
        row_top = min([p.top for p in row_placed.values()]
                      + [_route_top(route) for route in row_routes] + [piece.y0 for piece in row_pieces])
        row_bottom = max([p.label_y + 4 for p in row_placed.values()] + [piece.y1 for piece in row_pieces]
                         + [_route_bottom(route) for route in row_routes])
        shift = top - row_top
        row_routes = [_moved_route(route, shift) for route in row_routes]
        if side_start is not None:
            row_routes = [_led_in(route, placed, side_start, top - ROW_GAP / 2) for route in row_routes]
        placed.update({key: _moved(value, shift) for key, value in row_placed.items()})
        routes.extend(row_routes)
        pieces.extend(FramePiece(p.cluster, p.x0, p.y0 + shift, p.x1, p.y1 + shift, p.depth) for p in row_pieces)
        top += row_bottom - row_top + ROW_GAP
        width = max(width, row_right + MARGIN)

    waiting = list(side_paths)
    for row_index, row in enumerate(rows):
        if row_index == 0:
            start = {first.id: Placed(first, geometries[first.id], MARGIN, 0.0, 0.0)}
            add(row, MARGIN + geometries[first.id].footprint, MARGIN / 2, start)
        else:
            add(row, MARGIN + _row_start_offset(row[0], frames), MARGIN / 2, {})
        while any(path[0].start in placed for path in waiting):  # side paths leave from this row (or one of them)
            path = next(path for path in waiting if path[0].start in placed)
            waiting.remove(path)
            offset = MARGIN / 2 + _row_start_offset(path[0], frames)
            path_width = offset + sum(segment.width for segment in path) + len(frames[path[-1].end]) * FRAME_PAD
            source = placed[path[0].start]
            side_start = min(source.right + LEAD_GAP,
                             max(MARGIN / 2, max(MARGIN + ROW_WIDTH, width - MARGIN) - path_width))
            add(path, side_start + offset, side_start, {}, side_start)
    return Layout(placed, tuple(routes), tuple(pieces), width, top - ROW_GAP + MARGIN, len(rows) + len(side_paths))


LEAD_GAP = 4.0
"""Between a side path's source and the connector that leaves it downwards."""


def _led_in(route: Route, placed: dict[str, Placed], side_start: float, lane: float) -> Route:
    """A route into a side path from a tensor on an earlier row, with the connector from that tensor.

    The connector leaves the tensor along its main line, turns down just past its footprint, and,
    when the side path starts further left, runs left in the gap above the side path's row.
    """
    source = placed.get(route.arrow.source)
    if source is None:
        return route
    x = source.right + LEAD_GAP
    lead = [source.exit, (x, source.y)]
    if side_start < x - 0.5:
        lead += [(x, lane), (side_start, lane)]
    return replace(route, lead=tuple(lead))


def _with_labels(row_placed: dict[str, Placed], row: list[Segment]) -> dict[str, Placed]:
    """Labels of elements on the main line share one baseline; those on a branch sit under their shapes."""
    on_line = [p for p in row_placed.values() if abs(p.y) < 0.5]
    baseline = max((p.geometry.bottom for p in on_line), default=0.0) + LABEL_GAP + LABEL_SIZE
    result = {}
    for key, p in row_placed.items():
        label_y = baseline if abs(p.y) < 0.5 else p.y + p.geometry.bottom + LABEL_GAP + LABEL_SIZE
        result[key] = Placed(p.element, p.geometry, p.x, p.y, label_y)
    return result


def _row_routes(row: list[Segment], offsets: list[float], placed: dict[str, Placed],
                frames: dict[str, tuple[str, ...]], entry: float) -> list[Route]:
    """Every arrow of a row; those from a tensor on an earlier row start at ``entry`` (a continued row's margin)."""
    routes: list[Route] = []
    for segment, origin in zip(row, offsets, strict=True):
        if segment.chain:
            routes.extend(_chain_routes(segment, origin, placed, frames, entry))
            continue
        for index, arrow in enumerate(segment.arrows):
            left, right, dy = segment.labels[index]
            source_right = placed[arrow.source].right if arrow.source in placed else origin
            bend_in = min(source_right + BEND, origin + left)
            bend_out = max(placed[arrow.target].x - BEND, origin + right)
            points = (_start(arrow, placed, entry), (bend_in, dy), (bend_out, dy), placed[arrow.target].entry)
            routes.append(Route(arrow, "curve", points, (origin + (left + right) / 2, dy)))
    return routes


def _start(arrow: Arrow, placed: dict[str, Placed], entry: float) -> Point:
    """Where an arrow leaves its source: the source's exit, or ``entry`` if the source is on an earlier row."""
    return placed[arrow.source].exit if arrow.source in placed else (entry, 0.0)


def _chain_routes(segment: Segment, origin: float, placed: dict[str, Placed],
                  frames: dict[str, tuple[str, ...]], entry: float) -> list[Route]:
    """Straight arrows along the main line, then arcs over it, the shortest first."""
    previous = segment.start
    routes: list[Route] = []
    for element in segment.elements:
        arrow = _main_arrow(segment, previous, element)
        _, before = _span(arrow, frames)
        label_start = (placed[previous].right if previous in placed else origin) + before
        label_x = (label_start + placed[element].x - ARROW_MARGIN) / 2
        routes.append(Route(arrow, "line", (_start(arrow, placed, entry), placed[element].entry), (label_x, 0.0)))
        previous = element
    drawn = {id(route.arrow) for route in routes}
    arcs = sorted((arrow for arrow in segment.arrows if id(arrow) not in drawn),
                  key=lambda arrow: _arc_length(segment, arrow))
    for arrow in arcs:
        routes.append(_arc(segment, arrow, placed, routes, entry))
    return routes


def _arc_length(segment: Segment, arrow: Arrow) -> int:
    ids = [segment.start, *segment.elements]
    return ids.index(arrow.target) - ids.index(arrow.source)


def _arc(segment: Segment, arrow: Arrow, placed: dict[str, Placed], routes: Sequence[Route], entry: float) -> Route:
    """A skip arc over the main path, clear of every shape, label and shorter arc under it."""
    target = placed[arrow.target]
    end_x, end_y = target.point(*target.geometry.arc_anchor)
    source = placed.get(arrow.source)
    start_x = source.point(*source.geometry.arc_anchor)[0] if source is not None else entry
    ids = [segment.start, *segment.elements]
    under = ids[ids.index(arrow.source):ids.index(arrow.target) + 1]
    ceiling = min(placed[element].top for element in under if element in placed)
    for route in routes:
        if start_x - 1 <= route.label[0] <= end_x + 1:
            ceiling = min(ceiling, _route_top(route))
    height = ceiling - ARC_CLEARANCE
    start_y = source.point(*source.geometry.arc_anchor)[1] if source is not None else height
    return Route(arrow, "arc", ((start_x, start_y), (start_x, height), (end_x, height), (end_x, end_y)),
                 ((start_x + end_x) / 2, height))


def _route_top(route: Route) -> float:
    """The highest point of an arrow's line (for an arc: its crossing) and text."""
    line = route.points[1][1] if route.kind == "arc" else route.label[1]
    bounds = route.label_bounds
    return min(line, bounds[1]) if bounds is not None else line


def _route_bottom(route: Route) -> float:
    if route.kind == "arc":
        return route.points[1][1]
    bounds = route.label_bounds
    return bounds[3] if bounds is not None else route.label[1]


def _frame_pieces(plan: VolumePlan, placed: dict[str, Placed], routes: list[Route],
                  frames: dict[str, tuple[str, ...]]) -> list[FramePiece]:
    """Each cluster with elements on this row, around them, the arrows into them and the frames inside."""
    members: dict[str, list[str]] = {}
    depths: dict[str, int] = {}
    for element in placed:
        for depth, cluster in enumerate(frames[element]):
            members.setdefault(cluster, []).append(element)
            depths[cluster] = depth
    routes_into: dict[str, list[Route]] = {}
    for route in routes:
        routes_into.setdefault(route.arrow.target, []).append(route)
    clusters = plan.view.clusters_by_id
    pieces: dict[str, FramePiece] = {}
    inside: dict[str, list[FramePiece]] = {}
    """The pieces made so far, by their cluster's parent."""
    for cluster_id in sorted(members, key=lambda cluster: -depths[cluster]):  # inner frames first
        ids = members[cluster_id]
        x0, x1 = min(placed[e].x for e in ids), max(placed[e].right for e in ids)
        y0, y1 = min(placed[e].top for e in ids), max(placed[e].label_y + 4 for e in ids)
        for route in (route for element in ids for route in routes_into.get(element, [])):
            y0 = min(y0, _route_top(route))
            if route.kind == "arc":
                continue  # its horizontal run may start outside the frame
            y1 = max(y1, _route_bottom(route))
            bounds = route.label_bounds
            x0 = min(x0, bounds[0] if bounds else route.points[1][0] if route.kind == "curve" else x0)
        for inner in inside.get(cluster_id, ()):
            x0, y0, x1, y1 = min(x0, inner.x0), min(y0, inner.y0), max(x1, inner.x1), max(y1, inner.y1)
        piece = FramePiece(clusters[cluster_id], x0 - FRAME_PAD + 2, y0 - FRAME_PAD_Y - FRAME_TITLE_BAND,
                           x1 + FRAME_PAD - 2, y1 + FRAME_PAD_Y, depths[cluster_id])
        pieces[cluster_id] = piece
        inside.setdefault(piece.cluster.parent, []).append(piece)
    return sorted(pieces.values(), key=lambda piece: (piece.depth, piece.x0))


def _moved(p: Placed, shift: float) -> Placed:
    return Placed(p.element, p.geometry, p.x, p.y + shift, p.label_y + shift)


def _moved_route(route: Route, shift: float) -> Route:
    return replace(route, points=tuple((x, y + shift) for x, y in route.points),
                   label=(route.label[0], route.label[1] + shift))
