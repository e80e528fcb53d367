"""What the zoo's scaled families need from the language: derived variables, optional layers, chosen blocks."""

from __future__ import annotations

import pytest

import archspec
from archspec.errors import SpecError

BASE = """\
archspec: 1
name: base
input: [3, 8, 8]
variables:
  depth: 1.0
  batch_norm: false
  depths: "${[ceil(n * depth) for n in [1, 2]]}"
blocks:
  plain: {params: {channels: int}, body: [{conv2d: {channels: $channels, kernel: 1}}]}
  fancy: {params: {channels: int}, body: [{conv2d: {channels: $channels, kernel: 3, padding: 1}}]}
layers:
  - repeat: "$depths[1]"
    body:
      - "${'fancy' if batch_norm else 'plain'}": {channels: 4}
      - {repeat: "${1 if batch_norm else 0}", body: batchnorm2d}
      - relu
"""


def ops(graph) -> list[str]:
    return [node.op for node in graph.layers]


def test_a_derived_variable_follows_the_variables_it_is_computed_from(write_spec):
    path = write_spec(BASE, "base.yaml")
    assert ops(archspec.analyse(str(path))) == ["conv2d", "relu"] * 2
    deeper = write_spec("archspec: 1\nextends: base.yaml\nname: deeper\nvariables: {depth: 1.6}\n", "deeper.yaml")
    assert ops(archspec.analyse(str(deeper))) == ["conv2d", "relu"] * 4  # ceil(2 * 1.6) = 4
    assert ops(archspec.analyse(str(path), variables={"depth": 2.0})) == ["conv2d", "relu"] * 4


def test_an_optional_layer_and_a_chosen_block(write_spec):
    path = write_spec(BASE, "base.yaml")
    graph = archspec.analyse(str(path), variables={"batch_norm": True})
    assert ops(graph) == ["conv2d", "batchnorm2d", "relu"] * 2
    assert graph.layers[0].params.kernel == 3


def test_a_named_repeat_still_runs_at_least_once(write_spec):
    path = write_spec(BASE.replace('  - repeat: "$depths[1]"\n', '  - repeat: "${depths[1] - 2}"\n    name: stage\n'))
    with pytest.raises(SpecError, match="repeat count must be a positive integer, got the integer 0"):
        archspec.analyse(str(path))


def test_a_derived_variable_that_fails_says_which(write_spec):
    path = write_spec(BASE.replace("ceil(n * depth)", "ceil(n * dept)"))
    with pytest.raises(SpecError, match="variable 'depths': unknown variable 'dept'"):
        archspec.analyse(str(path))
