"""Writing a volume figure as SVG, by hand: small, deterministic, and the same in every viewer.

Every number is rounded to a tenth of a pixel and every item is written in plan order, so the
same spec and options always give byte-identical SVG.  Text uses the Graphviz style's font
list; shapes carry ``class`` and ``data-`` attributes that say what they stand for.
"""

from __future__ import annotations

from html import escape

from archspec.backends.diagram import theme
from archspec.backends.diagram.view import cluster_note
from archspec.backends.volumes.geometry import (
    JOIN_RADIUS,
    LABEL_SIZE,
    OUTPUT_NAME_SIZE,
    OUTPUT_NOTE,
    OUTPUT_NOTE_SIZE,
    OUTPUT_PAD,
)
from archspec.backends.volumes.layout import (
    DETAIL_SIZE,
    FRAME_COUNT_SIZE,
    FRAME_TITLE_SIZE,
    LINE_HEIGHT,
    TITLE_SIZE,
    FramePiece,
    Layout,
    Placed,
    Point,
    Route,
    arc_text,
)
from archspec.backends.volumes.metrics import text_width
from archspec.backends.volumes.plan import BLOCK_FAMILY, INPUT_FAMILY, VolumePlan

HEADING_SIZE = 22.0
SUBTITLE_SIZE = 13.0
LEGEND_SIZE = 12.0
HEADER_MARGIN = 24.0
ARROW_HEAD = (8.0, 3.5)
"""Length and half-width of an arrowhead."""
DASH = "5 4"
ARC_RADIUS = 10.0


def number(value: float) -> str:
    """A coordinate as SVG writes it: one decimal, no trailing zero, no negative zero."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def points_text(points: list[Point] | tuple[Point, ...]) -> str:
    return " ".join(f"{number(x)},{number(y)}" for x, y in points)


def mix(first: str, second: str, amount: float) -> str:
    """A colour ``amount`` of the way from ``first`` to ``second`` (hex ``#rrggbb``)."""
    channels = []
    for position in (1, 3, 5):
        a, b = int(first[position:position + 2], 16), int(second[position:position + 2], 16)
        channels.append(round(a + (b - a) * amount))
    return "#" + "".join(f"{channel:02x}" for channel in channels)


INPUT_STYLE = theme.FamilyStyle("#ffffff", "#404040", "input")
"""The input is drawn as a plain white block, apart from every op's colour."""


def style_of(family: str) -> theme.FamilyStyle:
    if family == INPUT_FAMILY:
        return INPUT_STYLE
    if family == BLOCK_FAMILY:
        return theme.BLOCK_STYLE
    return theme.family_style(family)


def face_colours(style: theme.FamilyStyle) -> tuple[str, str, str]:
    """Front, top and side fills: the family's fill, shaded as if lit from above left."""
    if style is INPUT_STYLE:
        return style.fill, mix(style.fill, style.border, 0.05), mix(style.fill, style.border, 0.16)
    return (mix(style.fill, style.border, 0.18), mix(style.fill, "#ffffff", 0.35),
            mix(style.fill, style.border, 0.42))


def figure_svg(plan: VolumePlan, placed_layout: Layout) -> str:
    """The whole figure: title, legend, frames, arrows, tensors and labels."""
    header, header_height, header_width = _header(plan)
    width = max(placed_layout.width, header_width + 2 * HEADER_MARGIN)
    height = placed_layout.height + header_height
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{number(width)}" height="{number(height)}" '
        f'viewBox="0 0 {number(width)} {number(height)}" font-family="{theme.FONT}" '
        f'fill="{theme.TEXT_COLOR}">',
        f"<title>{escape(plan.view.graph.name)}</title>",
        f'<rect class="background" width="{number(width)}" height="{number(height)}" fill="white"/>',
        *header,
        f'<g class="figure" transform="translate(0,{number(header_height)})">',
    ]
    out.extend(_frame(plan, piece) for piece in placed_layout.frames)
    out.extend(_route(route) for route in placed_layout.routes if route.kind != "arc")
    out.extend(_element(placed) for placed in placed_layout.placed.values())
    out.extend(_route(route) for route in placed_layout.routes if route.kind == "arc")
    out.extend(_route_label(route) for route in placed_layout.routes if route.arrow.text)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(line for line in out if line) + "\n"


# -- header ---------------------------------------------------------------------------------------

