"""The summary of an analysed graph: rows that follow the scope tree, group sums, depth folding, totals."""

from __future__ import annotations

from pathlib import Path

from archspec.analysis.summary import (
    BYTES_PER_VALUE,
    format_bytes,
    format_count,
    format_macs,
    summarize,
    summary_json,
)
from archspec.graph.lower import analyse
from tests.graph.test_ir import residual_graph


def test_rows_follow_the_scope_tree_with_group_rows_first() -> None:
    rows = summarize(residual_graph()).rows
    assert [(row.name, row.op, row.depth, row.group) for row in rows] == [
        ("stem", "relu", 0, False),
        ("layer1", "repeat ×2", 0, True),
        ("layer1.0", "basic", 1, True),
        ("layer1.0.conv", "relu", 2, False),
        ("layer1.0.shortcut", "shortcut", 2, True),
        ("layer1.0.shortcut.proj", "identity", 3, False),
        ("layer1.0.add", "add", 2, False),
        ("layer1.1", "basic", 1, True),
        ("layer1.1.conv", "relu", 2, False),
        ("layer10", "tail", 0, True),
        ("layer10.conv", "relu", 1, False),
        ("head", "flatten", 0, False),
    ]


def test_a_group_sums_what_it_contains_and_shows_its_last_shape() -> None:
    rows = {row.name: row for row in summarize(residual_graph()).rows}
    assert (rows["layer1"].params, rows["layer1"].macs) == (7 + 11, 70)
    assert rows["layer1.0"].params == 7
    assert rows["layer1"].output_shape == (3, 8, 8)


def test_depth_folds_deeper_scopes_into_their_group() -> None:
    graph = residual_graph()
    assert [row.name for row in summarize(graph, depth=0).rows] == ["stem", "head"]
    folded = summarize(graph, depth=1)
    assert [row.name for row in folded.rows] == ["stem", "layer1", "layer10", "layer10.conv", "head"]
    assert sum(row.params for row in folded.rows if row.depth == 0) == graph.parameters


def test_totals_and_memory() -> None:
    graph = residual_graph()
    summary = summarize(graph)
    assert (summary.params, summary.trainable_params, summary.macs) == (23, 23, 123)
    assert summary.parameter_bytes == 23 * BYTES_PER_VALUE
    activations = 7 * 3 * 8 * 8 + 192  # the input and six image-sized layers, the flat head
    assert summary.activation_bytes == activations * BYTES_PER_VALUE
    assert summary.layer_count == len(graph.layers) == 7
    assert (summary.input_shape, summary.output_shape) == ((3, 8, 8), (192,))


def test_summary_json_lists_every_layer() -> None:
    document = summary_json(residual_graph())
    assert document["params"] == 23 and document["output_shape"] == [192]
    assert document["layers"][0] == {"name": "stem", "op": "relu", "output_shape": [3, 8, 8], "params": 5,
                                     "macs": 50}
    assert [layer["name"] for layer in document["layers"]][-1] == "head"


def test_a_real_network_adds_up() -> None:
    graph = analyse("resnet18")
    summary = summarize(graph)
    assert summary.params == 11_689_512
    assert sum(row.params for row in summary.rows if not row.group) == summary.params
    assert sum(row.params for row in summarize(graph, depth=1).rows) == summary.params


def test_number_formats() -> None:
    assert format_count(138357544) == "138,357,544"
    assert [format_macs(v) for v in (15_470_264_320, 4_089_184_256, 416_520, 999, 0)] == [
        "15.47G", "4.09G", "416.52K", "999", "0"]
    assert format_bytes(553_430_176) == "553.43 MB"


def test_a_containers_layers_are_rows_where_they_run() -> None:
    path = Path(__file__).resolve().parents[1] / "data" / "containers" / "tiny_unet.yaml"
    rows = summarize(analyse(str(path)), depth=1).rows
    assert [(row.name, row.local, row.depth) for row in rows if row.depth == 0] == [
        ("down.0", "down.0", 0), ("down.1", "down.1", 0), ("concat1", "concat1", 0), ("up.0", "up.0", 0),
        ("concat2", "concat2", 0), ("up.1", "up.1", 0), ("head", "head", 0)]
    assert [row.local for row in rows if row.name.startswith("up.1.")] == ["conv", "norm", "relu1"]
