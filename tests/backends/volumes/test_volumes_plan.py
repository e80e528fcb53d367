"""The figure's plan: which tensors are drawn, which ops go on which arrows, joins and shortcuts."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from archspec.backends.diagram.theme import volume_text
from archspec.backends.diagram.view import diagram_view
from archspec.backends.volumes.plan import VolumePlan, plan_volumes
from archspec.graph.ir import Graph
from archspec.graph.lower import analyse

DATA = Path(__file__).resolve().parents[2] / "data" / "graphviz"


@cache
def graph(name: str) -> Graph:
    return analyse(DATA / f"{name}.yaml" if (DATA / f"{name}.yaml").exists() else name)


def plan(name: str, **options) -> VolumePlan:
    show_params = options.pop("show_params", False)
    return plan_volumes(diagram_view(graph(name), **options), show_params=show_params)


def assert_well_formed(figure: VolumePlan) -> None:
    """Arrows join drawn elements, forwards; every join is fed and followed by its output tensor."""
    ids = [element.id for element in figure.elements]
    assert len(ids) == len(set(ids))
    order = figure.order
    for arrow in figure.arrows:
        assert order[arrow.source] < order[arrow.target]
    for element in figure.elements:
        if element.kind == "join":
            assert sum(arrow.target == element.id for arrow in figure.arrows) >= 2
            assert [arrow.source for arrow in figure.arrows].count(element.id) == 1


def test_lenet5_is_the_case_study_sequence():
    figure = plan("lenet5")
    assert_well_formed(figure)
    assert [volume_text(element.shape) for element in figure.elements] == [
        "32×32×1", "28×28×6", "14×14×6", "10×10×16", "5×5×16", "400", "120", "84", "10"]
    assert [element.kind for element in figure.elements] == ["volume"] * 5 + ["bar"] * 4
    assert [arrow.text[0] for arrow in figure.arrows] == [
        "conv 5×5", "avg pool", "conv 5×5", "avg pool", "flatten", "FC", "FC", "FC"]


def test_every_tensor_shape_is_the_inferred_one():
    for name in ("alexnet_paper", "vgg16", "resnet50", "inception", "nested_repeat"):
        figure = plan(name)
        assert_well_formed(figure)
        boxes = {box.id: box for box in figure.view.boxes}
        for element in figure.elements:
            assert element.shape == boxes[element.id.partition(":")[0]].output_shape


def test_residual_blocks_draw_sums_with_their_shortcuts():
    figure = plan("resnet50")
    joins = [element for element in figure.elements if element.kind == "join"]
    assert len(joins) == 8 and {join.symbol for join in joins} == {"+"}
    skips = [arrow for arrow in figure.arrows if arrow.skip]
    assert len(skips) == 8 and all(figure.by_id[arrow.target].kind == "join" for arrow in skips)
    projections = {arrow.target: arrow.text for arrow in skips if arrow.text}
    assert projections == {"layer1.0.add1": ("conv 1×1", "s=1"), "layer2.0.add1": ("conv 1×1", "s=2"),
                           "layer3.0.add1": ("conv 1×1", "s=2"), "layer4.0.add1": ("conv 1×1", "s=2")}
    # the last conv of a block goes straight into its ⊕, which the ReLU after it turns into the block's output
    assert "layer1.0.conv3" not in figure.by_id
    into_sum = [arrow for arrow in figure.arrows if arrow.target == "layer1.0.add1" and not arrow.skip]
    assert [arrow.text for arrow in into_sum] == [("conv 1×1", "s=1")]
    out = next(arrow for arrow in figure.arrows if arrow.source == "layer1.0.add1")
    assert out.text == ("ReLU",) and figure.by_id[out.target].shape == (256, 56, 56)


def test_concat_branches_merge_into_one_symbol_then_its_activation():
    figure = plan("inception")
    assert_well_formed(figure)
    concat = figure.by_id["stack.0.concat1"]
    assert concat.kind == "join" and concat.symbol == "concat"
    assert sorted(arrow.text for arrow in figure.arrows if arrow.target == concat.id) == [
        ("conv 1×1", "s=1"), ("conv 1×1", "s=1"), ("conv 3×3", "s=1, same")]
    after = [arrow for arrow in figure.arrows if arrow.source == concat.id]
    assert [(arrow.target, arrow.text) for arrow in after] == [("stack.0.relu1", ("ReLU",))]
    assert "stack.0.concat1:out" not in figure.by_id


def test_folded_runs_draw_one_iteration():
    folded, expanded = plan("resnet152"), plan("resnet152", expand=True)
    assert len(folded.elements) < 40 < 400 < len(expanded.elements)
    assert {element.frame for element in folded.elements} >= {"layer3.0", "layer3.1"}
    assert not any(element.id.startswith("layer3.2.") for element in folded.elements)


def test_expanded_plan_draws_every_layer():
    figure = plan("resnet50", expand=True)
    assert_well_formed(figure)
    network = graph("resnet50")
    drawn = {element.id.partition(":")[0] for element in figure.elements}
    assert drawn <= {node.name for node in network.nodes}
    for node in network.nodes:
        if node.name not in drawn:  # only layers read by a sum alone go straight into its ⊕
            readers = network.consumers[node.name]
            assert len(readers) == 1 and network.node(readers[0]).op == "add"
    assert "ReLU" in {arrow.text[0] for arrow in figure.arrows if arrow.text}


def test_depth_draws_collapsed_scopes_as_one_op():
    figure = plan("resnet50", depth=0)
    assert not any(element.kind == "join" for element in figure.elements)
    blocks = [arrow.text for arrow in figure.arrows if arrow.family == "block"]
    assert blocks == [("layer1", "bottleneck ×3"), ("layer2", "bottleneck ×4"), ("layer3", "bottleneck ×6"),
                      ("layer4", "bottleneck ×3")]


def test_parameter_counts_on_request():
    figure = plan("resnet50", show_params=True)
    conv1 = next(arrow for arrow in figure.arrows if arrow.target == "conv1")
    with_norm = graph("resnet50").node("conv1").parameters + graph("resnet50").node("bn1").parameters
    assert conv1.text == ("conv 7×7", "s=2, same", f"{with_norm:,} params")
    folded = next(arrow for arrow in figure.arrows if arrow.target == "layer3.1.conv1")
    assert folded.text[-1].endswith("params each")
    assert all("params" not in line for arrow in plan("resnet50").arrows for line in arrow.text)
    collapsed = {arrow.text[0]: arrow.text[-1] for arrow in plan("resnet50", depth=1, show_params=True).arrows
                 if arrow.family == "block"}
    assert collapsed["layer3.1–5"].endswith("params each") and not collapsed["layer3.0"].endswith("each")


def test_a_blocks_output_read_by_a_join_outside_it_keeps_its_tensor_and_frame():
    """Within one frame a layer feeding a join is an arrow into its symbol; a block whose output a join outside
    it reads (a U-Net's stages, an Inception branch) keeps its tensor, so its frame is drawn."""
    figure = plan_volumes(diagram_view(analyse(DATA.parent / "containers" / "tiny_unet.yaml")))
    assert {element.frame for element in figure.elements} >= {"down.0", "down.1", "up.0", "up.1"}
    assert {arrow.source for arrow in figure.arrows if figure.by_id[arrow.target].kind == "join"} >= {
        "down.1.conv", "up.0.conv"}
