"""Which iterations fold into ``×N`` runs, which scopes collapse, and who stands for whom."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from archspec.backends.diagram.folding import fold, scope_members, span_text
from archspec.graph.ir import Graph
from archspec.graph.lower import analyse

DATA = Path(__file__).resolve().parents[2] / "data" / "graphviz"


@cache
def graph(name: str) -> Graph:
    return analyse(DATA / f"{name}.yaml" if (DATA / f"{name}.yaml").exists() else name)


def run_titles(name: str, **options) -> dict[str, list[tuple[str, int]]]:
    folding = fold(graph(name), **options)
    return {repeat: [(run.title, run.count) for run in runs] for repeat, runs in folding.runs.items()}


def test_resnet152_stage_is_first_block_then_the_identical_rest():
    runs = run_titles("resnet152")
    assert runs == {
        "layer1": [("layer1.0", 1), ("layer1.1–2", 2)],
        "layer2": [("layer2.0", 1), ("layer2.1–7", 7)],
        "layer3": [("layer3.0", 1), ("layer3.1–35", 35)],
        "layer4": [("layer4.0", 1), ("layer4.1–2", 2)],
    }


def test_basic_blocks_without_projection_fold_whole_stage():
    runs = run_titles("resnet18")
    assert runs["layer1"] == [("layer1.0–1", 2)]
    assert runs["layer2"] == [("layer2.0", 1), ("layer2.1", 1)]


def test_iterations_that_differ_in_structure_do_not_fold():
    assert run_titles("resnet152")["layer3"][0] == ("layer3.0", 1)  # the projection shortcut


def test_first_iteration_differs_in_input_width_only():
    runs = run_titles("inception")
    assert runs == {"stack": [("stack.0–3", 4)]}


def test_expand_folds_nothing():
    runs = run_titles("resnet50", expand=True)
    assert all(count == 1 for stage in runs.values() for _, count in stage)
    assert sum(len(stage) for stage in runs.values()) == 3 + 4 + 6 + 3


def test_nested_repeats_fold_at_every_level():
    folding = fold(graph("nested_repeat"))
    assert [run.title for run in folding.runs["stages"]] == ["stages.0–3"]
    assert [run.title for run in folding.runs["stages.2.units"]] == ["stages.2.units.0–2"]
    assert folding.representative("stages.3.units.2.conv1") == "stages.0.units.0.conv1"
    assert folding.display_name("stages.0.units.0.conv1") == "stages.0–3.units.0–2.conv1"


def test_representative_maps_later_iterations_onto_the_first_of_their_run():
    folding = fold(graph("resnet152"))
    assert folding.representative("layer3.17.conv2") == "layer3.1.conv2"
    assert folding.representative("layer3.1.conv2") == "layer3.1.conv2"
    assert folding.representative("layer3.0.shortcut.conv") == "layer3.0.shortcut.conv"
    assert folding.representative("conv1") == "conv1"
    assert folding.display_name("layer3.1.conv2") == "layer3.1–35.conv2"
    assert folding.display_name("layer3.0.conv2") == "layer3.0.conv2"


def test_edges_between_iterations_of_a_run_are_recognised():
    folding = fold(graph("resnet152"))
    assert folding.crosses_iterations("layer3.4.relu3", "layer3.5.conv1")
    assert not folding.crosses_iterations("layer3.0.relu3", "layer3.1.conv1")
    assert not folding.crosses_iterations("layer3.35.relu3", "layer4.0.conv1")
    assert not folding.crosses_iterations("layer3.5.conv1", "layer3.5.bn1")


@pytest.mark.parametrize(("depth", "expected"), [
    (0, {"layer1", "layer2", "layer3", "layer4"}),
    (1, {f"layer{stage}.{index}" for stage, count in zip(range(1, 5), (3, 4, 6, 3), strict=True)
         for index in range(count)}),
])
def test_depth_collapses_the_scopes_one_level_below_it(depth, expected):
    assert set(fold(graph("resnet50"), depth=depth).collapsed) == expected


def test_collapsed_scope_is_the_outermost_collapsed_ancestor():
    folding = fold(graph("resnet50"), depth=1)
    assert folding.collapsed_scope("layer2.0.shortcut") == "layer2.0"
    assert folding.collapsed_scope("layer2") is None
    assert folding.collapsed_scope("") is None


def test_iterations_fold_across_shapes_and_values_with_their_range():
    folding = fold(graph("growing_repeat"))
    (run,) = folding.runs["widen"]
    assert (run.title, run.count, run.span) == ("widen.0–2", 3, "4→24 channels")
    assert not run.uniform_parameters


def test_calls_an_unnamed_repeat_made_fold_like_iterations():
    folding = fold(graph("densenet121"))
    titles = [(run.title, run.count, run.span) for run in folding.sequences]
    assert titles == [("dense_layer1–6", 6, "64→256 channels"), ("dense_layer7–18", 12, "128→512 channels"),
                      ("dense_layer19–42", 24, "256→1024 channels"), ("dense_layer43–58", 16, "512→1024 channels")]
    assert folding.representative("dense_layer5.new") == "dense_layer1.new"


def test_stages_fold_though_their_inner_runs_differ_in_length():
    folding = fold(graph("efficientnet_b0"))
    stages = [run for run in folding.sequences if run.representative.count(".") == 0]
    assert [(run.title, run.count) for run in stages] == [("stage1", 1), ("stage2–6", 5), ("stage7", 1)]
    # stage5 has three blocks, stage2 two: the third block's twin is stage2's last one
    assert folding.representative("stage5.mbconv3.conv_bn3.conv1") == "stage2.mbconv2.conv_bn3.conv1"


def test_two_calls_written_one_after_the_other_stay_apart():
    folding = fold(graph("efficientnet_b0"))
    assert not any(run.representative.endswith("conv_bn1") and run.folded for run in folding.sequences)


def test_calls_that_differ_only_in_sizes_fold_when_asked():
    assert not any(run.folded and run.representative == "Mixed_5b" for run in fold(graph("inception_v3")).sequences)
    folding = fold(graph("inception_v3"), resized=True)
    modules = [(run.title, run.count, run.span) for run in folding.sequences if "." not in run.representative]
    assert modules == [("Mixed_5b–5d", 3, "192→288 channels"), ("Mixed_6b–6e", 4, ""), ("Mixed_7b–7c", 2,
                                                                                         "1280→2048 channels")]
    # other kernels and groups are not sizes: EfficientNet's expansion and depthwise convolutions stay apart
    resized = fold(graph("efficientnet_b0"), resized=True)
    assert not any(run.representative.endswith("conv_bn1") and run.folded for run in resized.sequences)


def test_the_default_diagram_folds_further_only_beyond_its_box_budget():
    from archspec.backends.diagram.view import BOX_BUDGET, diagram_view

    assert len(diagram_view(graph("vgg16")).boxes) == len(diagram_view(graph("vgg16"), depth=9).boxes)
    unfolded = diagram_view(graph("inception_v3"), depth=9)
    default = diagram_view(graph("inception_v3"))
    assert len(unfolded.boxes) > BOX_BUDGET >= len(default.boxes) > BOX_BUDGET // 2


def test_span_names_what_changes():
    assert span_text((64, 56, 56), (256, 56, 56)) == "64→256 channels"
    assert span_text((16, 112, 112), (192, 7, 7)) == "16→192 channels, 112×112→7×7"
    assert span_text((8,), (16,)) == "8→16 features"
    assert span_text((8, 4, 4), (8, 4, 4)) == ""


def test_scope_members_match_the_graph():
    resnet = graph("resnet18")
    members = scope_members(resnet)
    for scope in resnet.scopes:
        assert members[scope.path] == list(resnet.nodes_in(scope.path))
