"""Lowering: how blocks, repeats, residuals, names, references, defaults and extends expand."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import archspec
from archspec.errors import SpecError, UsageError

HEADER = "archspec: 1\nname: net\ninput: [3, 32, 32]\n"
TINY_UNET = Path(__file__).resolve().parents[1] / "data" / "containers" / "tiny_unet.yaml"


def lower(write_spec, body: str, **kwargs):
    return archspec.analyse(str(write_spec(HEADER + textwrap.dedent(body))), **kwargs)


def errors_of(write_spec, body: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        lower(write_spec, body)
    return [f"{d.location.line}:{d.location.column}: {d.message}" if d.location else d.message
            for d in caught.value.diagnostics]


def names(graph) -> list[str]:
    return [node.name for node in graph.layers]


def test_layers_run_in_sequence_with_automatic_names(write_spec):
    graph = lower(write_spec, """
        layers:
          - conv2d: {channels: 8, kernel: 3}
          - relu
          - conv2d: {channels: 8, kernel: 3}
          - relu
    """)
    assert names(graph) == ["conv1", "relu1", "conv2", "relu2"]
    assert [n.inputs for n in graph.layers] == [("input",), ("conv1",), ("relu1",), ("conv2",)]
    assert graph.output == "relu2" and graph.output_shape == (8, 28, 28)


def test_automatic_names_skip_explicit_ones(write_spec):
    graph = lower(write_spec, """
        layers:
          - conv2d: {channels: 8, kernel: 1}
          - {conv2d: {channels: 8, kernel: 1}, name: conv1}
    """)
    assert names(graph) == ["conv2", "conv1"]


def test_shorthand_and_bare_kinds(write_spec):
    graph = lower(write_spec, """
        layers:
          - conv2d: {channels: 4, kernel: 3}
          - maxpool2d: 2
          - flatten
          - linear: 10
          - dropout: 0.25
    """)
    assert graph.node("maxpool1").output_shape == (4, 15, 15)
    assert graph.node("dropout1").params.p == 0.25


def test_defaults_apply_per_op_and_layers_override_them(write_spec):
    graph = lower(write_spec, """
        defaults: {conv2d: {kernel: 3, padding: same}}
        layers:
          - conv2d: 16
          - conv2d: {channels: 16, padding: 0}
    """)
    assert graph.node("conv1").output_shape == (16, 32, 32)
    assert graph.node("conv2").output_shape == (16, 30, 30)


def test_block_calls_make_scopes_and_bind_parameters(write_spec):
    graph = lower(write_spec, """
        blocks:
          unit:
            params: {width: int, stride: {type: int, default: 1}}
            body:
              - conv2d: {channels: $width, kernel: 3, stride: $stride, padding: 1}
              - relu
        layers:
          - unit: {width: 8}
          - {unit: {width: 16, stride: 2}, name: down}
    """)
    assert names(graph) == ["unit1.conv1", "unit1.relu1", "down.conv1", "down.relu1"]
    assert graph.node("down.relu1").output_shape == (16, 16, 16)
    scope = graph.scope("down")
    assert scope.kind == "block" and scope.block == "unit" and dict(scope.arguments) == {"width": 16, "stride": 2}


def test_block_with_one_parameter_takes_a_scalar(write_spec):
    graph = lower(write_spec, """
        blocks:
          unit:
            params: {width: int}
            body: [{conv2d: {channels: $width, kernel: 1}}]
        layers: [{unit: 5}]
    """)
    assert graph.output_shape == (5, 32, 32)


def test_block_defaults_are_scoped_to_the_block(write_spec):
    graph = lower(write_spec, """
        blocks:
          same3:
            defaults: {conv2d: {kernel: 3, padding: same}}
            body: [{conv2d: 4}]
        layers:
          - same3
          - conv2d: {channels: 4, kernel: 3}
    """)
    assert graph.node("same31.conv1").output_shape == (4, 32, 32)
    assert graph.node("conv1").output_shape == (4, 30, 30)


def test_named_repeat_makes_indexed_scopes(write_spec):
    graph = lower(write_spec, """
        layers:
          - repeat: 3
            name: stack
            body:
              - conv2d: {channels: "$8 * (index + 1)", kernel: 1}
              - relu
    """)
    assert names(graph) == [f"stack.{i}.{n}" for i in range(3) for n in ("conv1", "relu1")]
    assert graph.node("stack.2.conv1").output_shape == (24, 32, 32)
    assert graph.scope("stack").count == 3 and graph.scope("stack.1").index == 1


def test_unnamed_repeat_splices_into_the_enclosing_scope(write_spec):
    graph = lower(write_spec, """
        layers:
          - repeat: 2
            body: [{conv2d: {channels: 4, kernel: 1}}, relu]
    """)
    assert names(graph) == ["conv1", "relu1", "conv2", "relu2"]


def test_repeat_of_one_block_uses_the_iteration_as_the_block_scope(write_spec):
    graph = lower(write_spec, """
        blocks:
          unit:
            params: {width: int}
            body: [{conv2d: {channels: $width, kernel: 1}}]
        layers:
          - {repeat: 2, name: layer1, body: {unit: {width: 4}}}
    """)
    assert names(graph) == ["layer1.0.conv1", "layer1.1.conv1"]
    assert graph.scope("layer1.1").block == "unit"


def test_repeat_index_variable_can_be_renamed(write_spec):
    graph = lower(write_spec, """
        layers:
          - repeat: 2
            index: i
            body: [{conv2d: {channels: "$i + 1", kernel: 1}}]
    """)
    assert graph.node("conv2").output_shape == (2, 32, 32)


class TestResidual:
    def block(self, shortcut: str, channels: int = 3, stride: int = 1, enabled: str = "true") -> str:
        return f"""
        layers:
          - residual: {{shortcut: {shortcut}, enabled: {enabled}}}
            body:
              - conv2d: {{channels: {channels}, kernel: 3, stride: {stride}, padding: 1}}
              - batchnorm2d
          - relu
        """

    def test_identity_shortcut_when_the_shape_is_kept(self, write_spec):
        graph = lower(write_spec, self.block("auto"))
        add = graph.node("add1")
        assert add.role == "residual" and add.inputs == ("bn1", "input")
        assert "shortcut" not in " ".join(names(graph))

    def test_projection_where_the_shape_changes(self, write_spec):
        graph = lower(write_spec, self.block("auto", channels=8, stride=2))
        assert names(graph) == ["conv1", "bn1", "shortcut.conv", "shortcut.bn", "add1", "relu1"]
        conv = graph.node("shortcut.conv")
        assert conv.role == "shortcut" and conv.output_shape == (8, 16, 16)
        assert conv.params.kernel == 1 and conv.params.stride == 2 and conv.params.bias is False
        assert graph.node("add1").inputs == ("bn1", "shortcut.bn")

    def test_forced_projection(self, write_spec):
        assert "shortcut.conv" in names(lower(write_spec, self.block("projection")))

    def test_disabled_residual_is_the_plain_body(self, write_spec):
        graph = lower(write_spec, self.block("auto", channels=8, stride=2, enabled="false"))
        assert names(graph) == ["conv1", "bn1", "relu1"]

    def test_identity_on_a_shape_change_is_an_error(self, write_spec):
        messages = errors_of(write_spec, self.block("identity", channels=8))
        assert any("an identity shortcut cannot be added" in m for m in messages)

    def test_explicit_shortcut_layers(self, write_spec):
        graph = lower(write_spec, """
            layers:
              - residual: {shortcut: [{conv2d: {channels: 8, kernel: 1}}]}
                body: [{conv2d: {channels: 8, kernel: 3, padding: 1}}]
        """)
        assert graph.node("add1").inputs == ("conv1", "shortcut.conv1")

    def test_two_residuals_in_one_scope_get_separate_shortcut_scopes(self, write_spec):
        graph = lower(write_spec, """
            layers:
              - residual: projection
                body: [{conv2d: {channels: 4, kernel: 1}}]
              - residual: projection
                body: [{conv2d: {channels: 4, kernel: 1}}]
        """)
        assert [n.name for n in graph.layers if n.role == "shortcut"] == [
            "shortcut.conv", "shortcut.bn", "shortcut2.conv", "shortcut2.bn"]
        assert len({s.path for s in graph.scopes}) == len(graph.scopes)

    def test_a_stride_that_does_not_divide_cannot_be_projected(self, write_spec):
        messages = errors_of(write_spec, """
            layers:
              - residual: auto
                body: [{conv2d: {channels: 3, kernel: 3}}]
        """)
        assert any("is not a whole stride" in m for m in messages)


def test_inputs_build_a_dag_with_concat(write_spec):
    graph = lower(write_spec, """
        layers:
          - {conv2d: {channels: 4, kernel: 1}, name: a}
          - {conv2d: {channels: 6, kernel: 3, padding: 1}, name: b, inputs: input}
          - concat: [a, b]
    """)
    assert graph.node("b").inputs == ("input",)
    assert graph.node("concat1").inputs == ("a", "b") and graph.output_shape == (10, 32, 32)


def test_dotted_references_reach_into_blocks(write_spec):
    graph = lower(write_spec, """
        blocks:
          pair:
            body: [{conv2d: {channels: 4, kernel: 1}, name: inner}, relu]
        layers:
          - {pair: null, name: p}
          - {identity: null, inputs: p.inner}
    """)
    assert graph.node("identity1").inputs == ("p.inner",)


def test_output_selects_a_layer(write_spec):
    graph = lower(write_spec, """
        output: mid
        layers:
          - {conv2d: {channels: 4, kernel: 1}, name: mid}
          - relu
    """)
    assert graph.output == "mid"


def test_block_kind_from_a_variable(write_spec):
    graph = lower(write_spec, """
        variables: {unit: b2}
        blocks:
          b1: {body: [{conv2d: {channels: 1, kernel: 1}}]}
          b2: {body: [{conv2d: {channels: 2, kernel: 1}}]}
        layers: [{$unit: null}]
    """)
    assert graph.output_shape == (2, 32, 32)


def test_variables_and_input_shape_overrides(write_spec):
    path = write_spec(HEADER + "variables: {width: 4}\nlayers: [{conv2d: {channels: $width, kernel: 3}}]\n")
    graph = archspec.analyse(str(path), variables={"width": 9}, input_shape=(3, 10, 10))
    assert graph.output_shape == (9, 8, 8)
    with pytest.raises(UsageError, match="no such variable"):
        archspec.analyse(str(path), variables={"widht": 1})


def test_extends_merges_variables_blocks_and_defaults(write_spec, tmp_path):
    write_spec(HEADER + textwrap.dedent("""
        variables: {width: 4, depth: 1}
        defaults: {conv2d: {kernel: 3}}
        blocks:
          unit: {body: [{conv2d: $width}]}
        layers: [{repeat: $depth, body: unit}]
    """), "base.yaml")
    child = write_spec("archspec: 1\nextends: base.yaml\nname: child\nvariables: {depth: 2}\n", "child.yaml")
    graph = archspec.analyse(str(child))
    assert graph.name == "child" and names(graph) == ["unit1.conv1", "unit2.conv1"]


class TestErrors:
    def test_shape_error_is_located_at_the_layer(self, write_spec):
        messages = errors_of(write_spec, """
            layers:
              - maxpool2d: 2
              - maxpool2d: 2
              - maxpool2d: 2
              - maxpool2d: 2
              - maxpool2d: 2
              - maxpool2d: 2
        """)
        assert messages == [
            "11:5: layer 'maxpool6' (maxpool2d): pooling window 2 is larger than the padded input height 1"]

    def test_every_independent_error_is_reported(self, write_spec):
        messages = errors_of(write_spec, """
            layers:
              - conv2d: {channels: 0, kernel: 3}
              - {conv2d: {channels: 4, kernel: 3}, inputs: nowhere}
        """)
        assert len(messages) == 2

    def test_dangling_input(self, write_spec):
        assert errors_of(write_spec, "layers: [{relu: null, inputs: convv}]\n") == [
            "4:31: no layer named 'convv' in this scope"]

    def test_cycle(self, write_spec):
        messages = errors_of(write_spec, """
            layers:
              - {relu: null, name: a, inputs: b}
              - {relu: null, name: b, inputs: a}
        """)
        assert "cycle between layers: a -> b -> a" in messages[0]

    def test_duplicate_names(self, write_spec):
        messages = errors_of(write_spec, """
            layers:
              - {relu: null, name: a}
              - {relu: null, name: a}
        """)
        assert "duplicate layer name 'a'" in messages[0] and "line 6" in messages[0]

    def test_expression_errors_are_located(self, write_spec):
        messages = errors_of(write_spec, "layers: [{conv2d: {channels: $widht, kernel: 1}}]\n")
        assert messages == ["4:30: unknown variable 'widht'"]

    def test_a_bad_value_from_a_block_argument_points_at_its_use(self, write_spec):
        messages = errors_of(write_spec, """
            blocks:
              unit:
                params: {width: int}
                body: [{conv2d: {channels: $width, kernel: 1}}]
            layers: [{unit: {width: -2}}]
        """)
        assert messages == ["8:32: 'channels': must be at least 1, got -2"]

    def test_recursive_block(self, write_spec):
        messages = errors_of(write_spec, """
            blocks:
              loop: {body: [loop]}
            layers: [loop]
        """)
        assert "calls itself" in messages[0]


POST_NORM = """
    blocks:
      post_norm:
        params: {channels: int}
        register_first: [norm, conv]
        body:
          - residual: identity
            body:
              - {name: conv, conv2d: {channels: $channels, kernel: 3, padding: 1}}
              - {name: norm, batchnorm2d: {}}
    layers:
      - conv2d: {channels: 8, kernel: 1}
      - post_norm: 8