def _header(plan: VolumePlan) -> tuple[list[str], float, float]:
    """The title, a line of facts and the legend; their height and width."""
    graph = plan.view.graph
    facts = f"input {theme.volume_text(graph.input_shape)} · {graph.parameters:,} parameters"
    x = HEADER_MARGIN
    title_y = HEADER_MARGIN + HEADING_SIZE
    facts_y = title_y + SUBTITLE_SIZE * 1.6
    out = [
        '<g class="header">',
        f'<text x="{number(x)}" y="{number(title_y)}" font-size="{number(HEADING_SIZE)}" '
        f'font-weight="bold">{escape(graph.name)}</text>',
        f'<text x="{number(x)}" y="{number(facts_y)}" font-size="{number(SUBTITLE_SIZE)}" '
        f'fill="{theme.MUTED_COLOR}">{escape(facts)}</text>',
    ]
    legend_y = facts_y + 24
    cursor = x
    for kind, text, family in _legend_items(plan):
        out.append(f'<g class="legend-item" data-family="{escape(family)}">')
        if kind == "swatch":
            out.append(_cube(cursor, legend_y - 10, 14, 10, 6, 4, style_of(family)))
            cursor += 26
        elif kind == "skip":
            out.append(f'<path d="M{number(cursor)},{number(legend_y - 4)} h22" stroke="{theme.SKIP_COLOR}" '
                       f'stroke-width="1.4" stroke-dasharray="{DASH}" fill="none"/>')
            cursor += 28
        else:
            out.append(_join_symbol(cursor + 8, legend_y - 4, 7, family))
            cursor += 22
        out.append(f'<text x="{number(cursor)}" y="{number(legend_y)}" font-size="{number(LEGEND_SIZE)}">'
                    f"{escape(text)}</text></g>")
        cursor += text_width(text, LEGEND_SIZE) + 18
    out.append("</g>")
    header_width = max(cursor, x + text_width(graph.name, HEADING_SIZE, bold=True),
                       x + text_width(facts, SUBTITLE_SIZE)) - x
    return out, legend_y + 8, header_width


def _legend_items(plan: VolumePlan) -> list[tuple[str, str, str]]:
    """What the figure uses: op families (by the tensors they make), join symbols, shortcuts."""
    families = {element.family for element in plan.elements if element.kind not in ("join", "output")}
    families |= {arrow.family for arrow in plan.arrows if arrow.family}
    items = [("swatch", style_of(family).title, family)
             for family in (INPUT_FAMILY, *theme.FAMILY_ORDER, BLOCK_FAMILY) if family in families and family != "join"]
    symbols = {element.symbol for element in plan.elements if element.kind == "join"}
    for symbol in sorted(symbols):
        items.append(("join", _join_name(symbol), symbol))
    if any(arrow.skip for arrow in plan.arrows):
        items.append(("skip", "shortcut", "shortcut"))
    return items


def _join_name(symbol: str) -> str:
    return {"+": "sum", "concat": "concatenation"}.get(symbol, symbol)


# -- shapes ---------------------------------------------------------------------------------------

def _cube(x: float, y: float, width: float, height: float, depth_x: float, depth_y: float,
          style: theme.FamilyStyle) -> str:
    """A box in oblique projection, front face at (x, y); shaded: top lightest, side darkest."""
    front = [(x, y), (x + width, y), (x + width, y + height), (x, y + height)]
    top = [(x, y), (x + depth_x, y - depth_y), (x + width + depth_x, y - depth_y), (x + width, y)]
    side = [(x + width, y), (x + width + depth_x, y - depth_y), (x + width + depth_x, y + height - depth_y),
            (x + width, y + height)]
    front_fill, top_fill, side_fill = face_colours(style)
    return (f'<g stroke="{style.border}" stroke-width="0.8" stroke-linejoin="round">'
            f'<polygon points="{points_text(front)}" fill="{front_fill}"/>'
            f'<polygon points="{points_text(top)}" fill="{top_fill}"/>'
            f'<polygon points="{points_text(side)}" fill="{side_fill}"/></g>')


def _join_symbol(x: float, y: float, radius: float, symbol: str) -> str:
    """⊕ for a sum, a circle with ‖ for a concatenation, the label in a circle otherwise (drawn, not typed)."""
    style = theme.family_style("join")
    circle = (f'<circle cx="{number(x)}" cy="{number(y)}" r="{number(radius)}" fill="white" '
              f'stroke="{style.border}" stroke-width="1.3"/>')
    inner = radius * 0.6
    if symbol == "+":
        marks = f"M{number(x - inner)},{number(y)} h{number(2 * inner)} M{number(x)},{number(y - inner)} " \
                f"v{number(2 * inner)}"
    elif symbol == "concat":
        gap = radius * 0.22
        marks = f"M{number(x - gap)},{number(y - inner)} v{number(2 * inner)} " \
                f"M{number(x + gap)},{number(y - inner)} v{number(2 * inner)}"
    else:
        return (circle + f'<text x="{number(x)}" y="{number(y + 3.5)}" font-size="10" text-anchor="middle">'
                         f"{escape(symbol[:2])}</text>")
    return circle + f'<path d="{marks}" stroke="{style.border}" stroke-width="1.4" fill="none"/>'


