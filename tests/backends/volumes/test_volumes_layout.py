"""Placement: nothing drawn on top of anything else, rows, skip arcs, branches laid out by dot, frames."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from archspec.backends.diagram.view import diagram_view
from archspec.backends.graphviz import GraphvizError
from archspec.backends.volumes.layout import (
    FRAME_TITLE_BAND,
    FRAME_TITLE_SIZE,
    MARGIN,
    ROW_WIDTH,
    Bounds,
    Layout,
    layout,
)
from archspec.backends.volumes.metrics import text_width
from archspec.backends.volumes.plan import VolumePlan, plan_volumes
from archspec.graph.ir import Graph
from archspec.graph.lower import analyse
from archspec.spec.builtin import builtin_spec_names, zoo_spec_names

DATA = Path(__file__).resolve().parents[2] / "data" / "graphviz"
OUTPUTS = Path(__file__).resolve().parents[2] / "data" / "outputs"
TOLERANCE = 0.5


@cache
def graph(name: str) -> Graph:
    for folder in (DATA, OUTPUTS):
        if (folder / f"{name}.yaml").exists():
            return analyse(folder / f"{name}.yaml")
    return analyse(name)


def figure(name: str, wrap: bool = True, **options) -> tuple[VolumePlan, Layout]:
    show_params = options.pop("show_params", False)
    plan = plan_volumes(diagram_view(graph(name), **options), show_params=show_params)
    return plan, layout(plan, wrap=wrap)


def drawn_items(result: Layout) -> list[tuple[str, Bounds]]:
    """Everything that must not overlap: shapes, tensor labels, op labels."""
    items: list[tuple[str, Bounds]] = []
    for key, placed in result.placed.items():
        items.append((f"shape {key}", placed.shape_bounds))
        if placed.label_bounds is not None:
            items.append((f"label {key}", placed.label_bounds))
    for route in result.routes:
        if route.label_bounds is not None:
            items.append((f"op {route.arrow.source} -> {route.arrow.target}", route.label_bounds))
    return items


def intersect(a: Bounds, b: Bounds) -> bool:
    return (a[0] < b[2] - TOLERANCE and b[0] < a[2] - TOLERANCE
            and a[1] < b[3] - TOLERANCE and b[1] < a[3] - TOLERANCE)


def assert_nothing_overlaps(plan: VolumePlan, result: Layout) -> None:
    items = sorted(drawn_items(result), key=lambda item: item[1][0])
    for index, (name, bounds) in enumerate(items):
        for other, other_bounds in items[index + 1:]:
            if other_bounds[0] >= bounds[2]:
                break
            assert not intersect(bounds, other_bounds), f"{name} overlaps {other}"
    for route in result.routes:  # an arc passes over everything under it
        if route.kind == "arc":
            (x0, _), (_, height), (x1, _), _ = route.points
            for name, bounds in items:
                if bounds[0] < x1 and x0 < bounds[2] and not name.startswith(f"op {route.arrow.source} -> "
                                                                                f"{route.arrow.target}"):
                    assert not bounds[1] + TOLERANCE < height < bounds[3] - TOLERANCE, f"arc crosses {name}"
    clusters = plan.view.clusters_by_id
    for piece in result.frames:  # a frame's title is clear of what is drawn, and frames nest
        title = plan.view.folding.display_name(piece.cluster.id)
        band = (piece.x0, piece.y0, piece.x0 + 16 + text_width(title, FRAME_TITLE_SIZE, bold=True),
                piece.y0 + FRAME_TITLE_BAND)
        for name, bounds in items:
            assert not intersect(band, bounds), f"title of {piece.cluster.id} overlaps {name}"
        for other in result.frames:
            if other is piece or not intersect((piece.x0, piece.y0, piece.x1, piece.y1),
                                               (other.x0, other.y0, other.x1, other.y1)):
                continue
            inner, outer = (piece, other) if piece.depth > other.depth else (other, piece)
            ancestor = clusters[inner.cluster.id].parent
            while ancestor and ancestor != outer.cluster.id:
                ancestor = clusters[ancestor].parent
            assert ancestor == outer.cluster.id, f"{piece.cluster.id} and {other.cluster.id} overlap"
            assert outer.x0 < inner.x0 and inner.x1 < outer.x1 and outer.y0 < inner.y0 and inner.y1 < outer.y1
    frames_of = {cluster.id: cluster.parent for cluster in plan.view.clusters}
    for key, placed in result.placed.items():  # a frame holds no shape of a layer outside it
        inside = set()
        cluster = placed.element.frame
        while cluster:
            inside.add(cluster)
            cluster = frames_of[cluster]
        for piece in result.frames:
            if piece.cluster.id not in inside:
                assert not intersect((piece.x0, piece.y0, piece.x1, piece.y1), placed.shape_bounds), \
                    f"frame {piece.cluster.id} overlaps {key}"


@pytest.mark.parametrize("name", builtin_spec_names() + zoo_spec_names())
def test_builtin_figures_have_no_overlaps(name):
    """Every built-in network, the zoo's included: inception_v3's auxiliary head once lay over Mixed_7a."""
    assert_nothing_overlaps(*figure(name))


@pytest.mark.parametrize(("name", "options"), [
    ("resnet50", {"depth": 0}),
    ("resnet50", {"depth": 1}),
    ("resnet50", {"expand": True}),
    ("resnet18", {"show_params": True}),
    ("inception", {}),
    ("inception", {"expand": True}),
    ("nested_repeat", {}),
    ("nested_repeat", {"depth": 1}),
    ("growing_repeat", {}),
    ("alexnet_paper", {"wrap": False}),
    ("two_heads", {}),
    ("three_heads", {}),
    ("inception_v3", {"wrap": False}),
])
def test_variants_have_no_overlaps(name, options):
    assert_nothing_overlaps(*figure(name, **options))


def test_rows_are_balanced_and_bounded():
    _, wrapped = figure("vgg16")
    assert wrapped.rows > 1 and wrapped.width <= ROW_WIDTH + 2 * MARGIN
    _, single = figure("vgg16", wrap=False)
    assert single.rows == 1 and single.width > wrapped.width
    assert len({round(placed.y) for placed in single.placed.values()}) == 1


def test_chains_and_skip_arcs_need_no_graphviz(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    _, result = figure("resnet50")
    arcs = [route for route in result.routes if route.kind == "arc"]
    assert len(arcs) == 8 and all(route.arrow.skip for route in arcs)
    for route in arcs:  # over the main line, into the top of the ⊕
        start, corner, _, end = route.points
        assert corner[1] <= start[1] and corner[1] < end[1]
        assert result.placed[route.arrow.target].element.kind == "join"
    with pytest.raises(GraphvizError, match="apt-get install graphviz"):
        figure("inception")


def test_branches_are_placed_side_by_side():
    _, result = figure("inception")
    branch = [result.placed[name] for name in ("stack.0.b2a", "stack.0.b3a")]
    assert branch[0].y != branch[1].y and abs(branch[0].x - branch[1].x) < 20
    curves = [route for route in result.routes if route.kind == "curve"]
    assert len(curves) >= 5  # one inception block drawn (the four fold): its branches in and out
    concat = result.placed["stack.0.concat1"]
    for route in curves:
        if route.arrow.target == "stack.0.concat1":
            assert route.points[-1] == concat.entry


def test_layout_is_a_pure_function_of_the_plan():
    plan, first = figure("inception")
    assert layout(plan) == first


SMALL_SPECS = {
    "mlp": "input: [784]\nlayers: [{linear: 256}, relu, {linear: 10}]",
    "single": "input: [3, 8, 8]\nlayers: [relu]",
    "residual_at_the_end": """input: [8, 16, 16]