"""


def test_register_first_is_carried_by_the_block_calls_without_changing_the_layers(write_spec):
    graph = lower(write_spec, POST_NORM)
    assert names(graph) == ["conv1", "post_norm1.conv", "post_norm1.norm", "post_norm1.add1"]
    assert graph.scope("post_norm1").register_first == ("norm", "conv")


def test_register_first_names_layers_of_the_body_once_each(write_spec):
    assert errors_of(write_spec, POST_NORM.replace("[norm, conv]", "[nrom, conv, conv, add1]")) == [
        "8:22: block 'post_norm': register_first names 'nrom', which is not a named layer of its body",
        "8:34: block 'post_norm': register_first names 'conv' twice",
        "8:40: block 'post_norm': register_first names 'add1', which is not a named layer of its body",
    ]


def test_dotted_names_put_layers_in_a_container_where_they_run(write_spec):
    graph = archspec.analyse(str(TINY_UNET))
    assert [name for name in names(graph) if not name.endswith(".norm")] == [
        "down.0.conv", "down.0.relu1", "down.1.conv", "down.1.relu1", "concat1",
        "up.0.conv", "up.0.relu1", "concat2", "up.1.conv", "up.1.relu1", "head"]
    assert graph.node("concat2").inputs == ("up.0.relu1", "down.0.relu1")
    assert graph.scope("up").kind == "container" and graph.scope("up.1").parent == "up"
    assert graph.scope("up.1").kind == "block" and graph.scope("up.1").block == "stage"


def test_a_container_may_hold_plain_layers(write_spec):
    graph = lower(write_spec, """
        layers:
          - {conv2d: {channels: 8, kernel: 3, padding: 1}, name: convs.1}
          - {conv2d: {channels: 8, kernel: 3, padding: 1}, name: convs.0}
          - {add: [convs.1, convs.0]}
    """)
    assert graph.node("convs.0").scope == "convs" and graph.node("convs.0").inputs == ("convs.1",)
    assert graph.node("add1").inputs == ("convs.1", "convs.0")


def test_container_names_are_checked(write_spec):
    assert errors_of(write_spec, """
        layers:
          - {conv2d: {channels: 8, kernel: 1}, name: up.0}
          - {conv2d: {channels: 8, kernel: 1}, inputs: up.1}
          - {conv2d: {channels: 8, kernel: 1}, name: up.1}
          - {conv2d: {channels: 8, kernel: 1}, name: up.1}
          - {conv2d: {channels: 8, kernel: 1}, inputs: up}
          - {conv2d: {channels: 8, kernel: 1}, name: up}
          - {conv2d: {channels: 8, kernel: 1}, name: head}
          - {conv2d: {channels: 8, kernel: 1}, name: head.x}
          - {conv2d: {channels: 8, kernel: 1}, inputs: up.7}
    """) == [
        "7:48: 'up.1' is used before it is defined (line 8)",
        "9:46: duplicate layer name 'up.1' in this scope (first used on line 8)",
        "10:48: 'up' is a container of layers, not a layer",
        "11:46: 'up' is already a container of layers (up.*), so it cannot name a layer",
        "13:46: 'head' already names a layer (line 12), so it cannot hold layers named 'head.*'",
        "14:48: 'up' has no layer named '7'",
    ]


def test_a_name_has_at_most_one_dot(write_spec):
    (message,) = errors_of(write_spec, """
        layers:
          - {conv2d: {channels: 8, kernel: 1}, name: a.b.c}
    """)
    assert "container.name with one dot" in message


def test_register_first_names_a_container_not_its_layers(write_spec):
    spec = """
        blocks:
          decoder:
            register_first: [REGISTERED]
            body:
              - {conv2d: {channels: 4, kernel: 1}, name: head}
              - {conv2d: {channels: 4, kernel: 1}, name: up.0}
        layers:
          - decoder
    """
    graph = lower(write_spec, spec.replace("REGISTERED", "up"))
    assert graph.scope("decoder1").register_first == ("up",)
    assert list(archspec.build(graph).state_dict())[:2] == ["decoder1.up.0.weight", "decoder1.up.0.bias"]
    (message,) = errors_of(write_spec, spec.replace("REGISTERED", "up.0"))
    assert "'register_first': expected a name" in message