def _element(placed: Placed) -> str:
    element, geometry = placed.element, placed.geometry
    attributes = (f'class="{element.kind}" data-name="{escape(element.id)}" '
                  f'data-shape="{escape(",".join(str(d) for d in element.shape))}"')
    if element.kind == "join":
        cx = placed.x + geometry.shape_x + JOIN_RADIUS
        return f"<g {attributes}>{_join_symbol(cx, placed.y, JOIN_RADIUS, element.symbol)}</g>"
    if element.kind == "output":
        return f"<g {attributes}>{_output_box(placed)}</g>"
    x = placed.x + geometry.shape_x
    y = placed.y - geometry.height / 2
    cube = _cube(x, y, geometry.width, geometry.height, geometry.depth_x, geometry.depth_y, style_of(element.family))
    label = (f'<text x="{number(placed.x + geometry.footprint / 2)}" y="{number(placed.label_y)}" '
             f'font-size="{number(LABEL_SIZE)}" text-anchor="middle">{escape(geometry.label)}</text>')
    return f"<g {attributes}>{cube}{label}</g>"


def _output_box(placed: Placed) -> str:
    """An output's name in a rounded box (dashed, and marked, when it exists only in training)."""
    element, geometry = placed.element, placed.geometry
    x, y = placed.x + geometry.shape_x, placed.y - geometry.height / 2
    dash = f' stroke-dasharray="{DASH}"' if element.training_only else ""
    centre = x + geometry.width / 2
    name_y = y + OUTPUT_PAD + OUTPUT_NAME_SIZE * 0.8
    out = [f'<rect x="{number(x)}" y="{number(y)}" width="{number(geometry.width)}" '
           f'height="{number(geometry.height)}" rx="8" fill="white" stroke="{theme.TEXT_COLOR}" '
           f'stroke-width="1.2"{dash}/>',
           f'<text x="{number(centre)}" y="{number(name_y)}" font-size="{number(OUTPUT_NAME_SIZE)}" '
           f'font-weight="bold" text-anchor="middle">{escape(element.symbol)}</text>']
    if element.training_only:
        out.append(f'<text x="{number(centre)}" y="{number(name_y + OUTPUT_NOTE_SIZE * 1.3)}" '
                   f'font-size="{number(OUTPUT_NOTE_SIZE)}" fill="{theme.MUTED_COLOR}" text-anchor="middle">'
                   f"{OUTPUT_NOTE}</text>")
    return "".join(out)


# -- arrows ---------------------------------------------------------------------------------------

def _route(route: Route) -> str:
    skip = route.arrow.skip
    colour = theme.SKIP_COLOR if skip else theme.EDGE_COLOR
    dash = f' stroke-dasharray="{DASH}"' if skip or route.arrow.training_only else ""
    points = route.points
    if route.kind == "line":
        (x0, y0), (x1, y1) = points
        path = f"M{number(x0)},{number(y0)} L{number(x1)},{number(y1)}"
        before = points[0]
    elif route.kind == "arc":
        (x0, y0), (_, height), (x1, _), (x2, y2) = points
        radius = min(ARC_RADIUS, abs(x1 - x0) / 2, abs(y2 - height))
        path = f"M{number(x0)},{number(y0)}"
        if y0 > height + radius:
            path += f" L{number(x0)},{number(height + radius)} Q{number(x0)},{number(height)} " \
                    f"{number(x0 + radius)},{number(height)}"
        path += f" L{number(x1 - radius)},{number(height)} Q{number(x1)},{number(height)} " \
                f"{number(x1)},{number(height + radius)} L{number(x2)},{number(y2)}"
        before = (x1, height)
    else:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
        bend_in, bend_out = (x1 - x0) / 2, (x3 - x2) / 2
        path = (f"M{number(x0)},{number(y0)} C{number(x0 + bend_in)},{number(y0)} {number(x1 - bend_in)},{number(y1)} "
                f"{number(x1)},{number(y1)} L{number(x2)},{number(y2)} C{number(x2 + bend_out)},{number(y2)} "
                f"{number(x3 - bend_out)},{number(y3)} {number(x3)},{number(y3)}")
        before = (x2 + bend_out, y3) if bend_out > 1 else (x2, y2)
    if route.lead:  # the connector from a tensor on an earlier row into a side path
        lead = " ".join(f"L{number(x)},{number(y)}" for x, y in route.lead[1:])
        (lead_x, lead_y), (x0, y0) = route.lead[0], points[0]
        path = f"M{number(lead_x)},{number(lead_y)} {lead} L{number(x0)},{number(y0)}" + path[path.index(" "):]
    head = _arrowhead(before, points[-1])
    return (f'<g class="{"skip" if skip else "arrow"}" data-from="{escape(route.arrow.source)}" '
            f'data-to="{escape(route.arrow.target)}"><path d="{path}" fill="none" stroke="{colour}" '
            f'stroke-width="1.3"{dash}/><polygon points="{points_text(head)}" fill="{colour}"/></g>')


