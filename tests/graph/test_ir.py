"""The IR on its own: graphs built by hand, without a spec, and what Node, Scope and Graph promise."""

from __future__ import annotations

import dataclasses

import pytest

from archspec.graph.ir import INPUT, Graph, Node, Scope
from archspec.ops import OpParams, get_op


def node(name: str, op: str, inputs: tuple[str, ...], shape: tuple[int, ...], *, scope: str = "",
         parameters: int = 0, macs: int = 0) -> Node:
    return Node(name, op, OpParams(), inputs, shape, parameters, macs, op, scope=scope)


def residual_graph() -> Graph:
    """input -> stem -> layer1 (two iterations of a block, the first with a shortcut) -> layer10 -> head."""
    nodes = (
        Node(INPUT, INPUT, None, (), (3, 8, 8), label="input"),
        node("stem", "relu", (INPUT,), (3, 8, 8), parameters=5, macs=50),
        node("layer1.0.conv", "relu", ("stem",), (3, 8, 8), scope="layer1.0", parameters=7, macs=70),
        node("layer1.0.shortcut.proj", "identity", ("stem",), (3, 8, 8), scope="layer1.0.shortcut"),
        node("layer1.0.add", "add", ("layer1.0.conv", "layer1.0.shortcut.proj"), (3, 8, 8), scope="layer1.0"),
        node("layer1.1.conv", "relu", ("layer1.0.add",), (3, 8, 8), scope="layer1.1", parameters=11),
        node("layer10.conv", "relu", ("layer1.1.conv",), (3, 8, 8), scope="layer10", macs=3),
        node("head", "flatten", ("layer10.conv",), (192,)),
    )
    scopes = (
        Scope("layer1", "repeat", count=2),
        Scope("layer1.0", "iteration", block="basic", index=0),
        Scope("layer1.0.shortcut", "shortcut"),
        Scope("layer1.1", "iteration", block="basic", index=1),
        Scope("layer10", "block", block="tail"),
    )
    return Graph("toy", (3, 8, 8), nodes, "head", scopes)


def test_totals_and_the_output_come_from_the_nodes() -> None:
    graph = residual_graph()
    assert graph.parameters == 5 + 7 + 11
    assert graph.macs == 50 + 70 + 3
    assert graph.output_shape == (192,)
    assert [layer.name for layer in graph.layers] == [n.name for n in graph.nodes[1:]]
    assert graph.node("stem").inputs == (INPUT,)


def test_consumers_are_every_reader_in_order() -> None:
    consumers = residual_graph().consumers
    assert consumers["stem"] == ("layer1.0.conv", "layer1.0.shortcut.proj")
    assert consumers["layer1.0.conv"] == ("layer1.0.add",)
    assert consumers["head"] == ()


def test_nodes_in_a_scope_include_nested_scopes_but_not_a_longer_name() -> None:
    graph = residual_graph()
    assert [n.name for n in graph.nodes_in("layer1")] == [
        "layer1.0.conv", "layer1.0.shortcut.proj", "layer1.0.add", "layer1.1.conv"]
    assert [n.name for n in graph.nodes_in("layer1.0.shortcut")] == ["layer1.0.shortcut.proj"]
    assert [n.name for n in graph.nodes_in("layer10")] == ["layer10.conv"]


def test_scopes_know_their_place_in_the_tree() -> None:
    graph = residual_graph()
    shortcut = graph.scope("layer1.0.shortcut")
    assert (shortcut.depth, shortcut.parent, shortcut.local_name) == (3, "layer1.0", "shortcut")
    assert (graph.scope("layer1").depth, graph.scope("layer1").parent) == (1, "")
    assert [s.path for s in graph.child_scopes("")] == ["layer1", "layer10"]
    assert [s.path for s in graph.child_scopes("layer1")] == ["layer1.0", "layer1.1"]


def test_a_node_names_itself_and_finds_its_op() -> None:
    graph = residual_graph()
    assert graph.node("layer1.0.shortcut.proj").local_name == "proj"
    assert graph.node("stem").local_name == "stem"
    assert graph.node("layer1.0.add").definition is get_op("add")
    with pytest.raises(KeyError, match="op 'input' is not registered"):
        _ = graph.node(INPUT).definition


def test_the_ir_is_immutable() -> None:
    graph = residual_graph()
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.node("stem").parameters = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.output = "stem"  # type: ignore[misc]
    assert isinstance(graph.nodes, tuple) and isinstance(graph.scopes, tuple)


def test_unknown_names_are_key_errors() -> None:
    graph = residual_graph()
    with pytest.raises(KeyError):
        graph.node("missing")
    with pytest.raises(KeyError):
        graph.scope("layer2")


def test_layouts_follow_permutes_and_images_draw_as_channels_height_width() -> None:
    from tests.strategies import analyse_document

    graph = analyse_document({"archspec": 1, "name": "layouts", "input": [8, 6, 4], "layers": [
        {"permute": [1, 2, 0], "name": "last"},
        {"layer_norm": {"channels_last": True}, "name": "norm"},
        {"linear": {"features": 5, "channels_last": True}, "name": "wide"},
        {"permute": [2, 0, 1], "name": "first"},
        {"flatten": {"start": 1}, "name": "tokens"},
        {"permute": [1, 0], "name": "swapped"},
    ]})
    layouts = {node.name: node.layout for node in graph.nodes}
    assert layouts == {INPUT: "CHW", "last": "HWC", "norm": "HWC", "wide": "HWC", "first": "CHW", "tokens": "LD",
                       "swapped": "DL"}
    assert graph.node("wide").output_shape == (6, 4, 5)
    assert graph.node("wide").image_shape == (5, 6, 4)
    assert graph.node("swapped").image_shape == graph.node("swapped").output_shape == (24, 5)


def test_diagrams_label_a_channels_last_image_height_by_width_by_channels() -> None:
    import archspec
    from archspec.backends.graphviz import diagram_dot

    dot = diagram_dot(archspec.analyse("swin_t", input_shape=(3, 64, 96)))
    assert "16×24×96" in dot  # [16, 24, 96] channels-last after the 4×4 patches, not 16×96×24
    assert "16×96×24" not in dot


def test_feeding_names_what_an_output_depends_on() -> None:
    import archspec

    graph = archspec.analyse("inception_v3")
    logits, _aux = graph.outputs
    main = graph.feeding((logits,))
    both = graph.feeding(graph.outputs)
    assert "fc" in main and "AuxLogits.fc" not in main
    assert "AuxLogits.fc" in both and main < both