layers:
  - {residual: auto, body: [{conv2d: {channels: 8, kernel: 3, padding: 1}}]}
  - {residual: auto, body: [{conv2d: {channels: 16, kernel: 3, padding: 1, stride: 2}}]}""",
    "concat_of_two_ops": """input: [8, 16, 16]
layers:
  - {conv2d: {channels: 4, kernel: 1}, name: a}
  - {conv2d: {channels: 4, kernel: 3, padding: 1}, name: b, inputs: [input]}
  - {concat: [a, b]}""",
}


@pytest.mark.parametrize("name", sorted(SMALL_SPECS))
def test_small_and_unusual_networks(write_spec, name):
    spec = write_spec(f"archspec: 1\nname: {name}\n{SMALL_SPECS[name]}\n")
    plan = plan_volumes(diagram_view(analyse(spec)))
    result = layout(plan)
    assert_nothing_overlaps(plan, result)
    assert set(result.placed) == {element.id for element in plan.elements}
    if name == "concat_of_two_ops":  # two ops into one ‖ are branches side by side, not a skip arc
        assert {route.kind for route in result.routes} == {"curve", "line"}
    if name == "residual_at_the_end":  # a sum with nothing after it takes the colour of its main input
        assert plan.elements[-1].family == "conv"


def test_a_side_path_to_another_output_gets_a_row_of_its_own():
    plan, result = figure("inception_v3")
    assert plan.ends == ("output@logits", "output@aux_logits")
    aux = [placed for key, placed in result.placed.items() if key.startswith("AuxLogits")]
    main = [placed for key, placed in result.placed.items() if key.startswith(("Mixed_6", "Mixed_7a"))]
    aux_top, aux_bottom = min(p.top for p in aux), max(p.label_y for p in aux)
    assert all(p.label_y < aux_top or p.top > aux_bottom for p in main)  # no main-path tensor beside it
    (route,) = [route for route in result.routes if route.arrow.target == aux[0].element.id]
    source = result.placed[route.arrow.source]
    assert route.lead[0] == source.exit and route.lead[-1][1] < route.points[0][1]  # the connector runs down to it
    terminal = result.placed["output@aux_logits"]
    assert abs(terminal.y - aux[-1].y) < 0.5 and terminal.x > max(p.right for p in aux)


def test_single_output_figures_have_no_side_paths():
    plan, result = figure("resnet18")
    assert len(plan.ends) == 1
    assert not any(route.lead for route in result.routes)
    assert all(element.kind != "output" for element in plan.elements)