def _arrowhead(before: Point, tip: Point) -> list[Point]:
    length, half = ARROW_HEAD
    dx, dy = tip[0] - before[0], tip[1] - before[1]
    norm = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / norm, dy / norm
    base = (tip[0] - ux * length, tip[1] - uy * length)
    return [tip, (base[0] - uy * half, base[1] + ux * half), (base[0] + uy * half, base[1] - ux * half)]


def _route_label(route: Route) -> str:
    arrow = route.arrow
    style = style_of(arrow.family) if arrow.family else style_of("other")
    title_colour = theme.SKIP_COLOR if arrow.skip else style.border
    x, y = route.label
    lines = list(arrow.text)
    out = [f'<g class="op" data-to="{escape(arrow.target)}" text-anchor="middle">']
    if route.kind == "arc":
        text = arc_text(arrow)
        out.append(f'<text x="{number(x)}" y="{number(y - 5)}" font-size="{number(TITLE_SIZE)}" '
                   f'fill="{title_colour}">{escape(text)}</text>')
    else:
        out.append(f'<text x="{number(x)}" y="{number(y - 5)}" font-size="{number(TITLE_SIZE)}" '
                   f'font-weight="bold" fill="{title_colour}">{escape(lines[0])}</text>')
        for index, line in enumerate(lines[1:], start=1):
            baseline = y + 4 + DETAIL_SIZE * LINE_HEIGHT * index - 2
            out.append(f'<text x="{number(x)}" y="{number(baseline)}" font-size="{number(DETAIL_SIZE)}" '
                       f'fill="{theme.MUTED_COLOR}">{escape(line)}</text>')
    out.append("</g>")
    return "".join(out)


# -- frames ---------------------------------------------------------------------------------------

def _frame(plan: VolumePlan, piece: FramePiece) -> str:
    cluster = piece.cluster
    folded = cluster.run is not None and cluster.run.folded
    fill = theme.RUN_FILL if folded else theme.CLUSTER_FILL
    name = plan.view.folding.display_name(cluster.id)
    x, y = piece.x0 + 8, piece.y0 + 16
    out = [f'<g class="frame" data-cluster="{escape(cluster.id)}">',
           f'<rect x="{number(piece.x0)}" y="{number(piece.y0)}" width="{number(piece.x1 - piece.x0)}" '
           f'height="{number(piece.y1 - piece.y0)}" rx="6" fill="{fill}" stroke="{theme.CLUSTER_BORDER}" '
           f'stroke-width="1"/>',
           f'<text x="{number(x)}" y="{number(y)}" font-size="{number(FRAME_TITLE_SIZE)}" font-weight="bold">'
           f"{escape(name)}</text>"]
    x += text_width(name, FRAME_TITLE_SIZE, bold=True) + 6
    if folded and cluster.run is not None:
        count = f"×{cluster.run.count}" + (f", {cluster.run.span}" if cluster.run.span else "")
        out.append(f'<text class="count" x="{number(x)}" y="{number(y + 1)}" font-size="{number(FRAME_COUNT_SIZE)}" '
                   f'font-weight="bold" fill="{theme.SKIP_COLOR}">{escape(count)}</text>')
        x += text_width(count, FRAME_COUNT_SIZE, bold=True) + 6
    note = cluster_note(plan.view, cluster)
    if note:
        out.append(f'<text x="{number(x)}" y="{number(y)}" font-size="{number(DETAIL_SIZE)}" '
                   f'fill="{theme.MUTED_COLOR}">{escape(note)}</text>')
    out.append("</g>")
    return "".join(out)
