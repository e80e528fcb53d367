"""The typed, located spec tree: one node per layer entry, built once, faults marked."""

from __future__ import annotations

import pytest

from archspec.errors import SpecError
from archspec.graph.lower import analyse
from archspec.spec.loader import load, load_collecting
from archspec.spec.tree import CallEntry, InvalidEntry, OpEntry, RepeatEntry, ResidualEntry

SPEC = """\
archspec: 1
name: net
input: [3, 32, 32]
defaults:
  conv2d: {kernel: 3, padding: same}
blocks:
  stage:
    params: {channels: int, pool: {type: block, default: maxpool2d}}
    body:
      - conv2d: $channels
      - {$pool: {kernel: 2}}
layers:
  - {conv2d: 8, name: stem}
  - relu
  - repeat: 2
    name: layer1
    body: {stage: {channels: 8}}
  - residual: {shortcut: [{conv2d: 8}], name: proj}
    body: [{conv2d: 8}, batchnorm2d]
  - {add: [stem, layer1], name: join}
"""


def test_every_entry_becomes_a_typed_located_node(write_spec):
    tree = load(write_spec(SPEC)).tree
    stem, relu, repeat, residual, join = tree.layers.entries
    assert isinstance(stem, OpEntry) and (stem.kind, stem.value, stem.name) == ("conv2d", 8, "stem")
    assert stem.location is not None and (stem.location.line, stem.location.column) == (13, 6)
    assert stem.name_location is not None and stem.name_location.line == 13
    assert isinstance(relu, OpEntry) and relu.kind == "relu" and relu.value is None
    assert isinstance(repeat, RepeatEntry) and (repeat.count, repeat.name, repeat.index) == (2, "layer1", "index")
    (call,) = repeat.body.entries
    assert isinstance(call, CallEntry) and call.target == "stage" and dict(call.arguments) == {"channels": 8}
    assert isinstance(residual, ResidualEntry) and residual.shortcut_name == "proj"
    assert [type(e) for e in residual.body.entries] == [OpEntry, OpEntry]
    assert [e.kind for e in residual.shortcut.entries] == ["conv2d"]
    assert isinstance(join, OpEntry) and [ref.name for ref in join.inputs or ()] == ["stem", "layer1"]
    assert [ref.location.line for ref in join.inputs or () if ref.location] == [20, 20]
    block = tree.blocks["stage"]
    assert block.params["pool"].has_default and block.params["pool"].default == "maxpool2d"
    assert block.params["channels"].type == "int"
    assert isinstance(block.body.entries[1], CallEntry) and block.body.entries[1].target == "$pool"
    assert set(tree.defaults.by_kind) == {"conv2d"} and not tree.defaults.is_broken("conv2d")
    assert not any(e.faulty for e in tree.layers.entries)


def test_an_entry_the_schema_rejected_is_marked_and_reported_once(write_spec):
    text = SPEC.replace("  - relu\n", "  - {conv2d: {channels: 8, kernal: 3}, name: bad}\n")
    path = write_spec(text)
    collected: list = []
    tree = load_collecting(str(path), collected).tree
    bad = tree.layers.entries[1]
    assert isinstance(bad, OpEntry) and bad.faulty and bad.name == "bad"
    assert not any(e.faulty for e in tree.layers.entries if e is not bad)
    with pytest.raises(SpecError) as caught:
        analyse(str(path))
    messages = [d.message for d in caught.value.diagnostics]
    assert messages == ["unknown key 'kernal'"]


def test_the_lowering_still_reports_what_the_schema_cannot_see(write_spec):
    text = SPEC.replace("  - relu\n", "  - {conv2d: {channels: 8, kernal: 3}}\n").replace(
        "{add: [stem, layer1], name: join}", "{add: [stem, nowhere], name: join}")
    with pytest.raises(SpecError) as caught:
        analyse(str(write_spec(text)))
    messages = [d.message for d in caught.value.diagnostics]
    assert messages == ["unknown key 'kernal'", "no layer named 'nowhere' in this scope"]


def test_a_bare_construct_is_a_located_error(write_spec):
    path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\nlayers:\n  - relu\n  - repeat\n")
    tree = load(path).tree
    assert isinstance(tree.layers.entries[1], InvalidEntry)
    with pytest.raises(SpecError) as caught:
        analyse(str(path))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == "'repeat' is not a layer on its own"
    assert diagnostic.location is not None and diagnostic.location.line == 6
    assert diagnostic.hint == "write {repeat: 2, body: [...]}"


def test_a_residual_setting_from_an_expression_is_checked(write_spec):
    path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\nvariables: {mode: 3}\nlayers:\n"
                      "  - residual: $mode\n    body: [relu]\n")
    with pytest.raises(SpecError) as caught:
        analyse(str(path))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == "residual must be auto, identity, projection, true or false, got the integer 3"
    assert diagnostic.location is not None and diagnostic.location.line == 6


def test_a_residual_with_a_wrong_option_lowers_its_body_but_reports_the_option_once(write_spec):
    path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\nlayers:\n"
                      "  - residual: {shortcut: sideways}\n    body: [{conv2d: {channels: 4, kernel: 9}}]\n")
    with pytest.raises(SpecError) as caught:
        analyse(str(path))
    lines = sorted(d.location.line for d in caught.value.diagnostics if d.location)
    assert lines == [5, 6]


def test_layers_whose_defaults_the_schema_rejected_are_not_checked_again(write_spec):
    path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\ndefaults:\n  conv2d: {kernel: x}\nlayers:\n"
                      "  - conv2d: 4\n  - {conv2d: 4, kernel: 3}\n")
    with pytest.raises(SpecError) as caught:
        analyse(str(path))
    assert [d.location.line for d in caught.value.diagnostics if d.location] == [5, 8]


def test_a_name_whose_entry_failed_is_defined_all_the_same(write_spec):
    path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\nlayers:\n"
                      "  - {repeat: 0, name: trunk, body: [relu]}\n  - {add: [trunk, input]}\n")
    with pytest.raises(SpecError) as caught:
        analyse(str(path))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.location is not None and diagnostic.location.line == 5
