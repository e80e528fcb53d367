"""The diagram plan: boxes, clusters and edges for folded, collapsed and expanded diagrams."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from archspec.backends.diagram.view import DiagramView, diagram_view
from archspec.graph.ir import Graph
from archspec.graph.lower import analyse
from archspec.spec.loader import load

DATA = Path(__file__).resolve().parents[2] / "data" / "graphviz"


@cache
def graph(name: str) -> Graph:
    return analyse(DATA / f"{name}.yaml" if (DATA / f"{name}.yaml").exists() else name)


def box(view: DiagramView, box_id: str):
    return next(b for b in view.boxes if b.id == box_id)


def assert_consistent(view: DiagramView) -> None:
    """Every edge joins drawn boxes; every tensor in the graph is an edge, inside a box, or implied by ×N."""
    ids = {b.id for b in view.boxes}
    assert len(ids) == len(view.boxes)
    edges = {(edge.source, edge.target) for edge in view.edges}
    assert len(edges) == len(view.edges)
    assert all(edge.source in ids and edge.target in ids for edge in view.edges)
    folding = view.folding

    def box_of(name: str) -> str:
        return view.box_of[folding.representative(name)]

    for node in view.graph.nodes:
        for source in node.inputs:
            pair = (box_of(source), box_of(node.name))
            assert pair[0] == pair[1] or pair in edges or folding.crosses_iterations(source, node.name)
    cluster_ids = {cluster.id for cluster in view.clusters}
    assert all(b.cluster in cluster_ids or b.cluster == "" for b in view.boxes)
    assert all(cluster.parent in cluster_ids or cluster.parent == "" for cluster in view.clusters)


def test_default_resnet152_is_small():
    view = diagram_view(graph("resnet152"))
    assert_consistent(view)
    assert len(view.boxes) <= 80
    titles = [view.folding.display_name(cluster.id) for cluster in view.clusters]
    assert titles == ["layer1", "layer1.0", "layer1.1–2", "layer2", "layer2.0", "layer2.1–7",
                      "layer3", "layer3.0", "layer3.1–35", "layer4", "layer4.0", "layer4.1–2"]
    run = view.cluster("layer3.1").run
    assert run is not None and run.count == 35


def test_expand_draws_every_layer():
    resnet = graph("resnet50")
    view = diagram_view(resnet, expand=True)
    assert_consistent(view)
    assert [b.id for b in view.boxes] == [node.name for node in resnet.nodes]
    assert len(view.edges) == sum(len(node.inputs) for node in resnet.nodes)


def test_pointwise_layers_join_the_box_before_them():
    view = diagram_view(graph("resnet50"))
    stem = box(view, "conv1")
    assert [node.name for node in stem.nodes] == ["conv1", "bn1", "relu1"]
    add = box(view, "layer1.0.add1")
    assert [node.op for node in add.nodes] == ["add", "relu"]
    shortcut = box(view, "layer1.0.shortcut.conv")
    assert shortcut.shortcut and [node.op for node in shortcut.nodes] == ["conv2d", "batchnorm2d"]
    assert not box(view, "layer1.0.conv1").shortcut


def test_residual_edges_are_skips():
    view = diagram_view(graph("resnet18"))
    skips = {(edge.source, edge.target) for edge in view.edges if edge.skip}
    assert skips == {
        ("maxpool1", "layer1.0.add1"),
        ("layer1.0.add1", "layer2.0.shortcut.conv"), ("layer2.0.shortcut.conv", "layer2.0.add1"),
        ("layer2.0.add1", "layer2.1.add1"),
        ("layer2.1.add1", "layer3.0.shortcut.conv"), ("layer3.0.shortcut.conv", "layer3.0.add1"),
        ("layer3.0.add1", "layer3.1.add1"),
        ("layer3.1.add1", "layer4.0.shortcut.conv"), ("layer4.0.shortcut.conv", "layer4.0.add1"),
        ("layer4.0.add1", "layer4.1.add1"),
    }
    main = {(edge.source, edge.target) for edge in view.edges if not edge.skip}
    assert ("maxpool1", "layer1.0.conv1") in main
    assert ("layer1.0.add1", "layer2.0.conv1") in main


def test_plain_network_has_no_skips():
    view = diagram_view(graph("plain34"))
    assert_consistent(view)
    assert not any(edge.skip for edge in view.edges)


def test_edges_carry_the_shape_of_their_tensor():
    resnet = graph("resnet50")
    view = diagram_view(resnet)
    for edge in view.edges:
        assert edge.shape == view.folding.graph.node(box(view, edge.source).nodes[-1].name).output_shape
    out_of_stage = next(edge for edge in view.edges if edge.target == "layer4.0.conv1")
    assert out_of_stage.source == "layer3.1.add1" and out_of_stage.shape == (1024, 14, 14)


def test_depth_zero_collapses_each_stage_into_one_box():
    view = diagram_view(graph("resnet50"), depth=0)
    assert_consistent(view)
    assert [b.id for b in view.boxes] == ["input", "conv1", "maxpool1", "layer1", "layer2", "layer3", "layer4",
                                          "avgpool1", "flatten1", "fc1"]
    assert not view.clusters
    stage = box(view, "layer3")
    assert stage.scope is not None and stage.output_shape == (1024, 14, 14)
    assert stage.parameters == sum(node.parameters for node in graph("resnet50").nodes_in("layer3"))


def test_depth_one_collapses_blocks_inside_stage_clusters():
    view = diagram_view(graph("resnet152"), depth=1)
    assert_consistent(view)
    layer3 = [b for b in view.boxes if b.cluster == "layer3"]
    assert [b.id for b in layer3] == ["layer3.0", "layer3.1"]
    assert layer3[1].run is not None and layer3[1].run.count == 35
    assert layer3[1].parameters == sum(node.parameters for node in graph("resnet152").nodes_in("layer3.1"))


def test_shortcuts_are_never_boxes_of_their_own():
    view = diagram_view(graph("resnet50"), depth=2)
    assert_consistent(view)
    assert not any(b.scope is not None for b in view.boxes)
    assert box(view, "layer2.0.shortcut.conv").shortcut


def test_concat_branches_stay_in_their_block():
    view = diagram_view(graph("inception"))
    assert_consistent(view)
    branch_starts = {edge.target for edge in view.edges if edge.source == "conv1"}
    assert branch_starts == {"stack.0.b1", "stack.0.b2a", "stack.0.b3a"}
    assert all(box(view, target).cluster == "stack" for target in branch_starts)  # the four fold into one


def test_merged_repeat_cluster_names_relative_to_the_drawn_iteration():
    view = diagram_view(graph("nested_repeat"))
    assert [cluster.id for cluster in view.clusters] == ["stages", "stages.0.units"]
    assert view.cluster("stages.0.units").prefix == "stages.0.units.0"


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=7), min_size=4, max_size=4))
def test_folded_size_does_not_grow_with_depth(depths):
    resnet = analyse(load("resnet50", variables={"depths": depths}))
    view = diagram_view(resnet)
    assert_consistent(view)
    stage_boxes = {1: 5, 2: 9}
    assert len(view.boxes) == 6 + sum(stage_boxes[min(depth, 2)] for depth in depths)
    for stage, depth in enumerate(depths, start=1):
        runs = view.folding.runs[f"layer{stage}"]
        assert [run.count for run in runs] == ([1, depth - 1] if depth > 1 else [1])
